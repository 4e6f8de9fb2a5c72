"""The Word reader on hand-made packages: numbering as Word draws it, and every other thing a real .docx holds."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from eval.office_files import numbering_docx, write_package
from indexer.parsing.pipeline import parse_file
from indexer.reading import ReadError, read_document
from indexer.reading.numbering import format_number


def _paras(path: Path) -> list[str]:
    return read_document(path).text.split("\n\n")


def _r(text: str, props: str = "") -> str:
    rpr = f"<w:rPr>{props}</w:rPr>" if props else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{text}</w:t></w:r>'


def _p(inner: str, ppr: str = "") -> str:
    return f"<w:p><w:pPr>{ppr}</w:pPr>{inner}</w:p>"


# --- numbering ---------------------------------------------------------------------------------------------

def test_every_numbering_case_is_drawn_as_word_draws_it(tmp_path: Path):
    expected = numbering_docx(tmp_path / "n.docx")
    got = _paras(tmp_path / "n.docx")
    assert got == [f"{label} {text}".strip() for label, text in expected]


def test_numbering_from_a_style_is_reported(tmp_path: Path):
    numbering_docx(tmp_path / "n.docx")
    assert "numbering from style" in read_document(tmp_path / "n.docx").ingest.warnings


@pytest.mark.parametrize(("n", "fmt", "want"), [
    (4, "upperRoman", "IV"), (9, "lowerRoman", "ix"), (14, "upperRoman", "XIV"), (1, "lowerLetter", "a"),
    (27, "lowerLetter", "aa"), (28, "upperLetter", "BB"), (7, "decimalZero", "07"), (3, "decimalEnclosedParen", "(3)"),
    (5, "vietnameseCounting", "năm"), (12, "decimal", "12"), (2, "none", ""), (6, "someFutureFormat", "6"),
])
def test_number_formats(n: int, fmt: str, want: str):
    assert format_number(n, fmt) == want


def test_numbered_tasks_become_the_task_tree(tmp_path: Path):
    """Labels drawn by Word are what the structure parser needs: sections, tasks, lettered sub-tasks, bullets."""
    numbering = (
        '<w:abstractNum w:abstractNumId="1">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%2."/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%3)"/></w:lvl>'
        '</w:abstractNum><w:abstractNum w:abstractNumId="2">'
        '<w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="-"/></w:lvl></w:abstractNum>'
        '<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num><w:num w:numId="2"><w:abstractNumId w:val="2"/></w:num>'
    )

    def num(level: int, text: str, num_id: int = 1) -> str:
        return _p(_r(text), f'<w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')

    body = "".join([
        _p(_r("KẾ HOẠCH", "<w:b/>")), _p(_r("Phòng, chống đuối nước trẻ em năm 2024")),
        num(0, "MỤC ĐÍCH, YÊU CẦU"), _p(_r("Giảm số trẻ em bị đuối nước so với năm 2023.")),
        num(0, "NHIỆM VỤ"),
        num(1, "Tuyên truyền kỹ năng phòng, chống đuối nước cho trẻ em và cha mẹ."),
        num(2, "Trên sóng phát thanh của xã."), num(2, "Tại các trường học."),
        num(0, "Cắm biển cảnh báo tại ao, hồ nguy hiểm.", 2),
        num(1, "Tổ chức dạy bơi an toàn cho trẻ em trong dịp hè."),
    ])
    write_package(tmp_path / "plan.docx", body, numbering=numbering)
    d = parse_file(tmp_path / "plan.docx")
    paths = [u.path for u in d.walk()]
    assert paths == ["I", "I ¶1", "II", "II.1", "II.1.a", "II.1.b", "II.1.b • 1", "II.2"]
    assert next(u for u in d.walk() if u.path == "II.2").text == "Tổ chức dạy bơi an toàn cho trẻ em trong dịp hè."


# --- the rest of a real .docx ------------------------------------------------------------------------------

TRACKED = (
    _p(_r("Tổ chức ") + '<w:del w:id="1" w:author="A" w:date="2024-03-01T00:00:00Z">'
       '<w:r><w:delText>hội nghị </w:delText></w:r></w:del><w:ins w:id="2" w:author="A">' + _r("tập huấn ")
       + "</w:ins>" + _r("cho cán bộ làm công tác trẻ em."))
    + _p('<w:moveFrom w:id="3" w:author="A">' + _r("Câu đã chuyển đi. ") + "</w:moveFrom>"
         + _r("Kiểm tra việc thực hiện.") + '<w:moveTo w:id="4" w:author="A">' + _r(" Câu đã chuyển đến.")
         + "</w:moveTo>")
    + _p(_r("Phòng, chống đuối nước"), '<w:rPr><w:del w:id="5" w:author="A"/></w:rPr>')
    + _p(_r(" cho trẻ em trong mùa hè."))
    + _p('<w:del w:id="6" w:author="A"><w:r><w:delText>Đoạn văn bị xóa hẳn.</w:delText></w:r></w:del>',
         '<w:rPr><w:del w:id="7" w:author="A"/></w:rPr>')
    + _p(_r("Đoạn văn sau đoạn bị xóa."))
    + '<w:tbl><w:tr>' + "<w:tc>" + _p(_r("Dòng giữ lại")) + "</w:tc></w:tr>"
    + '<w:tr><w:trPr><w:del w:id="8" w:author="A"/></w:trPr><w:tc>' + _p(_r("Dòng bị xóa")) + "</w:tc></w:tr></w:tbl>"
)


def test_tracked_changes_read_as_accepted(tmp_path: Path):
    write_package(tmp_path / "t.docx", TRACKED)
    doc = read_document(tmp_path / "t.docx")
    assert doc.text.split("\n\n") == [
        "Tổ chức tập huấn cho cán bộ làm công tác trẻ em.",
        "Kiểm tra việc thực hiện. Câu đã chuyển đến.",
        "Phòng, chống đuối nước cho trẻ em trong mùa hè.",  # the deleted paragraph mark joins the two
        "Đoạn văn sau đoạn bị xóa.",
        "Dòng giữ lại",
    ]
    assert "tracked changes accepted" in doc.ingest.warnings


TEXT_BOX = (
    '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic><a:graphicData>'
    "<wps:wsp><wps:txbx><w:txbxContent>" + _p(_r("Khung: Tổng đài 111 miễn phí")) + "</w:txbxContent></wps:txbx>"
    "</wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape>"
    "<v:textbox><w:txbxContent>" + _p(_r("Khung: Tổng đài 111 miễn phí")) + "</w:txbxContent></v:textbox>"
    "</v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
)


def test_links_fields_boxes_notes_breaks_hyphens_tabs_and_hidden_text(tmp_path: Path):
    body = "".join([
        _p(_r("Xem ") + '<w:hyperlink r:id="rId4">' + _r("Cổng thông tin điện tử") + "</w:hyperlink>" + _r(" của tỉnh.")),
        _p(_r("Gọi ") + '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> HYPERLINK '
           '"tel:111" </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>' + _r("Tổng đài 111")
           + '<w:r><w:fldChar w:fldCharType="end"/></w:r>' + _r(" khi cần.")),
        _p(_r("Truyền thông trong trường học.") + TEXT_BOX),
        _p(_r("Thực hiện theo Luật Trẻ em") + '<w:r><w:footnoteReference w:id="1"/></w:r>' + _r(".")),
        _p(_r("Dòng thứ nhất") + "<w:r><w:br/></w:r>" + _r("dòng thứ hai")),
        _p('<w:r><w:t>bảo</w:t><w:softHyphen/><w:t>vệ</w:t></w:r>' + _r(" trẻ em")),
        _p(_r("Số: 12/KH-UBND") + "<w:r><w:tab/></w:r>" + _r("Lâm Đồng, ngày 5 tháng 3 năm 2024")),
        _p(_r("Hiện") + _r(" ẩn đi", "<w:vanish/>") + _r(" rõ.")),
        '<w:sdt><w:sdtPr/><w:sdtContent>' + _p(_r("Nội dung trong ô nhập liệu")) + "</w:sdtContent></w:sdt>",
    ])
    notes = '<w:footnote w:id="1">' + _p(_r("Luật số 102/2016/QH13 ngày 05/4/2016.")) + "</w:footnote>"
    write_package(tmp_path / "f.docx", body, footnotes=notes)
    doc = read_document(tmp_path / "f.docx")
    assert doc.text.split("\n\n") == [
        "Xem Cổng thông tin điện tử của tỉnh.",
        "Gọi Tổng đài 111 khi cần.",  # the field's instruction is not text; its result is
        "Truyền thông trong trường học.",
        "Khung: Tổng đài 111 miễn phí",  # once, not again from the VML fallback
        "Thực hiện theo Luật Trẻ em[1].",
        "[1] Luật số 102/2016/QH13 ngày 05/4/2016.",
        "Dòng thứ nhất\ndòng thứ hai",
        "bảovệ trẻ em",
        "Số: 12/KH-UBND\tLâm Đồng, ngày 5 tháng 3 năm 2024",
        "Hiện rõ.",
        "Nội dung trong ô nhập liệu",
    ]
    assert {"text boxes read", "footnotes kept", "hidden text dropped"} <= set(doc.ingest.warnings)
    meta = parse_file(tmp_path / "f.docx").metadata
    assert (meta.number, meta.place, meta.date) == ("12/KH-UBND", "Lâm Đồng", "2024-03-05")


def test_heading_styles_and_bold_prefixes(tmp_path: Path):
    styles = ('<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/>'
              '<w:basedOn w:val="Normal"/></w:style>'
              '<w:style w:type="character" w:styleId="Dam"><w:name w:val="Dam"/><w:rPr><w:b/></w:rPr></w:style>')
    body = (_p(_r("Nhiệm vụ trọng tâm"), '<w:pStyle w:val="Heading2"/>')
            + _p('<w:r><w:rPr><w:rStyle w:val="Dam"/></w:rPr><w:t xml:space="preserve">Sở Y tế </w:t></w:r>'
                 + _r("chủ trì, phối hợp.")))
    write_package(tmp_path / "h.docx", body, styles=styles)
    assert _paras(tmp_path / "h.docx") == ["## Nhiệm vụ trọng tâm", "**Sở Y tế** chủ trì, phối hợp."]


# --- bad input ---------------------------------------------------------------------------------------------

def test_zip_bomb_is_refused_quickly(tmp_path: Path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(260):  # 260 MB of zeros: a few hundred KB on disk
                f.write(chunk)
    assert path.stat().st_size < 2_000_000
    t0 = time.perf_counter()
    with pytest.raises(ReadError, match="zip bomb"):
        read_document(path)
    assert time.perf_counter() - t0 < 2


def test_a_part_in_a_compression_method_zipfile_cannot_read_is_a_clear_error(tmp_path: Path):
    """A part stored as Deflate64 (method 9, what some Windows tools write) is refused by name, not crashed on."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        local = z.getinfo("word/document.xml").header_offset
    data = bytearray(buf.getvalue())
    data[local + 8:local + 10] = (9).to_bytes(2, "little")  # local header: compression method
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 10:cd + 12] = (9).to_bytes(2, "little")  # central directory entry of the last part
    (tmp_path / "deflate64.docx").write_bytes(bytes(data))
    with pytest.raises(ReadError, match=r"word/document\.xml uses compression method 9"):
        read_document(tmp_path / "deflate64.docx")


def test_a_lying_zip_header_cannot_inflate_past_its_declared_size(tmp_path: Path):
    """A part whose header under-states its size is cut at that size by zipfile and then fails its CRC."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w:document>" + b" " * 5_000_000 + b"</w:document>")
    data = bytearray(buf.getvalue())
    # rewrite the declared uncompressed size (local header offset 22, central directory entry offset 24) to 100
    data[22:26] = (100).to_bytes(4, "little")
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (100).to_bytes(4, "little")
    (tmp_path / "liar.docx").write_bytes(bytes(data))
    with pytest.raises(ReadError, match="corrupt"):
        read_document(tmp_path / "liar.docx")


def test_entities_are_not_expanded(tmp_path: Path):
    lol = ('<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
           "<w:t>Trẻ em &c;</w:t></w:r></w:p></w:body></w:document>")
    with zipfile.ZipFile(tmp_path / "lol.docx", "w") as z:
        z.writestr("word/document.xml", lol)
    try:
        text = read_document(tmp_path / "lol.docx").text
    except ReadError as e:
        assert "corrupt" in e.reason
    else:
        assert "aaaa" not in text


def test_password_protected_docx(tmp_path: Path):
    msoffcrypto = pytest.importorskip("msoffcrypto")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = tmp_path / "plain.docx"
    write_package(plain, _p(_r("Bí mật")))
    with open(plain, "rb") as src, open(tmp_path / "locked.docx", "wb") as out:
        OOXMLFile(src).encrypt("mat-khau", out)
    with open(tmp_path / "locked.docx", "rb") as f:
        assert msoffcrypto.OfficeFile(f).is_encrypted()
    with pytest.raises(ReadError, match="password-protected") as e:
        read_document(tmp_path / "locked.docx")
    assert "đặt mật khẩu" in str(e.value)


def test_a_doc_that_is_really_html_or_docx_is_read_with_a_warning(tmp_path: Path):
    (tmp_path / "portal.doc").write_text(
        "<html><head><meta charset='utf-8'></head><body><p>Kế hoạch phòng, chống đuối nước trẻ em</p>"
        "<ol><li>Tuyên truyền trong trường học.</li></ol></body></html>", encoding="utf-8")
    doc = read_document(tmp_path / "portal.doc")
    assert doc.text == "Kế hoạch phòng, chống đuối nước trẻ em\n\n1. Tuyên truyền trong trường học."
    assert doc.ingest.warnings[0] == "the file is named .doc but is HTML"
    write_package(tmp_path / "renamed.doc", _p(_r("Văn bản Word mới đặt tên .doc")))
    doc = read_document(tmp_path / "renamed.doc")
    assert doc.text == "Văn bản Word mới đặt tên .doc"
    assert "a .docx (zip) package" in doc.ingest.warnings[0]


def test_word_xml_parts_that_are_broken(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "nobody.docx", "w") as z:
        z.writestr("word/styles.xml", "<w:styles/>")
    with pytest.raises(ReadError, match=r"no word/document\.xml"):
        read_document(tmp_path / "nobody.docx")
    with zipfile.ZipFile(tmp_path / "badxml.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document><w:body><w:p>")
    with pytest.raises(ReadError, match="not well-formed"):
        read_document(tmp_path / "badxml.docx")
    (tmp_path / "junk.doc").write_bytes(b"\x01\x02 this is not a Word file at all " * 20)
    with pytest.raises(ReadError, match="not a Word document"):
        read_document(tmp_path / "junk.doc")


def test_a_batch_of_bad_office_files_reports_each_and_reads_the_rest(tmp_path: Path):
    from msoffcrypto.format.ooxml import OOXMLFile

    from indexer.parsing.pipeline import parse_corpus

    write_package(tmp_path / "good.docx", _p(_r("1. Tuyên truyền phòng, chống đuối nước cho trẻ em.")))
    with open(tmp_path / "good.docx", "rb") as src, open(tmp_path / "locked.docx", "wb") as out:
        OOXMLFile(src).encrypt("mat-khau", out)
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z, \
            z.open("word/document.xml", "w") as f:
        for _ in range(210):
            f.write(b"\0" * (1 << 20))
    (tmp_path / "half.docx").write_bytes((tmp_path / "good.docx").read_bytes()[:300])
    (tmp_path / "junk.doc").write_bytes(b"\x01\x02 not a Word file " * 20)
    (tmp_path / "empty.rtf").write_bytes(b"")
    (tmp_path / "photo.odt").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    t0 = time.perf_counter()
    docs, errors = parse_corpus(tmp_path)
    assert time.perf_counter() - t0 < 10
    assert [d.source for d in docs] == ["good.docx"]
    reasons = {e.source: e.reason for e in errors}
    assert reasons["locked.docx"].startswith("password-protected")
    assert reasons["bomb.docx"].startswith("zip bomb")
    assert reasons["half.docx"].startswith("corrupt .docx")
    assert reasons["junk.doc"].startswith("corrupt .doc: the content is text or unknown")
    assert reasons["empty.rtf"] == "empty file"
    assert reasons["photo.odt"].startswith("corrupt .odt: the content is a PNG image")
