"""Word tracked changes: a .docx whose text is document A with real revisions (``w:ins``/``w:del``, author
and date) that turn it into document B.

"Accept all" in Word or LibreOffice gives B's text, "Reject all" gives A's. The input is a list of blocks:
a block is the paragraphs of A that align with paragraphs of B (one task each; several on one side for a
task that was split or merged, none on one side for a task only the other document has). Each block is
redlined word by word as ONE text, with a paragraph sentinel between its paragraphs, so that a merge shows
as a deleted paragraph mark and a split as an inserted one — exactly how Word itself records them:

* deleted run: ``<w:del><w:r><w:delText>…`` — gone after accept, back after reject;
* inserted run: ``<w:ins><w:r><w:t>…`` — kept after accept, gone after reject;
* paragraph mark: ``<w:pPr><w:rPr><w:del/>`` (accept joins the paragraph with the next) or ``<w:ins/>``
  (reject joins it with the next).

A whole task only in A is a paragraph of deleted runs with a deleted mark; only in B, inserted runs and an
inserted mark. The document ends with an untracked paragraph so there is always a next paragraph to join.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph

from search_api.alignment.redline import redline

__all__ = ["AUTHOR", "Block", "paragraph_text", "revisions_docx"]

AUTHOR = "directives"
SENTINEL = "¶"  # a punctuation token of its own for the tokenizer: where one paragraph ends inside a block
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Block:
    """Paragraphs of A and of B that correspond (either side may be empty)."""

    a: list[str] = field(default_factory=list)
    b: list[str] = field(default_factory=list)


def paragraph_text(path: str, text: str) -> str:
    """One task as a paragraph: its number first ("II.3. …"), an item as a dash line, a plain paragraph as is."""
    body = _clean(text).strip()
    if not path or "¶" in path:
        return body
    if "•" in path:
        return f"- {body}"
    return f"{path}. {body}"


def _clean(s: str) -> str:
    """No control characters (not allowed in XML) and no sentinel inside a paragraph."""
    return _XML_BAD.sub("", s).replace(SENTINEL, "¶ ")


# --- the stream of runs and paragraph marks of one block ------------------------------------------------

Piece = tuple[str, str, str]  # (kind "run" | "mark", status "eq" | "del" | "ins", text)


def _split(kind_status: str, text: str) -> list[Piece]:
    """A run's text cut at sentinels: each sentinel is a paragraph mark with the run's status."""
    out: list[Piece] = []
    parts = text.split(SENTINEL)
    for k, part in enumerate(parts):
        if part:
            out.append(("run", kind_status, part))
        if k < len(parts) - 1:
            out.append(("mark", kind_status, ""))
    return out


_WS = re.compile(r"(\s+)")


def _equal_pieces(a: str, b: str) -> list[Piece]:
    """An equal span of the redline. Its words are the same on both sides but the spaces around and between
    them may not be (a line break in A, a space in B): words stay untracked, differing spaces become a
    deleted plus an inserted space, so "accept all" and "reject all" give each side character for character."""
    def ws(x: str, y: str) -> list[Piece]:
        if x == y:
            return _split("eq", x) if x else []
        return (_split("del", x) if x else []) + (_split("ins", y) if y else [])

    la, ca, ta = _edges(a)
    lb, cb, tb = _edges(b)
    pa, pb = _WS.split(ca), _WS.split(cb)
    if len(pa) != len(pb) or pa[0::2] != pb[0::2]:  # same tokens, other characters (markup)
        return ws(la, lb) + _split("del", ca) + _split("ins", cb) + ws(ta, tb)
    out = ws(la, lb)
    for k, (x, y) in enumerate(zip(pa, pb, strict=True)):
        out += (_split("eq", x) if x else []) if k % 2 == 0 else ws(x, y)
    return out + ws(ta, tb)


def _edges(s: str) -> tuple[str, str, str]:
    core = s.strip()
    if not core:
        return s, "", ""
    lead = s[: len(s) - len(s.lstrip())]
    return lead, core, s[len(lead) + len(core):]


def block_pieces(block: Block) -> list[Piece]:
    """Runs and marks of a block; it always ends with the block's own (equal, deleted or inserted) mark."""
    a = SENTINEL.join(_clean(x) for x in block.a)
    b = SENTINEL.join(_clean(x) for x in block.b)
    if not block.b:
        return [*_split("del", a), ("mark", "del", "")]
    if not block.a:
        return [*_split("ins", b), ("mark", "ins", "")]
    out: list[Piece] = []
    for o in redline(a, b).ops:
        if o.op == "equal":
            out += _equal_pieces(o.a_text, o.b_text)
            continue
        if o.a_text:
            out += _split("del", o.a_text)
        if o.b_text:
            out += _split("ins", o.b_text)
    return [*out, ("mark", "eq", "")]


# --- XML -----------------------------------------------------------------------------------------------


class _Revisions:
    """Hands out revision ids; every revision carries the same author and date."""

    def __init__(self, author: str, date: datetime):
        self.author = author
        self.date = date.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.next_id = 1

    def element(self, tag: str):
        el = OxmlElement(tag)
        el.set(qn("w:id"), str(self.next_id))
        el.set(qn("w:author"), self.author)
        el.set(qn("w:date"), self.date)
        self.next_id += 1
        return el


def _run(text: str, deleted: bool):
    """A ``w:r`` with the text; line breaks inside a task become ``w:br``."""
    r = OxmlElement("w:r")
    for k, line in enumerate(text.split("\n")):
        if k:
            r.append(OxmlElement("w:br"))
        if line:
            t = OxmlElement("w:delText" if deleted else "w:t")
            t.set(qn("xml:space"), "preserve")
            t.text = line
            r.append(t)
    return r


def _mark(p: Paragraph, status: str, rev: _Revisions) -> None:
    if status == "eq":
        return
    ppr = p._p.get_or_add_pPr()
    rpr = OxmlElement("w:rPr")
    rpr.append(rev.element("w:del" if status == "del" else "w:ins"))
    ppr.append(rpr)


def _emit(doc: DocxDocument, pieces: Iterable[Piece], rev: _Revisions) -> None:
    p = doc.add_paragraph()
    for kind, status, text in pieces:
        if kind == "mark":
            _mark(p, status, rev)
            p = doc.add_paragraph()
            continue
        r = _run(text, status == "del")
        if status == "eq":
            p._p.append(r)
        else:
            wrap = rev.element("w:del" if status == "del" else "w:ins")
            wrap.append(r)
            p._p.append(wrap)
    # the paragraph opened after the last mark is the next block's; drop it when unused
    if not p.runs and not p._p.findall(qn("w:ins")) and not p._p.findall(qn("w:del")):
        p._p.getparent().remove(p._p)


def _track_revisions(doc: DocxDocument) -> None:
    """Switch on "Track changes" so the drafter's own edits are tracked too."""
    settings = doc.settings.element
    if settings.find(qn("w:trackRevisions")) is None:
        settings.insert(0, OxmlElement("w:trackRevisions"))


def revisions_docx(title: str, notes: list[str], blocks: list[Block], *, author: str = AUTHOR,
                   date: datetime | None = None, sections: Iterable[tuple[str, list[str]]] = (),
                   tracked_heading: str = "") -> bytes:
    """The .docx: a heading and notes, optional report ``sections`` (heading, paragraphs), all untracked;
    then ``tracked_heading`` and every block as tracked changes; then an end line."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"  # the font of Vietnamese administrative documents (ND 30/2020)
    style.font.size = Pt(13)
    doc.add_heading(_clean(title), level=1)
    for n in notes:
        doc.add_paragraph().add_run(_clean(n)).italic = True
    for head, paras in sections:
        doc.add_heading(_clean(head), level=2)
        for text in paras:
            doc.add_paragraph(_clean(text))
    if tracked_heading:
        doc.add_heading(_clean(tracked_heading), level=2)
    rev = _Revisions(author, date or datetime.now(UTC))
    for block in blocks:
        _emit(doc, block_pieces(block), rev)
    doc.add_paragraph("— Hết —")
    _track_revisions(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
