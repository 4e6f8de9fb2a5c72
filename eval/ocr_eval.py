"""Scans of the seed directives through OCR: seconds per page, units and metadata recovered, confidence.

Each seed is typed text (``corpus/<seed>.txt``) → an official-template .docx → LibreOffice's PDF → a
photocopier-like scan (``eval.office_files.scan_pdf``: 200 dpi grey, tilted 0.8–2°, blur, grain, specks,
page numbers, no text layer) → ``parse_file`` → compared with ``parse_file`` of the typed seed: a unit is
recovered when the same path exists with text similarity ≥ 80 (rapidfuzz ratio of heading + text).

    .venv/bin/python -m eval.ocr_eval                      # all five seeds, Markdown table
    .venv/bin/python -m eval.ocr_eval --seeds tra-cu-2022 --json eval/out/ocr.json
    .venv/bin/python -m eval.ocr_eval --formats scan,tiff,photos           # also as TIFF and as phone photos
    .venv/bin/python -m eval.ocr_eval --engines --seeds cam-lo-2023,tra-cu-2022 --ocrmypdf /path/to/ocrmypdf
    .venv/bin/python -m eval.ocr_eval --timing 5 --seeds cam-lo-2023 --ocrmypdf /path/to/ocrmypdf

``--engines`` compares, on the same scans and in the same minutes, this reader (the Tesseract CLI, TSV word
boxes, our layout), pytesseract on the same prepared page images (same layout), and OCRmyPDF (its sidecar
text); it needs an ``ocrmypdf`` executable (not a project dependency: ``pip install ocrmypdf`` in a scratch
venv).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from eval.office_files import CORPUS, scan_pdf, seed_pdf
from indexer.models import Directive
from indexer.parsing.pipeline import parse_file, parse_text
from indexer.reading import ReadOptions

SEEDS = ("cam-lo-2023", "kien-giang-2017", "tra-cu-2022", "lang-son-2023", "dak-nong-2024")
FIELDS = ("issuer", "number", "date", "place", "doc_type", "subject", "signer", "recipients")
MIN_SIMILARITY = 80.0


@dataclass
class UnitMatch:
    total: int  # units of the typed seed
    recovered: int  # same path, similarity ≥ 80
    mean_similarity: float
    missing: list[str] = field(default_factory=list)  # paths not recovered
    fields: dict[str, bool] = field(default_factory=dict)  # metadata field → same as typed (where typed has it)

    @property
    def share(self) -> float:
        return self.recovered / self.total if self.total else 0.0


def unit_texts(d: Directive) -> dict[str, str]:
    return {u.path: f"{u.heading} {u.text}".strip() for root in d.units for u in root.walk()}


def compare(typed: Directive, got: Directive) -> UnitMatch:
    """Units matched by path, text similarity ≥ 80; metadata fields equal where the typed seed has them."""
    want, have = unit_texts(typed), unit_texts(got)
    sims = {p: (fuzz.ratio(t, have[p]) if p in have else 0.0) for p, t in want.items()}
    fields = {f: same_field(f, getattr(typed.metadata, f), getattr(got.metadata, f))
              for f in FIELDS if getattr(typed.metadata, f)}
    return UnitMatch(total=len(want), recovered=sum(s >= MIN_SIMILARITY for s in sims.values()),
                     mean_similarity=round(sum(sims.values()) / len(sims), 1) if sims else 0.0,
                     missing=[p for p, s in sims.items() if s < MIN_SIMILARITY], fields=fields)


def same_field(name: str, want, got) -> bool:
    """Equal; for the long free-text fields (subject, each recipient) similarity ≥ 90 allows a misread tone."""
    if name == "recipients":
        return len(want) == len(got) and all(fuzz.ratio(a, b) >= 90 for a, b in zip(want, got, strict=True))
    if name == "subject":
        return fuzz.ratio(want, got) >= 90
    return want == got


def text_similarity(typed: Directive, text: str) -> float:
    """Similarity of the whole text (words in order, markdown and spacing ignored) to the typed seed."""
    def words(s: str) -> str:
        return " ".join(re.sub(r"[*#]", " ", s).split())

    return round(fuzz.ratio(words(typed.text), words(text)), 1)


@dataclass
class Row:
    seed: str
    pages: int
    ocr_seconds: float
    seconds_per_page: float
    units: int
    recovered: int
    share: float
    mean_similarity: float
    text_similarity: float
    fields_recovered: int
    fields_total: int
    confidence: float | None
    missing: list[str]
    wrong_fields: list[str]


def make_scan(seed: str, work: Path, index: int) -> Path:
    path = work / f"{seed}-scan.pdf"
    if not path.exists():
        scan_pdf(seed_pdf(seed, work), path, seed=index)
    return path


def run_seed(seed: str, work: Path, index: int) -> Row:
    scan = make_scan(seed, work, index)
    typed = parse_file(CORPUS / f"{seed}.txt")
    cache = Path(tempfile.mkdtemp(prefix="ocr-eval-cache-", dir=work))  # empty: every page really OCR'd
    t0 = time.perf_counter()
    got = parse_file(scan, options=ReadOptions(ocr_cache=cache, progress=True))
    seconds = time.perf_counter() - t0
    shutil.rmtree(cache, ignore_errors=True)
    m = compare(typed, got)
    pages = got.ingest.pages or 1
    return Row(seed=seed, pages=pages, ocr_seconds=round(seconds, 1), seconds_per_page=round(seconds / pages, 2),
               units=m.total, recovered=m.recovered, share=round(m.share, 3), mean_similarity=m.mean_similarity,
               text_similarity=text_similarity(typed, got.original), fields_recovered=sum(m.fields.values()),
               fields_total=len(m.fields), confidence=got.ingest.ocr_confidence, missing=m.missing,
               wrong_fields=[f for f, ok in m.fields.items() if not ok])


def run_seed_as(seed: str, work: Path, index: int, kind: str) -> Row:
    """The seed as a multi-page TIFF of the scanned pages (``kind="tiff"``), or as phone photos, one .jpg a
    page read one by one (``kind="photos"``: each photo is its own file; their texts are joined in page
    order before parsing, so the tree can be compared)."""
    from eval.office_files import multipage_tiff, photo_files, scan_pages
    from indexer.reading import read_document

    pdf = seed_pdf(seed, work) if not (work / f"{seed}.pdf").exists() else (work / f"{seed}.pdf").read_bytes()
    (work / f"{seed}.pdf").write_bytes(pdf)
    if kind == "tiff":
        files = [multipage_tiff(scan_pages(pdf, seed=index), work / f"{seed}.tif")]
    else:
        files = photo_files(pdf, work / f"{seed}-photos", stem=seed, seed=index)
    typed = parse_file(CORPUS / f"{seed}.txt")
    cache = Path(tempfile.mkdtemp(prefix="ocr-eval-cache-", dir=work))
    t0 = time.perf_counter()
    raws = [read_document(f, options=ReadOptions(ocr_cache=cache)) for f in files]
    seconds = time.perf_counter() - t0
    shutil.rmtree(cache, ignore_errors=True)
    text = "\n\n".join(r.text for r in raws)
    got = parse_text(text, doc_id=seed)
    m = compare(typed, got)
    pages = sum(r.ingest.pages or 1 for r in raws)
    confs = [r.ingest.ocr_confidence for r in raws if r.ingest.ocr_confidence is not None]
    return Row(seed=f"{seed} ({kind})", pages=pages, ocr_seconds=round(seconds, 1),
               seconds_per_page=round(seconds / pages, 2), units=m.total, recovered=m.recovered,
               share=round(m.share, 3), mean_similarity=m.mean_similarity, text_similarity=text_similarity(typed, text),
               fields_recovered=sum(m.fields.values()), fields_total=len(m.fields),
               confidence=round(sum(confs) / len(confs), 1) if confs else None, missing=m.missing,
               wrong_fields=[f for f, ok in m.fields.items() if not ok])


def markdown(rows: list[Row]) -> str:
    out = ["| seed | pages | OCR s/page | units recovered (sim ≥ 80) | mean unit similarity | text similarity "
           "| metadata fields | mean confidence |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.seed} | {r.pages} | {r.seconds_per_page:.1f} | {r.recovered}/{r.units} ({r.share:.0%}) "
                   f"| {r.mean_similarity:.1f} | {r.text_similarity:.1f} | {r.fields_recovered}/{r.fields_total} "
                   f"| {r.confidence if r.confidence is not None else '–'} |")
    kinds: dict[str, list[Row]] = {}
    for r in rows:
        kinds.setdefault(r.seed.partition(" (")[2].rstrip(")") or "scan", []).append(r)
    for kind, rs in kinds.items():
        pages, secs = sum(r.pages for r in rs), sum(r.ocr_seconds for r in rs)
        units, rec = sum(r.units for r in rs), sum(r.recovered for r in rs)
        fr, ft = sum(r.fields_recovered for r in rs), sum(r.fields_total for r in rs)
        out.append(f"| **all, {kind}** | {pages} | {secs / max(pages, 1):.1f} | {rec}/{units} ({rec / max(units, 1):.0%}) "
                   f"| | | {fr}/{ft} | |")
    return "\n".join(out)


# --- engines --------------------------------------------------------------------------------------------------


def engine_ours(scan: Path, work: Path) -> tuple[str, float, int]:
    """This reader, end to end (render, despeckle, deskew, OCR with word boxes, layout), empty cache."""
    from indexer.reading.pdf import read_pdf

    cache = Path(tempfile.mkdtemp(prefix="ocr-eval-cache-", dir=work))
    t0 = time.perf_counter()
    got = read_pdf(scan, scan.read_bytes(), ReadOptions(ocr_cache=cache))
    seconds = time.perf_counter() - t0
    shutil.rmtree(cache, ignore_errors=True)
    return got.text, seconds, got.pages or 1


def engine_ours_without(change: str):
    """This reader with one of its steps undone, to measure what the step buys."""
    def run(scan: Path, work: Path) -> tuple[str, float, int]:
        from indexer.reading import deskew, ocr

        saved = (deskew.median3, ocr.PAGE_PSM, ocr.image_regions, ocr.missing_labels)
        try:
            if change == "median":
                deskew.median3 = lambda grey: grey
            elif change == "psm4":
                ocr.PAGE_PSM = 3
            elif change == "columns":
                ocr.image_regions = lambda image: []
            elif change == "labels":
                ocr.missing_labels = lambda image, words, fn: []
            return engine_ours(scan, work)
        finally:
            deskew.median3, ocr.PAGE_PSM, ocr.image_regions, ocr.missing_labels = saved

    return run


def engine_pytesseract(scan: Path, work: Path) -> tuple[str, float, int]:
    """The same page images through pytesseract.image_to_data (one run a page, psm 4; no column crops, no
    label recovery: pytesseract has no say in those), then the same layout step."""
    import pypdfium2 as pdfium
    import pytesseract

    from indexer.reading.ocr_pages import render_pages
    from indexer.reading.ocr_types import OcrPage, Word
    from indexer.reading.pdf import _renderer

    pages = []
    t0 = time.perf_counter()
    pdf = pdfium.PdfDocument(scan.read_bytes())
    for number in range(1, len(pdf) + 1):
        image = _renderer(pdf, number)()[0]
        d = pytesseract.image_to_data(image, lang="vie", config="--oem 1 --psm 4 --dpi 300",
                                      output_type=pytesseract.Output.DICT)
        words = [Word(str(t).strip(), max(float(c), 0.0), d["left"][i], d["top"][i], d["width"][i],
                      d["height"][i], d["block_num"][i], d["par_num"][i], d["line_num"][i])
                 for i, (t, c) in enumerate(zip(d["text"], d["conf"], strict=True))
                 if d["level"][i] == 5 and str(t).strip()]
        pages.append(OcrPage(number=number, width=image.width, height=image.height, words=words))
    text = "\n\n".join(render_pages(pages))
    seconds = time.perf_counter() - t0
    return text, seconds, len(pages)


def engine_cli_plain(scan: Path, work: Path) -> tuple[str, float, int]:
    """The Tesseract CLI on the same images, one psm-4 run a page (no column crops, no label recovery)."""
    import pypdfium2 as pdfium

    from indexer.reading.ocr import find_engine, recognise
    from indexer.reading.ocr_pages import render_pages
    from indexer.reading.ocr_types import OcrPage
    from indexer.reading.pdf import _renderer

    engine = find_engine()
    pages = []
    t0 = time.perf_counter()
    pdf = pdfium.PdfDocument(scan.read_bytes())
    for number in range(1, len(pdf) + 1):
        image = _renderer(pdf, number)()[0]
        pages.append(OcrPage(number=number, width=image.width, height=image.height,
                             words=recognise(image, engine, psm=4)))
    text = "\n\n".join(render_pages(pages))
    return text, time.perf_counter() - t0, len(pages)


def engine_ocrmypdf(scan: Path, work: Path, binary: str) -> tuple[str, float, int]:
    """OCRmyPDF's own pipeline (pypdfium rasteriser, deskew, one job), its sidecar text."""
    out, sidecar = work / f"{scan.stem}-ocrmypdf.pdf", work / f"{scan.stem}-ocrmypdf.txt"
    cmd = [binary, "-l", "vie", "--output-type", "pdf", "--rasterizer", "pypdfium", "--deskew", "-j", "1",
           "--sidecar", str(sidecar), "-q", str(scan), str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    seconds = time.perf_counter() - t0
    from pypdf import PdfReader

    return sidecar.read_text(encoding="utf-8").replace("\f", "\n\n"), seconds, len(PdfReader(str(out)).pages)


def run_engines(seeds: list[str], work: Path, ocrmypdf: str | None) -> str:
    lines = ["| engine | seed | pages | s/page (render → text) | units recovered (sim ≥ 80) | text similarity "
             "| metadata |",
             "|---|---|---|---|---|---|---|"]
    for i, seed in enumerate(seeds):
        scan = make_scan(seed, work, SEEDS.index(seed) if seed in SEEDS else i)
        typed = parse_file(CORPUS / f"{seed}.txt")
        engines = [("this reader: Tesseract CLI (TSV), column crops, label recovery, layout", engine_ours),
                   ("  … without the 3×3 median (despeckle)", engine_ours_without("median")),
                   ("  … with psm 3 (automatic) instead of 4", engine_ours_without("psm4")),
                   ("  … without column crops", engine_ours_without("columns")),
                   ("  … without label recovery", engine_ours_without("labels")),
                   ("Tesseract CLI (TSV), one psm-4 run a page, same layout", engine_cli_plain),
                   ("pytesseract image_to_data, one psm-4 run a page, same layout", engine_pytesseract)]
        if ocrmypdf:
            engines.append(("OCRmyPDF 17 (pypdfium, --deskew), sidecar text",
                            lambda s, w, b=ocrmypdf: engine_ocrmypdf(s, w, b)))
        for name, fn in engines:
            text, seconds, pages = fn(scan, work)
            got = parse_text(text, doc_id=seed)
            m = compare(typed, got)
            lines.append(f"| {name} | {seed} | {pages} | {seconds / max(pages, 1):.2f} | {m.recovered}/{m.total} "
                         f"({m.share:.0%}) | {text_similarity(typed, text)} | "
                         f"{sum(m.fields.values())}/{len(m.fields)} |")
            print(lines[-1], file=sys.stderr)
    return "\n".join(lines)


def run_timing(seed: str, work: Path, ocrmypdf: str | None, repeats: int) -> str:
    """Seconds for one page (page 2 of the seed's scan), each way ``repeats`` times, interleaved so that the
    shared machine's load falls on every way alike; medians."""
    import io
    import statistics

    import pypdfium2 as pdfium
    import pytesseract
    from pypdf import PdfReader, PdfWriter

    from indexer.reading.ocr import find_engine, recognise
    from indexer.reading.pdf import _renderer, read_pdf

    scan = make_scan(seed, work, SEEDS.index(seed) if seed in SEEDS else 0)
    w = PdfWriter()
    w.add_page(PdfReader(str(scan)).pages[1])
    buf = io.BytesIO()
    w.write(buf)
    one = work / f"{seed}-page2.pdf"
    one.write_bytes(buf.getvalue())
    pdf = pdfium.PdfDocument(one.read_bytes())
    image = _renderer(pdf, 1)()[0]
    engine = find_engine()

    def cli_threads():
        saved = os.environ.pop("OMP_THREAD_LIMIT", None)
        try:  # recognise() pins one thread; this is the same call with OpenMP's default
            cmd = [engine.binary, "stdin", "stdout", "-l", "vie", "--oem", "1", "--psm", "4", "--dpi", "300", "tsv"]
            from indexer.reading.ocr import _pnm

            subprocess.run(cmd, input=_pnm(image), capture_output=True, check=True)
        finally:
            if saved is not None:
                os.environ["OMP_THREAD_LIMIT"] = saved

    def pyt_one_thread():
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            pytesseract.image_to_data(image, lang="vie", config="--oem 1 --psm 4 --dpi 300")
        finally:
            del os.environ["OMP_THREAD_LIMIT"]

    def ours_end_to_end():
        cache = Path(tempfile.mkdtemp(prefix="ocr-timing-", dir=work))
        read_pdf(one, one.read_bytes(), ReadOptions(ocr_cache=cache))
        shutil.rmtree(cache, ignore_errors=True)

    ways = [
        ("Tesseract CLI, TSV, 1 OpenMP thread (chosen), recognition only",
         lambda: recognise(image, engine, psm=4)),
        ("Tesseract CLI, TSV, OpenMP default threads, recognition only", cli_threads),
        ("pytesseract.image_to_data (PNG temp file, default threads), recognition only",
         lambda: pytesseract.image_to_data(image, lang="vie", config="--oem 1 --psm 4 --dpi 300")),
        ("pytesseract.image_to_data, OMP_THREAD_LIMIT=1 in the environment, recognition only", pyt_one_thread),
        ("this reader end to end (render, despeckle, deskew, columns, labels, layout)", ours_end_to_end),
    ]
    if ocrmypdf:
        ways.append(("OCRmyPDF end to end (-j 1, --deskew, pypdfium, sidecar)",
                     lambda: subprocess.run([ocrmypdf, "-l", "vie", "--output-type", "pdf", "--rasterizer",
                                             "pypdfium", "--deskew", "-j", "1", "--sidecar",
                                             str(work / "t.txt"), "-q", str(one), str(work / "t.pdf")],
                                            check=True)))
    times: dict[str, list[float]] = {name: [] for name, _ in ways}
    for _ in range(repeats):
        for name, fn in ways:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    lines = ["| one page (" + seed + ", page 2) | median s | runs |", "|---|---|---|"]
    for name, ts in times.items():
        lines.append(f"| {name} | {statistics.median(ts):.2f} | {', '.join(f'{t:.2f}' for t in ts)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default=",".join(SEEDS))
    ap.add_argument("--work", type=Path, default=None, help="where scans are written (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--engines", action="store_true", help="compare OCR engines instead")
    ap.add_argument("--ocrmypdf", default=shutil.which("ocrmypdf"))
    ap.add_argument("--formats", default="scan", help="scan,tiff,photos: which files to make of each seed")
    ap.add_argument("--timing", type=int, default=0, metavar="N",
                    help="time one page N times each way (engines, threads), interleaved")
    args = ap.parse_args(argv)
    seeds = [s for s in args.seeds.split(",") if s]
    work = args.work or Path(tempfile.mkdtemp(prefix="ocr-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    if args.timing:
        print(run_timing(seeds[0], work, args.ocrmypdf, args.timing))
        print(f"\nload average at start: {load:.2f}, at end: {os.getloadavg()[0]:.2f}")
        return 0
    if args.engines:
        print(run_engines(seeds, work, args.ocrmypdf))
        print(f"\nload average at start: {load:.2f}")
        return 0
    rows = []
    for kind in args.formats.split(","):
        for seed in seeds:
            index = SEEDS.index(seed) if seed in SEEDS else 0
            rows.append(run_seed(seed, work, index) if kind == "scan" else run_seed_as(seed, work, index, kind))
            r = rows[-1]
            print(f"{r.seed}: {r.recovered}/{r.units} units, {r.seconds_per_page:.1f} s/page, missing {r.missing}, "
                  f"wrong fields {r.wrong_fields}", file=sys.stderr)
    print(markdown(rows))
    print(f"\nload average at start: {load:.2f}; scans in {work}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
