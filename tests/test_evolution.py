"""A topic across places and years on the real seeds (library, API and CLI)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from indexer.cli import main
from search_api.alignment.evolution import evolution
from search_api.service import NotFound

ORDER = ["kien-giang-2017", "tra-cu-2022", "cam-lo-2023", "lang-son-2023", "dak-nong-2024"]


def test_thang_hanh_dong_in_year_then_place_order(search_service):
    ev = evolution(search_service, q="Tháng hành động vì trẻ em")
    assert [e.document.doc_id for e in ev.entries] == ORDER
    by_doc = {e.document.doc_id: e for e in ev.entries}
    assert by_doc["kien-giang-2017"].unit.path == "4"
    assert by_doc["tra-cu-2022"].unit.path == "II.8"
    assert by_doc["cam-lo-2023"].unit.path == "7"
    assert all("Tháng hành động" in e.unit.text for e in ev.entries)
    first = ev.entries[0]
    assert first.previous is None and first.redline is None and first.first_seen == 2017
    for e in ev.entries[1:]:  # every later entry is redlined against an earlier document
        assert e.previous is not None and e.redline is not None
        assert by_doc[e.previous.doc_id].document.year < e.document.year
    # Cam Lộ 2023's "Triển khai Tháng hành động vì trẻ em năm 2023" is redlined against Trà Cú 2022's
    cl = by_doc["cam-lo-2023"]
    assert cl.previous.chunk_id == "tra-cu-2022~II.8" and cl.previous_reason == "most similar earlier"
    first_change = cl.redline.changes[0]  # A = the earlier version (Trà Cú), B = Cam Lộ
    assert first_change.op == "replace" and first_change.b_text == "2023"
    assert first_change.a_text.startswith("2022 với chủ đề “Chung tay bảo vệ trẻ em")


def test_first_seen_tracks_reused_wording(search_service):
    """Cam Lộ 2023 task 3 repeats Trà Cú 2022's wording: that wording was first seen in 2022."""
    ev = evolution(search_service, chunk_id="cam-lo-2023~3")
    by_doc = {e.document.doc_id: e for e in ev.entries}
    assert by_doc["tra-cu-2022"].unit.path == "II.3"
    cl = by_doc["cam-lo-2023"]
    assert cl.previous.chunk_id == "tra-cu-2022~II.3" and cl.text_similarity > 0.9
    assert cl.first_seen == 2022
    assert by_doc["tra-cu-2022"].first_seen == 2022
    assert [e.document.year for e in ev.entries] == sorted(e.document.year for e in ev.entries)


def test_drowning_topic(search_service):
    ev = evolution(search_service, q="đuối nước")
    assert ev.entries and all("đuối nước" in e.unit.text.lower() for e in ev.entries)
    years = [e.document.year for e in ev.entries]
    assert years == sorted(years)


def test_bad_input(search_service):
    with pytest.raises(ValueError):
        evolution(search_service)
    with pytest.raises(ValueError):
        evolution(search_service, q="đuối nước", chunk_id="cam-lo-2023~3")
    with pytest.raises(NotFound):
        evolution(search_service, chunk_id="cam-lo-2023~99")


@pytest.fixture(scope="module")
def client(seed_index, search_service):
    from search_api.app import create_app

    return TestClient(create_app(seed_index, service=search_service))


def test_api(client):
    r = client.get("/api/evolution", params={"q": "Tháng hành động vì trẻ em"})
    assert r.status_code == 200
    assert [e["document"]["doc_id"] for e in r.json()["entries"]] == ORDER
    r = client.get("/api/evolution", params={"chunk_id": "cam-lo-2023~3"})
    assert r.status_code == 200 and r.json()["chunk_id"] == "cam-lo-2023~3"
    assert client.get("/api/evolution").status_code == 400
    assert client.get("/api/evolution", params={"chunk_id": "nope~1"}).status_code == 404


def test_cli_evolve_and_compare(seed_index, capsys):
    assert main(["evolve", "Tháng hành động vì trẻ em", "--index-dir", str(seed_index)]) == 0
    out = capsys.readouterr().out
    places = ["Kiên Giang", "Trà Cú", "Cam Lộ", "Lạng Sơn", "Đắk Nông"]
    assert [out.index(p) for p in places] == sorted(out.index(p) for p in places)
    assert main(["compare", "cam lo 2023", "Trà Cú 2022", "--index-dir", str(seed_index)]) == 0
    out = capsys.readouterr().out
    assert "A 3          ↔ B II.3" in out and "Chỉ có trong A" in out
    only_a = out.split("Chỉ có trong A:", 1)[1].split("Chỉ có trong B:", 1)[0]
    assert "  9 " in only_a and "gần nhất ở B: " in only_a  # Cam Lộ 9 (statistics), and Trà Cú's nearest task
    assert main(["compare", "cam lo 2023", "cam-lo-2023", "--index-dir", str(seed_index)]) == 2
    assert "itself" in capsys.readouterr().err
    assert main(["compare", "Hà Nội 2023", "cam-lo-2023", "--index-dir", str(seed_index)]) == 2
    assert "no document 'Hà Nội 2023'" in capsys.readouterr().err


def test_cli_compare_json(seed_index, capsys):
    import json

    assert main(["compare", "tra-cu-2022", "lang-son-2023", "--json", "--index-dir", str(seed_index)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"II.6": "III.1 • 5"}.items() <= {p["a"]["path"]: p["b"]["path"] for p in data["pairs"]}.items()


def test_entry_is_the_task_that_carries_the_topic_with_other_units_folded(search_service):
    """Lạng Sơn 2023 names "Tháng hành động vì trẻ em" among its targets (II.4) and assigns it in the
    organisation section (V.1 • 3), but the task that carries it is III.5: that is shown, the others folded."""
    ev = evolution(search_service, q="Tháng hành động vì trẻ em")
    ls = next(e for e in ev.entries if e.document.doc_id == "lang-son-2023")
    assert ls.unit.path == "III.5" and ls.unit.text.startswith("Tổ chức Tháng hành động vì trẻ em")
    folded = [o.unit.path for o in ls.others]
    assert "II.4" in folded and "III.5" not in folded and "III.5 • 1" not in folded
    # an agency's list of duties is not promoted: Đắk Nông shows the item of its Sở LĐTBXH task
    dn = next(e for e in ev.entries if e.document.doc_id == "dak-nong-2024")
    assert dn.unit.path == "1 • 3"
