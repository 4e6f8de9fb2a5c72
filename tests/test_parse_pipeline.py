"""A corpus batch of real formats and bad files: every readable document parsed, every bad one reported by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from indexer.parsing.pipeline import parse_corpus, parse_file
from indexer.reading import encode_legacy

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def seed(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


def write_docx(path: Path, text: str) -> None:
    import docx

    doc = docx.Document()
    for block in text.split("\n\n"):
        block = block.strip()
        if not block:
            continue
        bold = block.startswith("**") and block.endswith("**")
        run = doc.add_paragraph().add_run(block.strip("*").replace("**", "").replace("\n", " "))
        run.bold = bold
    doc.save(str(path))


def write_pdf(path: Path, text: str) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=10)
    for block in text.replace("**", "").split("\n\n"):
        if block.strip():
            pdf.multi_cell(0, 5, block.strip().replace("\n", " "))
            pdf.ln(4)
    pdf.output(str(path))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    (d / "cam-lo.txt").write_text(seed("cam-lo-2023"), encoding="utf-8")
    (d / "tra-cu-utf16.txt").write_bytes(seed("tra-cu-2022").encode("utf-16"))  # with BOM
    nfd = unicodedata.normalize("NFD", seed("kien-giang-2017"))
    (d / "kien-giang-1258.txt").write_bytes(encode_legacy(nfd, "cp1258"))
    write_docx(d / "lang-son.docx", seed("lang-son-2023"))
    if FONT.exists():
        write_pdf(d / "dak-nong.pdf", seed("dak-nong-2024"))
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "copy-of-cam-lo.md").write_text(seed("cam-lo-2023"), encoding="utf-8")
    (d / "broken.docx").write_bytes((d / "lang-son.docx").read_bytes()[:500])
    docs, errors = parse_corpus(d)
    return {x.doc_id: x for x in docs}, {e.source: e.reason for e in errors}


def test_bad_files_reported_by_name_and_others_read(batch):
    docs, errors = batch
    assert set(errors) == {"empty.txt", "binary.txt", "broken.docx", "copy-of-cam-lo.md"}
    assert "empty" in errors["empty.txt"]
    assert "binary" in errors["binary.txt"]
    assert "duplicate of cam-lo.txt" in errors["copy-of-cam-lo.md"]
    expected = {"cam-lo", "tra-cu-utf16", "kien-giang-1258", "lang-son"} | ({"dak-nong"} if FONT.exists() else set())
    assert set(docs) == expected


def test_encodings_give_the_same_directive(batch):
    docs, _ = batch
    tc = docs["tra-cu-utf16"]
    assert tc.encoding.lower().startswith("utf-16")
    assert tc.metadata.number == "27/KH-UBND" and tc.metadata.date == "2022-03-16"
    kg = docs["kien-giang-1258"]
    assert kg.encoding == "cp1258"
    ref = parse_file(CORPUS / "kien-giang-2017.txt")
    assert kg.text == ref.text
    assert [c.path for c in kg.chunks] == [c.path for c in ref.chunks]


def test_docx_keeps_structure(batch):
    docs, _ = batch
    ls = docs["lang-son"]
    assert ls.format == "docx"
    assert [u.path for u in ls.units if u.kind == "section"] == ["I", "II", "III", "IV", "V", "V (2)"]
    assert ls.metadata.date == "2023" and ls.metadata.doc_type == "Kế hoạch"
    assert any("Quan tâm bố trí ngân sách địa phương" in c.text for c in ls.chunks)


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu font (fonts-dejavu-core) not installed")
def test_pdf_text_layer(batch):
    docs, _ = batch
    dn = docs["dak-nong"]
    assert dn.format == "pdf"
    assert dn.metadata.number == "1434/UBND-KGVX"
    assert dn.metadata.date == "2024-03-14"
    assert [u.label for u in dn.units if u.kind == "task"] == [str(i) for i in range(1, 11)]
    assert dn.units[1].agency == "Sở Lao động - Thương binh và Xã hội"


def test_sidecar_override_wins_and_parsed_value_kept(tmp_path):
    (tmp_path / "ls.txt").write_text(seed("lang-son-2023"), encoding="utf-8")
    (tmp_path / "ls.meta.yaml").write_text("number: 1234/KH-SLĐTBXH\ndate: 2023-04-05\n", encoding="utf-8")
    d = parse_file(tmp_path / "ls.txt", root=tmp_path)
    assert d.metadata.number == "1234/KH-SLĐTBXH" and d.metadata.date == "2023-04-05"
    assert d.metadata.parsed["date"] == "2023" and d.metadata.overrides["number"] == "1234/KH-SLĐTBXH"


def test_cli_parse_text_and_json():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "indexer.cli", "parse", str(CORPUS / "cam-lo-2023.txt")],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "364/UBND-LĐTBXH" in out and "UBND huyện Cam Lộ" in out and "Quảng Trị" in out
    assert "\n    4 • 2 " in out  # the tree, indented
    js = subprocess.run([sys.executable, "-m", "indexer.cli", "parse", "--json", str(CORPUS / "tra-cu-2022.txt")],
                        capture_output=True, text=True, env=env, check=True).stdout
    data = json.loads(js)
    assert data["metadata"]["province_current"] == "Vĩnh Long"
    assert [u["path"] for u in data["units"] if u["kind"] == "section"] == ["I", "II"]
    bad = subprocess.run([sys.executable, "-m", "indexer.cli", "parse", str(CORPUS / "nope.txt")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "nope.txt" in bad.stderr
