"""Raw paragraphs of the seed files, cut with a regex, for tests that must not depend on the parser."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def task(doc: str, n: int) -> str:
    """The paragraph of numbered task ``n.`` (without its number)."""
    m = re.search(rf"^{n}\. (.+)$", (CORPUS / f"{doc}.txt").read_text(encoding="utf-8"), re.M)
    assert m, (doc, n)
    return m.group(1)


def bullet(doc: str, start: str, *, keep_dash: bool = False) -> str:
    """The bullet line starting with ``start`` (with its "- " when ``keep_dash``)."""
    m = re.search(rf"^(- )({re.escape(start)}.+)$", (CORPUS / f"{doc}.txt").read_text(encoding="utf-8"), re.M)
    assert m, (doc, start)
    return m.group(1) + m.group(2) if keep_dash else m.group(2)
