"""Straighten a page image before OCR: find the small tilt of a scan or a phone photo and turn it back.

A tilt of 1–2° shifts a line's words by more than a line height across the page, and the layout step reads
indentation and columns from word boxes, so the page is turned back first. The angle is the one that makes
the rows of ink sharpest (the variance of the horizontal projection profile is largest when text lines are
level), searched coarse-to-fine on a small binarised copy: a few milliseconds a page.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

__all__ = ["estimate_skew", "ink_mask", "prepare"]

MAX_ANGLE = 8.0  # degrees; a phone photo held badly is within this, a page on its side is an EXIF matter
_WORK_WIDTH = 1000  # the angle is searched on a copy this wide


def ink_mask(image: Image.Image, width: int = _WORK_WIDTH) -> tuple[np.ndarray, float]:
    """Binary ink mask of a grey page shrunk to ``width`` (Otsu threshold), and the factor back to full size.

    Shrinking averages away the specks of a photocopy; text lines stay solid."""
    small = image.copy()
    small.thumbnail((width, width * 4), Image.BOX)
    scale = image.width / max(small.width, 1)
    a = np.asarray(small, dtype=np.uint8)
    hist = np.bincount(a.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    cum, cum_mean = np.cumsum(hist), np.cumsum(hist * np.arange(256))
    w0 = cum / total
    w1 = 1 - w0
    m0 = np.divide(cum_mean, cum, out=np.zeros(256), where=cum > 0)
    m1 = np.divide(cum_mean[-1] - cum_mean, total - cum, out=np.zeros(256), where=(total - cum) > 0)
    thresh = int(np.argmax(w0 * w1 * (m0 - m1) ** 2))
    return a <= thresh, scale


def _score(ink: np.ndarray, angle: float) -> float:
    """Sharpness of the row profile after shearing the ink by ``angle`` (a shear is a rotation here)."""
    h, w = ink.shape
    ys, xs = np.nonzero(ink)
    if len(ys) == 0:
        return 0.0
    shifted = ys + np.round(xs * np.tan(np.radians(angle))).astype(np.int64)
    offset = int(w * abs(np.tan(np.radians(MAX_ANGLE)))) + 1
    rows = np.bincount(shifted + offset, minlength=h + 2 * offset).astype(np.float64)
    return float(np.var(rows))


def estimate_skew(image: Image.Image) -> float:
    """Degrees to rotate ``image`` counter-clockwise (PIL's sense) to level its text lines."""
    ink, _ = ink_mask(image.convert("L"))
    if ink.mean() < 0.001 or ink.mean() > 0.5:  # blank, or not a page of text
        return 0.0
    best, step = 0.0, 1.0
    candidates = np.arange(-MAX_ANGLE, MAX_ANGLE + 1e-9, step)
    for _ in range(3):  # 1° → 0.2° → 0.04°
        scores = [_score(ink, a) for a in candidates]
        best = float(candidates[int(np.argmax(scores))])
        step /= 5
        candidates = np.arange(best - 5 * step, best + 5 * step + 1e-9, step)
    return round(-best, 2)  # shearing by +a levels a page that PIL would turn back by -a


_MEDIAN9 = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
            (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))  # Paeth's 19-exchange median-of-9 network


def median3(grey: Image.Image) -> Image.Image:
    """The 3×3 median of a grey image, as ``ImageFilter.MedianFilter(3)`` gives it but ten times faster: the
    nine shifted copies sorted by a fixed min/max network, in numpy."""
    a = np.asarray(grey, dtype=np.uint8)
    h, w = a.shape
    p = np.pad(a, 1, mode="edge")
    v = [p[i:i + h, j:j + w] for i in range(3) for j in range(3)]
    for i, j in _MEDIAN9:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    return Image.fromarray(np.ascontiguousarray(v[4]))


def flatten(grey: Image.Image) -> Image.Image:
    """Even out the light: divide by the paper's own brightness, estimated on a small copy with the text
    filtered away. A phone photo darkens towards one side; a fixed threshold then eats half the page."""
    small = grey.reduce(8) if min(grey.size) >= 64 else grey
    paper = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(6))
    paper = paper.resize(grey.size, Image.BILINEAR)
    a = np.asarray(grey, dtype=np.float32)
    b = np.maximum(np.asarray(paper, dtype=np.float32), 1.0)
    return Image.fromarray(np.clip(a * (240.0 / b), 0, 255).astype(np.uint8))


def to_grey(image: Image.Image) -> Image.Image:
    """8-bit grey on white: transparency composited on white (not on black, which Pillow's plain convert
    gives), 16-bit and float scans scaled into 0–255 rather than clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float32)
        top = float(a.max()) or 1.0
        return Image.fromarray(np.clip(a * (255.0 / top), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return image.convert("L")


def crop_to_paper(grey: Image.Image) -> Image.Image:
    """A phone photo's page without the desk around it: the rows and columns that are mostly paper-bright
    (Otsu between desk and paper on a small copy). A scan is all paper and comes back whole."""
    small = grey.reduce(8) if min(grey.size) >= 64 else grey
    a = np.asarray(small, dtype=np.uint8)
    hist = np.bincount(a.ravel(), minlength=256).astype(np.float64)
    cum, cum_mean = np.cumsum(hist), np.cumsum(hist * np.arange(256))
    total = cum[-1]
    w0 = cum / total
    m0 = np.divide(cum_mean, cum, out=np.zeros(256), where=cum > 0)
    m1 = np.divide(cum_mean[-1] - cum_mean, total - cum, out=np.zeros(256), where=(total - cum) > 0)
    t = int(np.argmax(w0 * (1 - w0) * (m0 - m1) ** 2))
    bright = a > t
    edge = max(1, min(a.shape) // 30)
    frame = np.concatenate([bright[:edge].ravel(), bright[-edge:].ravel(), bright[:, :edge].ravel(),
                            bright[:, -edge:].ravel()])
    if m1[t] - m0[t] < 60 or frame.mean() > 0.6:  # no dark desk around the page (a scan, a blank page)
        return grey
    rows = np.flatnonzero(bright.mean(axis=1) > 0.5)
    cols = np.flatnonzero(bright.mean(axis=0) > 0.5)
    if len(rows) < 2 or len(cols) < 2:
        return grey
    k = grey.width / small.width
    inset = 0.01 * min(grey.size)
    box = (int(cols[0] * k + inset), int(rows[0] * k + inset), int((cols[-1] + 1) * k - inset),
           int((rows[-1] + 1) * k - inset))
    if box[0] < 0.02 * grey.width and box[1] < 0.02 * grey.height and box[2] > 0.98 * grey.width \
            and box[3] > 0.98 * grey.height:
        return grey  # no desk to speak of
    return grey.crop(box)


def prepare(image: Image.Image, *, max_pixels: int) -> tuple[Image.Image, float]:
    """Grey, upright (EXIF), within ``max_pixels``, despeckled, off the desk, evenly lit, deskewed: what
    Tesseract gets, and the angle.

    The 3×3 median removes a photocopy's specks, which Tesseract otherwise reads as "_" "." "'" and which
    garble the list labels next to them ("Đi" for "5."); see eval/RESULTS.md ("OCR"). A photo is cropped to
    the page before and after it is turned level, so the desk's edge is not read as a column of ink."""
    image = ImageOps.exif_transpose(image) or image
    grey = to_grey(image)
    if grey.width * grey.height > max_pixels:
        scale = (max_pixels / (grey.width * grey.height)) ** 0.5
        grey = grey.resize((max(1, int(grey.width * scale)), max(1, int(grey.height * scale))), Image.LANCZOS)
    grey = flatten(crop_to_paper(median3(grey)))
    angle = estimate_skew(grey)
    if abs(angle) >= 0.1:
        fill = int(np.percentile(np.asarray(grey)[::8, ::8], 90))  # the paper's shade
        grey = crop_to_paper(grey.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=fill))
    return grey, angle
