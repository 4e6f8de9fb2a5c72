"""Guidance links, propagation and the draft check over HTTP, on the seeds plus the drafting fixtures
(``tests/drafting_corpus.py``), including the bad-input cases of issue 15."""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from fastapi.testclient import TestClient

from tests.drafting_corpus import draft_text, drafting_index
from tests.test_tracked_changes import resolve


@pytest.fixture(scope="module")
def client(seed_index, tmp_path_factory):
    from search_api.app import create_app
    from search_api.service import SearchService

    index = drafting_index(seed_index, tmp_path_factory)
    svc = SearchService.open(index)
    yield TestClient(create_app(index, service=svc))
    svc.close()


# --- links -------------------------------------------------------------------------------------------------

def test_cam_lo_links_up_through_the_spacing_variant(client):
    """Cam Lộ cites "530/SLĐT BXH-BTXHTE, ngày 14/3/2023": it is the Sở's 530/SLĐTBXH-BTXHTE, which in turn
    implements the Ministry's 636."""
    r = client.get("/api/documents/cam-lo-2023/links").json()
    [up] = r["upstream"]
    assert up["status"] == "linked" and up["number"] == "530/SLĐTBXH-BTXHTE"
    assert [d["doc_id"] for d in up["documents"]] == ["so-ldtbxh-quang-tri-530-2023"]
    assert [(a["document"]["doc_id"], a["depth"]) for a in r["ancestors"]] == [
        ("so-ldtbxh-quang-tri-530-2023", 1), ("bo-ldtbxh-636-2023", 2)]


def test_ministry_downstream_and_missing_reference(client):
    r = client.get("/api/documents/bo-ldtbxh-636-2023/links").json()
    down = {d["document"]["doc_id"]: (d["depth"], d["via"]) for d in r["downstream"]}
    assert down == {"lang-son-2023": (1, None), "so-ldtbxh-quang-tri-530-2023": (1, None),
                    "cam-lo-2023": (2, "so-ldtbxh-quang-tri-530-2023")}
    ls = client.get("/api/documents/lang-son-2023/links").json()
    assert [(u["number"], u["status"]) for u in ls["upstream"]] == [("636/LĐTBXH-TE", "linked"),
                                                                  ("1011/VP-KGVX", "missing")]


def test_cycle_of_implements_is_shown_once(client):
    r = client.get("/api/documents/vong-tron-a-2021/links").json()
    assert [a["document"]["doc_id"] for a in r["ancestors"]] == ["vong-tron-b-2021"]
    assert [d["document"]["doc_id"] for d in r["downstream"]] == ["vong-tron-b-2021"]
    p = client.get("/api/propagation", params={"doc": "vong-tron-a-2021"}).json()
    assert [d["document"]["doc_id"] for d in p["downstream"]] == ["vong-tron-b-2021"]


def test_links_unknown_document(client):
    assert client.get("/api/documents/khong-co/links").status_code == 404
    assert client.get("/api/propagation", params={"doc": "khong-co"}).status_code == 404


# --- propagation -------------------------------------------------------------------------------------------

def test_propagation_task_by_task(client):
    p = client.get("/api/propagation", params={"doc": "bo-ldtbxh-636-2023"}).json()
    tasks = {t["unit"]["path"]: t for t in p["tasks"]}
    assert sorted(tasks) == [str(i) for i in range(1, 8)]
    status = {k: {c["document"]["doc_id"]: c["status"] for c in t["carried"]} for k, t in tasks.items()}
    # the training task went down word for word through the Sở to Cam Lộ
    assert status["3"]["so-ldtbxh-quang-tri-530-2023"] == "verbatim" and status["3"]["cam-lo-2023"] == "verbatim"
    # "sơ kết 05 năm Luật Trẻ em" was dropped by everyone below
    assert set(status["7"].values()) == {"dropped"} and tasks["7"]["dropped"] == 3
    # a changed task carries the redline from the Ministry's wording
    ch = next(c for c in tasks["4"]["carried"] if c["document"]["doc_id"] == "cam-lo-2023")
    assert ch["status"] == "changed" and ch["units"][0]["path"] == "7"
    assert any(o["op"] != "equal" for o in ch["redline"]["ops"])


def test_propagation_first_place_that_introduced_copied_wording(client):
    """The Sở added "thông qua Zalo tổng đài 111" to the Ministry's 111 task; Cam Lộ copied it."""
    p = client.get("/api/propagation", params={"doc": "bo-ldtbxh-636-2023"}).json()
    t2 = next(t for t in p["tasks"] if t["unit"]["path"] == "2")
    zalo = next(r for r in t2["reuse"] if "Zalo" in r["text"])
    assert zalo["first"]["doc_id"] == "so-ldtbxh-quang-tri-530-2023"
    assert [d["doc_id"] for d in zalo["copied_by"]] == ["cam-lo-2023"]
    assert zalo["first_unit"]["path"] == "2"


# --- draft check -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(client):
    r = client.post("/api/draft-check", data={"text": draft_text()})
    assert r.status_code == 200, r.text
    return r.json()


def test_draft_check_finds_guidance_previous_and_peers(report):
    assert report["guidance"]["doc_id"] == "so-ldtbxh-quang-tri-412-2024"
    assert report["previous"]["doc_id"] == "cam-lo-2023"
    assert {p["doc_id"] for p in report["peers"]} == {"gio-linh-2024", "hai-lang-2024", "trieu-phong-2024"}
    assert report["draft"]["place"] == "Cam Lộ" and report["draft"]["year"] == 2024


def test_draft_check_four_parts(report):
    missing = [m["unit"]["text"] for m in report["missing_from_guidance"]]
    assert any("lớp dạy bơi" in t for t in missing)  # the guidance's drowning task is not in the draft
    assert any("chuẩn hóa, làm sạch dữ liệu" in t for t in missing)
    assert not any("Tháng hành động" in t for t in missing)  # the draft carries that one
    swim = next(t for t in report["common_in_peers"] if "dạy bơi" in t["example"]["text"])
    assert swim["peers"] == 3 and swim["of"] == 3
    assert swim["citation"].startswith("Công văn số ")
    assert swim["citation"].endswith(f"của UBND huyện {swim['document']['place']}")
    assert len(swim["others"]) == 2
    changed = {c["draft"]["path"]: c for c in report["changed_from_previous"]}
    assert "3" in changed and "2024" in "".join(o["b_text"] for o in changed["3"]["redline"]["ops"])
    only = [u["text"] for u in report["only_in_draft"]]
    assert any("Ngôi nhà an toàn" in t for t in only)


def test_missing_task_shows_the_drafts_nearest_task(report):
    """The guidance's data clean-up task (Đề án 06) is missing; the draft's nearest task is 4, the child-
    friendly commune assessment (it cites Quyết định 06/QĐ-TTg), shown so that a drafter can check by eye."""
    m = next(x for x in report["missing_from_guidance"] if "làm sạch dữ liệu" in x["unit"]["text"])
    near = m["nearest"]
    assert near["unit"]["doc_id"] == "du-thao" and near["unit"]["path"] == "4"
    assert "phù hợp với trẻ em" in near["sentence"] and near["margin"] < 0.06


def test_draft_check_docx_has_tracked_changes_against_last_year(client):
    r = client.post("/api/draft-check", data={"text": draft_text(), "format": "docx"})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    xml = zipfile.ZipFile(io.BytesIO(r.content)).read("word/document.xml").decode()
    assert "<w:ins " in xml and "<w:del " in xml
    def tracked(mode: str) -> str:  # the paragraphs after the heading of the tracked part
        paras = resolve(r.content, mode)
        return " ".join(paras[paras.index("Dự thảo so với kế hoạch năm trước (theo dõi thay đổi)") + 1:])

    accepted, rejected = tracked("accept"), tracked("reject")
    assert "Ngôi nhà an toàn" in accepted and "Ngôi nhà an toàn" not in rejected
    assert "năm 2023" in rejected  # last year's plan comes back on reject
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "Nhiệm vụ của văn bản hướng dẫn chưa có trong dự thảo" in text


def test_draft_check_markdown(client):
    r = client.post("/api/draft-check", data={"text": draft_text(), "format": "md"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert "## 2. Nhiệm vụ đa số đơn vị cùng cấp có mà dự thảo chưa có" in md and "dạy bơi" in md
    assert "~~" in md and "**" in md
    part1 = md.split("## 1.", 1)[1].split("## 2.", 1)[0]
    assert "  - Gần nhất trong dự thảo: mục 4 — “" in part1


def test_draft_check_docx_upload(client):
    doc = Document()
    for line in draft_text().split("\n"):
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    r = client.post("/api/draft-check", files={"file": ("Dự thảo <script>.docx", buf.getvalue(),
                                                        "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.json()["guidance"]["doc_id"] == "so-ldtbxh-quang-tri-412-2024"
    assert "<" not in r.json()["draft"]["source"]


def test_draft_without_numbered_tasks_is_compared_paragraph_by_paragraph(client):
    text = ("Thực hiện Công văn số 412/SLĐTBXH-BTXHTE ngày 12/3/2024 của Sở Lao động - Thương binh và Xã hội, "
            "UBND xã Cam Thành xây dựng kế hoạch như sau:\n\n"
            "Tổ chức các lớp dạy bơi, hướng dẫn kỹ năng an toàn trong môi trường nước cho trẻ em trong dịp hè.\n\n"
            "Triển khai Tháng hành động vì trẻ em năm 2024 tại các thôn.\n")
    r = client.post("/api/draft-check", data={"text": text})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert any("từng đoạn văn" in n for n in rep["notices"])
    missing = [m["unit"]["text"] for m in rep["missing_from_guidance"]]
    assert not any("lớp dạy bơi" in t for t in missing) and any("Tổng đài" in t for t in missing)


def test_ambiguous_guidance_reference_offers_both(client):
    text = draft_text().replace("412/SLĐTBXH-BTXHTE ngày 12/3/2024", "412/SLĐTBXH-BTXHTE")
    rep = client.post("/api/draft-check", data={"text": text}).json()
    assert rep["guidance"] is None
    assert {d["doc_id"] for d in rep["guidance_candidates"]} == {"so-ldtbxh-quang-tri-412-2024",
                                                                "so-ldtbxh-quang-tri-412-2022"}
    chosen = client.post("/api/draft-check", data={"text": text, "guidance": "so-ldtbxh-quang-tri-412-2024"}).json()
    assert chosen["guidance"]["doc_id"] == "so-ldtbxh-quang-tri-412-2024" and chosen["guidance_candidates"] == []


@pytest.mark.parametrize("how", ["file", "text"])
def test_five_megabyte_draft_is_413(client, how):
    big = ("1. Tổ chức các lớp dạy bơi cho trẻ em. " * 140_000)[:5 * 1024 * 1024]
    if how == "file":
        r = client.post("/api/draft-check", files={"file": ("du-thao.txt", big.encode(), "text/plain")})
    else:
        r = client.post("/api/draft-check", data={"text": big})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


@pytest.mark.parametrize("kwargs, status", [
    ({"data": {"text": "   "}}, 400),
    ({"files": {"file": ("x.exe", b"MZ\x00\x01", "application/octet-stream")}}, 400),
    ({"files": {"file": ("x.docx", b"PK\x03\x04 not a zip", "application/octet-stream")}}, 400),
    ({"data": {"text": "1. Một nhiệm vụ.", "guidance": "khong-co"}}, 404),
    ({"data": {"text": "1. Một nhiệm vụ.", "format": "pdf"}}, 400),
    ({"json": ["not", "an", "object"]}, 400),
])
def test_draft_check_bad_input(client, kwargs, status):
    r = client.post("/api/draft-check", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


# --- picker --------------------------------------------------------------------------------------------------

def test_suggest_documents_with_and_without_diacritics(client):
    for q in ("cam lo", "Cam Lộ", "CAM L"):
        r = client.get("/api/suggest/documents", params={"q": q}).json()
        assert r["results"][0]["document"]["doc_id"] == "cam-lo-2023", q
    r = client.get("/api/suggest/documents", params={"q": "412 2024"}).json()
    assert [h["document"]["doc_id"] for h in r["results"]] == ["so-ldtbxh-quang-tri-412-2024"]
    assert client.get("/api/suggest/documents", params={"q": "", "limit": 5}).json()["total"] == 0
    assert client.get("/api/suggest/documents", params={"q": "a", "limit": 0}).status_code == 422


def test_compare_suggestions(client):
    r = client.get("/api/compare/suggestions", params={"a": "gio-linh-2024"}).json()
    ids = [s["document"]["doc_id"] for s in r["results"]]
    assert "gio-linh-2024" not in ids and len(ids) == 5
    assert {"hai-lang-2024", "trieu-phong-2024"} & set(ids[:3])
    first = client.get("/api/compare/suggestions", params={"a": "cam-lo-2023"}).json()["results"]
    assert all(s["reason"] != "same place, earlier" for s in first)  # no earlier Cam Lộ in the corpus
    assert client.get("/api/compare/suggestions", params={"a": "nope"}).status_code == 404
