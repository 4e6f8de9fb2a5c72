"""Photos and scans of paper as image files (.jpg/.jpeg/.png/.tif/.tiff) → text through the same OCR path.

Each image is a page; a multi-page TIFF is several (up to ``ReadOptions.ocr_max_pages``). A phone photo is
turned upright from its EXIF orientation, greyed, shrunk to the pixel cap and deskewed (``deskew.prepare``).
Pillow's decompression-bomb guard (a few KB that claim gigapixels) becomes a clear ``ReadError`` before
anything is decoded; JPEGs larger than the cap are decoded at a reduced scale directly (``Image.draft``).
"""

from __future__ import annotations

import hashlib
import io
import warnings as _warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from indexer.reading.document import Extracted, ReadOptions
from indexer.reading.errors import ReadError

__all__ = ["read_image"]

MAX_PIXELS = 25_000_000  # what OCR gets per page; a 12 Mpx phone photo passes whole, a 100 Mpx one is shrunk
MIN_LETTERS = 20


def _open(data: bytes) -> Image.Image:
    with _warnings.catch_warnings():
        _warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ReadError("", f"file too large: {e} (refused before decoding: a decompression bomb?)") from e
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise ReadError("", f"corrupt image: {type(e).__name__}: {e}") from e
    if image.format not in ("JPEG", "PNG", "TIFF", "MPO"):
        raise ReadError("", f"unsupported format: a {image.format} image (use .jpg, .png or .tif)")
    return image


def _check_size(image: Image.Image, frame: int) -> None:
    w, h = image.size
    limit = Image.MAX_IMAGE_PIXELS or 0
    if limit and w * h > limit:
        raise ReadError("", f"file too large: image {frame} is {w}×{h} pixels, over the {limit // 1_000_000} "
                            "megapixel limit (refused before decoding: a decompression bomb?)")


def _frame(image: Image.Image, index: int):
    """A function that decodes and prepares frame ``index`` when called (one frame in memory at a time)."""

    def prepare_frame():
        from indexer.reading.deskew import prepare

        image.seek(index)
        if image.format == "JPEG" and image.width * image.height > MAX_PIXELS:
            image.draft("L", (image.width // 2, image.height // 2))  # decode smaller straight away
        with _warnings.catch_warnings():
            _warnings.simplefilter("error", Image.DecompressionBombWarning)
            frame = image.copy()
        dpi = image.info.get("dpi")
        resized = frame.width * frame.height > MAX_PIXELS  # prepare() shrinks it: its dpi no longer holds
        prepared, skew = prepare(frame, max_pixels=MAX_PIXELS)
        frame.close()
        use_dpi = None
        if dpi and 150 <= float(dpi[0]) <= 1200 and not resized:
            use_dpi = round(float(dpi[0]))  # a scanner's resolution; a phone's "72 dpi" means nothing
        return prepared, skew, use_dpi

    return prepare_frame


def read_image(path: Path, data: bytes, opts: ReadOptions) -> Extracted:
    image = _open(data)
    try:
        frames = getattr(image, "n_frames", 1)
        _check_size(image, 1)
        if not opts.ocr:
            raise ReadError("", "no text found: an image is read by OCR, and OCR is turned off")
        from indexer.reading.ocr import PageJob, find_engine, ocr_pages
        from indexer.reading.ocr_pages import render_pages

        engine = find_engine()
        cap = max(1, opts.ocr_max_pages)
        warnings: list[str] = []
        if frames > cap:
            warnings.append(f"OCR limit: {cap} of {frames} pages read (ocr_max_pages={cap}); "
                            f"pages {cap + 1}–{frames} not read")
        jobs = []
        for i in range(min(frames, cap)):
            if i:
                image.seek(i)
                try:
                    _check_size(image, i + 1)
                except ReadError as e:
                    warnings.append(f"page {i + 1}: {e.reason}; skipped")
                    continue
            jobs.append(PageJob(i + 1, _frame(image, i)))
        run = ocr_pages(jobs, total=len(jobs), data_hash=hashlib.sha256(data).hexdigest(), source=str(path),
                        opts=opts, engine=engine)
    except (OSError, SyntaxError, ValueError) as e:  # a truncated or damaged image
        raise ReadError("", f"corrupt image: {type(e).__name__}: {e}") from e
    finally:
        image.close()
    warnings += run.warnings
    read = [p for p in run.pages if p.words]
    text = "\n\n".join(t for t in render_pages(read) if t.strip())
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        raise ReadError("", "no text found: OCR found no readable text in the image (a photograph of something "
                            "other than a page, or too blurred?)")
    return Extracted(text=text, reader=engine.label, encoding="ocr", pages=frames, ocr_pages=len(read),
                     ocr_confidence=run.confidence(), warnings=warnings)
