"""Reading seed text in every supported encoding and format, and failing cleanly on bad files."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from pathlib import Path

import pytest

from indexer.reading import RawDocument, ReadError, decode_bytes, encode_legacy, read_document
from indexer.textnorm import normalize_text, syllables

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = sorted(CORPUS.glob("*.txt"))
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _words(text: str) -> list[str]:
    return syllables(normalize_text(text))


def _paragraph(text: str) -> str:
    """A long body paragraph of a seed (no markdown): the sample for legacy-encoding round trips."""
    paras = [p for p in text.split("\n\n") if "*" not in p and "#" not in p and p.rstrip().endswith((".", ";"))]
    return max(paras, key=len)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_seed_read_as_txt(path: Path):
    raw = path.read_bytes()
    doc = read_document(path)
    assert isinstance(doc, RawDocument)
    assert doc.text == raw.decode("utf-8") and doc.encoding == "utf-8" and doc.format == "txt"
    assert doc.content_hash == hashlib.sha256(raw).hexdigest()
    assert doc.source == str(path)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_unicode_encodings(path: Path, encoding: str):
    seed = path.read_text(encoding="utf-8")
    text, enc = decode_bytes(seed.encode(encoding))
    assert text == seed
    assert enc.startswith(encoding.split("-")[0] + "-")


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_cp1258_decomposed(path: Path):
    seed = path.read_text(encoding="utf-8")
    data = encode_legacy(seed, "cp1258")
    # Windows-1258 writes tones as separate combining bytes; Python's codec must agree with our encoder
    assert unicodedata.normalize("NFC", data.decode("cp1258")) == seed
    assert data.decode("cp1258") != seed  # really decomposed on disk
    text, enc = decode_bytes(data)
    assert (text, enc) == (seed, "cp1258")


def test_cp1258_via_python_codec_on_nfd_text():
    """Text decomposed the Windows-1258 way (base letter + one tone mark) encoded by Python's own codec."""
    seed = _paragraph((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8"))
    tones = "\u0300\u0301\u0303\u0309\u0323"
    parts = []
    for ch in seed:
        d = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in d if c not in tones))
        parts.append(base + "".join(c for c in d if c in tones))
    data = "".join(parts).encode("cp1258")
    assert decode_bytes(data) == (seed, "cp1258")


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_8bit_round_trip(path: Path, encoding: str):
    seed = path.read_text(encoding="utf-8")
    para = _paragraph(seed)
    data = encode_legacy(para, encoding)
    assert max(data) >= 0x80 and data != para.encode("utf-8")
    assert decode_bytes(data) == (para, encoding)
    text, enc = decode_bytes(encode_legacy(seed, encoding))  # whole seed, capitals included
    assert enc == encoding
    assert text.lower() == seed.lower()
    assert _words(text) == _words(seed)


def test_tcvn3_capitals_recovered():
    seed = (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8")
    text, _ = decode_bytes(encode_legacy(seed, "tcvn3"))
    assert "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Cam Lộ, ngày" in text


def _mojibake(text: str) -> str:
    out = []
    for b in text.encode("utf-8"):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_double_encoded_utf8_repaired(path: Path):
    seed = path.read_text(encoding="utf-8")
    broken = _mojibake(seed)
    assert "á»" in broken or "Ã" in broken
    text, enc = decode_bytes(broken.encode("utf-8"))
    assert text == seed and "repaired" in enc


def test_plain_utf8_with_latin_letters_untouched():
    s = "Thực hiện Công văn số 530 — café, naïve, Â¬ không phải lỗi mã hóa."
    assert decode_bytes(s.encode("utf-8")) == (s, "utf-8")


def _write_docx(path: Path, seed: str) -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document()
    for para in seed.split("\n\n"):
        para = para.strip()
        if not para:
            continue
        if para.startswith("**") and para.endswith("**") and para.count("**") == 2:
            d.add_paragraph().add_run(para[2:-2]).bold = True
        else:
            d.add_paragraph(para.replace("**", ""))
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Nơi nhận: Như trên"
    table.cell(0, 1).text = "KT. CHỦ TỊCH"
    d.save(str(path))


def test_docx(tmp_path: Path):
    seed = (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8")
    path = tmp_path / "cam-lo.docx"
    _write_docx(path, seed)
    doc = read_document(path)
    assert doc.format == "docx"
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    # a bold paragraph stays visible, line by line (a manual line break inside it keeps each line bold)
    assert doc.text.startswith("**ỦY BAN NHÂN DÂN**\n**HUYỆN CAM LỘ**\n\n**CỘNG HOÀ")
    assert doc.text.endswith("Nơi nhận: Như trên\n\nKT. CHỦ TỊCH")  # table cells, in order
    assert _words(doc.text) == _words(seed) + _words("Nơi nhận: Như trên KT. CHỦ TỊCH")


def test_pdf(tmp_path: Path):
    if not DEJAVU.exists():
        pytest.skip(f"DejaVu font missing at {DEJAVU}: cannot write Vietnamese into a test PDF")
    fpdf = pytest.importorskip("fpdf")
    seed = (CORPUS / "tra-cu-2022.txt").read_text(encoding="utf-8")
    pdf = fpdf.FPDF()
    pdf.add_font("DejaVu", "", str(DEJAVU))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, seed.replace("**", ""))
    path = tmp_path / "tra-cu.pdf"
    pdf.output(str(path))
    doc = read_document(path)
    assert doc.format == "pdf" and "\n\n" in doc.text  # more than one page, separated by a blank line
    assert _words(doc.text) == _words(seed)


def test_pdf_without_text_layer(tmp_path: Path):
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 50, 30, style="F")  # a "scan": drawing, no text
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(ReadError, match="no text layer") as e:
        read_document(path)
    assert "scan.pdf" in str(e.value)


def test_html(tmp_path: Path):
    seed = (CORPUS / "kien-giang-2017.txt").read_text(encoding="utf-8")
    body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in seed.replace("**", "").split("\n\n") if p)
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Kế hoạch</title>"
        "<style>p { color: red }</style><script>var x = 'không hiện';</script></head>"
        f"<body><h2>KẾ HOẠCH</h2>{body}<ul><li>mục một</li><li>mục hai</li></ul><!-- ghi chú --></body></html>"
    )
    path = tmp_path / "kien-giang.html"
    path.write_text(html, encoding="utf-8")
    doc = read_document(path)
    assert doc.format == "html"
    assert doc.text.startswith("## KẾ HOẠCH\n\n")
    assert "không hiện" not in doc.text and "color" not in doc.text and "ghi chú" not in doc.text
    assert doc.text.endswith("- mục một\n\n- mục hai")
    assert _words(doc.text) == _words("KẾ HOẠCH") + _words(seed) + _words("mục một mục hai")


def test_md_and_utf16_files(tmp_path: Path):
    seed = (CORPUS / "dak-nong-2024.txt").read_text(encoding="utf-8")
    md = tmp_path / "dak-nong.md"
    md.write_text(seed, encoding="utf-8")
    assert read_document(md).format == "md"
    u16 = tmp_path / "dak-nong.txt"
    u16.write_bytes(seed.encode("utf-16"))
    doc = read_document(u16)
    assert doc.text == seed and doc.encoding == "utf-16-le"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \r\n\n\t ", "empty file"),
        ("blank16.txt", "   \n ".encode("utf-16"), "empty file"),
        ("noise.txt", bytes(random.Random(7).randrange(256) for _ in range(4000)) + b"\x00\x00\x01", "binary file"),
        ("latin.txt", "Ceci n'est pas du vietnamien, ça c'est sûr. Élève à l'école.".encode("latin-1"),
         "unknown encoding"),
        ("notes.xyz", "trẻ em".encode(), "unsupported format"),
    ],
)
def test_bad_text_files(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError) as e:
        read_document(path)
    assert e.value.reason.startswith(reason)
    assert e.value.source == str(path) and name in str(e.value) and reason in str(e.value)


def test_truncated_docx(tmp_path: Path):
    full = tmp_path / "full.docx"
    _write_docx(full, (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8"))
    broken = tmp_path / "broken.docx"
    broken.write_bytes(full.read_bytes()[:500])
    with pytest.raises(ReadError, match=r"corrupt \.docx") as e:
        read_document(broken)
    assert "broken.docx" in str(e.value)


def test_truncated_pdf(tmp_path: Path):
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Ke hoach tre em 2023")
    path = tmp_path / "broken.pdf"
    path.write_bytes(bytes(pdf.output())[:300])
    with pytest.raises(ReadError) as e:
        read_document(path)
    assert "broken.pdf" in str(e.value) and ("corrupt PDF" in e.value.reason or "no text layer" in e.value.reason)


def test_oversize(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_bytes(SEEDS[0].read_bytes())
    with pytest.raises(ReadError, match=r"file too large: \d+ bytes > limit 1000") as e:
        read_document(path, max_bytes=1000)
    assert "big.txt" in str(e.value)
    assert read_document(path, max_bytes=10**6).text


def test_missing_file(tmp_path: Path):
    with pytest.raises(ReadError, match="cannot open"):
        read_document(tmp_path / "absent.txt")
