"""Exports of a comparison (two directives, aligned unit by unit) for staff who work in Word and Excel.

The input is a plain structure (``ComparisonExport``) so this module does not depend on how the alignment is
computed. The .docx redline uses the look of Word's tracked changes (deleted: red strikethrough, inserted:
blue underline) because that is what drafting staff already read fluently.

CSV: ``to_csv`` returns BYTES, UTF-8 with a BOM and CRLF line ends, ready to send as
``text/csv; charset=utf-8`` — without the BOM Excel opens Vietnamese as mojibake, and returning bytes means no
caller can forget to add it. Cells that Excel would run as a formula ("=…", "+…", "@…", and "- …" bullets,
which Excel shows as ``#NAME?``) get a leading apostrophe, Excel's own "this is text" marker.
"""

from __future__ import annotations

import csv
import io
import re

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_UNDERLINE
from docx.shared import Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from pydantic import BaseModel

from search_api.alignment.redline import Redline, render_markdown, render_text

__all__ = [
    "CSV_COLUMNS",
    "CSV_MEDIA_TYPE",
    "DEL_COLOR",
    "INS_COLOR",
    "ComparisonExport",
    "ExportPair",
    "ExportUnit",
    "redline_to_docx",
    "to_csv",
    "to_docx",
    "to_markdown",
]

DEL_COLOR = RGBColor(0xC0, 0x00, 0x00)  # Word's tracked-deletion red
INS_COLOR = RGBColor(0x00, 0x4E, 0xC2)  # tracked-insertion blue
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_COLUMNS = ["path_a", "heading_a", "text_a", "path_b", "heading_b", "text_b", "similarity", "redline_text",
               "nearest"]

_SUMMARY_LABELS = {
    "pairs": "Cặp nội dung đối chiếu",
    "identical": "Giống hệt",
    "changed": "Có thay đổi",
    "only_a": "Chỉ có trong A",
    "only_b": "Chỉ có trong B",
}


class ExportUnit(BaseModel):
    path: str  # "III.1", "3"
    heading: str
    text: str
    nearest: str = ""  # an unmatched unit: "III.7: “…its closest sentence…”" of the other side, a hint only


class ExportPair(BaseModel):
    a: ExportUnit
    b: ExportUnit
    similarity: float
    redline: Redline


class ComparisonExport(BaseModel):
    title_a: str
    title_b: str
    pairs: list[ExportPair]
    only_a: list[ExportUnit] = []
    only_b: list[ExportUnit] = []
    summary: dict[str, int] = {}


def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


# --- docx --------------------------------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(s: str) -> str:
    """Drop control characters, which python-docx refuses (they are not allowed in XML)."""
    return _XML_BAD.sub("", s)


def _add_redline_runs(p: Paragraph, rl: Redline) -> None:
    """Equal text plain, deletions red + strikethrough, insertions blue + underline (tracked-change look)."""
    for o in rl.ops:
        if o.op == "equal":
            p.add_run(_clean(o.a_text))
            continue
        if o.op in ("delete", "replace") and o.a_text:
            r = p.add_run(_clean(o.a_text))
            r.font.strike = True
            r.font.color.rgb = DEL_COLOR
        if o.op in ("insert", "replace") and o.b_text:
            r = p.add_run(_clean(o.b_text))
            r.font.underline = WD_UNDERLINE.SINGLE
            r.font.color.rgb = INS_COLOR


def _unit_cell(cell: _Cell, u: ExportUnit) -> None:
    p = cell.paragraphs[0]
    head = " ".join(x for x in (u.path, u.heading) if x)
    if head:
        p.add_run(_clean(head)).bold = True
        p = cell.add_paragraph()
    p.add_run(_clean(u.text))


def _table(doc: DocxDocument, header: list[str]) -> Table:
    t = doc.add_table(rows=1, cols=len(header))
    t.style = "Table Grid"
    for cell, h in zip(t.rows[0].cells, header, strict=True):
        cell.paragraphs[0].add_run(h).bold = True
    return t


def _legend(doc: DocxDocument) -> None:
    p = doc.add_paragraph("Chú thích: ")
    r = p.add_run("đã xóa")
    r.font.strike, r.font.color.rgb = True, DEL_COLOR
    p.add_run(", ")
    r = p.add_run("đã thêm")
    r.font.underline, r.font.color.rgb = WD_UNDERLINE.SINGLE, INS_COLOR
    p.add_run(".")


def _save(doc: DocxDocument) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _new_document() -> DocxDocument:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"  # the font of Vietnamese administrative documents (ND 30/2020)
    style.font.size = Pt(12)
    return doc


def to_docx(cmp: ComparisonExport) -> bytes:
    """A Word document: heading, summary table, pair table (A, B, redline, similarity), then unmatched units."""
    doc = _new_document()
    doc.add_heading(_clean(f"Đối chiếu: {cmp.title_a} — {cmp.title_b}"), level=1)
    doc.add_paragraph(_clean(f"Văn bản A: {cmp.title_a}"))
    doc.add_paragraph(_clean(f"Văn bản B: {cmp.title_b}"))
    if cmp.summary:
        t = _table(doc, ["Chỉ tiêu", "Số lượng"])
        for key, val in cmp.summary.items():
            cells = t.add_row().cells
            cells[0].text = _SUMMARY_LABELS.get(key, key)
            cells[1].text = str(val)
    doc.add_heading("Nội dung đối chiếu", level=2)
    _legend(doc)
    t = _table(doc, ["Văn bản A", "Văn bản B", "Đối chiếu", "Tương đồng"])
    for pair in cmp.pairs:
        cells = t.add_row().cells
        _unit_cell(cells[0], pair.a)
        _unit_cell(cells[1], pair.b)
        _add_redline_runs(cells[2].paragraphs[0], pair.redline)
        cells[3].text = _pct(pair.similarity)
    for title, other, units in (("Chỉ có trong A", "B", cmp.only_a), ("Chỉ có trong B", "A", cmp.only_b)):
        doc.add_heading(title, level=2)
        if not units:
            doc.add_paragraph("(không có)")
        for u in units:
            p = doc.add_paragraph()
            head = " ".join(x for x in (u.path, u.heading) if x)
            if head:
                p.add_run(_clean(head) + "\n").bold = True
            p.add_run(_clean(u.text))
            if u.nearest:
                p.add_run(_clean(f"\n{_near_label(other)} {u.nearest}")).italic = True
    return _save(doc)


def _near_label(side: str) -> str:
    return f"Gần nhất ở {side} (chưa đủ giống để ghép cặp): mục"


def redline_to_docx(redline: Redline, title: str) -> bytes:
    """One redline as a Word document (title, similarity, legend, the marked-up text)."""
    doc = _new_document()
    doc.add_heading(_clean(title), level=1)
    doc.add_paragraph(f"Mức tương đồng: {_pct(redline.similarity)}; số từ thay đổi: {redline.changed_words}.")
    _legend(doc)
    _add_redline_runs(doc.add_paragraph(), redline)
    return _save(doc)


# --- markdown ----------------------------------------------------------------------------------------------

_MD_SPECIALS = re.compile(r"([\\`*_\[\]<>~|#])")


def _md(s: str) -> str:
    return _MD_SPECIALS.sub(r"\\\1", s)


def _md_unit(u: ExportUnit) -> str:
    head = " ".join(x for x in (u.path, u.heading) if x)
    return f"**{_md(head)}**\n\n{_md(u.text)}" if head else _md(u.text)


def to_markdown(cmp: ComparisonExport) -> str:
    """Markdown report: deletions ``~~…~~``, insertions ``**…**`` (see ``render_markdown``)."""
    out = [f"# Đối chiếu: {_md(cmp.title_a)} — {_md(cmp.title_b)}", "",
           f"- Văn bản A: {_md(cmp.title_a)}", f"- Văn bản B: {_md(cmp.title_b)}", ""]
    if cmp.summary:
        out += ["| Chỉ tiêu | Số lượng |", "|---|---:|"]
        out += [f"| {_md(_SUMMARY_LABELS.get(k, k))} | {v} |" for k, v in cmp.summary.items()]
        out.append("")
    out += ["## Nội dung đối chiếu", "", "Chú thích: ~~đã xóa~~, **đã thêm**.", ""]
    for pair in cmp.pairs:
        a, b = pair.a, pair.b
        out += [f"### A {_md(a.path)} ↔ B {_md(b.path)} — tương đồng {_pct(pair.similarity)}", "",
                render_markdown(pair.redline), ""]
    for title, other, units in (("Chỉ có trong A", "B", cmp.only_a), ("Chỉ có trong B", "A", cmp.only_b)):
        out += [f"## {title}", ""]
        for u in units:
            out += [_md_unit(u), ""] + ([f"*{_near_label(other)} {_md(u.nearest)}*", ""] if u.nearest else [])
        if not units:
            out += ["(không có)", ""]
    return "\n".join(out)


# --- csv ---------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*%?")


def _cell(s: str) -> str:
    """Keep Excel from evaluating text as a formula (CSV injection, and "- bullet" showing as #NAME?)."""
    if s and (s[0] in "=+@\t\r" or (s[0] == "-" and not _NUMBER.fullmatch(s))):
        return "'" + s
    return s


def to_csv(cmp: ComparisonExport) -> bytes:
    """One row per aligned pair, then one per unmatched unit (other side empty, its nearest unit there in
    ``nearest``); UTF-8 with BOM, CRLF."""
    buf = io.StringIO()
    w = csv.writer(buf)  # default dialect: quoting where needed, \r\n line ends (what Excel expects)
    w.writerow(CSV_COLUMNS)
    for p in cmp.pairs:
        w.writerow([_cell(x) for x in (p.a.path, p.a.heading, p.a.text, p.b.path, p.b.heading, p.b.text,
                                       f"{p.similarity:.4f}", render_text(p.redline), "")])
    for u in cmp.only_a:
        w.writerow([_cell(x) for x in (u.path, u.heading, u.text, "", "", "", "", "", u.nearest)])
    for u in cmp.only_b:
        w.writerow([_cell(x) for x in ("", "", "", u.path, u.heading, u.text, "", "", u.nearest)])
    return buf.getvalue().encode("utf-8-sig")
