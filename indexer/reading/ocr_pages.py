"""Across the OCR'd pages of one document: page numbers and running headers dropped, a two-column part cut by a
page break joined, list labels that OCR garbled restored from the document's running count.

``ocr_layout`` reads each page on its own; this module makes the pages one document and renders their text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from indexer.reading.ocr_labels import UNKNOWN
from indexer.reading.ocr_layout import (
    BULLET_LIKE,
    EDGE,
    LETTERS,
    ROMANS,
    Block,
    PageLayout,
    layout_page,
    page_text,
    parse_label,
)
from indexer.reading.ocr_types import OcrPage
from indexer.textnorm import fold

__all__ = ["render_pages"]

RE_PAGE_NUMBER = re.compile(r"^[-–—(\[]?\s*(?:trang\s*)?\d{1,3}\s*(?:/\s*\d{1,3})?\s*[-–—)\]]?$")


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", fold(text)).strip()


def _at_edge(p: PageLayout, b: Block) -> bool:
    """In the top or bottom strip of the page, where page numbers and running headers and footers sit."""
    base = b.lines[0].base
    return not p.height or base < EDGE * p.height or base > (1 - EDGE) * p.height


def drop_page_furniture(pages: Sequence[PageLayout]) -> None:
    """Lone page numbers at the top or bottom of a page, and a first/last line repeated on several pages
    (never a page's only text)."""
    for p in pages:
        for b in (p.blocks[:1] + p.blocks[-1:]) if p.blocks else []:
            if len(b.lines) == 1 and RE_PAGE_NUMBER.match(fold(b.lines[0].text).strip()) and _at_edge(p, b):
                b.drop = True
    if len(pages) < 3:
        return
    for pick in (lambda p: next((b for b in p.blocks if not b.drop), None),
                 lambda p: next((b for b in reversed(p.blocks) if not b.drop), None)):
        cands = [(p, b) for p in pages if (b := pick(p)) is not None and len(b.lines) <= 2 and _at_edge(p, b)
                 and sum(not x.drop for x in p.blocks) > 1]
        keys = [_key(b.text()) for _, b in cands]
        for (_, b), k in zip(cands, keys, strict=True):
            if len(k) < 4:
                continue
            same = sum(1 for k2 in keys if fuzz.ratio(k, k2) >= 85)
            if same >= max(2, len(pages) // 2):
                b.drop = True


def _next(kind: str, value: str) -> str:
    if kind == "dec":
        parts = value.split(".")
        parts[-1] = str(int(parts[-1]) + 1)
        return ".".join(parts)
    if kind == "let":
        i = LETTERS.find(value)
        return LETTERS[i + 1] if 0 <= i < len(LETTERS) - 1 else value
    if kind == "rom":
        i = ROMANS.index(value) if value in ROMANS else -1
        return ROMANS[i + 1] if 0 <= i < len(ROMANS) - 1 else value
    return value


def _show(kind: str, value: str) -> str:
    return {"dec": f"{value}.", "let": f"{value})", "rom": f"{value}.", "bul": value}[kind]


# what a garbled label's characters most likely were, per kind of label
_SHAPES = {
    "dec": str.maketrans({"l": "1", "I": "1", "|": "1", "!": "1", "í": "1", "ì": "1", "i": "1", "L": "1",
                          "O": "0", "o": "0", "S": "5", "s": "5", "Z": "2", "z": "2", "B": "8", "g": "9",
                          "q": "9", "b": "6", "G": "6", "A": "4", "T": "7", ",": ".", ":": ".", ";": ".",
                          ")": "."}),
    "rom": str.maketrans({"l": "I", "L": "I", "1": "I", "|": "I", "!": "I", "í": "I", "ì": "I", "i": "I",
                          "t": "I", "j": "I", "J": "I", "[": "I", "]": "I", "H": "II", "U": "II", "N": "II",
                          "v": "V", "y": "V", "Y": "V", "x": "X", "K": "X", ",": ".", ":": ".", ";": ".",
                          "ˆ": ".", "'": ".", "`": "."}),
    "let": str.maketrans({"}": ")", "]": ")", "|": ")", "/": ")", "J": ")", "1": ")", ",": ")", ".": ")"}),
}
_FIRST = {"dec": "1", "rom": "I", "let": "a"}
_CONFUSED = {("8", "3"), ("3", "8"), ("7", "1"), ("6", "5"), ("5", "6"), ("8", "6"), ("6", "8"), ("0", "8")}


def restore_labels(pages: Sequence[PageLayout]) -> None:
    """Give each hanging-indent label the value the document's sequence expects when OCR garbled it.

    One counter per kind of label across the document (a Roman label resets the decimal and letter counters,
    a decimal one the letters, so "1." after "II." restarts). A garbled label ("Bễ", "Lˆ", "2:", or ink OCR
    could not read) takes the next value of the kind its shape is closest to, favouring the kinds the clean
    labels in the same column of the page have; a clean one that repeats the last value, is a typical misreading
    of the expected one ("8." for "3.") or is followed by the label after the expected one takes the expected
    value too.
    """
    state: dict[str, str] = {}  # kind → last value, document-wide
    dots = parens = 0  # how the document's clean decimal labels end: "1." or "1)"

    def advance(kind: str, value: str) -> None:
        if kind == "rom":
            state.pop("dec", None)
            state.pop("let", None)
        elif kind == "dec":
            state.pop("let", None)
        if kind != "bul":
            state[kind] = value

    for p in pages:
        kinds_at: dict[int, dict[str, int]] = {}  # the page's columns (half word heights) → clean label kinds
        for b in p.blocks:
            if b.label_words and b.label and (parsed := parse_label(b.label)):
                col = kinds_at.setdefault(round(b.label_x * 2), {})
                col[parsed[0]] = col.get(parsed[0], 0) + 1
        decimal_cols = [c for c, ks in kinds_at.items() if ks.get("dec")]
        roman_cols = {c for c, ks in kinds_at.items() if ks.get("rom") and any(d > c + 2 for d in decimal_cols)}
        labelled = [b for b in p.blocks if not b.drop and b.join and b.label_words and b.label]
        above: dict[int, tuple[str, str]] = {}  # column → the label above in it, on this page
        for b in p.blocks:
            if b.drop or not b.join:
                continue
            if b.inline is not None:  # "IV.KINH PHÍ": typed fused, the parser reads it; count it
                advance(*b.inline)
                continue
            if not b.label_words or b.label is None:
                continue
            col = round(b.label_x * 2)
            near: dict[str, int] = {}
            for c, ks in kinds_at.items():
                if abs(c - col) <= 2:
                    for k, n in ks.items():
                        near[k] = near.get(k, 0) + n
            parsed = parse_label(b.label, loose=True)
            if parsed and parsed[0] == "dec" and col in roman_cols and set(parsed[1]) <= {"1"}:
                parsed = None  # "1." / "11." in the Roman column, left of the decimals: "I." / "II." misread
            elif parsed and parsed[0] == "dec" and "dec" in state and parsed[1] != _next("dec", state["dec"]) and (
                    not parse_label(b.label) or (b.label.rstrip().endswith(")") and dots >= 2 and not parens)):
                parsed = None  # its dot was misread ("8 ..", "2:", "2)" among "1." "2."): the count decides
            if parsed and parsed[0] == "dec" and parse_label(b.label):
                if b.label.rstrip().endswith(")"):
                    parens += 1
                else:
                    dots += 1
            if parsed is None and "dec" not in state:
                parsed = _from_below(b, labelled, col)
            if parsed is None:
                if any(d > col + 2 for d in decimal_cols):  # left of the page's decimal tasks: sections
                    near["rom"] = near.get("rom", 0) + 2
                rest = " ".join(w.text for w in b.lines[0].words[b.label_words:])
                if rest.isupper():  # "IV. KINH PHÍ": a section's heading is in capitals
                    near["rom"] = near.get("rom", 0) + 2
                running = len(b.lines) >= 2 and not rest.isupper()  # running text: a task, not a section
                parsed = _guess(b.label, state, near, strong=not b.weak, roman=not running)
                if parsed is None:
                    b.label_words = 0  # not a label after all: keep the words as text
                    b.label = None
                    continue
            elif parsed[0] in ("dec", "rom") and parsed[0] in state:
                nxt = _next(parsed[0], state[parsed[0]])
                got, last, want = parsed[1].split(".")[-1], state[parsed[0]].split(".")[-1], nxt.split(".")[-1]
                repeated = got == last and above.get(col, ("",))[0] == parsed[0]  # on the page, the label above
                if repeated or (got, want) in _CONFUSED or _next_says(b, labelled, col, nxt):
                    parsed = (parsed[0], nxt)
            b.label = _show(*parsed)
            advance(*parsed)
            above[col] = parsed


def _next_says(b: Block, labelled: list[Block], col: int, want: str) -> bool:
    """The next label in this column is the one after ``want``: ``b``'s own value was misread."""
    same = [x for x in labelled if abs(round(x.label_x * 2) - col) <= 2]
    if b not in same or same.index(b) + 1 >= len(same):
        return False
    following = parse_label(same[same.index(b) + 1].label or "")
    return following is not None and following[0] == "dec" and following[1] == _next("dec", want)


def _from_below(b: Block, labelled: list[Block], col: int) -> tuple[str, str] | None:
    """A garbled first label of a page with no count running (a photo of one page): the next clean decimal
    label in its column, minus the labels between."""
    if not any(c.isalnum() for c in b.label or "") and b.label != UNKNOWN:
        return None
    same = [x for x in labelled if abs(round(x.label_x * 2) - col) <= 2]
    if b not in same:
        return None
    i = same.index(b)
    for j in range(i + 1, len(same)):
        got = parse_label(same[j].label or "", loose=True)
        if got and got[0] == "dec" and "." not in got[1]:
            value = int(got[1]) - (j - i)
            return ("dec", str(value)) if value >= 1 else None
        if got and got[0] != "bul":
            return None
    return None


def _guess(token: str, state: dict[str, str], near: dict[str, int], *, strong: bool = True, roman: bool = True
           ) -> tuple[str, str] | None:
    """The most likely label for a garbled one: the next value of a running sequence (or the first of a new
    one) whose rendering the token's shape is closest to. A token alone in a hanging indent (``strong``) is a
    label whatever it reads; one found only by a tab stop must also look like one. ``roman=False``: the
    paragraph is running text, which a section heading never is."""
    t = token.replace(" ", "").strip()
    if not any(c.isalnum() for c in t) and t != UNKNOWN and all(c in BULLET_LIKE for c in t):
        return "bul", "-"
    if not any(c.isalnum() for c in t):  # ink OCR could not read ("#", "€", "©"): what is expected here
        for kind in [*sorted((k for k in near if k != "bul" and near[k] > 0), key=lambda k: -near[k]),
                     "dec", "rom", "let"]:
            if kind in state and (roman or kind != "rom"):
                return kind, _next(kind, state[kind])
        return "dec", "1"
    if len(t) > 4:
        return None
    cands = [(k, _next(k, v)) for k, v in state.items()] + [(k, f) for k, f in _FIRST.items() if k not in state]
    cands = [c for c in cands if roman or c[0] != "rom"]

    def score(kv: tuple[str, str]) -> float:
        kind = kv[0]
        prior = 5.0 * max(-2, min(near.get(kind, 0), 2)) + (6.0 if kind in state else 0.0) + (3.0 if kind == "dec" else 0.0)
        return fuzz.ratio(t.translate(_SHAPES[kind]), _show(*kv)) + prior

    best = max(cands, key=score)
    return best if strong or score(best) >= 45 else None




def join_split_columns(pages: Sequence[PageLayout]) -> None:
    """A two-column part cut by a page break ("Nơi nhận" and the signature title at the foot of one page, the
    rest of the list and the signer's name at the top of the next) reads as one: both left columns, then
    both right columns."""
    for a, b in itertools.pairwise(pages):
        tail = [x for x in a.blocks if not x.drop]
        head = [x for x in b.blocks if not x.drop]
        if not tail or not head or tail[-1].column is None or head[0].column is None:
            continue
        part_a, part_b = tail[-1].column[0], head[0].column[0]
        moved_left = [x for x in b.blocks if x.column == (part_b, 0)]
        moved_right = [x for x in b.blocks if x.column == (part_b, 1)]
        first_right = next((i for i, x in enumerate(a.blocks) if x.column == (part_a, 1)), len(a.blocks))
        a.blocks[first_right:first_right] = moved_left
        a.blocks += moved_right
        b.blocks = [x for x in b.blocks if x.column != (part_b, 0) and x.column != (part_b, 1)]


def render_pages(pages: Sequence[OcrPage]) -> list[str]:
    """The text of each OCR'd page (document-level clean-up across them), in the order given."""
    layouts = [layout_page(p) for p in pages]
    drop_page_furniture(layouts)
    join_split_columns(layouts)
    restore_labels(layouts)
    return [page_text(lay) for lay in layouts]
