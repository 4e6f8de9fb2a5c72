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

from indexer.parsing.layout import find_layout
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


def _cell_blocks(cell, blocks: list[Block], align, *, line_paragraphs: bool = False) -> None:
    """A cell's blocks as paragraphs; ``line_paragraphs`` makes every typed line a paragraph of its own (as
    many offices type "ỦY BAN NHÂN DÂN" and "HUYỆN CAM LỘ"), otherwise lines are joined by manual breaks."""
    first = True
    for b in blocks:
        for lines in ([[ln] for ln in _balanced(b.lines)] if line_paragraphs else [b.lines]):
            par = cell.paragraphs[0] if first else cell.add_paragraph()
            first = False
            par.alignment = align
            _add_runs(par, lines)


def _balanced(lines: list[str]) -> list[str]:
    """Lines of a block each with its own emphasis: "**A\nB**" → ["**A**", "**B**"]."""
    out, bold = [], False
    for ln in lines:
        opened = "**" if bold else ""
        bold ^= ln.count("**") % 2 == 1
        out.append(opened + ln + ("**" if bold else ""))
    return out


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
            _cell_blocks(table.cell(r, 0), left, WD_ALIGN_PARAGRAPH.CENTER, line_paragraphs=one_row_header)
            _cell_blocks(table.cell(r, 1), right, WD_ALIGN_PARAGRAPH.CENTER, line_paragraphs=one_row_header)
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
        doc.add_paragraph()  # the blank line above "Nơi nhận"
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
        doc.add_paragraph()  # Word always ends a document with a paragraph mark after a table
    doc.save(str(path))
    return Path(path)


# --- a hand-made package for the numbering cases the seeds do not have ----------------------------------------

_CT = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>
<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""
_DOC_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>
<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://thuvienphapluat.vn/" TargetMode="External"/>
</Relationships>"""
WNS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
       'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
       'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
       'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
       'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
       'xmlns:v="urn:schemas-microsoft-com:vml" mc:Ignorable="wps"')


def write_package(path: Path, body: str, *, numbering: str = "", styles: str = "", footnotes: str = "") -> Path:
    """A minimal but complete .docx from WordprocessingML fragments (what Word and LibreOffice both open)."""
    import zipfile

    parts = {
        "[Content_Types].xml": _CT,
        "_rels/.rels": _RELS,
        "word/_rels/document.xml.rels": _DOC_RELS,
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {WNS}>'
                             f"<w:body>{body}<w:sectPr/></w:body></w:document>",
        "word/styles.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:styles {WNS}>'
                           '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
                           f"</w:style>{styles}</w:styles>",
        "word/numbering.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:numbering {WNS}>'
                              f"{numbering}</w:numbering>",
        "word/footnotes.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes {WNS}>'
                              '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
                              f"</w:footnote>{footnotes}</w:footnotes>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            z.writestr(name, xml)
    return Path(path)


def _lvl_xml(ilvl: int, fmt: str, text: str, **extra: str) -> str:
    more = "".join(f'<w:{k} w:val="{v}"/>' for k, v in extra.items() if k != "pStyle")
    style = f'<w:pStyle w:val="{extra["pStyle"]}"/>' if "pStyle" in extra else ""
    return (f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>{style}{more}'
            f'<w:lvlText w:val="{text}"/><w:lvlJc w:val="left"/></w:lvl>')


def _p(text: str, num: int | None = None, ilvl: int | None = None, style: str | None = None) -> str:
    ppr = ""
    if style:
        ppr += f'<w:pStyle w:val="{style}"/>'
    if num is not None or ilvl is not None:
        ppr += "<w:numPr>" + (f'<w:ilvl w:val="{ilvl}"/>' if ilvl is not None else "") + \
               (f'<w:numId w:val="{num}"/>' if num is not None else "") + "</w:numPr>"
    run = f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>' if text else ""
    return f"<w:p><w:pPr>{ppr}</w:pPr>{run}</w:p>"


# (numId, ilvl, style, text, the label Word shows) — ECMA-376 §17.9 as Word implements it
NUMBERING_CASES: list[tuple[int | None, int | None, str | None, str, str]] = [
    (1, 0, None, "Mục tiêu chung", "1."),
    (1, 1, None, "Mục tiêu cụ thể thứ nhất", "1.1."),
    (1, 1, None, "Mục tiêu cụ thể thứ hai", "1.2."),
    (1, 2, None, "Chỉ tiêu về trẻ em", "a)"),
    (1, 2, None, "Chỉ tiêu về gia đình", "b)"),
    (1, 1, None, "Mục tiêu cụ thể thứ ba", "1.3."),
    (1, 0, None, "Nhiệm vụ", "2."),
    (1, 2, None, "Nhiệm vụ về truyền thông", "a)"),  # level 2 restarted by level 0
    (1, 1, None, "Nhiệm vụ thứ nhất", "2.2."),  # the skipped level 1 counted once under "a)"
    (1, 0, None, "", ""),  # an empty numbered paragraph still counts
    (1, 0, None, "Kinh phí", "4."),
    (2, 0, None, "Tổ chức thực hiện", "7."),  # numId 2: same abstract, startOverride 7
    (1, 0, None, "Chế độ báo cáo", "8."),  # back on numId 1: the shared count goes on
    (3, 0, None, "MỤC ĐÍCH, YÊU CẦU", "I."),
    (3, 1, None, "Sở Lao động - Thương binh và Xã hội", "I.1."),
    (3, 1, None, "Sở Giáo dục và Đào tạo", "I.2."),
    (3, 0, None, "NHIỆM VỤ", "II."),
    (3, 2, None, "Sở Y tế", "2.1."),  # w:isLgl: the Roman level shown as a decimal
    (3, 1, None, "Công an tỉnh", "II.2."),
    (4, 0, None, "Không bao giờ đánh lại", "1."),
    (4, 1, None, "mục con", "1.1"),
    (4, 0, None, "Mục hai", "2."),
    (4, 1, None, "mục con tiếp tục", "2.2"),  # w:lvlRestart 0: level 1 never restarts
    (None, None, "Dieu", "Phạm vi điều chỉnh", "Điều 1."),  # numbering from a style bound by w:pStyle
    (None, None, "Dieu", "Đối tượng áp dụng", "Điều 2."),
    (0, None, "Dieu", "Không đánh số", ""),  # numId 0 switches the style's numbering off
    (6, 0, None, "Danh sách qua kiểu đánh số", "a."),  # numStyleLink → the numbering style's list
    (6, 0, None, "mục tiếp theo", "b."),
    (5, 0, None, "Gạch đầu dòng", "-"),
    (5, 1, None, "Ký hiệu Symbol", "•"),
    (5, 2, None, "Ký hiệu Courier", "◦"),
]

NUMBERING_XML = (
    '<w:abstractNum w:abstractNumId="10">' + _lvl_xml(0, "decimal", "%1.") + _lvl_xml(1, "decimal", "%1.%2.")
    + _lvl_xml(2, "lowerLetter", "%3)") + "</w:abstractNum>"
    + '<w:abstractNum w:abstractNumId="11">' + _lvl_xml(0, "upperRoman", "%1.") + _lvl_xml(1, "decimal", "%1.%2.")
    + _lvl_xml(2, "decimal", "%1.%3.", isLgl="1") + "</w:abstractNum>"
    + '<w:abstractNum w:abstractNumId="12">' + _lvl_xml(0, "decimal", "%1.")
    + _lvl_xml(1, "decimal", "%1.%2", lvlRestart="0") + "</w:abstractNum>"
    + '<w:abstractNum w:abstractNumId="13">' + _lvl_xml(0, "decimal", "Điều %1.", pStyle="Dieu") + "</w:abstractNum>"
    + '<w:abstractNum w:abstractNumId="14">' + _lvl_xml(0, "bullet", "-") + _lvl_xml(1, "bullet", "\uf0b7")
    + _lvl_xml(2, "bullet", "o") + "</w:abstractNum>"
    + '<w:abstractNum w:abstractNumId="15"><w:numStyleLink w:val="KieuDanhSach"/></w:abstractNum>'
    + '<w:abstractNum w:abstractNumId="16"><w:styleLink w:val="KieuDanhSach"/>' + _lvl_xml(0, "lowerLetter", "%1.")
    + "</w:abstractNum>"
    + '<w:num w:numId="1"><w:abstractNumId w:val="10"/></w:num>'
    + '<w:num w:numId="2"><w:abstractNumId w:val="10"/><w:lvlOverride w:ilvl="0"><w:startOverride w:val="7"/>'
      "</w:lvlOverride></w:num>"
    + '<w:num w:numId="3"><w:abstractNumId w:val="11"/></w:num>'
    + '<w:num w:numId="4"><w:abstractNumId w:val="12"/></w:num>'
    + '<w:num w:numId="5"><w:abstractNumId w:val="14"/></w:num>'
    + '<w:num w:numId="6"><w:abstractNumId w:val="15"/></w:num>'
    + '<w:num w:numId="7"><w:abstractNumId w:val="16"/></w:num>'
    + '<w:num w:numId="8"><w:abstractNumId w:val="13"/></w:num>'
)
NUMBERING_STYLES = (
    '<w:style w:type="paragraph" w:styleId="Dieu"><w:name w:val="Dieu"/><w:basedOn w:val="Normal"/>'
    '<w:pPr><w:numPr><w:numId w:val="8"/></w:numPr></w:pPr></w:style>'
    '<w:style w:type="numbering" w:styleId="KieuDanhSach"><w:name w:val="Kieu Danh Sach"/>'
    '<w:pPr><w:numPr><w:numId w:val="7"/></w:numPr></w:pPr></w:style>'
)


def numbering_docx(path: Path) -> list[tuple[str, str]]:
    """Write the numbering test package; returns (label Word shows, text) per non-empty paragraph."""
    body = "".join(_p(text, num, ilvl, style) for num, ilvl, style, text, _ in NUMBERING_CASES)
    write_package(path, body, numbering=NUMBERING_XML, styles=NUMBERING_STYLES)
    return [(label, text) for _, _, _, text, label in NUMBERING_CASES if text]


# --- scans and photos of the signed paper (tests/test_ocr.py, eval/ocr_eval.py) ---------------------------

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
_SERIF = ("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
          "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
          "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")


def seed_pdf(name: str, workdir: Path) -> bytes:
    """The typed seed ``corpus/<name>.txt`` as an official-template .docx (no tracked change), printed to PDF
    by LibreOffice: the page a scanner or a phone sees."""
    from indexer.reading.libreoffice import convert

    text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
    docx = docx_from_text(text, Path(workdir) / f"{name}.docx", tracked_change=False)
    return convert(docx.read_bytes(), ".docx", "pdf")


def _font(size: int):
    from PIL import ImageFont

    for f in _SERIF:
        if Path(f).exists():
            return ImageFont.truetype(f, size)
    return ImageFont.load_default(size)


def _render(pdf: bytes, dpi: int, *, grey: bool):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(doc)):
            page = doc[i]
            yield page.render(scale=dpi / 72, grayscale=grey).to_pil().convert("L" if grey else "RGB")
            page.close()
    finally:
        doc.close()


def _page_number(image, number: int, dpi: int) -> None:
    """Nghị định 30/2020 puts the page number at the top centre of every page but the first."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    font = _font(int(dpi * 13 / 72))
    text = str(number)
    width = draw.textlength(text, font=font)
    draw.text(((image.width - width) / 2, dpi * 0.45), text, fill=0 if image.mode == "L" else (0, 0, 0), font=font)


def scan_pages(pdf: bytes, *, dpi: int = 200, seed: int = 0, tilt: tuple[float, float] = (0.8, 2.0),
               noise: float = 10.0, blur: float = 0.7, specks: float = 0.0004, page_numbers: bool = True) -> list:
    """The pages as a photocopier scans them: grey at ``dpi``, page numbers on pages 2…, each page tilted by
    a random angle in ``tilt`` (either way), toner a little faded, slightly blurred, grain and toner specks."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    out = []
    for i, page in enumerate(_render(pdf, dpi, grey=True)):
        if page_numbers and i:
            _page_number(page, i + 1, dpi)
        a = np.asarray(page, dtype=np.float32)
        a = (255 - (255 - a) * 0.92) * 0.93 + 4  # faded toner on grey paper
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        angle = float(rng.uniform(*tilt) * rng.choice([-1, 1]))
        img = img.rotate(angle, resample=Image.BICUBIC, fillcolor=241).filter(ImageFilter.GaussianBlur(blur))
        a = np.asarray(img, dtype=np.float32) + rng.normal(0, noise, (img.height, img.width))
        a[rng.random(a.shape) < specks] = 30
        out.append(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)))
    return out


def pack_pdf(images: list, path: Path | None = None, *, dpi: int = 200) -> bytes:
    """Images alone in a PDF, one per page, no text layer: what a scanner's "scan to PDF" writes."""
    import io

    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=dpi, quality=80)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def scan_pdf(pdf: bytes, path: Path | None = None, *, dpi: int = 200, seed: int = 0, **degrade) -> bytes:
    """A scan of the printed ``pdf``: rasterised, tilted a degree or two, noise and blur of a photocopier,
    the images packed alone into a new PDF with no text layer."""
    return pack_pdf(scan_pages(pdf, dpi=dpi, seed=seed, **degrade), path, dpi=dpi)


def photo_pages(pdf: bytes, *, dpi: int = 220, seed: int = 0, tilt: tuple[float, float] = (1.5, 3.5)) -> list:
    """The pages as a phone photographs them on a desk: colour, warm paper, light falling off to one side,
    the page tilted 1.5–3.5°, a dark desk around it, sensor noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for page in _render(pdf, dpi, grey=False):
        a = np.asarray(page, dtype=np.float32) / 255.0
        paper = np.array([0.98, 0.95, 0.88], dtype=np.float32)
        a = a * paper  # white → warm paper; ink stays dark
        h, w = a.shape[:2]
        light = np.linspace(1.0, 0.78, w, dtype=np.float32)[None, :, None] * \
            np.linspace(0.97, 1.0, h, dtype=np.float32)[:, None, None]
        a = np.clip(a * light, 0, 1)
        img = Image.fromarray((a * 255).astype(np.uint8))
        border = int(0.06 * w)
        desk = Image.new("RGB", (w + 2 * border, h + 2 * border), (70, 58, 48))
        desk.paste(img, (border, border))
        angle = float(rng.uniform(*tilt) * rng.choice([-1, 1]))
        desk = desk.rotate(angle, resample=Image.BICUBIC, fillcolor=(70, 58, 48))
        b = np.asarray(desk, dtype=np.float32) + rng.normal(0, 4.0, (desk.height, desk.width, 1))
        out.append(Image.fromarray(np.clip(b, 0, 255).astype(np.uint8)))
    return out


def photo_files(pdf: bytes, out_dir: Path, *, stem: str = "trang", seed: int = 0, on_its_side: bool = True,
                **kw) -> list[Path]:
    """Each page as its own .jpg, the way a phone saves them. With ``on_its_side`` the first photo is stored
    turned a quarter and tagged EXIF Orientation 6 ("rotate 90° to view"), as phones do when held sideways."""
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(photo_pages(pdf, seed=seed, **kw)):
        path = out_dir / f"{stem}-{i + 1}.jpg"
        if on_its_side and i == 0:
            exif = Image.Exif()
            exif[0x0112] = 6
            img.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=85, exif=exif)
        else:
            img.save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


def multipage_tiff(images: list, path: Path, *, dpi: int = 200) -> Path:
    """Pages as one multi-page TIFF (what a scanner's "scan to TIFF" writes)."""
    images[0].save(path, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw",
                   dpi=(dpi, dpi))
    return Path(path)
