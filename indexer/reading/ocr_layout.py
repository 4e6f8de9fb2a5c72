"""OCR words → the text the structure parser expects: one paragraph per block, labels in front, headers as lines.

Tesseract gives words with boxes; the parser (``indexer.parsing.structure``) needs what a typed directive looks like.
From the boxes alone this module

- joins the wrapped lines of a body paragraph into one line and separates paragraphs by a blank line
  (a paragraph ends at a wider gap, a short line, an indented first line, or a new list label);
- reads two-column parts (the official header: issuer and "Số:"/"V/v" left, motto and "…, ngày …" right;
  the "Nơi nhận" list beside the signature) column by column, band by band, keeping their lines as lines;
- keeps centred lines (titles, subjects) as lines;
- finds list labels: a word sitting alone in the hanging indent of a paragraph (or before a tab) is a label.

Across pages, ``ocr_pages`` drops lone page numbers and running headers/footers and restores the labels OCR
garbles ("1," "Bễ" "KỆ" for "1." "2." "3."): a label's value follows from the document's running count of that
kind of label (Roman, decimal, letter), the kind chosen by the label's shape and by the clean labels in the same
column of the page. Labels Tesseract skipped altogether come back from ``ocr_labels``.

Coordinates are a page's pixels; sizes are measured in the page's median word height ``h``.
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from indexer.reading.ocr_labels import UNKNOWN
from indexer.reading.ocr_regions import SPLIT_GAP, Row, find_regions
from indexer.reading.ocr_types import OcrPage, Word
from indexer.textnorm import fold

__all__ = ["Block", "PageLayout", "layout_page", "page_text"]

BULLET_LIKE = set("-–—_~=:;.,·•*+¬'\"`^ˆ˜‹›«»|")
RE_CLEAN_LABEL = re.compile(r"^(?:(?P<dec>\d{1,2}(?:\.\d{1,2})*)\s*[.)]|(?P<let>[a-zđ])\)|(?P<rom>[IVX]{1,5})\.|"
                            r"(?P<bul>[-–+•]))$")
EDGE = 0.15  # page numbers and running headers sit in the top or bottom 15 % of a page
MIN_BLOCK_CONF = 30.0  # a block whose words Tesseract is this unsure of is noise read as letters
RE_FUSED_LABEL = re.compile(r"^((?:[IVX]{1,5}|\d{1,2}(?:\.\d{1,2})*)[.)])[^\W\d_]")
ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV"]
LETTERS = "abcdđeghiklmnopqrstuvxy"  # Vietnamese lists skip f, j, w, z (and use đ)


# --- pieces: runs of words on one line ------------------------------------------------------------------------


@dataclass
class Piece:
    words: list[Word]

    @property
    def left(self) -> int:
        return self.words[0].left

    @property
    def right(self) -> int:
        return max(w.right for w in self.words)

    @property
    def top(self) -> int:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> int:
        return max(w.bottom for w in self.words)

    @property
    def base(self) -> float:
        """The line's baseline, roughly: a low word bottom (diacritics move tops; g, p, q, y move bottoms)."""
        bottoms = sorted(w.bottom for w in self.words)
        return float(bottoms[len(bottoms) // 4])

    @property
    def center(self) -> float:
        return (self.left + self.right) / 2

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _median_height(words: Sequence[Word]) -> float:
    hs = [w.height for w in words if any(c.isalpha() for c in w.text) and w.height > 3]
    return float(statistics.median(hs)) if hs else 20.0


def clean_words(words: Sequence[Word]) -> list[Word]:
    """Drop specks a photocopy leaves ("_" "." "'" of a few pixels) and low-confidence symbols inside lines.

    A symbol at the start of a line is kept: it may be a list label (a dash, or a garbled "1.")."""
    h = _median_height(words)
    lines: dict[tuple[int, int, int, int], list[Word]] = {}
    for w in words:
        lines.setdefault((w.zone, w.block, w.par, w.line), []).append(w)
    keep = []
    for ws in lines.values():
        ws.sort(key=lambda w: w.left)
        first = True
        for w in ws:
            if w.width * w.height < (0.15 * h) ** 2 or w.height < 0.08 * h:
                continue
            symbol = not any(c.isalnum() for c in w.text)
            dash = first and w.width >= 0.2 * h and w.height <= 0.4 * h  # a bullet, however it was read
            if symbol and not dash and (w.conf < 40 or (not first and w.conf < 80)):
                continue
            keep.append(w)
            first = False
    return keep


def make_pieces(words: Sequence[Word], h: float) -> list[Piece]:
    """Tesseract's lines, split where the gap between two words is wider than ``SPLIT_GAP`` word heights."""
    lines: dict[tuple[int, int, int, int], list[Word]] = {}
    for w in words:
        lines.setdefault((w.zone, w.block, w.par, w.line), []).append(w)
    pieces = []
    for ws in lines.values():
        ws.sort(key=lambda w: w.left)
        cur = [ws[0]]
        for w in ws[1:]:
            if w.left - cur[-1].right > SPLIT_GAP * h:
                pieces.append(Piece(cur))
                cur = []
            cur.append(w)
        pieces.append(Piece(cur))
    return pieces


# --- rows ------------------------------------------------------------------------------------------------


def make_rows(pieces: Sequence[Piece], h: float) -> list[Row]:
    rows: list[Row] = []
    for p in sorted(pieces, key=lambda p: p.base):
        if rows and abs(p.base - rows[-1].base) < 0.5 * h:
            rows[-1].pieces.append(p)
        else:
            rows.append(Row([p]))
    for r in rows:
        r.pieces.sort(key=lambda p: p.left)
    return rows


# --- blocks ----------------------------------------------------------------------------------------------------


@dataclass
class Line:
    pieces: list[Piece]

    @property
    def words(self) -> list[Word]:
        return [w for p in self.pieces for w in p.words]

    @property
    def left(self) -> int:
        return self.pieces[0].left

    @property
    def right(self) -> int:
        return max(p.right for p in self.pieces)

    @property
    def base(self) -> float:
        return statistics.median(p.base for p in self.pieces)

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.pieces)


@dataclass
class Block:
    """A paragraph (``join``: its lines become one) or a group of lines kept as lines (header, title)."""

    page: int
    lines: list[Line]
    join: bool = True
    label_words: int = 0  # leading words of the first line that are a list label in the hanging indent
    label_x: float = 0.0  # label position from the page's left margin, in word heights
    label: str | None = None  # the label to print (restored), when ``label_words``
    drop: bool = False
    breaks: set[int] = field(default_factory=set)  # line indices followed by a manual line break
    inline: tuple[str, str] | None = None  # a label fused to the first word ("IV.KINH"), counted, not rewritten
    weak: bool = False  # the label was found by a tab stop only (not a hanging indent, a tab or typed)
    column: tuple[int, int] | None = None  # (two-column part of the page, 0 left / 1 right) for its lines

    def text(self) -> str:
        if not self.join:
            return "\n".join(ln.text for ln in self.lines)
        out = []
        for i, ln in enumerate(self.lines):
            words = [w.text for w in ln.words]
            if i == 0 and self.label_words:
                words = ([self.label] if self.label else []) + words[self.label_words:]
            out.append(" ".join(words))
            out.append("\n" if i in self.breaks else " ")
        return _fix_case("".join(out[:-1]).strip())

    def conf(self) -> float:
        confs = [w.conf for ln in self.lines for w in ln.words]
        return sum(confs) / len(confs) if confs else 0.0


RE_SYLLABLE = re.compile(r"^[(\"“]?(?:[^\W\d_]{1,7}|\d+(?:[./-]\d+)*)[.,;:)\"”]?$")


def _noise(b: Block) -> bool:
    """Tesseract's reading of a stamp, a signature or a photo's texture: unsure, and not made of syllables.
    (Unsure alone is not enough: it gives a correct "Sở Tư pháp;" 0 % now and then.)"""
    conf = b.conf()
    if conf >= MIN_BLOCK_CONF:
        return False
    words = [w.text for ln in b.lines for w in ln.words]
    plain = sum(1 for w in words if RE_SYLLABLE.match(w))
    return conf < MIN_BLOCK_CONF / 2 or plain < 0.6 * len(words)


def _has_mark(word: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", word))


def _fix_case(text: str) -> str:
    """"SỞ Y tế" → "Sở Y tế": Tesseract often capitalises a short accented word inside lower-case text."""
    parts = re.split(r"(\s+)", text)
    words = parts[::2]
    for i, w in enumerate(words):
        if not (2 <= len(w) <= 3 and w.isalpha() and w.isupper() and _has_mark(w)):
            continue
        near = [x for x in words[max(0, i - 2):i] + words[i + 1:i + 3] if sum(c.isalpha() for c in x) >= 2]
        if near and not any(x.isupper() for x in near):
            words[i] = w[0] + w[1:].lower()
    parts[::2] = words
    return "".join(parts)


@dataclass
class PageLayout:
    number: int
    blocks: list[Block] = field(default_factory=list)
    h: float = 20.0
    height: int = 0  # the page image's height, to tell a running header from a body line


def _pitch(rows: Sequence[Row], h: float) -> float:
    diffs = [b.base - a.base for a, b in itertools.pairwise(rows) if 0.8 * h < b.base - a.base < 3 * h]
    return float(statistics.median(diffs)) if diffs else 1.5 * h


def _margins(lines: Sequence[Line]) -> tuple[float, float]:
    if not lines:
        return 0.0, 1.0
    span = max(ln.right for ln in lines) - min(ln.left for ln in lines)
    wide = [ln for ln in lines if ln.right - ln.left >= 0.5 * span] or list(lines)
    lefts = sorted(ln.left for ln in wide)
    rights = sorted(ln.right for ln in wide)
    return float(lefts[len(lefts) // 10]), float(rights[(len(rights) * 19) // 20])


def _column_blocks(page: int, left: Sequence[Piece], right: Sequence[Piece], h: float, pitch: float,
                   part: int = 0) -> list[Block]:
    """Two columns: cut into bands where both are blank, then each band's left column, then its right.

    Bands keep the official header's order (issuer, motto, then "Số:"/"V/v", then place and date); beside
    "Nơi nhận" there are none (the whole list, then the signature). Lines stay lines, and a wider gap inside
    a column starts a new block."""
    tagged = sorted([(p, 0) for p in left] + [(p, 1) for p in right], key=lambda t: t[0].base)
    bands: list[list[tuple[Piece, int]]] = []
    floor = None
    footer = any(fold(p.text).startswith("noi nhan") for p in left)  # the list, then the signature: no bands
    for p, side in tagged:
        if floor is None or (p.top - floor > 0.6 * pitch and not footer):
            bands.append([])
        bands[-1].append((p, side))
        floor = p.bottom if floor is None else max(floor, p.bottom)
    out = []
    for band in bands:
        for side in (0, 1):
            group: list[Line] = []
            for row in make_rows([p for p, s in band if s == side], h):
                if group and row.base - group[-1].base > 1.6 * pitch:
                    out.append(Block(page, group, join=False, column=(part, side)))
                    group = []
                group.append(Line(row.pieces))
            if group:
                out.append(Block(page, group, join=False, column=(part, side)))
    return out


def _space(ln: Line) -> float:
    ws = ln.words
    gaps = [b.left - a.right for a, b in itertools.pairwise(ws) if b.left > a.right]
    return float(statistics.median(gaps)) if gaps else 0.0


RE_LABELISH = re.compile(r"^(?:[\dIVXLHl|!]{1,4}[.,:;)]|[a-zđ][).])$")  # "IL." "H." "1," "b)": a label's shape


def _tab_after_first(ln: Line, h: float, space: float) -> bool:
    """The first word stands before a tab: a gap well over a word space (less for a label-shaped word)."""
    ws = ln.words
    if len(ws) < 2 or ws[0].width > 3 * h:
        return False
    gap = ws[1].left - ws[0].right
    if RE_LABELISH.match(ws[0].text):
        return gap >= max(0.5 * h, 1.8 * space)
    return gap >= max(0.6 * h, 2.5 * space)


def _body_blocks(page: int, lines: Sequence[Line], m: _Metrics) -> list[Block]:
    """Lines → paragraphs. A paragraph ends at a wider gap, at a new label or indentation, or — on a page
    without paragraph spacing — where a line stopped short although the next word would have fitted (on a
    page with spacing such a line is a manual line break, kept as one)."""
    h, pitch, left_m, right_m = m.h, m.pitch, m.left, m.right
    centre = (left_m + right_m) / 2

    def centred(ln: Line, prev: Line | None) -> bool:
        """A title or subject line: margins on both sides, equal ones, and not lined up with the line above
        (the continuation lines of an indented paragraph end short of the margin too)."""
        if prev is not None and abs(prev.left - ln.left) <= 0.5 * h and not centred(prev, None):
            return False
        return (ln.left >= left_m + 3 * h and ln.right <= right_m - 3 * h
                and abs((ln.left + ln.right) / 2 - centre) <= 0.75 * h)

    def ended(prev: Line, ln: Line) -> bool:
        """The line above stopped although the first word of this one would have fitted after it."""
        return prev.right + m.space + ln.words[0].width < right_m

    blocks: list[Block] = []
    for ln in lines:
        cur = blocks[-1] if blocks else None
        if cur is None:
            blocks.append(Block(page, [ln], join=not centred(ln, None)))
            continue
        prev = cur.lines[-1]
        gap = ln.base - prev.base
        mid = centred(ln, prev)
        if mid or not cur.join:
            if mid and not cur.join and gap <= 1.3 * pitch:
                cur.lines.append(ln)
            else:
                blocks.append(Block(page, [ln], join=not mid))
            continue
        new = (gap > 1.35 * pitch
               or (_tab_after_first(ln, h, m.space) and ln.left <= prev.left + 0.5 * h)
               or (len(cur.lines) >= 2 and (ln.left < prev.left - h or ln.left > prev.left + 1.5 * h))
               or (len(cur.lines) == 1 and ln.left < prev.left - h and _is_clean_label(ln.words[0].text)))
        stop = not new and ended(prev, ln)
        if new or (stop and not m.spaced):
            blocks.append(Block(page, [ln]))
            continue
        if stop:
            cur.breaks.add(len(cur.lines) - 1)
        cur.lines.append(ln)
    return blocks


def _is_clean_label(token: str) -> bool:
    return bool(RE_CLEAN_LABEL.match(token))


def _label_words(b: Block, m: _Metrics) -> tuple[int, float]:
    """(n, x of the text after them): the leading words in the hanging indent, or before a tab, or typed."""
    first = b.lines[0]
    ws = first.words
    h = m.h
    if len(ws) < 2:
        return 0, 0.0
    if len(b.lines) >= 2:
        text_x = statistics.median(ln.left for ln in b.lines[1:])
        if text_x > first.left + 0.8 * h:
            n = 0
            while n < min(2, len(ws) - 1) and ws[n].right < text_x - 0.2 * h:
                n += 1
            if n and ws[n - 1].right - ws[0].left <= 3 * h:
                return n, float(text_x)
    if len(ws) >= 3 and ws[1].text in (".", ")") and ws[1].left - ws[0].right < 0.5 * h:  # "V . TỔ CHỨC"
        return 2, float(ws[2].left)
    if _tab_after_first(first, h, m.space) or _is_clean_label(ws[0].text) or ws[0].text == UNKNOWN:
        return 1, float(ws[1].left)
    return 0, 0.0


def find_labels(blocks: Sequence[Block], m: _Metrics) -> None:
    """Mark each paragraph's label words. A one-line paragraph whose second word starts at a tab stop that
    other labelled paragraphs of the page use ("I.  Mục tiêu:" under "II.  Nhiệm vụ…") is labelled too."""
    stops: list[float] = []
    for b in blocks:
        if b.join and not b.drop:
            n, text_x = _label_words(b, m)
            if n:
                _set_label(b, n, m)
                stops.append(text_x)
    for b in blocks:
        if not b.join or b.drop or b.label_words:
            continue
        fused = RE_FUSED_LABEL.match(b.lines[0].words[0].text)
        if fused:
            b.inline = parse_label(fused.group(1))
            continue
        ws = b.lines[0].words
        if len(ws) >= 2 and ws[0].width <= 2.5 * m.h and ws[1].left - ws[0].left >= 0.8 * m.h \
                and any(abs(ws[1].left - s) <= 0.4 * m.h for s in stops):
            _set_label(b, 1, m)
            b.weak = True


def _set_label(b: Block, n: int, m: _Metrics) -> None:
    first = b.lines[0]
    b.label_words = n
    b.label = "".join(w.text for w in first.words[:n]) if n == 2 and first.words[1].text in ".)" else \
        " ".join(w.text for w in first.words[:n])
    b.label_x = (first.left - m.left) / m.h


@dataclass
class _Metrics:
    """A page's measures: word height, line pitch, text margins, a word space, paragraph spacing or not."""

    h: float
    pitch: float
    left: float = 0.0
    right: float = 1.0
    space: float = 10.0
    spaced: bool = False


def _spaced(rows: Sequence[Row], pitch: float) -> bool:
    """Does this page separate paragraphs by extra space (then a short line at normal pitch is a line break)?"""
    gaps = [b.base - a.base for a, b in itertools.pairwise(rows)]
    wide = sum(1 for g in gaps if 1.35 * pitch < g < 4 * pitch)
    return wide >= 3 and wide >= 0.08 * len(gaps)


def layout_page(page: OcrPage) -> PageLayout:
    """One OCR'd page → its blocks in reading order (labels found, not yet restored)."""
    words = clean_words(page.words)
    out = PageLayout(page.number, height=page.height)
    if not words:
        return out
    h = _median_height(words)
    out.h = h
    pieces = make_pieces(words, h)
    rows = make_rows([p for p in pieces if not p.words[0].zone], h)
    pitch = _pitch(rows, h)
    # (y, blocks) of the two-column parts: those recognised column by column, then any the words show
    parts: list[tuple[float, list[Block]]] = []
    zones: dict[int, tuple[list[Piece], list[Piece]]] = {}
    for p in pieces:
        z = p.words[0].zone
        if z:
            zones.setdefault((z - 1) // 2, ([], []))[(z - 1) % 2].append(p)
    for left, right in zones.values():
        top = min(p.top for p in (*left, *right))
        parts.append((top, _column_blocks(page.number, left, right, h, pitch, part=len(parts))))
    taken: set[int] = set()
    for reg in find_regions(rows, h, pitch, _margins([Line(r.pieces) for r in rows])):
        members = [p for r in rows[reg.first:reg.last + 1] for p in r.pieces]
        left = [p for p in members if p.left < reg.gutter[0]]
        right = [p for p in members if p.left >= reg.gutter[0]]
        parts.append((min(p.top for p in members),
                      _column_blocks(page.number, left, right, h, pitch, part=len(parts))))
        taken.update(range(reg.first, reg.last + 1))
    body = [Line(r.pieces) for i, r in enumerate(rows) if i not in taken]
    left_m, right_m = _margins(body)
    spaces = [_space(ln) for ln in body if len(ln.words) > 3]
    m = _Metrics(h=h, pitch=pitch, left=left_m, right=right_m,
                 space=float(statistics.median(spaces)) if spaces else 0.3 * h,
                 spaced=_spaced([r for i, r in enumerate(rows) if i not in taken], pitch))
    items: list[tuple[float, int, object]] = [(ln.pieces[0].top, 1, ln) for ln in body]
    items += [(y, 0, blocks) for y, blocks in parts]
    pending: list[Line] = []
    for _y, kind, item in sorted(items, key=lambda t: (t[0], t[1])):
        if kind == 1:
            pending.append(item)  # type: ignore[arg-type]
            continue
        if pending:
            out.blocks += _body_blocks(page.number, pending, m)
            pending = []
        out.blocks += item  # type: ignore[operator]
    if pending:
        out.blocks += _body_blocks(page.number, pending, m)
    for b in out.blocks:
        if _noise(b):
            b.drop = True  # a stamp, a signature, a photo's texture: not text
    find_labels(out.blocks, m)
    return out


def page_text(layout: PageLayout) -> str:
    return "\n\n".join(t for b in layout.blocks if not b.drop and (t := b.text().strip()))


def parse_label(token: str, *, loose: bool = False) -> tuple[str, str] | None:
    """("dec", "2.1") / ("let", "b") / ("rom", "III") / ("bul", "-") for a clean label, else None.

    ``loose``: a number whose dot OCR lost or misread ("4", "2:", "1,") counts as clean too (it sits in a
    hanging indent, so it is a label)."""
    if loose and (d := re.fullmatch(r"(\d{1,2})[,:;]?", token.strip())):
        return "dec", d.group(1)
    m = RE_CLEAN_LABEL.match(token.replace(" ", ""))
    if not m:
        return None
    for kind in ("dec", "let", "rom", "bul"):
        if m.group(kind):
            return kind, m.group(kind)
    return None
