""""B as revisions of A": real Word tracked changes, accepted and rejected here by walking the XML the way
Word does, then compared with A's and B's text task by task; rendered through LibreOffice for a look."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from search_api.alignment.align import AlignConfig
from search_api.alignment.compare import alignment_of, revision_blocks
from search_api.exports.tracked_changes import Block, paragraph_text, revisions_docx
from tests.seedtext import bullet, task

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SHOTS = Path(__file__).resolve().parent / "screenshots"


def _text(el) -> str:
    out = []
    for node in el.iter():
        if node.tag in (W + "t", W + "delText"):
            out.append(node.text or "")
        elif node.tag == W + "br":
            out.append("\n")
    return "".join(out)


def resolve(docx: bytes, mode: str) -> list[str]:
    """Body paragraphs after Word's "Accept all" (``mode="accept"``) or "Reject all" (``"reject"``):
    inserted runs kept / dropped, deleted runs dropped / kept, and a paragraph whose mark is removed joins
    the next paragraph."""
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    out, cur = [], ""
    for p in root.find(W + "body").iter(W + "p"):
        for child in p:
            if child.tag == W + "r" or (child.tag == W + "ins" and mode == "accept") or \
                    (child.tag == W + "del" and mode == "reject"):
                cur += _text(child)
        rpr = p.find(f"{W}pPr/{W}rPr")
        mark = "del" if rpr is not None and rpr.find(W + "del") is not None else \
            "ins" if rpr is not None and rpr.find(W + "ins") is not None else "eq"
        if (mark == "del" and mode == "accept") or (mark == "ins" and mode == "reject"):
            continue  # the paragraph mark is gone: this text runs on into the next paragraph
        out.append(cur)
        cur = ""
    return out


def body(docx: bytes, mode: str, notes: int) -> list[str]:
    """The tracked part: without the heading, the notes and the closing line."""
    paras = resolve(docx, mode)
    assert paras[-1] == "— Hết —"
    return paras[1 + notes:-1]


def revisions(docx: bytes) -> list[ET.Element]:
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    return [e for e in root.iter() if e.tag in (W + "ins", W + "del")]


# --- blocks of real seed text ------------------------------------------------------------------------------

def _seed_blocks() -> list[Block]:
    tong_dai_cl = paragraph_text("3", task("cam-lo-2023", 3))
    tong_dai_tc = paragraph_text("II.3", task("tra-cu-2022", 3))
    kiem_tra = paragraph_text("10", task("cam-lo-2023", 10))
    thong_ke = paragraph_text("9", task("cam-lo-2023", 9))
    lang_son = bullet("lang-son-2023", "Quan tâm bố trí ngân sách địa phương")
    tra_cu_budget = paragraph_text("II.6", task("tra-cu-2022", 6))
    return [
        Block([tong_dai_cl], [tong_dai_tc]),  # a pair with word changes
        Block([thong_ke, kiem_tra], [f"{thong_ke} {kiem_tra.split('. ', 1)[1]}"]),  # merged ("gộp")
        Block([tra_cu_budget], [tra_cu_budget, f"- {lang_son}"]),  # split ("tách")
        Block([paragraph_text("11", task("cam-lo-2023", 11))], []),  # only in A
        Block([], [paragraph_text("II.7", task("tra-cu-2022", 7))]),  # only in B
    ]


def test_accept_gives_b_and_reject_gives_a_exactly():
    blocks = _seed_blocks()
    docx = revisions_docx("Thử", ["ghi chú"], blocks)
    assert body(docx, "accept", 1) == [p for b in blocks for p in b.b]
    assert body(docx, "reject", 1) == [p for b in blocks for p in b.a]


def test_revisions_are_real_word_revisions_with_author_and_date():
    docx = revisions_docx("Thử", [], _seed_blocks())
    revs = revisions(docx)
    assert {e.tag for e in revs} == {W + "ins", W + "del"}
    ids = [e.get(W + "id") for e in revs]
    assert len(ids) == len(set(ids))  # every revision has its own id
    for e in revs:
        assert e.get(W + "author") == "directives"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e.get(W + "date"))
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode()
    assert "<w:delText" in xml and "Zalo" in xml  # Cam Lộ's "thông qua Zalo" is deleted text
    settings = zipfile.ZipFile(io.BytesIO(docx)).read("word/settings.xml").decode()
    assert "<w:trackRevisions/>" in settings
    # a merge is a deleted paragraph mark, a split an inserted one, as Word records them
    marks = [e.tag for e in ET.fromstring(xml).iter(W + "rPr") for e in e if e.tag in (W + "ins", W + "del")]
    assert W + "del" in marks and W + "ins" in marks


def _chosen(al, side: str) -> list[int]:
    links = al.links()
    idx = {getattr(p, side) for p in links} | set(al.only_a if side == "a" else al.only_b)
    return sorted(idx)


@pytest.mark.parametrize("a, b, joins", [("cam-lo-2023", "tra-cu-2022", 0.06),
                                          ("dak-nong-2024", "lang-son-2023", 0.0)])
def test_real_comparison_task_by_task(search_service, a, b, joins):
    al = alignment_of(search_service, a, b, AlignConfig(join_threshold=joins))
    docx = revisions_docx("Thử", [], revision_blocks(al))
    accepted, rejected = body(docx, "accept", 0), body(docx, "reject", 0)
    want_b = [paragraph_text(al.b.units[j].path, al.b.units[j].text) for j in _chosen(al, "b")]
    want_a = [paragraph_text(al.a.units[i].path, al.a.units[i].text) for i in _chosen(al, "a")]
    assert sorted(accepted) == sorted(want_b) and sorted(rejected) == sorted(want_a)
    if not any(g.kind == "gộp" for g in al.groups()):
        assert rejected == want_a  # A's order is the document's order
    label = {p.split(". ", 1)[0]: p for p in accepted}
    if a == "cam-lo-2023":
        assert "Zalo" not in label["II.3"] and "bổn phận của trẻ em" in label["II.3"]


def test_api_tracked_export(seed_index, search_service):
    from search_api.app import create_app

    client = TestClient(create_app(seed_index, service=search_service))
    r = client.get("/api/compare/export", params={"a": "Cam Lộ 2023", "b": "Trà Cú 2022", "format": "tracked"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert "filename*=UTF-8''Tr%C3%A0%20C%C3%BA%202022%20s%E1%BB%ADa%20t%E1%BB%AB" in r.headers["content-disposition"]
    accepted = resolve(r.content, "accept")
    assert any(p.startswith("II.3. ") and "bổn phận" in p for p in accepted)
    assert client.get("/api/compare/export", params={"a": "cam-lo-2023", "b": "x", "format": "tracked"}
                      ).status_code == 404


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_renders_the_revisions(search_service, tmp_path):
    """LibreOffice opens the file and shows the revisions; page 1 is saved as a PNG to look at."""
    al = alignment_of(search_service, "cam-lo-2023", "tra-cu-2022")
    src = tmp_path / "revisions.docx"
    src.write_bytes(revisions_docx("Trà Cú 2022 — sửa đổi từ Cam Lộ 2023", ["Chấp nhận tất cả để có văn bản B."],
                                   revision_blocks(al)))
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(src)], check=True, timeout=120, capture_output=True)
    pdf = tmp_path / "revisions.pdf"
    assert pdf.stat().st_size > 5000
    import pypdfium2 as pdfium  # the PDF library the readers use: no poppler on the machine

    doc = pdfium.PdfDocument(str(pdf))
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    # LibreOffice shows tracked changes: both Cam Lộ's deleted and Trà Cú's inserted wording are on the page
    assert "Zalo" in " ".join(text.split()) and "bổn phận của trẻ em" in " ".join(text.split())
    SHOTS.mkdir(exist_ok=True)
    doc[0].render(scale=80 / 72).to_pil().save(SHOTS / "tracked-changes.png")
    assert (SHOTS / "tracked-changes.png").stat().st_size > 10_000
