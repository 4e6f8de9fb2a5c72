""".docx → the text a person sees in Word, in the shape the structure parser reads.

Paragraphs in body order, separated by blank lines; a table cell's paragraphs are one block (the header
cells "ỦY BAN NHÂN DÂN / HUYỆN CAM LỘ" and the signature cell stay together); Word's automatic numbering is
rendered in front of the text ("3. ", "a) ", "- ") by ``numbering.Numbering``; bold and italic runs are
marked ``**``/``*`` as in the typed seeds (a bold numbered line is a heading to the parser); Heading styles
become ``#``. Tracked changes read as accepted (insertions kept, deletions and moved-from text dropped);
hyperlinks, fields' shown results, content controls, text boxes (once, not their VML fallback copies) and
footnotes are kept; manual line breaks become line ends; soft hyphens vanish; tabs stay tabs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from indexer.reading.document import Extracted
from indexer.reading.errors import ReadError
from indexer.reading.numbering import Numbering
from indexer.reading.ooxml import NS, Package, W, open_package
from indexer.reading.wordstyles import Styles, flag

__all__ = ["read_docx", "read_docx_bytes"]

_W = f"{{{W}}}"
_MC = f"{{{NS['mc']}}}"
# inline wrappers whose content is shown as it stands
_DESCEND = {"hyperlink", "ins", "moveTo", "smartTag", "customXml", "fldSimple", "dir", "bdo", "sdtContent"}
_SKIP = {"del", "moveFrom", "pPr", "rPr", "proofErr", "bookmarkStart", "bookmarkEnd", "commentRangeStart",
         "commentRangeEnd", "permStart", "permEnd", "sdtPr", "sdtEndPr", "customXmlPr", "smartTagPr"}
_SYMBOLS = {"F0B7": "•", "F0A7": "▪", "F0D8": "➢", "F0FC": "✓", "F02D": "-", "F0E0": "➢"}


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass
class Span:
    text: str
    bold: bool = False
    italic: bool = False


@dataclass
class Para:
    spans: list[Span] = field(default_factory=list)
    label: str = ""
    label_bold: bool = False
    heading: int | None = None
    mark_deleted: bool = False  # the paragraph mark is a tracked deletion: it joins the next paragraph
    after: list[Para] = field(default_factory=list)  # text boxes and footnotes shown after it

    def plain(self) -> str:
        return "".join(s.text for s in self.spans)


@dataclass
class _Context:
    styles: Styles
    numbering: Numbering
    notes: dict[str, list[etree._Element]]
    warnings: set[str] = field(default_factory=set)
    note_marks: dict[str, int] = field(default_factory=dict)


class _ParaReader:
    """Collects the visible runs of one paragraph, following fields, wrappers and tracked changes."""

    def __init__(self, ctx: _Context, p: etree._Element):
        self.ctx = ctx
        self.p = p
        ppr = p.find(_W + "pPr")
        style = ppr.find(_W + "pStyle") if ppr is not None else None
        self.style = style.get(_W + "val") if style is not None else None
        self.para = Para(heading=ctx.styles.heading_level(self.style))
        self.fields: list[str] = []  # "instr" | "result", innermost last
        if ppr is not None and ppr.find(f"{_W}rPr/{_W}del") is not None:
            self.para.mark_deleted = True

    def read(self) -> Para:
        self._walk(self.p)
        return self.para

    def _walk(self, el: etree._Element) -> None:
        for child in el:
            name = _local(child)
            if name == "r":
                self._run(child)
            elif name in ("del", "moveFrom"):
                self.ctx.warnings.add("tracked changes accepted")
            elif name in ("ins", "moveTo"):
                self.ctx.warnings.add("tracked changes accepted")
                self._walk(child)
            elif name == "sdt":
                content = child.find(_W + "sdtContent")
                if content is not None:
                    self._walk(content)
            elif name in _DESCEND:
                self._walk(child)
            elif name == "AlternateContent":
                self._alternate(child)
            elif name in _SKIP:
                continue

    def _alternate(self, el: etree._Element) -> None:
        """mc:AlternateContent: the first Choice, else the Fallback — never both (they repeat each other)."""
        branch = el.find(_MC + "Choice")
        if branch is None:
            branch = el.find(_MC + "Fallback")
        if branch is not None:
            self._walk(branch)

    def _run(self, r: etree._Element) -> None:
        rpr = r.find(_W + "rPr")
        rstyle = rpr.find(_W + "rStyle") if rpr is not None else None
        rstyle_id = rstyle.get(_W + "val") if rstyle is not None else None

        def prop(tag: str, name: str) -> bool:
            own = flag(rpr.find(_W + tag)) if rpr is not None else None
            v = own if own is not None else self.ctx.styles.run_property(name, self.style, rstyle_id)
            return bool(v)

        if prop("vanish", "hidden"):
            self.ctx.warnings.add("hidden text dropped")
            return
        bold, italic = prop("b", "bold"), prop("i", "italic")
        for c in r:
            name = _local(c)
            if name == "fldChar":
                kind = c.get(_W + "fldCharType")
                if kind == "begin":
                    self.fields.append("instr")
                elif kind == "separate" and self.fields:
                    self.fields[-1] = "result"
                elif kind == "end" and self.fields:
                    self.fields.pop()
                continue
            if self.fields and self.fields[-1] == "instr":
                continue
            text = self._piece(c, name)
            if text:
                self._add(text, bold, italic)
            elif name in ("drawing", "pict", "AlternateContent", "object"):
                self._boxes(c)

    def _piece(self, c: etree._Element, name: str) -> str:
        if name == "t":
            return c.text or ""
        if name in ("tab", "ptab"):
            return "\t"
        if name in ("br", "cr"):
            return "\n"
        if name == "noBreakHyphen":
            return "-"
        if name == "sym":
            return _SYMBOLS.get(c.get(_W + "char", "").upper(), "")
        if name in ("footnoteReference", "endnoteReference"):
            return self._note(c, name)
        return ""

    def _note(self, c: etree._Element, name: str) -> str:
        kind = "footnote" if name == "footnoteReference" else "endnote"
        key = f"{kind}:{c.get(_W + 'id')}"
        body = self.ctx.notes.get(key)
        if not body:
            return ""
        mark = self.ctx.note_marks.setdefault(key, len(self.ctx.note_marks) + 1)
        note = Para(spans=[Span(f"[{mark}] ")])
        for p in body:
            inner = _ParaReader(self.ctx, p).read()
            if inner.spans and not note.spans[-1].text.endswith(" "):
                note.spans.append(Span(" "))
            note.spans += inner.spans
        self.para.after.append(note)
        self.ctx.warnings.add("footnotes kept")
        return f"[{mark}]"

    def _boxes(self, el: etree._Element) -> None:
        """Text boxes inside a drawing: their paragraphs are shown after this one."""
        if _local(el) == "AlternateContent":
            choice = el.find(_MC + "Choice")
            el = choice if choice is not None else el.find(_MC + "Fallback")
            if el is None:
                return
        for box in el.iter(_W + "txbxContent"):
            if any(_local(a) == "Fallback" for a in box.iterancestors()) and el.find(f".//{_MC}Choice") is not None:
                continue
            for p in box.iter(_W + "p"):
                if any(_local(a) == "txbxContent" for a in p.iterancestors() if a is not box):
                    continue  # a box nested in a box is read once, by its own container
                inner = _ParaReader(self.ctx, p).read()
                if inner.plain().strip():
                    self.para.after.append(inner)
                    self.ctx.warnings.add("text boxes read")
            break

    def _add(self, text: str, bold: bool, italic: bool) -> None:
        self.para.spans.append(Span(text.replace("\u00ad", ""), bold, italic))


def _numbered(ctx: _Context, p: etree._Element, para: Para, style: str | None) -> None:
    ppr = p.find(_W + "pPr")
    num = ilvl = None
    if ppr is not None:
        npr = ppr.find(_W + "numPr")
        if npr is not None:
            n, i = npr.find(_W + "numId"), npr.find(_W + "ilvl")
            num = n.get(_W + "val") if n is not None else None
            ilvl = int(i.get(_W + "val")) if i is not None and (i.get(_W + "val") or "").isdigit() else None
    resolved = ctx.numbering.resolve(num, ilvl, style)
    if resolved is None:
        return
    got = ctx.numbering.next_label(*resolved)
    if got is None:
        return
    para.label, level = got
    mark = ppr.find(f"{_W}rPr/{_W}b") if ppr is not None else None
    para.label_bold = bool(flag(mark) if mark is not None else level.bold)


# --- body walk ---------------------------------------------------------------------------------------------

def _paragraph(ctx: _Context, p: etree._Element) -> Para:
    reader = _ParaReader(ctx, p)
    para = reader.read()
    _numbered(ctx, p, para, reader.style)
    return para


@dataclass
class Row:
    """One row of a table of tasks, as the line a person would have typed: "2. Nội dung; Cơ quan chủ trì: …"."""

    text: str


_RE_ROW_LABEL = re.compile(r"^(?:(\d{1,3}(?:\.\d{1,3})*)|([IVX]{1,5})|([a-zđ]))\s*[.)]?$")


def _rows(ctx: _Context, tbl: etree._Element) -> list[list[list | None]]:
    """Live rows of a table, each a list of cells (a cell: its items; None under a vertical merge)."""
    rows = []
    for tr in tbl.iterchildren(_W + "tr"):
        trpr = tr.find(_W + "trPr")
        if trpr is not None and trpr.find(_W + "del") is not None:
            ctx.warnings.add("tracked changes accepted")
            continue
        cells: list[list | None] = []
        for tc in tr.iterchildren(_W + "tc"):
            vmerge = tc.find(f"{_W}tcPr/{_W}vMerge")
            if vmerge is not None and vmerge.get(_W + "val") != "restart":
                cells.append(None)  # the continuation of a vertically merged cell
            else:
                cells.append(list(_blocks(ctx, tc, in_cell=True)))
        rows.append(cells)
    return rows


def _flat(cell: list | None) -> str:
    return " ".join(_cell_text(cell).split()) if cell else ""


def _row_label(cell: list | None) -> str | None:
    """"1" → "1.", "1.2" → "1.2.", "II" → "II.", "a" → "a)"; None when the cell is not a running number."""
    m = _RE_ROW_LABEL.match(_flat(cell).replace("*", "").strip())
    if not m:
        return None
    return f"{m.group(3)})" if m.group(3) else f"{m.group(1) or m.group(2)}."


def _task_rows(rows: list[list[list | None]]) -> list[Row] | None:
    """A table whose first column numbers its rows (STT | Nội dung | Cơ quan chủ trì | …) is a list of tasks:
    each numbered row becomes one labelled line, the other columns named by the header row."""
    if len(rows) < 3 or max(len(r) for r in rows) < 2:
        return None
    first = next((i for i, r in enumerate(rows) if _row_label(r[0] if r else None)), None)
    if first is None:
        return None
    body = rows[first:]
    numbered = [r for r in body if _row_label(r[0])]
    if len(numbered) < 2 or len(numbered) < 0.6 * len(body):
        return None
    header = [_flat(c) for c in rows[first - 1]] if first else []
    out = []
    for r in body:
        label = _row_label(r[0])
        parts = []
        for i, c in enumerate(r[1:], start=1):
            t = _flat(c)
            if not t:
                continue
            name = header[i] if i < len(header) and i > 1 else ""
            parts.append(f"{name}: {t}" if name and not name.lower().startswith("nội dung") else t)
        text = "; ".join(parts)
        if len(parts) > 1 and not text.endswith((".", ";", ":")):
            text += "."  # a row with its agency and deadline is a task, not a heading ("I | Truyền thông" is)
        if text:
            out.append(Row(f"{label} {text}" if label else text))
    return out


def _table(ctx: _Context, tbl: etree._Element) -> Iterator[list | Row]:
    rows = _rows(ctx, tbl)
    tasks = _task_rows(rows)
    if tasks is not None:
        ctx.warnings.add("a table of tasks read row by row")
        yield from tasks
        return
    for r in rows:
        yield from (c for c in r if c is not None)


def _blocks(ctx: _Context, parent: etree._Element, *, in_cell: bool = False) -> Iterator:
    """Paragraphs of a container in order; a table yields one list of paragraphs per cell."""
    for el in parent:
        name = _local(el)
        if name == "p":
            yield _paragraph(ctx, el)
        elif name == "tbl":
            yield from _table(ctx, el)
        elif name in ("sdt", "customXml"):
            content = el.find(_W + "sdtContent") if name == "sdt" else el
            if content is not None:
                yield from _blocks(ctx, content, in_cell=in_cell)
        elif name == "altChunk":
            ctx.warnings.add("an embedded document (altChunk) was skipped")


# --- text --------------------------------------------------------------------------------------------------

def _emphasised(spans: list[Span]) -> str:
    """Spans of one line → text with ``**``/``*`` around bold/italic stretches (spaces kept outside)."""
    merged: list[Span] = []
    for s in spans:
        if not s.text:
            continue
        if merged and (not s.text.strip() or (merged[-1].bold, merged[-1].italic) == (s.bold, s.italic)):
            merged[-1] = Span(merged[-1].text + s.text, merged[-1].bold, merged[-1].italic)
        else:
            merged.append(Span(s.text, s.bold, s.italic))
    out = []
    for s in merged:
        core = s.text.strip()
        if not core or not (s.bold or s.italic):
            out.append(s.text)
            continue
        mark = ("**" if s.bold else "") + ("*" if s.italic else "")
        lead = s.text[: len(s.text) - len(s.text.lstrip())]
        trail = s.text[len(s.text.rstrip()):]
        out.append(f"{lead}{mark}{core}{mark[::-1]}{trail}")
    return "".join(out)


def _lines(para: Para) -> list[list[Span]]:
    lines: list[list[Span]] = [[]]
    for s in para.spans:
        parts = s.text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append(Span(part, s.bold, s.italic))
    return lines


def _render(para: Para) -> str:
    """One paragraph as text lines: label in front (inside the bold when the text starts bold)."""
    lines = _lines(para)
    if para.label:
        first = lines[0]
        lead_bold = bool(first) and next((s.bold for s in first if s.text.strip()), False)
        lines[0] = [Span(para.label + " ", lead_bold or (para.label_bold and not first)), *first]
    text = "\n".join(_emphasised(ln).rstrip() for ln in lines)
    text = re.sub(r"\n{2,}", "\n", text.strip("\n"))
    if para.heading and text:
        text = "#" * para.heading + " " + text.replace("\n", " ")
    return text


def _join_deleted_marks(paras: list[Para]) -> list[Para]:
    out: list[Para] = []
    carry: Para | None = None
    for p in paras:
        if carry is not None:
            p = Para(spans=carry.spans + p.spans, label=carry.label or p.label, label_bold=carry.label_bold,
                     heading=carry.heading or p.heading, after=carry.after + p.after)
            carry = None
        if p.mark_deleted:
            carry = p
            continue
        out.append(p)
    if carry is not None:
        out.append(carry)
    return out


def _text(items: list) -> str:
    blocks: list[str] = []
    paras: list[Para] = []

    def flush() -> None:
        for p in _join_deleted_marks(paras):
            if p.plain().strip():
                blocks.append(_render(p))
            blocks.extend(_render(a) for a in p.after if _render(a).strip())
        paras.clear()

    for item in items:
        if isinstance(item, Para):
            paras.append(item)
            continue
        flush()
        if isinstance(item, Row):
            blocks.append(item.text)
            continue
        cell = _cell_text(item)
        if cell.strip():
            blocks.append(cell)
    flush()
    return "\n\n".join(b for b in blocks if b.strip())


def _cell_text(items: list) -> str:
    """A cell is one block: its paragraphs on lines of their own; an empty paragraph becomes a blank line."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, Para):
            for p in [item, *item.after]:
                t = _render(p) if p.plain().strip() else ""
                lines.append(t)
        elif isinstance(item, Row):
            lines.append(item.text)
        else:
            lines.append(_cell_text(item))
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def _notes(pkg: Package) -> dict[str, list[etree._Element]]:
    out: dict[str, list[etree._Element]] = {}
    for kind in ("footnote", "endnote"):
        root = pkg.xml(f"word/{kind}s.xml")
        if root is None:
            continue
        for note in root.iter(_W + kind):
            if note.get(_W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                continue
            out[f"{kind}:{note.get(_W + 'id')}"] = list(note.iter(_W + "p"))
    return out


def read_docx_bytes(data: bytes, what: str = ".docx") -> Extracted:
    """Read a .docx given as bytes; ``ReadError`` (blank source) for damaged, encrypted or bomb files."""
    pkg = open_package(data, what)
    doc = pkg.xml("word/document.xml")
    if doc is None:
        raise ReadError("", f"corrupt {what}: no word/document.xml in the package")
    body = doc.find(_W + "body")
    if body is None:
        raise ReadError("", f"corrupt {what}: the document has no body")
    styles = Styles(pkg.xml("word/styles.xml"))
    ctx = _Context(styles, Numbering(pkg.xml("word/numbering.xml"), styles), _notes(pkg))
    try:
        text = _text(list(_blocks(ctx, body)))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ReadError("", f"corrupt {what}: {type(e).__name__}: {e}") from e
    warnings = sorted(ctx.warnings)
    if ctx.numbering.from_style:
        warnings.insert(0, "numbering from style")
    return Extracted(text=text, reader="Word XML (numbering resolved)", warnings=warnings)


def read_docx(path: Path) -> Extracted:
    return read_docx_bytes(Path(path).read_bytes())
