"""Word's automatic numbering, rendered as Word shows it ("III.", "2.", "2.1.", "a)", "-").

ECMA-376 §17.9. A paragraph names a numbering instance (``w:num``, by ``numId``, directly or through its
style) and a level; the instance points at an abstract definition (``w:abstractNum``: per level a start, a
number format, a label template such as "%1.%2." and restart rules) and may override levels
(``w:lvlOverride``: a ``w:startOverride`` or a whole new ``w:lvl``). The running count lives on the
*abstract* definition, so instances of one abstract continue each other; an instance with a start override
restarts its overridden levels when it first appears. A level restarts after any higher level by default
(``w:lvlRestart`` narrows or disables that). Counters advance on every numbered paragraph, empty ones too; a
level skipped on the way down counts as used once, as Word and LibreOffice show it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lxml import etree

from indexer.reading.ooxml import W
from indexer.reading.wordstyles import Styles, flag

__all__ = ["Numbering", "format_number"]

_W = f"{{{W}}}"
LEVELS = 9

# bullet characters drawn from Symbol/Wingdings private-use code points, as people see them
BULLETS = {"\uf0b7": "•", "\uf0a7": "▪", "\uf0d8": "➢", "\uf076": "❖", "\uf0fc": "✓", "\uf02d": "-",
           "\uf0a8": "▪", "\uf06e": "■", "\uf071": "❑", "\uf0e0": "➢", "\uf0f0": "➢", "\uf0de": "➢",
           "o": "◦", "\uf06f": "◦", "\u00a7": "▪", "\uf0a2": "•", "\uf095": "•"}

_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
_VI_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười")


def _roman(n: int) -> str:
    if n <= 0:
        return str(n)
    out = []
    for value, letters in _ROMAN:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def _letters(n: int) -> str:
    """Word's letter numbering: a…z, then aa…zz, aaa… (the letter repeated, not base 26)."""
    if n <= 0:
        return str(n)
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    """One counter value in a ``w:numFmt``; unknown formats fall back to decimal, as Word's do in effect."""
    if fmt in ("decimal", "ordinal", "cardinalText", "ordinalText", "decimalHalfWidth", "arabicAbjad"):
        return str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "decimalEnclosedParen":
        return f"({n})"
    if fmt == "decimalEnclosedCircle" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "vietnameseCounting" and 0 <= n <= 10:
        return _VI_DIGITS[n]
    if fmt == "none":
        return ""
    return str(n)


@dataclass(frozen=True)
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    restart: int | None = None  # w:lvlRestart: restart after levels < this (1-based); 0 = never
    legal: bool = False  # w:isLgl: show every level as decimal ("II.1" → "2.1")
    style: str | None = None  # w:pStyle: the paragraph style bound to this level
    suffix: str = "tab"  # tab | space | nothing
    bold: bool | None = None


def _level(el: etree._Element) -> Level:
    def val(tag: str) -> str | None:
        x = el.find(_W + tag)
        return x.get(_W + "val") if x is not None else None

    start, restart = val("start"), val("lvlRestart")
    text = el.find(_W + "lvlText")
    return Level(
        start=int(start) if start and start.lstrip("-").isdigit() else 1,
        fmt=val("numFmt") or "decimal",
        text=text.get(_W + "val", "") if text is not None else "",
        restart=int(restart) if restart and restart.isdigit() else None,
        legal=flag(el.find(_W + "isLgl")) or False,
        style=val("pStyle"),
        suffix=val("suff") or "tab",
        bold=flag(el.find(f"{_W}rPr/{_W}b")),
    )


@dataclass
class _Instance:
    abstract: str
    starts: dict[int, int]  # level → startOverride
    levels: dict[int, Level]  # level → a whole level redefined by the instance


class Numbering:
    """numbering.xml with the running counters of one pass through the document."""

    def __init__(self, root: etree._Element | None, styles: Styles):
        self.styles = styles
        self.abstract: dict[str, dict[int, Level]] = {}
        self.style_link: dict[str, str] = {}  # abstractNumId → numbering style it borrows its levels from
        self.instances: dict[str, _Instance] = {}
        self.counts: dict[str, list[int | None]] = {}
        self.entered: set[str] = set()
        self.from_style = False  # some paragraph was numbered by its style (reported in the ingest info)
        if root is None:
            return
        for a in root.iter(_W + "abstractNum"):
            aid = a.get(_W + "abstractNumId", "")
            self.abstract[aid] = {int(lvl.get(_W + "ilvl", "0")): _level(lvl) for lvl in a.iter(_W + "lvl")
                                  if lvl.get(_W + "ilvl", "0").isdigit()}
            link = a.find(_W + "numStyleLink")
            if link is not None:
                self.style_link[aid] = link.get(_W + "val", "")
        for n in root.iter(_W + "num"):
            ref = n.find(_W + "abstractNumId")
            if ref is None:
                continue
            inst = _Instance(ref.get(_W + "val", ""), {}, {})
            for o in n.iter(_W + "lvlOverride"):
                ilvl = int(o.get(_W + "ilvl", "0"))
                so = o.find(_W + "startOverride")
                if so is not None and so.get(_W + "val", "").lstrip("-").isdigit():
                    inst.starts[ilvl] = int(so.get(_W + "val"))
                lvl = o.find(_W + "lvl")
                if lvl is not None:
                    inst.levels[ilvl] = _level(lvl)
            self.instances[n.get(_W + "numId", "")] = inst

    def _abstract_of(self, num_id: str) -> str | None:
        """The abstract definition an instance counts on, following a numStyleLink to the real levels."""
        inst = self.instances.get(num_id)
        if inst is None:
            return None
        aid, seen = inst.abstract, set()
        while aid in self.style_link and aid not in seen:
            seen.add(aid)
            linked_num, _ = self.styles.numbering(self.style_link[aid])
            target = self.instances.get(linked_num or "")
            if target is None:
                break
            aid = target.abstract
        return aid if aid in self.abstract else None

    def levels(self, num_id: str) -> dict[int, Level]:
        aid = self._abstract_of(num_id)
        if aid is None:
            return {}
        inst = self.instances[num_id]
        out = dict(self.abstract[aid])
        out.update(inst.levels)
        for ilvl, start in inst.starts.items():
            out[ilvl] = replace(out.get(ilvl, Level()), start=start)
        return out

    def resolve(self, direct_num: str | None, direct_ilvl: int | None, style_id: str | None
                ) -> tuple[str, int] | None:
        """(numId, ilvl) of a paragraph from its own numPr and its style's; None when it is not numbered."""
        style_num, style_ilvl = self.styles.numbering(style_id)
        num_id = direct_num if direct_num is not None else style_num
        if num_id is None or num_id == "0" or num_id not in self.instances:
            return None
        if direct_num is None:
            self.from_style = True
        ilvl = direct_ilvl if direct_ilvl is not None else style_ilvl
        if ilvl is None:  # a style bound to a level by the level's w:pStyle
            bound = [i for i, lvl in self.levels(num_id).items() if style_id and lvl.style == style_id]
            ilvl = bound[0] if bound else 0
        return num_id, min(max(ilvl, 0), LEVELS - 1)

    def next_label(self, num_id: str, ilvl: int) -> tuple[str, Level] | None:
        """Advance the counters for a paragraph at (numId, ilvl) and return its label as Word draws it."""
        aid = self._abstract_of(num_id)
        if aid is None:
            return None
        levels = self.levels(num_id)
        counts = self.counts.setdefault(aid, [None] * LEVELS)
        if num_id not in self.entered:  # an instance's start overrides restart those levels when it appears
            self.entered.add(num_id)
            for lvl in self.instances[num_id].starts:
                if 0 <= lvl < LEVELS:
                    counts[lvl] = None
        level = levels.get(ilvl, Level())
        for higher in range(ilvl):  # a skipped level counts as used once ("1." then "1.1.1" then "1.2")
            if counts[higher] is None:
                counts[higher] = levels.get(higher, Level()).start
        counts[ilvl] = level.start if counts[ilvl] is None else counts[ilvl] + 1
        for deeper in range(ilvl + 1, LEVELS):
            restart = levels.get(deeper, Level()).restart
            if restart is None or (restart > 0 and ilvl < restart):
                counts[deeper] = None
        return self._render(level, levels, counts, ilvl), level

    @staticmethod
    def _render(level: Level, levels: dict[int, Level], counts: list[int | None], ilvl: int) -> str:
        if level.fmt == "bullet":
            text = level.text.strip()
            return "".join(BULLETS.get(c, c) for c in text) or "•"
        out, i, t = [], 0, level.text
        while i < len(t):
            if t[i] == "%" and i + 1 < len(t) and t[i + 1].isdigit():
                k = int(t[i + 1]) - 1
                lv = levels.get(k, Level())
                value = counts[k] if 0 <= k < LEVELS and counts[k] is not None else lv.start
                out.append(format_number(value, "decimal" if level.legal and lv.fmt != "none" else lv.fmt))
                i += 2
            else:
                out.append(t[i])
                i += 1
        return "".join(out).strip()
