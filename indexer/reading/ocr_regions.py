"""Two-column parts of a page: the official header and the "Nơi nhận" / signature block at the end.

Nghị định 30/2020 puts the issuer and "Số:"/"V/v" in a left cell and the motto and "…, ngày … tháng … năm …" in
a right cell; "Nơi nhận" sits beside the signature. Tesseract's own page segmentation often runs such cells
together into lines that cross the gutter (a recipient and a signature title read as one garbled line), so
the regions are found on the image first and each column is recognised on its own (``ocr.recognise_page``).
The same test, on word boxes, is the layout step's fallback (``ocr_layout``).

A region is a run of text rows split by a common gutter in the middle of the page, plus the one-sided rows
that hang on it: any row of the right column (a signer's name below the title), and a left-column row that
follows closely and is centred in, lined up with or within that column (so "Kính gửi:", at the margin
below the header, is body).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from indexer.reading.deskew import ink_mask

__all__ = ["SPLIT_GAP", "Region", "Row", "find_regions", "image_regions"]

SPLIT_GAP = 2.5  # a gap wider than this many word heights splits a line into pieces (columns, tab stops)


class Span(Protocol):
    left: float
    right: float

    @property
    def base(self) -> float: ...

    @property
    def center(self) -> float: ...


@dataclass
class Row:
    pieces: list  # Span objects, left to right

    @property
    def base(self) -> float:
        return statistics.median(p.base for p in self.pieces)

    @property
    def left(self) -> float:
        return min(p.left for p in self.pieces)

    @property
    def right(self) -> float:
        return max(p.right for p in self.pieces)


@dataclass
class Region:
    first: int  # row indices, inclusive
    last: int
    gutter: tuple[float, float]  # the white interval between the columns


def _split(row: Row, h: float, middle: tuple[float, float]) -> tuple[float, float] | None:
    """The widest gap of a row that is wide enough for a gutter and lies in the middle of the page (a photo's
    desk edge or a margin note leaves wider gaps near the sides)."""
    if len(row.pieces) < 2:
        return None
    gaps = [(b.left - a.right, a.right, b.left) for a, b in itertools.pairwise(row.pieces)]
    gaps = [g for g in gaps if g[0] >= SPLIT_GAP * h and g[1] <= middle[1] and g[2] >= middle[0]]
    if not gaps:
        return None
    _, lo, hi = max(gaps)
    return lo, hi


def find_regions(rows: Sequence[Row], h: float, pitch: float, margins: tuple[float, float]) -> list[Region]:
    """Runs of rows (sorted top to bottom) that read as two columns. ``h`` is the word height."""
    left_m, right_m = margins
    width = max(right_m - left_m, 1.0)
    middle = (left_m + 0.3 * width, left_m + 0.7 * width)  # where a gutter may be
    regions: list[Region] = []
    i = 0
    while i < len(rows):
        gap = _split(rows[i], h, middle)
        if gap is None:
            i += 1
            continue
        lo, hi = gap
        left_parts = [p for p in rows[i].pieces if p.right <= lo]
        j = i
        while j + 1 < len(rows):
            nxt = rows[j + 1]
            g = _split(nxt, h, middle)
            if g is not None and g[0] < hi and g[1] > lo:  # the same gutter
                lo, hi = max(lo, g[0]), min(hi, g[1])
                left_parts += [p for p in nxt.pieces if p.right <= lo]
                j += 1
                continue
            if g is None and _hangs_on(nxt, rows[i:j + 1], (lo, hi), left_parts, h, pitch):
                left_parts += [p for p in nxt.pieces if p.right <= hi]
                j += 1
                continue
            break
        regions.append(Region(i, j, (lo, hi)))
        i = j + 1
    return regions


def _hangs_on(row: Row, region_rows: Sequence[Row], gutter: tuple[float, float], left_parts: list,
              h: float, pitch: float) -> bool:
    lo, hi = gutter
    if all(p.left >= lo for p in row.pieces):
        return row.base - region_rows[-1].base < 12 * pitch
    if not all(p.right <= hi for p in row.pieces) or not left_parts:
        return False
    above = max((p.base for r in region_rows for p in r.pieces if p.right <= hi), default=None)
    if above is None or row.base - above > 1.3 * pitch:
        return False
    piece = row.pieces[0]
    centre = statistics.median(p.center for p in left_parts)
    lefts = statistics.median(p.left for p in left_parts)
    return (abs(piece.center - centre) <= 1.5 * h  # centred in the column, as the issuer and "V/v" are
            or abs(piece.left - lefts) <= 1.0 * h  # or lined up with it
            or piece.left >= min(p.left for p in left_parts) - 1.0 * h)  # or within it, not at the margin


# --- on the image ---------------------------------------------------------------------------------------------


@dataclass
class _Seg:
    left: float
    right: float
    top: float
    bottom: float

    @property
    def base(self) -> float:
        return self.bottom

    @property
    def center(self) -> float:
        return (self.left + self.right) / 2


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of True in a 1-D mask."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def image_regions(image: Image.Image, *, work_width: int = 700) -> list[tuple[tuple[int, int, int, int], ...]]:
    """(left box, right box) in image pixels for each two-column region of a grey, deskewed page."""
    ink, scale = ink_mask(image, work_width)
    if ink.mean() < 0.0005:
        return []
    bands = [(a, b) for a, b in _runs(ink.sum(axis=1) >= 1)]
    merged: list[list[int]] = []
    for a, b in bands:  # diacritics above a capital are a separate band a pixel or two away
        if merged and a - merged[-1][1] <= 1:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    heights = [b - a for a, b in merged]
    if not heights:
        return []
    band_h = float(statistics.median(heights))
    merged = [m for m in merged if m[1] - m[0] >= 0.4 * band_h]
    h = 0.75 * band_h  # a word box is about three quarters of a text band
    rows = []
    for a, b in merged:
        cols = _runs(ink[a:b].any(axis=0))
        segs: list[_Seg] = []
        for x0, x1 in cols:
            if segs and x0 - segs[-1].right <= SPLIT_GAP * h:
                segs[-1].right = x1
            else:
                segs.append(_Seg(x0, x1, a, b))
        rows.append(Row(segs))
    if len(rows) < 2:
        return []
    lefts = sorted(r.left for r in rows)
    rights = sorted(r.right for r in rows)
    margins = (float(lefts[len(lefts) // 10]), float(rights[(len(rights) * 9) // 10]))
    diffs = [b.base - a.base for a, b in itertools.pairwise(rows) if 0.8 * h < b.base - a.base < 3 * h]
    pitch = float(statistics.median(diffs)) if diffs else 1.5 * h
    out = []
    for reg in find_regions(rows, h, pitch, margins):
        top = max(0, int((min(s.top for s in rows[reg.first].pieces) - 0.3 * band_h) * scale))
        bottom = min(image.height, int((max(s.bottom for s in rows[reg.last].pieces) + 0.4 * band_h) * scale))
        split = int((reg.gutter[0] + reg.gutter[1]) / 2 * scale)
        out.append(((0, top, split, bottom), (split, top, image.width, bottom)))
    return out
