"""Word paragraph and character styles: what a paragraph inherits (numbering, bold, italic, heading level).

Official templates put a lot in styles: a "Mục" style that carries the Roman numbering, a bold heading style,
an italic place-and-date line. Properties are looked up along the ``basedOn`` chain, nearest value first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from indexer.reading.ooxml import W

__all__ = ["Styles", "flag"]

_W = f"{{{W}}}"


def flag(el: etree._Element | None) -> bool | None:
    """An on/off property (``<w:b/>``, ``<w:b w:val="0"/>``): True, False, or None when absent."""
    if el is None:
        return None
    return el.get(_W + "val", "true").lower() not in ("0", "false", "off", "none")


@dataclass
class Style:
    style_id: str
    name: str
    kind: str  # paragraph | character | table | numbering
    based_on: str | None
    num_id: str | None
    ilvl: int | None
    bold: bool | None
    italic: bool | None
    hidden: bool | None
    outline: int | None  # 0-based outline level from the style's pPr


def _style(el: etree._Element) -> Style:
    def find(path: str) -> etree._Element | None:
        return el.find(path.replace("w:", _W))

    num = find("w:pPr/w:numPr/w:numId")
    ilvl = find("w:pPr/w:numPr/w:ilvl")
    outline = find("w:pPr/w:outlineLvl")
    name = find("w:name")
    based = find("w:basedOn")
    return Style(
        style_id=el.get(_W + "styleId", ""), name=(name.get(_W + "val", "") if name is not None else ""),
        kind=el.get(_W + "type", "paragraph"), based_on=based.get(_W + "val") if based is not None else None,
        num_id=num.get(_W + "val") if num is not None else None,
        ilvl=int(ilvl.get(_W + "val", "0")) if ilvl is not None and ilvl.get(_W + "val", "").isdigit() else None,
        bold=flag(find("w:rPr/w:b")), italic=flag(find("w:rPr/w:i")), hidden=flag(find("w:rPr/w:vanish")),
        outline=int(outline.get(_W + "val")) if outline is not None and outline.get(_W + "val", "").isdigit()
        else None,
    )


class Styles:
    """styles.xml, indexed by style id."""

    def __init__(self, root: etree._Element | None):
        self.by_id: dict[str, Style] = {}
        self.default_paragraph: str | None = None
        self.defaults_bold = self.defaults_italic = None
        if root is None:
            return
        for el in root.iter(_W + "style"):
            s = _style(el)
            self.by_id[s.style_id] = s
            if s.kind == "paragraph" and el.get(_W + "default") in ("1", "true"):
                self.default_paragraph = s.style_id
        rpr = root.find(f"{_W}docDefaults/{_W}rPrDefault/{_W}rPr")
        if rpr is not None:
            self.defaults_bold, self.defaults_italic = flag(rpr.find(_W + "b")), flag(rpr.find(_W + "i"))

    def chain(self, style_id: str | None) -> list[Style]:
        out: list[Style] = []
        seen: set[str] = set()
        while style_id and style_id in self.by_id and style_id not in seen:
            seen.add(style_id)
            s = self.by_id[style_id]
            out.append(s)
            style_id = s.based_on
        return out

    def paragraph_chain(self, style_id: str | None) -> list[Style]:
        return self.chain(style_id or self.default_paragraph)

    def numbering(self, style_id: str | None) -> tuple[str | None, int | None]:
        """(numId, ilvl) a paragraph style gives, the nearest in the chain that names a numId."""
        for s in self.paragraph_chain(style_id):
            if s.num_id is not None:
                return s.num_id, s.ilvl
        return None, None

    def run_property(self, name: str, para_style: str | None, run_style: str | None) -> bool | None:
        """bold / italic / hidden from the run's character style, then the paragraph style, then defaults."""
        for s in self.chain(run_style) + self.paragraph_chain(para_style):
            v = getattr(s, name)
            if v is not None:
                return v
        return {"bold": self.defaults_bold, "italic": self.defaults_italic}.get(name)

    def heading_level(self, style_id: str | None) -> int | None:
        """1–6 for "Heading N" / "Title" styles (by name, as Word's built-ins are), else None."""
        for s in self.paragraph_chain(style_id):
            m = re.fullmatch(r"(?i)heading\s*(\d)", s.name.strip())
            if m:
                return min(max(int(m.group(1)), 1), 6)
            if s.name.strip().lower() == "title":
                return 1
        return None
