"""JSONL records indexed side by side with files: found by search with their own id, incremental per record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.build import build_index
from search_api.schemas import SearchFilters
from search_api.service import NotFound, SearchService

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def seed(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("jsonl-corpus")
    (d / "cam-lo-2023.txt").write_text(seed("cam-lo-2023"), encoding="utf-8")
    records = [
        {"id": "vbpl-tracu-27", "text": seed("tra-cu-2022"), "place": "Trà Cú", "province": "Trà Vinh",
         "level": "district", "doc_type": "Kế hoạch", "number": "27/KH-UBND", "date": "2022-03-16",
         "issuer": "UBND huyện Trà Cú", "url": "https://example.invalid/27"},
        {"id": "vbpl-kg-2017", "text": seed("kien-giang-2017"), "year": 2017},
        "not json at all",
    ]
    p = d / "portal" / "export.jsonl"
    p.parent.mkdir()
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
                 encoding="utf-8")
    return d, p, records


def test_records_indexed_searched_changed_removed(corpus, tmp_path):
    d, p, records = corpus
    index = tmp_path / "idx"
    first = build_index(d, index, progress=False)
    assert [(e.source, e.line) for e in first.errors] == [("portal/export.jsonl", 3)]
    assert first.documents == 3

    svc = SearchService.open(index)
    try:
        res = svc.search("Tháng hành động vì trẻ em năm 2022", k=5)
        assert res.results[0].doc_id == "vbpl-tracu-27"
        assert res.results[0].document.number == "27/KH-UBND"
        assert svc.document("vbpl-tracu-27").metadata.url == "https://example.invalid/27"
        # filters work on record metadata (old and new province names)
        hits = svc.search("trẻ em", k=20, filters=SearchFilters(province="Vĩnh Long"))
        assert {r.doc_id for r in hits.results} == {"vbpl-tracu-27"}
        kg_chunks = len(svc.chunks_of("vbpl-kg-2017"))
        # records show wherever documents show: the document page and API, search page filters, compare
        from fastapi.testclient import TestClient

        from web.app import create_app

        client = TestClient(create_app(index, service=svc))
        page = client.get("/documents/vbpl-tracu-27")
        assert page.status_code == 200 and "27/KH-UBND" in page.text and "UBND huyện Trà Cú" in page.text
        assert client.get("/api/documents/vbpl-tracu-27").json()["metadata"]["url"] == "https://example.invalid/27"
        listing = client.get("/", params={"q": "tổng đài 111", "province": "Vĩnh Long"})
        assert listing.status_code == 200 and "/documents/vbpl-tracu-27" in listing.text
        assert "/documents/cam-lo-2023" not in listing.text
        cmp = client.get("/api/compare", params={"a": "cam-lo-2023", "b": "vbpl-tracu-27"}).json()
        pairs = {(p["a"]["path"], p["b"]["path"]) for p in cmp["pairs"]}
        assert ("3", "II.3") in pairs and ("7", "II.8") in pairs
    finally:
        svc.close()

    # change one record: only it is re-embedded; the other record of the same file is kept as it was
    changed = dict(records[1], text=seed("kien-giang-2017").replace("Biểu dương, nhân rộng", "Khen thưởng, nhân rộng"))
    write(p, [records[0], changed])
    second = build_index(d, index, progress=False)
    assert second.updated == ["portal/export.jsonl"] and second.skipped == ["cam-lo-2023.txt"]
    assert second.encoded == kg_chunks
    svc = SearchService.open(index)
    top = svc.search("Khen thưởng, nhân rộng những điển hình tốt", k=3).results[0]
    svc.close()
    assert top.doc_id == "vbpl-kg-2017" and "Khen thưởng" in top.text

    # remove a line: the record is gone from both stores
    write(p, [changed])
    third = build_index(d, index, progress=False)
    assert third.documents == 2
    svc = SearchService.open(index)
    try:
        with pytest.raises(NotFound):
            svc.document("vbpl-tracu-27")
        assert all(r.doc_id != "vbpl-tracu-27" for r in svc.search("Trà Cú", k=50).results)
    finally:
        svc.close()
