"""HTML → visible text: block elements become paragraphs, headings keep ``#`` marks, lists keep their labels.

Portals publish directives as web pages, and Word's "save as web page" files are often renamed ``.doc``.
"""

from __future__ import annotations

import re

from indexer.reading.encodings import decode_bytes
from indexer.reading.errors import ReadError

__all__ = ["decode_html", "html_to_text"]


_HTML_DROP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_HTML_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "blockquote", "pre",
    "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "dl", "dt", "dd",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "figure", "figcaption", "address", "form", "fieldset", "body",
}
_BREAK = "\x00"


def html_to_text(html: str) -> str:
    """Visible text; block elements become paragraphs separated by blank lines, headings keep ``#`` marks."""
    from bs4 import BeautifulSoup
    from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    soup = BeautifulSoup(html, "html.parser")
    out: list[str] = []

    def walk(node: Tag, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                s = str(child)
                out.append(s if pre else re.sub(r"\s+", " ", s))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _HTML_DROP:
                continue
            if name == "br":
                out.append("\n")
                continue
            block = name in _HTML_BLOCKS
            if block:
                out.append(_BREAK)
            if re.fullmatch(r"h[1-6]", name):
                out.append("#" * int(name[1]) + " ")
            elif name == "li":
                parent = child.parent.name if child.parent is not None else "ul"
                if parent == "ol":
                    n = 1 + sum(1 for s in child.find_previous_siblings("li"))
                    out.append(f"{n}. ")
                else:
                    out.append("- ")
            walk(child, pre or name == "pre")
            if block:
                out.append(_BREAK)

    walk(soup, False)
    paras = []
    for chunk in "".join(out).split(_BREAK):
        lines = [ln.strip() for ln in chunk.split("\n")]
        para = "\n".join(ln for ln in lines if ln)
        if para and not re.fullmatch(r"#{1,6}|\d+\.|-", para):
            paras.append(para)
    return "\n\n".join(paras)


_RE_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


def decode_html(data: bytes) -> tuple[str, str]:
    try:
        return decode_bytes(data)
    except ReadError as e:
        m = _RE_META_CHARSET.search(data[:4096])
        if not e.reason.startswith("unknown encoding") or not m:
            raise
        try:
            return data.decode(m.group(1).decode("ascii"), errors="replace"), m.group(1).decode("ascii").lower()
        except LookupError:
            raise e from None


