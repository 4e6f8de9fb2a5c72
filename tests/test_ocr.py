"""Scans and photos of the seed directives read back through Tesseract give the typed task tree.

The files are built here: the typed seed → an official-template .docx (``eval.office_files``) → LibreOffice's
PDF → rasterised, tilted, blurred, speckled and packed into an image-only PDF (or photographed on a desk, or
saved as a multi-page TIFF). OCR is ~5 s a page here, so the scans of two seeds are OCR'd once per module
(each with an empty cache, so the OCR is real) and shared; eval/ocr_eval.py covers all five.
"""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest
from PIL import Image

from eval.ocr_eval import compare
from eval.office_files import multipage_tiff, photo_files, scan_pages, scan_pdf, seed_pdf
from indexer.parsing.pipeline import parse_file, parse_text
from indexer.progress import Progress
from indexer.reading import ReadError, ReadOptions, libreoffice, read_document
from indexer.reading.deskew import estimate_skew
from indexer.reading.images import read_image
from indexer.reading.ocr_pages import render_pages
from indexer.reading.ocr_types import OcrPage, Word

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
TESSERACT = shutil.which("tesseract")
SEEDS = ("tra-cu-2022", "cam-lo-2023")  # a plan with Roman sections, a công văn with the two-column header

needs_ocr = pytest.mark.skipif(TESSERACT is None or not libreoffice.available(),
                               reason="Tesseract or LibreOffice missing (make office)")


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict[str, bytes]:
    """LibreOffice's PDF of each seed's official-template .docx."""
    work = tmp_path_factory.mktemp("printed")
    return {s: seed_pdf(s, work) for s in SEEDS}


@pytest.fixture(scope="module")
def scans(printed, tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("scans")
    out = {}
    for i, s in enumerate(SEEDS):
        out[s] = work / f"{s}.pdf"
        scan_pdf(printed[s], out[s], seed=i)
    return out


@pytest.fixture(scope="module")
def read_scans(scans, tmp_path_factory):
    """Each scan through the whole pipeline (dispatcher → read_pdf → OCR → parser), with a fresh cache."""
    out = {}
    for s, path in scans.items():
        cache = tmp_path_factory.mktemp(f"ocr-cache-{s}")
        out[s] = parse_file(path, options=ReadOptions(ocr_cache=cache))
    return out


def _typed(seed: str):
    return parse_file(CORPUS / f"{seed}.txt")


# --- the scans of two seeds --------------------------------------------------------------------------------


@needs_ocr
@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_scanned_seed_gives_the_typed_units_and_metadata(read_scans, seed):
    got = read_scans[seed]
    m = compare(_typed(seed), got)
    assert m.share >= 0.9, f"{m.recovered}/{m.total} units recovered; missing {m.missing}"
    assert m.fields and all(m.fields.values()), m.fields
    info = got.ingest
    assert info.ocr and info.ocr_pages == info.pages >= 3
    assert info.reader.startswith("Tesseract 5") and "(vie)" in info.reader
    assert 60 <= info.ocr_confidence <= 100


@needs_ocr
@pytest.mark.slow
def test_scan_text_has_the_shape_the_parser_expects(read_scans):
    text = read_scans["cam-lo-2023"].original
    # the two-column header, column by column and band by band, not interleaved line by line
    assert re.search(r"ỦY BAN NHÂN DÂN\nHUYỆN CAM LỘ\n\nCỘNG H(?:OÀ|ÒA) XÃ HỘI CHỦ NGHĨA\s+VIỆT NAM\nĐộc lập", text)
    number = next(ln for ln in text.split("\n") if ln.startswith("Số:"))
    assert "ngày" not in number and "Hạnh phúc" not in number
    assert re.search(r"^Cam Lộ, ngày 08 tháng 5 năm 2023$", text, re.M)
    # one paragraph per block: task 2 is one line, its wrapped lines joined
    task2 = next(p for p in text.split("\n\n") if p.startswith("2. "))
    assert "\n" not in task2 and task2.endswith("những năm đầu đời.")
    # the page numbers drawn on pages 2–4 are gone; labels 1.–11. are all there, in order
    assert not re.search(r"^\s*[234]\s*$", text, re.M)
    labels = [int(x) for x in re.findall(r"^(\d{1,2})\. ", text, re.M)]
    assert labels == list(range(1, 12))
    # the signature block beside "Nơi nhận" read as its own column
    assert re.search(r"TM\. ỦY BAN NHÂN DÂN\nKT\. CHỦ TỊCH\nPHÓ CHỦ TỊCH\n+Nguyễn Thanh Bắc", text)


@needs_ocr
@pytest.mark.slow
def test_roman_sections_survive_a_scan(read_scans):
    units = {u.path: u for root in read_scans["tra-cu-2022"].units for u in root.walk()}
    assert {"I", "II", "II.1", "II.9"} <= set(units)
    assert units["II"].kind == "section" and units["II.9"].kind == "task"


# --- photos and TIFF ---------------------------------------------------------------------------------------


@needs_ocr
@pytest.mark.slow
def test_a_phone_photo_on_its_side_is_turned_upright_and_deskewed(printed, tmp_path):
    one_page = _first_page(printed["tra-cu-2022"])
    photo = photo_files(one_page, tmp_path, seed=5)[0]  # stored on its side, EXIF orientation 6, tilted
    with Image.open(photo) as im:
        assert im.getexif().get(0x0112) == 6 and im.width > im.height  # really stored sideways
    got = parse_file(photo, options=ReadOptions(ocr_cache=tmp_path / "cache"))
    assert got.format == "image" and got.ingest.ocr and got.ingest.pages == 1
    meta, typed = got.metadata, _typed("tra-cu-2022").metadata
    assert (meta.number, meta.date, meta.place, meta.doc_type) == (typed.number, typed.date, typed.place,
                                                                    typed.doc_type)
    paths = {u.path for root in got.units for u in root.walk()}
    assert {"I", "I ¶1", "II", "II.1"} <= paths


@needs_ocr
@pytest.mark.slow
def test_a_multipage_tiff_is_read_page_by_page(printed, tmp_path):
    pages = scan_pages(printed["cam-lo-2023"], seed=7)[:2]
    tif = multipage_tiff(pages, tmp_path / "cam-lo.tif")
    got = parse_file(tif, options=ReadOptions(ocr_cache=tmp_path / "cache"))
    assert got.ingest.pages == 2 and got.ingest.ocr_pages == 2
    assert got.metadata.number == "364/UBND-LĐTBXH"
    typed = [u.path for root in _typed("cam-lo-2023").units for u in root.walk()]
    paths = [u.path for root in got.units for u in root.walk()]
    assert len(paths) >= 9 and paths == typed[:len(paths)]  # page 2's tasks follow page 1's


# --- cache, progress, engine missing ----------------------------------------------------------------------


def _first_page(pdf: bytes) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    w.add_page(PdfReader(io.BytesIO(pdf)).pages[0])
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _wrapper(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "tesseract-wrapper"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@needs_ocr
@pytest.mark.slow
def test_a_cache_hit_does_not_run_tesseract_again(printed, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("DIRECTIVES_TESSERACT", str(_wrapper(tmp_path, f'echo "$@" >> {log}\nexec {TESSERACT} "$@"')))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # no ocr_cache given: the user cache
    scan = tmp_path / "page.pdf"
    scan_pdf(_first_page(printed["tra-cu-2022"]), scan, seed=3)
    seen: list[Progress] = []
    opts = ReadOptions(progress=True, on_progress=seen.append)
    first = read_document(scan, options=opts)
    runs = [ln for ln in log.read_text().splitlines() if ln.endswith("tsv")]
    assert runs, "the first read runs Tesseract"
    assert list((tmp_path / "xdg" / "directives" / "ocr").rglob("*.json")), "results cached under $XDG_CACHE_HOME"
    assert seen[0] == Progress("ocr", 0, 1, str(scan)) and seen[-1] == Progress("ocr", 1, 1, str(scan))

    second = read_document(scan, options=opts)
    again = [ln for ln in log.read_text().splitlines() if ln.endswith("tsv")]
    assert again == runs, "a re-read of the same bytes is served from the cache"
    assert second.text == first.text and second.ingest == first.ingest

    scan.write_bytes(scan.read_bytes() + b"\n% a changed file\n")  # other bytes: a new key, OCR'd again
    read_document(scan, options=opts)
    assert len([ln for ln in log.read_text().splitlines() if ln.endswith("tsv")]) > len(runs)


@needs_ocr
def test_a_progress_bar_per_page_on_long_runs(tmp_path, capfd):
    pages = [_text_image(f"Trang {i + 1}: Ủy ban nhân dân huyện triển khai kế hoạch bảo vệ trẻ em.") for i in range(3)]
    path = tmp_path / "three.tif"
    multipage_tiff(pages, path)
    read_image(path, path.read_bytes(), ReadOptions(ocr_cache=tmp_path / "c", progress=True))
    err = capfd.readouterr().err
    assert "OCR three.tif" in err and "3/3" in err and "page" in err


@pytest.mark.skipif(TESSERACT is None, reason="Tesseract missing (make office)")
def test_a_screenshot_with_a_transparent_background_is_read_on_white(tmp_path):
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGBA", (1700, 400), (0, 0, 0, 0))  # black where transparent: Pillow's "L" would be black
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 40)
    ImageDraw.Draw(img).text((80, 150), "Kế hoạch thực hiện công tác trẻ em năm 2022", fill=(0, 0, 0, 255), font=font)
    path = tmp_path / "chup-man-hinh.png"
    img.save(path)
    assert max(img.convert("L").getextrema()) == 0  # a plain conversion leaves black on black
    doc = read_document(path, options=ReadOptions(ocr_cache=tmp_path / "c"))
    from rapidfuzz import fuzz

    assert fuzz.ratio(doc.text, "Kế hoạch thực hiện công tác trẻ em năm 2022") >= 90, doc.text


def test_tesseract_missing_is_a_clear_error(tmp_path, monkeypatch):
    scan = tmp_path / "scan.pdf"
    scan_pdf(_first_page(_typed_pdf()), scan)
    monkeypatch.setenv("DIRECTIVES_TESSERACT", str(tmp_path / "no-such-tesseract"))
    with pytest.raises(ReadError) as e:
        read_document(scan, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert e.value.reason.startswith("tesseract missing") and "tesseract-ocr-vie" in e.value.reason
    assert "scan.pdf" in str(e.value) and "chưa cài Tesseract OCR" in str(e.value)
    photo = tmp_path / "page.png"
    _text_image("Kế hoạch").save(photo)
    with pytest.raises(ReadError, match="tesseract missing"):
        read_document(photo, options=ReadOptions(ocr_cache=tmp_path / "c"))


@pytest.mark.skipif(TESSERACT is None, reason="Tesseract missing (make office)")
def test_tesseract_without_vietnamese_data_is_a_clear_error(tmp_path, monkeypatch):
    fake = _wrapper(tmp_path, f'if [ "$1" = "--list-langs" ]; then echo \'List of available languages in '
                              f'"/nowhere/" (1):\'; echo eng; exit 0; fi\nexec {TESSERACT} "$@"')
    monkeypatch.setenv("DIRECTIVES_TESSERACT", str(fake))
    photo = tmp_path / "page.png"
    _text_image("Kế hoạch").save(photo)
    with pytest.raises(ReadError, match=r"tesseract missing: the 'vie' language data") as e:
        read_document(photo, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert "tesseract-ocr-vie" in str(e.value)


def test_an_image_that_claims_gigapixels_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # a valid PNG header for 100 000 × 100 000 grey pixels, with a few bytes of data: a decompression bomb
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    path = tmp_path / "bomb.png"
    path.write_bytes(png)
    with pytest.raises(ReadError) as e:
        read_document(path, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert e.value.reason.startswith("file too large") and "decompression bomb" in e.value.reason
    assert "bomb.png" in str(e.value)


def test_a_damaged_image_is_a_clear_error(tmp_path):
    path = tmp_path / "half.jpg"
    buf = tmp_path / "full.jpg"
    _text_image("Kế hoạch số 27").save(buf, "JPEG")
    path.write_bytes(buf.read_bytes()[:200])
    with pytest.raises(ReadError, match=r"corrupt image|no text found") as e:
        read_document(path, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert "half.jpg" in str(e.value)


# --- deskew and the layout step, on their own ----------------------------------------------------------------


def _typed_pdf() -> bytes:
    """A one-page PDF with Vietnamese text (fpdf2, DejaVu): quick to make, no LibreOffice needed."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", "", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
    pdf.set_font("DejaVu", size=12)
    pdf.add_page()
    text = (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8").replace("**", "")
    pdf.multi_cell(0, 7, text[:2500])
    return bytes(pdf.output())


def _text_image(text: str, size: tuple[int, int] = (1700, 600)) -> Image.Image:
    from PIL import ImageDraw, ImageFont

    img = Image.new("L", size, 250)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 40)
    ImageDraw.Draw(img).text((80, 200), text, fill=10, font=font)
    return img


def test_deskew_finds_the_tilt_of_a_page():
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(_typed_pdf())[0].render(scale=150 / 72, grayscale=True).to_pil()
    for angle in (-2.4, -0.9, 0.0, 1.3, 3.5):
        tilted = page.rotate(angle, resample=Image.BICUBIC, fillcolor=255)
        assert estimate_skew(tilted) == pytest.approx(-angle, abs=0.15)


def test_the_fast_median_is_pillows_median():
    import numpy as np
    from PIL import ImageFilter

    from indexer.reading.deskew import median3

    noisy = Image.fromarray((np.random.default_rng(0).random((301, 257)) * 255).astype(np.uint8))
    assert np.array_equal(np.asarray(median3(noisy)), np.asarray(noisy.filter(ImageFilter.MedianFilter(3))))


H = 40  # word height of the synthetic pages below


def _line(text: str, x: int, y: int, *, block: int, line: int, zone: int = 0, gap: int = 14) -> list[Word]:
    words, out = text.split(), []
    for w in words:
        width = int(len(w) * 0.55 * H)
        out.append(Word(w, 95.0, x, y, width, H, block, 1, line, zone))
        x += width + gap
    return out


def _para(label: str | None, text: str, y: int, *, block: int, label_x: int = 200, text_x: int = 275,
          width: int = 60) -> tuple[list[Word], int]:
    """A hanging-indent paragraph: the label alone at ``label_x``, the text wrapped at ``width`` characters."""
    lines, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    words: list[Word] = []
    for i, ln in enumerate(lines):
        if i == 0 and label is not None:
            words.append(Word(label, 40.0, label_x, y, int(len(label) * 0.5 * H), H, block, 1, 1))
        words += _line(ln, text_x, y, block=block, line=i + 1)
        y += int(1.5 * H)
    return words, y + H // 2


LOREM = ("Tiếp tục tổ chức thực hiện hiệu quả các nghị quyết chương trình đề án kế hoạch của tỉnh về công tác "
         "chăm sóc giáo dục bảo vệ trẻ em và giải quyết các vấn đề về trẻ em theo quy định của pháp luật hiện hành.")


def test_garbled_list_labels_are_renumbered_from_the_sequence():
    words, y = [], 300
    for label in ("1,", "Bễ", "KỆ", "4.", "5:"):
        got, y = _para(label, LOREM, y, block=len(words) + 1)
        words += got
    text = render_pages([OcrPage(1, 2400, 3400, words)])[0]
    assert re.findall(r"^(\S+) Tiếp tục", text, re.M) == ["1.", "2.", "3.", "4.", "5."]
    assert text.count("\n\n") == 4 and "\n" not in text.replace("\n\n", "")  # five paragraphs, lines joined


def test_a_roman_section_restarts_the_numbering():
    words, y = [], 300
    for label, x in (("Lˆ", 120), ("1.", 200), ("Bễ", 200), ("H.", 120), ("l.", 200), ("2", 200)):
        body = "MỤC TIÊU VÀ NHIỆM VỤ" if x == 120 else LOREM
        got, y = _para(label, body, y, block=len(words) + 1, label_x=x, text_x=x + 75)
        words += got
    text = render_pages([OcrPage(1, 2400, 3400, words)])[0]
    assert re.findall(r"^(\S+) (?:Tiếp tục|MỤC TIÊU)", text, re.M) == ["I.", "1.", "2.", "II.", "1.", "2."]
    doc = parse_text(text, doc_id="x")
    assert [u.path for root in doc.units for u in root.walk()] == ["I", "I.1", "I.2", "II", "II.1", "II.2"]


def test_the_count_runs_across_pages_and_trusts_a_clean_repeat_only_when_it_is_not_one():
    pages, y = [], 300
    for n, labels in enumerate((("III.", "1.", "2."), ("2)", "4", "€", "IV.")), start=1):
        words, y = [], 300
        for label in labels:
            roman = label.rstrip(".").isalpha()
            got, y = _para(label, "KINH PHÍ THỰC HIỆN" if roman else LOREM, y, block=len(words) + 1,
                           label_x=120 if roman else 200, text_x=195 if roman else 275)
            words += got
        pages.append(OcrPage(n, 2400, 3400, words))
    texts = render_pages(pages)
    found = [re.findall(r"^(\S+) (?:Tiếp tục|KINH PHÍ)", t, re.M) for t in texts]
    # "2)" among "1." "2." is "3."; "4" lost its dot; "€" is what comes next; a running paragraph is no section
    assert found == [["III.", "1.", "2."], ["3.", "4.", "5.", "IV."]]


def test_a_two_column_header_is_read_column_by_column():
    rows = [("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            ("HUYỆN CAM LỘ", "Độc lập - Tự do - Hạnh phúc"),
            (None, None),
            ("Số: 364/UBND-LĐTBXH", "Cam Lộ, ngày 08 tháng 5 năm 2023"),
            ("V/v hướng dẫn triển khai", None)]
    words, y = [], 200
    for i, (left, right) in enumerate(rows):
        if left:
            words += _line(left, 250, y, block=1, line=i + 1)
        if right:
            words += _line(right, 1250, y, block=1, line=i + 1)  # one Tesseract line across the gutter
        y += int(1.5 * H)
    words += _line("Kính gửi: Các phòng ban ngành của huyện", 200, y + 2 * H, block=2, line=1)
    words += _line(LOREM[:95], 200, y + 4 * H, block=3, line=1)
    words += _line(LOREM[95:190], 200, y + int(5.5 * H), block=3, line=2)
    text = render_pages([OcrPage(1, 2400, 3400, words)])[0]
    assert text.startswith("ỦY BAN NHÂN DÂN\nHUYỆN CAM LỘ\n\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
                           "Độc lập - Tự do - Hạnh phúc\n\nSố: 364/UBND-LĐTBXH\nV/v hướng dẫn triển khai\n\n"
                           "Cam Lộ, ngày 08 tháng 5 năm 2023\n\nKính gửi:")
    meta = parse_text(text, doc_id="x").metadata
    assert (meta.issuer, meta.number, meta.date, meta.place) == ("UBND huyện Cam Lộ", "364/UBND-LĐTBXH",
                                                                  "2023-05-08", "Cam Lộ")


def test_page_numbers_and_running_headers_are_dropped():
    pages = []
    for n in range(1, 4):
        words = []
        if n > 1:
            words += _line(str(n), 1180, 120, block=1, line=1)  # top centre, as Nghị định 30 puts it
            words += _line("Kế hoạch số 27/KH-UBND ngày 16/3/2022", 200, 220, block=2, line=1)
        got, _ = _para(f"{n}.", LOREM, 400, block=3)
        pages.append(OcrPage(n, 2400, 3400, words + got))
    texts = render_pages(pages)
    assert [t.split(" ", 1)[0] for t in texts] == ["1.", "2.", "3."]
    assert all("Kế hoạch số" not in t for t in texts)
