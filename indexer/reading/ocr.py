"""Tesseract as the OCR engine: page images → words with boxes and confidences, cached by content hash.

The Tesseract command line is run directly (the page piped in as PNM, TSV out, ``--oem 1 --psm 4``) rather
than through OCRmyPDF or pytesseract: OCRmyPDF builds a new PDF around a text layer we would only read back
and keeps no word boxes, which the layout step needs (columns, hanging indents, list labels); pytesseract
runs the same binary through PNG temp files. One OpenMP thread per Tesseract process: on this shared 2-core
machine the default threads made a page 3.8× slower. Figures in ``eval/RESULTS.md`` ("OCR").

``recognise_page`` reads one prepared page: the two-column parts (``ocr_regions``) crop by crop, the rest as
one column, then the list labels Tesseract skipped (``ocr_labels``). ``ocr_pages`` is the one loop every
scanned format uses (PDF pages, TIFF frames, photos): page cap, cache, progress bar, progress callback,
per-run timeout; what it returns goes to ``ocr_layout`` (each page) and ``ocr_pages`` (the document) for the text.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from indexer.progress import Progress
from indexer.reading.document import ReadOptions
from indexer.reading.errors import ReadError
from indexer.reading.ocr_cache import OcrCache
from indexer.reading.ocr_labels import missing_labels
from indexer.reading.ocr_regions import image_regions
from indexer.reading.ocr_types import OcrPage, Word

__all__ = ["Engine", "OcrPage", "PageJob", "Word", "find_engine", "ocr_pages", "recognise", "recognise_page"]

LANG = "vie"
DPI = 300  # PDF pages are rendered at this resolution (photos and TIFFs are read at their own)
PAGE_PSM = 4  # "one column of text of variable sizes": psm 3 (auto) drops lone list labels like "3."
PAGE_TIMEOUT = 180.0  # seconds for one page; a normal page takes 3–10 s here
SETTINGS = "median3-paper-deskew-flat-columns-labels2-oem1-psm4-v7"  # part of the cache key: change it with the settings
MISSING = ("tesseract missing: scanned PDFs and photos are read with Tesseract OCR and its Vietnamese model; "
           "install Debian's tesseract-ocr and tesseract-ocr-vie (make office)")


@dataclass(frozen=True)
class Engine:
    binary: str
    version: str  # "5.3.0"
    lang: str
    model_hash: str  # sha256 of the traineddata file: a new model must not reuse cached results

    @property
    def label(self) -> str:
        return f"Tesseract {'.'.join(self.version.split('.')[:2])} ({self.lang})"

    @property
    def fingerprint(self) -> str:
        return f"tesseract-{self.version}-{self.lang}-{self.model_hash[:16]}-{SETTINGS}"


def _binary() -> str | None:
    """The Tesseract binary, or None. ``$DIRECTIVES_TESSERACT`` may name another one (tests point it away)."""
    env = os.environ.get("DIRECTIVES_TESSERACT")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() and os.access(env, os.X_OK) else None)
    return shutil.which("tesseract")


def find_engine(lang: str = LANG) -> Engine:
    """The installed Tesseract with ``lang`` data; ``ReadError("", "tesseract missing: …")`` otherwise."""
    binary = _binary()
    if binary is None:
        raise ReadError("", f"{MISSING} (no '{os.environ.get('DIRECTIVES_TESSERACT') or 'tesseract'}' binary)")
    return _probe(binary, lang)


@functools.lru_cache(maxsize=8)
def _probe(binary: str, lang: str) -> Engine:
    try:
        ver = subprocess.run([binary, "--version"], capture_output=True, timeout=30)
        langs = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ReadError("", f"{MISSING} ({binary}: {e})") from e
    out = (ver.stdout + ver.stderr).decode("utf-8", "replace")
    m = re.search(r"tesseract\s+v?(\d+\.\d+(?:\.\d+)?)", out, re.I)
    if ver.returncode != 0 or not m:
        raise ReadError("", f"{MISSING} ({binary} --version did not answer as Tesseract)")
    listing = (langs.stdout + langs.stderr).decode("utf-8", "replace")
    if lang not in {ln.strip() for ln in listing.splitlines()}:
        raise ReadError("", f"tesseract missing: the '{lang}' language data is not installed (Debian "
                            f"tesseract-ocr-{lang}; make office)")
    found = re.search(r'"([^"]+)"', listing)  # 'List of available languages in "/usr/share/…/tessdata/"'
    model = Path(found.group(1)) / f"{lang}.traineddata" if found else None
    digest = hashlib.sha256(model.read_bytes()).hexdigest() if model and model.is_file() else "unknown"
    return Engine(binary=binary, version=m.group(1), lang=lang, model_hash=digest)


def _pnm(image: Image.Image) -> bytes:
    """PNM is the cheapest format to write and Tesseract (leptonica) reads it from stdin."""
    buf = io.BytesIO()
    image.save(buf, format="PPM")  # Pillow writes P5 for "L" and P6 for "RGB"
    return buf.getvalue()


def recognise_page(image: Image.Image, engine: Engine, *, number: int = 1, dpi: int | None = DPI,
                   timeout: float = PAGE_TIMEOUT) -> OcrPage:
    """One prepared page: its two-column regions column by column (``ocr_regions``), the rest as a page."""
    t0 = time.perf_counter()
    regions = image_regions(image)
    page_image = image
    if regions:
        from PIL import ImageDraw

        page_image = image.copy()
        paper = int(np.percentile(np.asarray(image)[::8, ::8], 90))
        draw = ImageDraw.Draw(page_image)
        for left, right in regions:
            draw.rectangle((left[0], left[1], right[2], right[3]), fill=paper)
    words = recognise(page_image, engine, dpi=dpi, timeout=timeout, psm=PAGE_PSM)
    words += missing_labels(page_image, words, lambda im: recognise(im, engine, dpi=dpi, timeout=timeout, psm=6))
    for r, boxes in enumerate(regions):
        for side, box in enumerate(boxes):
            crop = image.crop(box)
            got = recognise(crop, engine, dpi=dpi, timeout=timeout, psm=4)
            got += missing_labels(crop, got, lambda im: recognise(im, engine, dpi=dpi, timeout=timeout, psm=6))
            for w in got:
                w.left += box[0]
                w.top += box[1]
                w.zone = 2 * r + 1 + side
                words.append(w)
    return OcrPage(number=number, width=image.width, height=image.height, words=words,
                   seconds=time.perf_counter() - t0)


def recognise(image: Image.Image, engine: Engine, *, dpi: int | None = DPI, timeout: float = PAGE_TIMEOUT,
              psm: int = 3) -> list[Word]:
    """Run Tesseract once on a grey image; its words with their boxes and confidences."""
    cmd = [engine.binary, "stdin", "stdout", "-l", engine.lang, "--oem", "1", "--psm", str(psm)]
    if dpi:
        cmd += ["--dpi", str(dpi)]
    cmd.append("tsv")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    try:
        out, err = proc.communicate(_pnm(image), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise RuntimeError(f"tesseract failed: {tail[0][:200]}")
    return _parse_tsv(out)


def _parse_tsv(out: bytes) -> list[Word]:
    words = []
    for row in out.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            conf = float(cols[10])
            left, top, width, height = (int(c) for c in cols[6:10])
            block, par, line = int(cols[2]), int(cols[3]), int(cols[4])
        except ValueError:
            continue
        words.append(Word(text, max(conf, 0.0), left, top, width, height, block, par, line))
    return words


# --- the page loop ------------------------------------------------------------------------------------------


@dataclass
class PageJob:
    """One page to OCR: its 1-based number and how to make its prepared image (called only on a cache miss)."""

    number: int
    image: Callable[[], tuple[Image.Image, float, int | None] | None]  # → (grey deskewed image, skew°, dpi);
    # None for a blank page


@dataclass
class OcrRun:
    pages: list[OcrPage]
    engine: Engine
    warnings: list[str] = field(default_factory=list)

    def confidence(self) -> float | None:
        """Mean word confidence over every OCR'd word (0–100), None when no word was read."""
        confs = [w.conf for p in self.pages for w in p.words]
        return round(sum(confs) / len(confs), 1) if confs else None


def ocr_pages(jobs: Iterable[PageJob], *, total: int, data_hash: str, source: str, opts: ReadOptions,
              engine: Engine | None = None) -> OcrRun:
    """OCR ``jobs`` (at most ``opts.ocr_max_pages`` of them): cache first, then Tesseract, one page at a time.

    A page that fails or times out becomes a warning naming the page; the rest are read.
    """
    engine = engine or find_engine()
    cache = OcrCache.at(opts.ocr_cache)
    run = OcrRun(pages=[], engine=engine)
    bar = None
    if opts.progress and total > 1:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"OCR {Path(source).name}"[:40], unit="page", file=sys.stderr, leave=False)
    try:
        for done, job in enumerate(jobs):
            opts.on_progress(Progress("ocr", done, total, source))
            page = _one_page(job, engine, cache, data_hash, run.warnings)
            if page is not None:
                run.pages.append(page)
            if bar is not None:
                bar.update(1)
        opts.on_progress(Progress("ocr", total, total, source))
    finally:
        if bar is not None:
            bar.close()
    return run


def _one_page(job: PageJob, engine: Engine, cache: OcrCache, data_hash: str, warnings: list[str]) -> OcrPage | None:
    key = cache.key(data_hash, job.number, engine.fingerprint)
    hit = cache.get(key)
    if hit is not None:
        try:
            return OcrPage.from_dict(hit)
        except (KeyError, TypeError, ValueError, IndexError):
            pass  # an unreadable entry is recomputed
    try:
        prepared = job.image()
    except Exception as e:  # a page that cannot be rendered or decoded
        warnings.append(f"page {job.number}: cannot render the page ({type(e).__name__}: {e}); skipped")
        return None
    if prepared is None:  # blank: nothing to recognise, and nothing to do next time either
        page = OcrPage(number=job.number, width=0, height=0)
        cache.put(key, page.to_dict())
        return page
    image, skew, dpi = prepared
    try:
        page = recognise_page(image, engine, number=job.number, dpi=dpi)
    except subprocess.TimeoutExpired:
        warnings.append(f"page {job.number}: OCR timed out after {PAGE_TIMEOUT:.0f} s; skipped")
        return None
    except (OSError, RuntimeError) as e:
        warnings.append(f"page {job.number}: OCR failed ({e}); skipped")
        return None
    finally:
        image.close()
    page.skew = skew
    cache.put(key, page.to_dict())
    return page
