"""An appendix after the signature ("PHỤ LỤC", often a table of tasks) is part of the task tree, and a Word
table that numbers its rows is read as numbered tasks."""

from __future__ import annotations

from pathlib import Path

from eval.office_files import write_package
from indexer.parsing.pipeline import parse_file, parse_text

PLAN = """ỦY BAN NHÂN DÂN
HUYỆN CAM LỘ

Số: 88/KH-UBND

Cam Lộ, ngày 10 tháng 4 năm 2024

KẾ HOẠCH
Phòng, chống đuối nước trẻ em năm 2024

1. Tuyên truyền kỹ năng phòng, chống đuối nước cho trẻ em và cha mẹ.

2. Tổ chức dạy bơi an toàn cho trẻ em trong dịp hè.

Nơi nhận:
- Như trên;
- Lưu: VT.

KT. CHỦ TỊCH
PHÓ CHỦ TỊCH

Nguyễn Thanh Bắc

PHỤ LỤC
DANH MỤC NHIỆM VỤ PHÒNG, CHỐNG ĐUỐI NƯỚC NĂM 2024

1. Rà soát, cắm biển cảnh báo tại các ao, hồ, sông, suối nguy hiểm; hoàn thành trước 30/5.

2. Tổ chức lớp dạy bơi cho trẻ em tại các xã ven sông.
"""


def test_a_typed_appendix_after_the_signature_is_a_section_of_tasks():
    d = parse_text(PLAN, doc_id="cam-lo-duoi-nuoc")
    assert [u.path for u in d.walk()] == ["1", "2", "PL", "PL ¶1", "PL.1", "PL.2"]
    pl = d.units[-1]
    assert pl.heading == "PHỤ LỤC" and pl.kind == "section"
    assert next(u for u in d.walk() if u.path == "PL.1").text.startswith("Rà soát, cắm biển cảnh báo")
    assert any(c.path == "PL.2" for c in d.chunks)
    # the signature above the appendix is still the signature
    assert (d.metadata.signer, d.metadata.signer_title) == ("Nguyễn Thanh Bắc", "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH")
    assert d.metadata.number == "88/KH-UBND"


def _p(text: str, bold: bool = False) -> str:
    rpr = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f'<w:p><w:r>{rpr}<w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def _tc(text: str) -> str:
    return f"<w:tc>{_p(text)}</w:tc>"


def _tr(*cells: str) -> str:
    return "<w:tr>" + "".join(_tc(c) for c in cells) + "</w:tr>"


def test_a_word_table_of_tasks_becomes_numbered_tasks(tmp_path: Path):
    table = ("<w:tbl>" + _tr("STT", "Nội dung nhiệm vụ", "Cơ quan chủ trì", "Thời gian")
             + _tr("I", "Truyền thông", "", "")
             + _tr("1", "Tuyên truyền phòng, chống đuối nước trên sóng phát thanh", "Phòng Văn hóa", "Tháng 5")
             + _tr("2", "Cắm biển cảnh báo tại ao, hồ nguy hiểm", "UBND các xã", "Trước 30/5")
             + _tr("II", "Kỹ năng", "", "")
             + _tr("1", "Dạy bơi an toàn cho trẻ em", "Phòng GD&amp;ĐT", "Hè 2024") + "</w:tbl>")
    body = (_p("KẾ HOẠCH", bold=True) + _p("Phòng, chống đuối nước trẻ em năm 2024")
            + _p("Thực hiện Công văn số 12/UBND-VX ngày 01/3/2024 của UBND tỉnh, UBND huyện đề ra các nhiệm vụ sau:")
            + table)
    write_package(tmp_path / "bang.docx", body)
    d = parse_file(tmp_path / "bang.docx")
    tasks = {u.path: u for u in d.walk()}
    assert list(tasks) == ["¶1", "I", "I.1", "I.2", "II", "II.1"]
    assert tasks["I.2"].text == "Cắm biển cảnh báo tại ao, hồ nguy hiểm; Cơ quan chủ trì: UBND các xã; Thời gian: Trước 30/5."
    assert tasks["II"].heading == "Kỹ năng"
    assert "a table of tasks read row by row" in d.ingest.warnings


def test_a_layout_table_is_not_mistaken_for_tasks(tmp_path: Path):
    table = "<w:tbl>" + _tr("ỦY BAN NHÂN DÂN HUYỆN CAM LỘ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM") \
        + _tr("Số: 88/KH-UBND", "Cam Lộ, ngày 10 tháng 4 năm 2024") + "</w:tbl>"
    write_package(tmp_path / "header.docx", table + _p("1. Tuyên truyền kỹ năng phòng, chống đuối nước."))
    d = parse_file(tmp_path / "header.docx")
    assert (d.metadata.number, d.metadata.place, d.metadata.date) == ("88/KH-UBND", "Cam Lộ", "2024-04-10")
    assert "a table of tasks read row by row" not in d.ingest.warnings
