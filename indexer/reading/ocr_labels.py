"""Recover the list labels Tesseract skips: ink left of a line's first word that no word covers.

Tesseract's page segmentation sometimes drops a short label ("3.", "-") that stands alone in a paragraph's
hanging indent — it is a lone blob left of a text column. The task tree hangs on those labels, so after the
page is recognised, each line is checked for ink in the gap between the page's left edge and its first word;
the blobs found are pasted one under another into a small strip, recognised in one Tesseract run, and put
back as words of their lines. A blob Tesseract still cannot read becomes a placeholder ("-" for a flat one,
"#" otherwise) for ``ocr_pages.restore_labels`` to number from the sequence.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np
from PIL import Image

from indexer.reading.ocr_types import Word

__all__ = ["missing_labels"]

UNKNOWN = "#"  # a blob that is not a dash and that OCR could not read


def _lines(words: list[Word]) -> list[list[Word]]:
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        lines.setdefault((w.block, w.par, w.line), []).append(w)
    return [sorted(ws, key=lambda w: w.left) for ws in lines.values()]


def _blobs(dark: np.ndarray, words: list[Word], h: float) -> list[tuple[list[Word], tuple[int, int, int, int]]]:
    """(line, ink box) for each line with unread ink between the margin and its first word."""
    lines = [ln for ln in _lines(words) if any(c.isalpha() for w in ln for c in w.text)]
    if not lines:
        return []
    lefts = sorted(ln[0].left for ln in lines)
    margin = lefts[len(lefts) // 20]
    found = []
    for ln in lines:
        first = ln[0]
        x1 = int(first.left - 0.25 * h)
        x0 = int(max(0, margin - 3 * h))
        if x1 - x0 < 0.4 * h:
            continue
        core = [w for w in ln if any(c.isalpha() for c in w.text)] or ln
        y0 = int(statistics.median(w.top for w in core))
        y1 = int(statistics.median(w.bottom for w in core))
        box = dark[y0:y1, x0:x1]
        if box.sum() < 0.02 * h * h:
            continue
        ys, xs = np.nonzero(box)
        bx0, bx1 = x0 + int(xs.min()), x0 + int(xs.max()) + 1
        by0, by1 = y0 + int(ys.min()), y0 + int(ys.max()) + 1
        if bx1 - bx0 > 3 * h or by1 - by0 < 0.08 * h:  # a long run of ink is not a label; a hairline is a rule
            continue
        if bx0 <= x0 + 1:  # ink running in from the page edge: a scanner's border
            continue
        reach = int(0.6 * h)
        above, below = dark[max(0, y0 - reach):y0, bx0:bx1], dark[y1:y1 + reach, bx0:bx1]
        if above.any() and below.any() and above.mean() > 0.05 and below.mean() > 0.05:
            continue  # ink that runs on above and below is a rule or a margin note, not a label
        found.append((ln, (bx0, by0, bx1, by1)))
    return found


def missing_labels(image: Image.Image, words: list[Word], recognise: Callable[[Image.Image], list[Word]]
                   ) -> list[Word]:
    """Words for the label blobs of ``image`` that ``words`` (one Tesseract run on it) left out."""
    letters = [w.height for w in words if any(c.isalpha() for c in w.text)]
    if not letters:
        return []
    h = h0 = float(statistics.median(letters))
    grey = np.asarray(image)
    dark = grey < min(150, int(np.percentile(grey[::4, ::4], 50)) - 60)
    blobs = _blobs(dark, words, h)
    if not blobs:
        return []
    zoom = 2 if h < 36 else 1  # small print (a phone photo): Tesseract reads a lone "5." better larger
    pad, gap = int(0.6 * h) * zoom, int(1.6 * h) * zoom
    width = max(b[2] - b[0] for _, b in blobs) * zoom + 2 * pad + int(4 * h) * zoom
    height = sum((b[3] - b[1]) * zoom + gap for _, b in blobs) + gap
    paper = int(np.percentile(grey[::8, ::8], 90))
    strip = Image.new("L", (width, height), paper)
    slots = []
    y = gap
    for _ln, (x0, y0, x1, y1) in blobs:
        crop = image.crop((x0, y0, x1, y1))
        if zoom > 1:
            crop = crop.resize((crop.width * zoom, crop.height * zoom), Image.BICUBIC)
        strip.paste(crop, (pad, y))
        slots.append((y, y + crop.height))
        y += crop.height + gap
    read: dict[int, list[Word]] = {}
    h *= zoom
    for w in recognise(strip):
        centre = w.top + w.height / 2
        for i, (s0, s1) in enumerate(slots):
            if s0 - 0.5 * h <= centre <= s1 + 0.5 * h:
                read.setdefault(i, []).append(w)
    out = []
    for i, (ln, (x0, y0, x1, y1)) in enumerate(blobs):
        got = sorted(read.get(i, []), key=lambda w: w.left)
        text = "".join(w.text for w in got).strip()
        conf = min((w.conf for w in got), default=0.0)
        if not text:
            text = "-" if (y1 - y0) <= 0.4 * h0 and (x1 - x0) >= 0.2 * h0 else UNKNOWN
        ref = ln[0]
        out.append(Word(text, conf, x0, y0, x1 - x0, y1 - y0, ref.block, ref.par, ref.line, ref.zone))
    return out
