"""Real office files made from a typed directive, for the format tests and ``eval/formats.py``.

``docx_from_text`` writes what a provincial office's Word file looks like: the Nghị định 30/2020 header as a
two-column table (issuer, "Số:" and "V/v" on the left; the national motto and "…, ngày … tháng … năm …" on the
right), the body with Word's *automatic* numbering (``w:numPr`` into ``numbering.xml``: upper-Roman sections
numbered from a paragraph style, decimal tasks, lettered sub-tasks and "-"/"+" bullets, with a
``startOverride`` wherever the typed numbers do not follow Word's own count), the "Nơi nhận" list and the
signature in a two-column table at the end, manual line breaks, a soft hyphen, and one tracked change (an
insertion to keep, a deletion to drop). No label is typed: Word draws them.

``convert_with_libreoffice`` turns that .docx into .doc/.odt/.rtf/.pdf, and ``scan_pdf`` rasterises the PDF,
tilts it, adds noise and packs the images alone into a PDF: a scan of the signed paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from indexer.layout import find_layout
from indexer.textnorm import fold, normalize

OUTLINE, BULLETS = 90, 91  # abstractNum ids of the two lists
_LABEL = re.compile(r"^(?P<label>[IVX]+\.|\d{1,2}(?:\.\d{1,2})*\.|[a-zđ]\)|[-+•])\s+(?P<rest>\S.*)$")
_HEADING = re.compile(r"^#{1,6}\s+")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


@dataclass
class Block:
    lines: list[str]  # the typed lines, markdown emphasis kept, label removed from the first
    level: int | None = None  # outline level (0 Roman, 1 "1.", 2 "1.1.", 3 "a)") or None
    bullet: int | None = None  # bullet level (0 "-", 1 "+", 2 "•") or None
    value: int = 0  # the typed number of a numbered block


@dataclass
class Parts:
    header_left: list[Block] = field(default_factory=list)
    header_right: list[Block] = field(default_factory=list)
    front: list[Block] = field(default_factory=list)  # after the header table: Kính gửi, title, subject
    body: list[Block] = field(default_factory=list)
    footer_left: list[Block] = field(default_factory=list)  # Nơi nhận
    footer_right: list[Block] = field(default_factory=list)  # signature


def _starts_unit(line: str) -> bool:
    return bool(_LABEL.match(re.sub(r"^(#{1,6}\s+)?\*{0,2}", "", line.strip())))


def _blocks(lines: list[str]) -> list[list[str]]:
    """Paragraphs: split at blank lines and before a line that starts with a label (as Word has them)."""
    out: list[list[str]] = []
    cur: list[str] = []
    for ln in lines:
        if ln.strip() and not (cur and _starts_unit(ln)):
            cur.append(ln.rstrip())
            continue
        if cur:
            out.append(cur)
        cur = [ln.rstrip()] if ln.strip() else []
    if cur:
        out.append(cur)
    return out


def _label_block(lines: list[str], *, numbered: bool) -> Block:
    """Take a typed label off the first line (inside any leading emphasis) and say what Word must draw."""
    if _HEADING.match(lines[0]):  # a heading in Word is a bold paragraph
        lines = ["**" + _HEADING.sub("", ln).replace("**", "") + "**" for ln in lines]
    first = lines[0]
    lead = re.match(r"^(\*{1,2})", first)
    marks = lead.group(1) if lead else ""
    m = _LABEL.match(first[len(marks):])
    if not m:
        return Block([first, *lines[1:]])
    label, rest = m.group("label"), m.group("rest")
    block = Block([marks + rest, *lines[1:]])
    if label in "-+•":
        block.bullet = "-+•".index(label)
    elif not numbered:
        return Block([first, *lines[1:]])
    elif label[:-1] in _ROMAN:
        block.level, block.value = 0, _ROMAN[label[:-1]]
    elif label.endswith(")"):
        block.level, block.value = 3, ord(label[0]) - ord("a") + 1
    else:
        nums = label[:-1].split(".")
        block.level, block.value = min(len(nums), 2), int(nums[-1])
    return block


def split_parts(text: str) -> Parts:
    """Cut a typed directive into the parts of the official template."""
    lines = text.split("\n")
    layout = find_layout(normalize(text).text)
    head, body, foot = lines[:layout.body_start], lines[layout.body_start:layout.body_end], lines[layout.body_end:]
    parts = Parts()
    seen_motto = False
    for b in _blocks(head):
        f = fold(re.sub(r"[*#]", "", b[0])).strip()
        if f.startswith(("cong hoa", "doc lap")):
            parts.header_right.append(Block(b))
            seen_motto = True
        elif re.match(r"^[^,]{2,40},\s*ngay\b", f):
            parts.header_right.append(Block(b))
        elif re.match(r"^(so\s*:|v/v\b)", f) or (not seen_motto and re.match(r"^(uy ban|ubnd|so |bo )", f)):
            parts.header_left.append(Block(b))
        else:
            parts.front.append(_label_block(b, numbered=False))
    parts.body = [_label_block(b, numbered=True) for b in _blocks(body)]
    in_recipients = True
    for b in _blocks(foot):
        f = fold(re.sub(r"[*#]", "", b[0])).strip()
        if in_recipients and (f.startswith("noi nhan") or b[0].lstrip().startswith("-")):
            parts.footer_left.append(_label_block(b, numbered=False))
        else:
            in_recipients = False
            parts.footer_right.append(Block(b))
    return parts


# --- numbering.xml ------------------------------------------------------------------------------------------

def _el(tag: str, **attrs: str) -> OxmlElement:
    e = OxmlElement(tag)
    for k, v in attrs.items():
        e.set(qn(f"w:{k}"), v)
    return e


def _lvl(ilvl: int, fmt: str, text: str, indent: int, *, bold: bool = False) -> OxmlElement:
    lvl = _el("w:lvl", ilvl=str(ilvl))
    lvl.append(_el("w:start", val="1"))
    lvl.append(_el("w:numFmt", val=fmt))
    lvl.append(_el("w:lvlText", val=text))
    lvl.append(_el("w:lvlJc", val="left"))
    ppr = _el("w:pPr")
    ppr.append(_el("w:ind", left=str(indent), hanging="360"))
    lvl.append(ppr)
    if bold:
        rpr = _el("w:rPr")
        rpr.append(_el("w:b"))
        lvl.append(rpr)
    return lvl


def _abstract(num_id: int, levels: list[OxmlElement]) -> OxmlElement:
    a = _el("w:abstractNum", abstractNumId=str(num_id))
    a.append(_el("w:multiLevelType", val="multilevel"))
    for lvl in levels:
        a.append(lvl)
    return a


class Numbering:
    """The document's two lists, and the ``w:num`` instances that restart them where the typed numbers jump."""

    def __init__(self, doc) -> None:
        self.root = doc.part.numbering_part.element
        first_num = self.root.find(qn("w:num"))
        for a in (
            _abstract(OUTLINE, [_lvl(0, "upperRoman", "%1.", 360, bold=True), _lvl(1, "decimal", "%2.", 720),
                                _lvl(2, "decimal", "%2.%3.", 1080), _lvl(3, "lowerLetter", "%4)", 1440)]),
            _abstract(BULLETS, [_lvl(0, "bullet", "-", 720), _lvl(1, "bullet", "+", 1080),
                                _lvl(2, "bullet", "\u2022", 1440)]),
        ):
            if first_num is not None:
                first_num.addprevious(a)
            else:
                self.root.append(a)
        self.next_id = 90
        self.outline = self.new_num(OUTLINE)
        self.bullets = self.new_num(BULLETS)
        self.style_num = self.outline  # the section style points at the first outline instance
        self.count = [0, 0, 0, 0]  # Word's running counters of the outline list, per level

    def new_num(self, abstract: int, overrides: dict[int, int] | None = None) -> int:
        num = _el("w:num", numId=str(self.next_id))
        num.append(_el("w:abstractNumId", val=str(abstract)))
        for ilvl, start in (overrides or {}).items():
            o = _el("w:lvlOverride", ilvl=str(ilvl))
            o.append(_el("w:startOverride", val=str(start)))
            num.append(o)
        self.root.append(num)
        self.next_id += 1
        return self.next_id - 1

    def outline_num_for(self, level: int, value: int) -> tuple[int, bool]:
        """(numId, restarted) for an outline paragraph that must show ``value`` at ``level``."""
        expected = self.count[level] + 1
        restarted = value != expected
        if restarted:
            self.outline = self.new_num(OUTLINE, {level: value})
        self.count[level] = value
        for deeper in range(level + 1, 4):
            self.count[deeper] = 0
        return self.outline, restarted


def _numpr(num_id: int, ilvl: int) -> OxmlElement:
    pr = _el("w:numPr")
    pr.append(_el("w:ilvl", val=str(ilvl)))
    pr.append(_el("w:numId", val=str(num_id)))
    return pr


def _section_style(doc, num_id: int):
    """A paragraph style that carries the Roman numbering itself: sections get no ``numPr`` of their own."""
    style = doc.styles.add_style("Muc La Ma", WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles["Normal"]
    style.font.bold = True
    ppr = style.element.get_or_add_pPr()
    ppr.insert(0, _numpr(num_id, 0))
    return style


# --- runs -----------------------------------------------------------------------------------------------------

_EMPH = re.compile(r"(\*\*|\*)")


def _add_runs(par, lines: list[str], *, soft_hyphen_at: str | None = None) -> None:
    """Typed lines → runs: ``**bold**`` and ``*italic*`` become run properties, line ends become ``w:br``."""
    bold = italic = False
    for i, line in enumerate(lines):
        if i:
            (par.runs[-1] if par.runs else par.add_run()).add_break()
        line = re.sub(r"\s+$", "", line)
        for piece in _EMPH.split(line):
            if piece == "**":
                bold = not bold
                continue
            if piece == "*":
                italic = not italic
                continue
            if not piece:
                continue
            if soft_hyphen_at and soft_hyphen_at in piece:
                a, b = piece.split(soft_hyphen_at, 1)
                cut = len(soft_hyphen_at) // 2
                for j, part in enumerate((a + soft_hyphen_at[:cut], soft_hyphen_at[cut:] + b)):
                    run = par.add_run(part)
                    run.bold, run.italic = bold or None, italic or None
                    if j == 0:
                        run._r.append(_el("w:softHyphen"))
                soft_hyphen_at = None
                continue
            run = par.add_run(piece)
            run.bold, run.italic = bold or None, italic or None


def _track_change(par, author: str = "Chuyên viên") -> None:
    """Make the paragraph's last run an insertion and add a deleted phrase before it."""
    runs = par._p.findall(qn("w:r"))
    if not runs:
        return
    last = runs[-1]
    ins = _el("w:ins", id="901", author=author, date="2024-03-01T09:00:00Z")
    last.addprevious(ins)
    ins.append(last)
    dele = _el("w:del", id="902", author=author, date="2024-03-01T09:00:00Z")
    r = _el("w:r")
    t = _el("w:delText")
    t.text = "nội dung đã bị xóa trong bản sửa "
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    r.append(t)
    dele.append(r)
    ins.addprevious(dele)


def _cell_blocks(cell, blocks: list[Block], align) -> None:
    first = True
    for b in blocks:
        par = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        par.alignment = align
        _add_runs(par, b.lines)


def docx_from_text(text: str, path: Path, *, one_row_header: bool = False, tracked_change: bool = True) -> Path:
    """Write ``text`` (a typed directive) as an official-template .docx with Word's automatic numbering."""
    parts = split_parts(text)
    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(13)
    for s in doc.sections:
        s.left_margin, s.right_margin = Cm(3), Cm(2)
    numbering = Numbering(doc)
    section_style = _section_style(doc, numbering.style_num)

    issuer = [b for b in parts.header_left if not re.match(r"^(so\s*:|v/v\b)", fold(b.lines[0]).lstrip("*"))]
    number = [b for b in parts.header_left if b not in issuer]
    motto = [b for b in parts.header_right if fold(b.lines[0]).lstrip("*").startswith(("cong", "doc"))]
    dated = [b for b in parts.header_right if b not in motto]
    if issuer or number or motto or dated:
        rows = [(issuer + number, motto + dated)] if one_row_header else [(issuer, motto), (number, dated)]
        table = doc.add_table(rows=len(rows), cols=2)
        for r, (left, right) in enumerate(rows):
            _cell_blocks(table.cell(r, 0), left, WD_ALIGN_PARAGRAPH.CENTER)
            _cell_blocks(table.cell(r, 1), right, WD_ALIGN_PARAGRAPH.CENTER)
    for b in parts.front:
        par = doc.add_paragraph()
        if b.bullet is not None:
            par._p.get_or_add_pPr().append(_numpr(numbering.bullets, b.bullet))
        _add_runs(par, b.lines)

    tracked = False
    soft_done = False
    for b in parts.body:
        par = doc.add_paragraph()
        if b.level == 0:
            num_id, restarted = numbering.outline_num_for(0, b.value)
            par.style = section_style
            if restarted:  # a direct numPr wins over the style's: the restart instance
                par._p.get_or_add_pPr().append(_numpr(num_id, 0))
        elif b.level is not None:
            num_id, _ = numbering.outline_num_for(b.level, b.value)
            par._p.get_or_add_pPr().append(_numpr(num_id, b.level))
        elif b.bullet is not None:
            par._p.get_or_add_pPr().append(_numpr(numbering.bullets, b.bullet))
        word = None
        if not soft_done and b.level == 1 and len(" ".join(b.lines)) > 200:
            word = next((w for w in re.findall(r"[^\W\d_]{6,}", b.lines[0])), None)
            soft_done = word is not None
        _add_runs(par, b.lines, soft_hyphen_at=word)
        if tracked_change and not tracked and b.level == 1 and b.value == 2:
            _track_change(par)
            tracked = True

    if parts.footer_left or parts.footer_right:
        table = doc.add_table(rows=1, cols=2)
        left, right = table.cell(0, 0), table.cell(0, 1)
        first = True
        for b in parts.footer_left:
            par = left.paragraphs[0] if first else left.add_paragraph()
            first = False
            if b.bullet is not None:
                par._p.get_or_add_pPr().append(_numpr(numbering.bullets, b.bullet))
            _add_runs(par, b.lines)
        _cell_blocks(right, parts.footer_right, WD_ALIGN_PARAGRAPH.CENTER)
    doc.save(str(path))
    return Path(path)
