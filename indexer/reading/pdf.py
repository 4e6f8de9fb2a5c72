"""PDF → text: the text layer page by page; the pages that have none are rendered and read by OCR.

Pages are separated by a blank line (the structure parser repairs a paragraph split by a page break). A page
with a text layer keeps it; a page with no (or a negligible) text layer is rendered with pdfium, one page at a
time and within a pixel cap, and OCR'd (``ocr``, ``ocr_layout``), so a mixed PDF OCRs only its scanned pages.
At most ``ReadOptions.ocr_max_pages`` pages are OCR'd per file (the rest are named in a warning), each within
a timeout, so a 300-page scan finishes in bounded time and memory. A damaged page is a warning naming it; a
password-protected file, or one whose pages hold no readable text at all, is a ``ReadError``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

from indexer.reading.document import Extracted, ReadOptions
from indexer.reading.errors import ReadError

__all__ = ["read_pdf"]

MIN_LETTERS = 20  # a page whose text layer has fewer letters than this is treated as a scan
MAX_PIXELS = 25_000_000  # a rendered page; 300 dpi A3 is 17 Mpx, a poster-sized page is rendered smaller
BLANK_INK = 0.0005  # share of dark pixels below which a rendered page is blank


class _Complaints(list):
    """What pypdf logs while reading one page (a bad stream is logged and skipped, not raised)."""

    def __enter__(self):
        self._handler = logging.Handler(logging.WARNING)
        self._handler.emit = lambda record: self.append(record.getMessage())
        self._logger = logging.getLogger("pypdf")
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        self._logger.removeHandler(self._handler)
        return False


def letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def _open(data: bytes):
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # AES without a crypto library, or a broken encryption dictionary
                opened = 0
            if not opened:
                raise ReadError("", "password-protected PDF: it cannot be opened without its password; "
                                    "remove the password (print to PDF, or save a copy without it) and add it again")
        _ = len(reader.pages)
    except ReadError:
        raise
    except Exception as e:  # pypdf raises PdfReadError, ValueError, KeyError… on damaged files
        raise ReadError("", f"corrupt PDF: {type(e).__name__}: {e}") from e
    return reader


def _page_ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] → "3–5, 9"."""
    out, start, prev = [], None, None
    for n in [*numbers, None]:
        if start is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}–{prev}" if prev != start else str(start))
        start = prev = n
    return ", ".join(out)


def read_pdf(path: Path, data: bytes, opts: ReadOptions) -> Extracted:
    reader = _open(data)
    n = len(reader.pages)
    warnings: list[str] = []
    texts: dict[int, str] = {}  # 1-based page → text
    scanned: list[int] = []
    for i in range(n):
        with _Complaints() as complaints:
            try:
                t = (reader.pages[i].extract_text() or "").strip()
            except Exception as e:  # a damaged page must not sink the file
                complaints.append(f"{type(e).__name__}: {e}")
                t = ""
        if complaints and letters(t) < MIN_LETTERS:  # pypdf logs (not raises) most damage it meets
            warnings.append(f"page {i + 1}: damaged ({complaints[0][:120]}); its text could not be read")
        texts[i + 1] = t
        if letters(t) < MIN_LETTERS:
            scanned.append(i + 1)
    if not texts and not scanned:
        raise ReadError("", "no text found: the PDF has no pages")
    ocr_pages, confidence, reader_name = 0, None, "pypdf (text layer)"
    if scanned:
        got = _ocr(path, data, scanned, opts, warnings, has_text=any(letters(t) >= MIN_LETTERS for t in texts.values()))
        if got is not None:
            ocr_texts, ocr_pages, confidence, engine_label = got
            for page, t in ocr_texts.items():
                if letters(t) > letters(texts.get(page, "")):
                    texts[page] = t
            if ocr_pages:
                reader_name = (engine_label if ocr_pages == n else
                               f"pypdf (text layer) + {engine_label} on {ocr_pages} of {n} pages")
    text = "\n\n".join(texts[p] for p in sorted(texts) if texts[p].strip())
    if letters(text) < MIN_LETTERS:
        if scanned and not opts.ocr:
            raise ReadError("", "no text layer (scanned PDF?) and OCR is turned off")
        raise ReadError("", f"no text found: the PDF's {n} page(s) have no text layer and OCR found no readable "
                            "text on them (a photograph, or a blank scan?)")
    return Extracted(text=text, reader=reader_name, encoding="ocr" if ocr_pages else "pdf", pages=n,
                     ocr_pages=ocr_pages, ocr_confidence=confidence, warnings=warnings)


def _ocr(path: Path, data: bytes, scanned: list[int], opts: ReadOptions, warnings: list[str], *, has_text: bool
         ) -> tuple[dict[int, str], int, float | None, str] | None:
    """OCR the scanned pages (up to the cap): {page: text}, pages OCR'd, mean confidence, engine label."""
    if not opts.ocr:
        warnings.append(f"page(s) {_page_ranges(scanned)} have no text layer and were not read (OCR is off)")
        return None
    from indexer.reading.ocr import PageJob, find_engine, ocr_pages
    from indexer.reading.ocr_pages import render_pages

    try:
        engine = find_engine()
    except ReadError as e:
        if not has_text:
            raise
        warnings.append(f"page(s) {_page_ranges(scanned)} have no text layer and were not read: {e.reason}")
        return None
    cap = max(0, opts.ocr_max_pages)
    todo, rest = scanned[:cap], scanned[cap:]
    if rest:
        warnings.append(f"OCR limit: {len(todo)} of {len(scanned)} scanned pages read (ocr_max_pages={cap}); "
                        f"page(s) {_page_ranges(rest)} not read")
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data, password="")
    except Exception as e:
        warnings.append(f"cannot render the scanned pages ({type(e).__name__}: {e})")
        return None
    try:
        jobs = [PageJob(p, _renderer(pdf, p)) for p in todo]
        run = ocr_pages(jobs, total=len(todo), data_hash=hashlib.sha256(data).hexdigest(), source=str(path),
                        opts=opts, engine=engine)
    finally:
        pdf.close()
    warnings += run.warnings
    read = [p for p in run.pages if p.words]
    texts = dict(zip([p.number for p in read], render_pages(read), strict=True))
    return texts, len(read), run.confidence(), engine.label


def _renderer(pdf, number: int):
    """A function that renders page ``number`` (1-based) when called: grey, deskewed, within MAX_PIXELS."""

    def render():
        import numpy as np

        from indexer.reading.deskew import prepare
        from indexer.reading.ocr import DPI

        page = pdf[number - 1]
        try:
            w, h = page.get_size()
            scale = DPI / 72
            if w * h * scale * scale > MAX_PIXELS:
                scale = (MAX_PIXELS / (w * h)) ** 0.5
            image = page.render(scale=scale, grayscale=True).to_pil()
        finally:
            page.close()
        small = np.asarray(image.reduce(4)) if min(image.size) >= 8 else np.asarray(image)
        if (small < 128).mean() < BLANK_INK:
            return None  # a blank page: nothing to read
        prepared, skew = prepare(image, max_pixels=MAX_PIXELS)
        return prepared, skew, round(scale * 72)

    return render
