"""PDF reading: the text layer where there is one, OCR only where there is none, and bad PDFs reported.

The files are made here: fpdf2 writes Vietnamese text pages, Pillow packs images alone into PDF pages (a
scan), pypdf mixes the two, encrypts a copy and breaks a page's content stream.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject

from eval.office_files import pack_pdf, scan_pdf
from indexer.parsing.pipeline import parse_file
from indexer.progress import Progress
from indexer.reading import ReadError, ReadOptions, read_document
from indexer.reading.pdf import MAX_PIXELS, _renderer, read_pdf

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract missing (make office)")

PAGES = [
    "Trang một. Ủy ban nhân dân huyện Trà Cú xây dựng kế hoạch thực hiện công tác trẻ em năm 2022 trên địa bàn "
    "huyện, cụ thể như sau.",
    "Trang hai. Đẩy mạnh và đổi mới các hoạt động truyền thông, phổ biến giáo dục pháp luật, kiến thức, kỹ năng "
    "thực hiện quyền trẻ em, bổn phận của trẻ em phù hợp với từng nhóm đối tượng.",
    "Trang ba. Triển khai Tháng hành động vì trẻ em năm 2022 với chủ đề chung tay bảo vệ trẻ em, hãy lên tiếng "
    "phòng, chống xâm hại, bạo lực trẻ em.",
]


def typed_pdf(texts: list[str] = PAGES) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", "", SERIF)
    pdf.set_font("DejaVu", size=13)
    for t in texts:
        pdf.add_page()
        pdf.multi_cell(0, 8, t)
    return bytes(pdf.output())


def pages_of(*sources: tuple[bytes, int]) -> bytes:
    """A PDF made of the given (pdf, page index) pages, in order."""
    w = PdfWriter()
    for data, i in sources:
        w.add_page(PdfReader(io.BytesIO(data)).pages[i])
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def flat(text: str) -> list[str]:
    """The pages of a read text, each with its line breaks made spaces (the text layer wraps lines)."""
    return [" ".join(p.split()) for p in text.split("\n\n")]


def _read(path: Path, tmp_path: Path, **kw) -> tuple:
    opts = ReadOptions(ocr_cache=tmp_path / "ocr-cache", **kw)
    return read_pdf(path, path.read_bytes(), opts), opts


def test_text_layer_pages_are_read_without_ocr(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRECTIVES_TESSERACT", str(tmp_path / "absent"))  # OCR must not even be looked for
    path = tmp_path / "typed.pdf"
    path.write_bytes(typed_pdf())
    got, _ = _read(path, tmp_path)
    assert got.reader == "pypdf (text layer)" and got.pages == 3 and got.ocr_pages == 0
    assert flat(got.text) == PAGES  # a blank line between pages
    assert got.ocr_confidence is None and got.warnings == []


@needs_tesseract
def test_a_mixed_pdf_ocrs_only_its_scanned_page(tmp_path):
    typed = typed_pdf()
    scanned = scan_pdf(typed, seed=4)  # the same pages, as images
    path = tmp_path / "mixed.pdf"
    path.write_bytes(pages_of((typed, 0), (scanned, 1), (typed, 2)))
    seen: list[Progress] = []
    got, _ = _read(path, tmp_path, on_progress=seen.append)
    assert got.pages == 3 and got.ocr_pages == 1
    assert got.reader.startswith("pypdf (text layer) + Tesseract 5") and got.reader.endswith("(vie) on 1 of 3 pages")
    first, second, third = flat(got.text)
    assert first == PAGES[0] and third == PAGES[2]  # the typed pages' own text, untouched
    from rapidfuzz import fuzz

    assert fuzz.ratio(second, PAGES[1]) >= 90, second  # the scanned page, read by OCR
    assert [p.total for p in seen] == [1, 1] and {p.stage for p in seen} == {"ocr"}
    doc = read_document(path, options=ReadOptions(ocr_cache=tmp_path / "ocr-cache"))
    assert doc.ingest.ocr and doc.ingest.ocr_pages == 1 and doc.encoding == "ocr"


def test_a_password_protected_pdf_is_a_clear_error(tmp_path):
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(typed_pdf())))
    w.encrypt(user_password="bí-mật", owner_password="chủ", algorithm="RC4-128")
    path = tmp_path / "khoa.pdf"
    with open(path, "wb") as f:
        w.write(f)
    with pytest.raises(ReadError) as e:
        read_document(path)
    assert e.value.reason.startswith("password-protected PDF") and "khoa.pdf" in str(e.value)
    assert "tệp được đặt mật khẩu" in str(e.value)


def test_a_pdf_locked_only_against_editing_is_read(tmp_path):
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(typed_pdf())))
    w.encrypt(user_password="", owner_password="chủ", algorithm="RC4-128")  # opens without a password
    path = tmp_path / "owner-only.pdf"
    with open(path, "wb") as f:
        w.write(f)
    got, _ = _read(path, tmp_path)
    assert flat(got.text) == PAGES


def test_a_damaged_page_is_a_warning_and_the_rest_is_read(tmp_path):
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(typed_pdf())))
    bad = StreamObject()
    bad._data = b"x\x9c not a deflate stream at all " * 20
    bad[NameObject("/Filter")] = NameObject("/FlateDecode")
    w.pages[1][NameObject("/Contents")] = w._add_object(bad)
    path = tmp_path / "hong.pdf"
    with open(path, "wb") as f:
        w.write(f)
    got, _ = _read(path, tmp_path)
    assert flat(got.text) == [PAGES[0], PAGES[2]]
    assert len(got.warnings) == 1 and got.warnings[0].startswith("page 2: damaged")
    d = parse_file(path, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert d.ingest.warnings == got.warnings  # reported per file


def _line_page(text: str, size=(850, 1100)) -> Image.Image:
    img = Image.new("L", size, 248)
    ImageDraw.Draw(img).text((60, 120), text, fill=15, font=ImageFont.truetype(SERIF, 30))
    return img


@needs_tesseract
def test_a_300_page_scan_stops_at_the_page_cap_in_bounded_time(tmp_path):
    pages = [_line_page(f"Trang {i + 1}: kế hoạch bảo vệ trẻ em năm 2024") for i in range(300)]
    path = tmp_path / "dai.pdf"
    pack_pdf(pages, path, dpi=100)
    t0 = time.perf_counter()
    got, _ = _read(path, tmp_path, ocr_max_pages=3)
    seconds = time.perf_counter() - t0
    assert got.pages == 300 and got.ocr_pages == 3
    assert any(w.startswith("OCR limit: 3 of 300 scanned pages read") and "page(s) 4–300 not read" in w
               for w in got.warnings), got.warnings
    assert [ln.split(":")[0] for ln in got.text.split("\n\n")] == ["Trang 1", "Trang 2", "Trang 3"]
    assert seconds < 120, f"{seconds:.0f} s for 3 OCR'd pages of a 300-page file"


def test_a_huge_page_is_rendered_within_the_pixel_cap():
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(14000, 14000))  # a 5-metre page
    pdf.add_page()
    pdf.set_font("helvetica", size=400)
    pdf.text(500, 2000, "Poster")
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(bytes(pdf.output()))
    image, _skew, dpi = _renderer(doc, 1)()
    assert image.width * image.height <= MAX_PIXELS * 1.01 and dpi < 300


@needs_tesseract
def test_an_image_only_pdf_of_a_photograph_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(1)
    w, h = 1600, 1200
    y = np.linspace(0, 1, h)[:, None, None]
    sky = np.concatenate([120 + 100 * y, 160 + 60 * y, 230 - 40 * y], axis=2) * np.ones((1, w, 1))
    img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(25):  # hills, trees, a river: blobs of colour
        cx, cy, r = rng.integers(0, w), rng.integers(h // 3, h), rng.integers(40, 260)
        draw.ellipse((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=tuple(int(c) for c in rng.integers(20, 200, 3)))
    img = img.filter(ImageFilter.GaussianBlur(3))
    img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + rng.normal(0, 12, (h, w, 3)), 0, 255)
                          .astype(np.uint8))
    path = tmp_path / "anh-chup.pdf"
    pack_pdf([img], path, dpi=150)
    with pytest.raises(ReadError) as e:
        read_document(path, options=ReadOptions(ocr_cache=tmp_path / "c"))
    assert e.value.reason.startswith("no text found") and "photograph" in e.value.reason
    assert "anh-chup.pdf" in str(e.value) and "không tìm thấy chữ" in str(e.value)


def test_ocr_turned_off_says_so(tmp_path):
    path = tmp_path / "scan.pdf"
    scan_pdf(typed_pdf(PAGES[:1]), path)
    with pytest.raises(ReadError, match=r"no text layer .* OCR is turned off"):
        read_pdf(path, path.read_bytes(), ReadOptions(ocr=False))


def test_a_mixed_pdf_without_tesseract_keeps_its_typed_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRECTIVES_TESSERACT", str(tmp_path / "absent"))
    typed = typed_pdf()
    path = tmp_path / "mixed.pdf"
    path.write_bytes(pages_of((typed, 0), (scan_pdf(typed), 1)))
    got, _ = _read(path, tmp_path)
    assert flat(got.text) == [PAGES[0]] and got.ocr_pages == 0
    assert len(got.warnings) == 1 and "page(s) 2 have no text layer and were not read: tesseract missing" in \
        got.warnings[0]
