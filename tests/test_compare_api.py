"""The compare HTTP API on the real seeds: comparison, redlines, exports read back, precedents, reuse, 4xx."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import pytest
from docx import Document
from fastapi.testclient import TestClient

from indexer.models import Metadata
from search_api.alignment.precedents import citation
from search_api.exports.export import CSV_COLUMNS


@pytest.fixture(scope="module")
def client(seed_index, search_service):
    from search_api.app import create_app

    return TestClient(create_app(seed_index, service=search_service))


def _changes(redline: dict) -> list[tuple[str, str, str]]:
    return [(o["op"], o["a_text"], o["b_text"]) for o in redline["ops"] if o["op"] != "equal"]


def _filename(resp) -> str:
    cd = resp.headers["content-disposition"]
    assert cd.startswith("attachment;")
    return unquote(cd.split("filename*=UTF-8''", 1)[1])


# --- compare -------------------------------------------------------------------------------------------------

def test_compare_cam_lo_tra_cu(client):
    r = client.get("/api/compare", params={"a": "cam-lo-2023", "b": "tra-cu-2022"})
    assert r.status_code == 200
    c = r.json()
    assert c["a"]["doc_id"] == "cam-lo-2023" and c["b"]["doc_id"] == "tra-cu-2022"
    by_a = {p["a"]["path"]: p for p in c["pairs"]}
    assert by_a["3"]["b"]["path"] == "II.3" and by_a["3"]["status"] == "shared"
    assert by_a["7"]["b"]["path"] == "II.8" and by_a["7"]["status"] == "changed"
    assert by_a["8"]["b"]["path"] == "II.9"
    assert by_a["3"]["b"]["chunk_id"] == "tra-cu-2022~II.3"
    assert _changes(by_a["3"]["redline"]) == [
        ("insert", "", "bổn phận của trẻ em "), ("delete", ", thông qua Zalo tổng đài 111", "")]
    # pairs in A's order; the summary counts what is listed
    order = [p["a"]["path"] for p in c["pairs"]]
    assert order == sorted(order, key=lambda p: (p != "¶1", int(p) if p.isdigit() else 0))
    s = c["summary"]
    assert s["shared"] + s["changed"] == len(c["pairs"]) and s["shared"] >= 1
    assert s["dropped"] == len(c["only_in_a"]) and s["new"] == len(c["only_in_b"])
    assert "9" in [u["path"] for u in c["only_in_a"]]


def test_unmatched_units_point_at_their_nearest_counterpart(client):
    """Đắk Nông 1.4 (the Sở's data clean-up duty) matches nothing in Lạng Sơn: III.7 is paired with 1.5. The
    unit says so, and points at III.7 and at its clean-up sentence rather than its first one."""
    c = client.get("/api/compare", params={"a": "dak-nong-2024", "b": "lang-son-2023"}).json()
    u = next(x for x in c["only_in_a"] if x["path"] == "1 • 4")
    near = u["nearest"]
    assert near["unit"]["path"] == "III.7" and near["unit"]["doc_id"] == "lang-son-2023"
    assert "làm sạch dữ liệu" in near["sentence"] and not near["unit"]["text"].startswith(near["sentence"][:30])
    assert near["margin"] < 0.06 <= max(p["margin"] for p in c["pairs"])  # below the threshold: a hint, not a match
    assert "III.7" in {p["b"]["path"] for p in c["pairs"]}  # the counterpart is someone else's match
    assert all(x["nearest"]["unit"]["doc_id"] == "dak-nong-2024" for x in c["only_in_b"])
    assert all("nearest" not in p["a"] for p in c["pairs"])  # matched units carry no hint


def test_compare_by_place_and_year(client):
    r = client.get("/api/compare", params={"a": "cam lo 2023", "b": "Trà Cú 2022"})
    assert r.status_code == 200 and r.json()["b"]["doc_id"] == "tra-cu-2022"


@pytest.mark.parametrize("params, status, words", [
    ({"a": "cam-lo-2023", "b": "cam-lo-2023"}, 400, "itself"),
    ({"a": "Cam Lộ 2023", "b": "cam-lo-2023"}, 400, "itself"),
    ({"a": "cam-lo-2023", "b": "no-such-doc"}, 404, "no document"),
    ({"a": "nowhere-1999", "b": "tra-cu-2022"}, 404, "no document"),
])
def test_compare_bad_input(client, params, status, words):
    r = client.get("/api/compare", params=params)
    assert r.status_code == status and words in r.json()["detail"]
    r = client.get("/api/compare/export", params={**params, "format": "csv"})
    assert r.status_code == status


def test_compare_missing_parameter(client):
    assert client.get("/api/compare", params={"a": "cam-lo-2023"}).status_code == 422


# --- redlines of real pairs ---------------------------------------------------------------------------------

def _diff(client, a, b):
    r = client.get("/api/diff", params={"a": a, "b": b})
    assert r.status_code == 200
    return r.json()


def test_diff_communication_task(client):
    d = _diff(client, "cam-lo-2023~3", "tra-cu-2022~II.3")
    assert _changes(d["redline"]) == [
        ("insert", "", "bổn phận của trẻ em "), ("delete", ", thông qua Zalo tổng đài 111", "")]
    assert d["redline"]["similarity"] > 0.9
    assert "<ins" in d["html"] and "bổn phận của trẻ em" in d["html"]


def test_diff_inspection_task(client):
    d = _diff(client, "cam-lo-2023~10", "tra-cu-2022~II.7")
    assert _changes(d["redline"]) == [
        ("insert", "", ", thanh tra "),
        ("replace", ", các biện pháp bảo đảm môi trường sống an toàn, phòng ngừa bạo lực, bóc lột, xâm hại tình "
                    "dục trẻ em và tai nạn thương tích, đặc biệt đuối nước trẻ em",
         ". Kiểm tra, thanh tra tất cả các cơ sở trợ giúp xã hội, các quỹ từ thiện có hoạt động chăm sóc, nuôi "
         "dưỡng, hỗ trợ trẻ em của địa phương"),
    ]


def test_diff_budget_task_against_lang_son_item(client):
    d = _diff(client, "tra-cu-2022~II.6", "lang-son-2023~III.1_i5")
    assert _changes(d["redline"])[:3] == [
        ("replace", "Bố ", "Quan tâm bố "),
        ("replace", "cá nhân, tổ chức ", "tổ chức, cá nhân trong và ngoài nước "),
        ("replace", "do Covid-19 ", ", trẻ em bị ảnh hưởng bởi thiên tai, dịch bệnh "),
    ]
    assert d["document_b"]["doc_id"] == "lang-son-2023"


def test_diff_exports(client):
    r = client.get("/api/diff", params={"a": "cam-lo-2023~3", "b": "tra-cu-2022~II.3", "format": "docx"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert _filename(r).endswith(".docx") and "Cam Lộ" in _filename(r)
    doc = Document(io.BytesIO(r.content))
    runs = [run for p in doc.paragraphs for run in p.runs]
    assert any(run.text == "bổn phận của trẻ em " and run.font.underline for run in runs)
    assert any(run.text == ", thông qua Zalo tổng đài 111" and run.font.strike for run in runs)
    r = client.get("/api/diff", params={"a": "cam-lo-2023~3", "b": "tra-cu-2022~II.3", "format": "md"})
    assert r.headers["content-type"].startswith("text/markdown")
    assert "**bổn phận của trẻ em**" in r.text and "~~, thông qua Zalo tổng đài 111~~" in r.text


def test_diff_unknown_chunk(client):
    r = client.get("/api/diff", params={"a": "cam-lo-2023~3", "b": "cam-lo-2023~99"})
    assert r.status_code == 404 and "cam-lo-2023~99" in r.json()["detail"]


# --- exports of a comparison --------------------------------------------------------------------------------

def test_export_docx(client):
    r = client.get("/api/compare/export", params={"a": "cam-lo-2023", "b": "tra-cu-2022", "format": "docx"})
    assert r.status_code == 200
    assert r.headers["content-type"] == \
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert _filename(r) == "Đối chiếu Cam Lộ 2023 - Trà Cú 2022.docx"
    assert 'filename="doi-chieu-cam-lo-2023-tra-cu-2022.docx"' in r.headers["content-disposition"]
    doc = Document(io.BytesIO(r.content))
    n_pairs = len(client.get("/api/compare", params={"a": "cam-lo-2023", "b": "tra-cu-2022"}).json()["pairs"])
    pair_table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Văn bản A")
    assert len(pair_table.rows) == n_pairs + 1
    texts = [row.cells[2].text for row in pair_table.rows]
    assert any("Zalo tổng đài 111" in t and "bổn phận của trẻ em" in t for t in texts)


def test_export_csv(client):
    r = client.get("/api/compare/export", params={"a": "cam-lo-2023", "b": "tra-cu-2022", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    assert _filename(r) == "Đối chiếu Cam Lộ 2023 - Trà Cú 2022.csv"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == CSV_COLUMNS
    c = client.get("/api/compare", params={"a": "cam-lo-2023", "b": "tra-cu-2022"}).json()
    assert len(rows) - 1 == len(c["pairs"]) + len(c["only_in_a"]) + len(c["only_in_b"])
    row3 = next(x for x in rows[1:] if x[0] == "3")
    assert row3[3] == "II.3" and "{+bổn phận của trẻ em+}" in row3[7] and row3[8] == ""
    nine = next(x for x in rows[1:] if x[0] == "9")  # Cam Lộ's statistics task: Trà Cú has none
    near = next(u for u in c["only_in_a"] if u["path"] == "9")["nearest"]
    assert nine[3] == "" and nine[8] == f"{near['unit']['path']}: “{near['sentence']}”"


def test_exports_carry_the_nearest_hint(client):
    params = {"a": "dak-nong-2024", "b": "lang-son-2023"}
    md = client.get("/api/compare/export", params={**params, "format": "md"}).text
    only_a = md.split("## Chỉ có trong A", 1)[1].split("## Chỉ có trong B", 1)[0]
    assert "*Gần nhất ở B (chưa đủ giống để ghép cặp): mục III.7: “… chỉ đạo" not in only_a  # no invented "…"
    assert "*Gần nhất ở B (chưa đủ giống để ghép cặp): mục III.7: “chỉ đạo triển khai Đề án 06" in only_a
    doc = Document(io.BytesIO(client.get("/api/compare/export", params={**params, "format": "docx"}).content))
    paras = [p for p in doc.paragraphs if p.text.startswith("1 • 4")]
    assert paras and "Gần nhất ở B (chưa đủ giống để ghép cặp): mục III.7" in paras[0].text
    assert any(r.italic and "III.7" in r.text for r in paras[0].runs)


def test_export_markdown(client):
    r = client.get("/api/compare/export", params={"a": "Trà Cú 2022", "b": "Lạng Sơn 2023", "format": "md"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert "### A II.6 ↔ B III.1 • 5" in r.text
    assert "**Quan tâm bố**" in r.text


def test_export_bad_format(client):
    r = client.get("/api/compare/export", params={"a": "cam-lo-2023", "b": "tra-cu-2022", "format": "pdf"})
    assert r.status_code == 422


# --- citations, precedents, reuse ---------------------------------------------------------------------------

SEED_CITATIONS = {
    "cam-lo-2023": "Công văn số 364/UBND-LĐTBXH ngày 08/5/2023 của UBND huyện Cam Lộ",
    "tra-cu-2022": "Kế hoạch số 27/KH-UBND ngày 16/3/2022 của UBND huyện Trà Cú",
    "dak-nong-2024": "Công văn số 1434/UBND-KGVX ngày 14/3/2024 của UBND tỉnh Đắk Nông",
    "kien-giang-2017": "Công văn ngày 21/3/2017 của UBND tỉnh Kiên Giang",
    "lang-son-2023": "Kế hoạch năm 2023 của Sở LĐTBXH tỉnh Lạng Sơn",
}


@pytest.mark.parametrize("doc_id", sorted(SEED_CITATIONS))
def test_citation_of_seeds(search_service, doc_id):
    assert citation(search_service.document(doc_id).metadata) == SEED_CITATIONS[doc_id]


def test_citation_edge_cases():
    assert citation(Metadata(doc_type="Chỉ thị", number="05/CT-UBND", date="2021", year=2021,
                             issuer="UBND tỉnh Quảng Trị")) == "Chỉ thị số 05/CT-UBND năm 2021 của UBND tỉnh Quảng Trị"
    assert citation(Metadata(place="Cam Lộ")) == "Văn bản của Cam Lộ"


DRAFT = ("Bố trí ngân sách địa phương để thực hiện các chương trình, kế hoạch về trẻ em; vận động nguồn lực xã hội "
         "hỗ trợ trẻ em có hoàn cảnh đặc biệt.")


def test_precedents(client):
    r = client.post("/api/precedents", json={"text": DRAFT, "k": 5})
    assert r.status_code == 200
    res = r.json()["results"]
    assert len(res) == 5
    top2 = {x["unit"]["chunk_id"] for x in res[:2]}
    assert top2 == {"tra-cu-2022~II.6", "lang-son-2023~III.1_i5"}
    tc = next(x for x in res if x["unit"]["chunk_id"] == "tra-cu-2022~II.6")
    assert tc["citation"] == SEED_CITATIONS["tra-cu-2022"]
    ops = tc["redline"]["ops"]
    assert "".join(o["b_text"] for o in ops) == DRAFT  # the redline goes from the precedent to the draft
    assert [x["score"] for x in res] == sorted((x["score"] for x in res), reverse=True)


@pytest.mark.parametrize("body, status, words", [
    ({"text": ""}, 400, "empty draft"),
    ({"text": "   \n "}, 400, "empty draft"),
    ({"text": "trẻ em " * 900}, 400, "too long"),
    ({"text": DRAFT, "k": 0}, 422, ""),
    ({"k": 3}, 422, ""),
])
def test_precedents_bad_input(client, body, status, words):
    r = client.post("/api/precedents", json=body)
    assert r.status_code == status
    assert words in str(r.json()["detail"])


def test_similar_flags_reuse(client):
    r = client.get("/api/similar", params={"chunk_id": "cam-lo-2023~3", "k": 5})
    assert r.status_code == 200
    out = r.json()
    assert out["source"]["chunk_id"] == "cam-lo-2023~3"
    first = out["results"][0]
    assert first["unit"]["chunk_id"] == "tra-cu-2022~II.3"
    assert first["reused"] is True and first["text_similarity"] > 0.9
    assert all(x["document"]["doc_id"] != "cam-lo-2023" for x in out["results"])
    assert not any(x["reused"] for x in out["results"][1:])


def test_similar_bad_input(client):
    assert client.get("/api/similar", params={"chunk_id": "nope~1"}).status_code == 404
    assert client.get("/api/similar", params={"chunk_id": "cam-lo-2023~3", "k": 0}).status_code == 422
