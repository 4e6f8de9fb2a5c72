""".docx → text in reading order: paragraphs and table cells, Word numbering rendered as typed labels."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from indexer.reading.errors import ReadError

__all__ = ["read_docx"]


def read_docx(path: Path) -> str:
    """Paragraphs in body order, tables' cells included; a wholly bold paragraph is wrapped in ``**``."""
    import docx
    from docx.document import Document as _Doc
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        doc: _Doc = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ReadError(str(path), f"corrupt .docx: {type(e).__name__}: {e}") from e
    except Exception as e:  # lxml and python-docx raise many kinds for broken parts
        raise ReadError(str(path), f"corrupt .docx: {type(e).__name__}: {e}") from e

    paras: list[str] = []

    def para_text(p: Paragraph) -> str:
        text = p.text.strip()
        if not text:
            return ""
        runs = [r for r in p.runs if r.text.strip()]
        style_bold = bool(p.style is not None and p.style.font is not None and p.style.font.bold)
        if runs and all(r.bold or (r.bold is None and style_bold) for r in runs):
            text = f"**{text}**"
        style = (p.style.name if p.style is not None else "") or ""
        m = re.match(r"Heading (\d)", style)
        if m:
            text = "#" * min(int(m.group(1)), 6) + " " + text
        return text

    def walk(parent) -> None:
        seen: set = set()  # the elements themselves: ids of freed lxml proxies get reused
        for el in parent.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "p":
                t = para_text(Paragraph(el, doc))
                if t:
                    paras.append(t)
            elif tag == "tbl":
                for row in Table(el, doc).rows:
                    for cell in row.cells:
                        if cell._tc in seen:  # a merged cell repeats across its span
                            continue
                        seen.add(cell._tc)
                        walk(cell._tc)
            elif tag == "sdt":  # content controls wrap ordinary paragraphs
                content = el.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}sdtContent")
                if content is not None:
                    walk(content)

    try:
        walk(doc.element.body)
    except Exception as e:
        raise ReadError(str(path), f"corrupt .docx: {type(e).__name__}: {e}") from e
    return "\n\n".join(paras)


