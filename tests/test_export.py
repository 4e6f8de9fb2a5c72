"""Exports of a comparison built from real seed tasks: the .docx reads back with tracked-change formatting,
markdown marks edits, the CSV parses with Vietnamese intact and a BOM for Excel."""

from __future__ import annotations

import csv
import io

import pytest
from docx import Document
from docx.enum.text import WD_UNDERLINE
from seedtext import bullet, task

from search_api.alignment.redline import redline
from search_api.exports.export import (
    CSV_COLUMNS,
    DEL_COLOR,
    INS_COLOR,
    ComparisonExport,
    ExportPair,
    ExportUnit,
    redline_to_docx,
    to_csv,
    to_docx,
    to_markdown,
)


def pair(ua: ExportUnit, ub: ExportUnit) -> ExportPair:
    rl = redline(ua.text, ub.text)
    return ExportPair(a=ua, b=ub, similarity=rl.similarity, redline=rl)


@pytest.fixture(scope="module")
def cmp() -> ComparisonExport:
    p1 = pair(ExportUnit(path="3", heading="", text=task("cam-lo-2023", 3)),
              ExportUnit(path="3", heading="", text=task("tra-cu-2022", 3)))
    p2 = pair(ExportUnit(path="7", heading="Tháng hành động", text=task("cam-lo-2023", 7)),
              ExportUnit(path="8", heading="Tháng hành động", text=task("tra-cu-2022", 8)))
    return ComparisonExport(
        title_a="Công văn 364/UBND-LĐTBXH — UBND huyện Cam Lộ (2023)",
        title_b="Kế hoạch — UBND huyện Trà Cú (2022)",
        pairs=[p1, p2],
        only_a=[ExportUnit(path="6", heading="", text=task("cam-lo-2023", 6))],
        only_b=[ExportUnit(path="6", heading="", text=task("tra-cu-2022", 6)),
                ExportUnit(path="III.1", heading="", text=bullet("lang-son-2023", "Quan tâm bố trí", keep_dash=True))],
        summary={"pairs": 2, "only_a": 1, "only_b": 2},
    )


def test_docx_tables_and_tracked_change_formatting(cmp):
    doc = Document(io.BytesIO(to_docx(cmp)))
    summary, table = doc.tables
    assert [c.text for c in summary.rows[1].cells] == ["Cặp nội dung đối chiếu", "2"]
    assert [c.text for c in table.rows[0].cells] == ["Văn bản A", "Văn bản B", "Đối chiếu", "Tương đồng"]
    assert len(table.rows) == 3
    row = table.rows[1].cells
    assert row[0].text.endswith(task("cam-lo-2023", 3)) and row[1].text.endswith(task("tra-cu-2022", 3))
    assert row[3].text == "94%"
    runs = row[2].paragraphs[0].runs
    deleted = [r for r in runs if r.font.strike]
    inserted = [r for r in runs if r.font.underline]
    assert [r.text for r in deleted] == [", thông qua Zalo tổng đài 111"]
    assert [r.text for r in inserted] == ["bổn phận của trẻ em "]
    assert deleted[0].font.color.rgb == DEL_COLOR and not deleted[0].font.underline
    assert inserted[0].font.underline == WD_UNDERLINE.SINGLE and inserted[0].font.color.rgb == INS_COLOR
    plain = [r for r in runs if not r.font.strike and not r.font.underline]
    assert all(r.font.color.rgb is None for r in plain)
    # the redline cell reads as the A text with B's additions: deleted + equal runs rebuild A exactly
    assert "".join(r.text for r in runs if not r.font.underline) == task("cam-lo-2023", 3)
    # the Tháng hành động pair: "2023" struck, the Trà Cú theme inserted
    runs2 = table.rows[2].cells[2].paragraphs[0].runs
    struck = [r.text for r in runs2 if r.font.strike]
    assert len(struck) == 2 and struck[0] == "2023" and struck[1].startswith("trách nhiệm của mỗi ngành")
    assert [r.text for r in runs2 if r.font.underline] == [o.b_text for o in cmp.pairs[1].redline.changes]
    assert runs2[2].font.underline and "Chung tay bảo vệ trẻ em" in runs2[2].text  # right after "2023"
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "Chỉ có trong A" in body and "Chỉ có trong B" in body
    assert task("cam-lo-2023", 6) in body and "Quan tâm bố trí ngân sách địa phương" in body


def test_redline_to_docx():
    rl = redline(task("tra-cu-2022", 6), bullet("lang-son-2023", "Quan tâm bố trí", keep_dash=True)[2:])
    doc = Document(io.BytesIO(redline_to_docx(rl, "Trà Cú 6 ↔ Lạng Sơn III.1")))
    assert doc.paragraphs[0].text == "Trà Cú 6 ↔ Lạng Sơn III.1"
    runs = doc.paragraphs[-1].runs
    struck = [r.text for r in runs if r.font.strike]
    assert struck == [o.a_text for o in rl.changes if o.a_text] and struck[0] == "Bố "
    assert [r.text for r in runs if r.font.underline][:2] == ["Quan tâm bố ", "tổ chức, cá nhân trong và ngoài nước "]


def test_docx_survives_control_characters():
    ua = ExportUnit(path="1", heading="", text="trẻ em\x0b\x01 bị bạo lực")
    ub = ExportUnit(path="1", heading="", text="trẻ em bị xâm hại")
    doc = Document(io.BytesIO(to_docx(ComparisonExport(title_a="A", title_b="B", pairs=[pair(ua, ub)]))))
    assert doc.tables[0].rows[1].cells[0].text.endswith("trẻ em bị bạo lực")


def test_markdown(cmp):
    md = to_markdown(cmp)
    assert "**bổn phận của trẻ em** phù hợp" in md
    assert "~~, thông qua Zalo tổng đài 111~~" in md
    assert "~~2023~~" in md
    assert md.count("### A ") == 2 and "## Chỉ có trong B" in md
    assert "| Chỉ có trong B | 2 |" in md


def test_csv(cmp):
    data = to_csv(cmp)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 1 + 2 + 1 + 2
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["text_a"] == task("cam-lo-2023", 3)  # Vietnamese intact, commas/quotes round-trip
    assert first["similarity"] == f"{cmp.pairs[0].similarity:.4f}"
    assert "{+bổn phận của trẻ em+}" in first["redline_text"]
    assert "[-, thông qua Zalo tổng đài 111-]" in first["redline_text"]
    only_a = dict(zip(CSV_COLUMNS, rows[3], strict=True))
    assert only_a["path_a"] == "6" and only_a["path_b"] == only_a["text_b"] == only_a["similarity"] == ""
    last = dict(zip(CSV_COLUMNS, rows[-1], strict=True))
    # a "- " bullet would be a formula (#NAME?) in Excel: guarded with Excel's text apostrophe
    assert last["text_b"] == "'" + bullet("lang-son-2023", "Quan tâm bố trí", keep_dash=True) and last["text_a"] == ""
