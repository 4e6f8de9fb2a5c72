"""The per-file ingest report of `directives parse` and `directives index`: format, reader, pages, OCR,
units found and warnings for every file, and the same as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.office_files import docx_from_text, numbering_docx
from indexer.build import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
CLI = [sys.executable, "-m", "indexer.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ingest")
    docx_from_text((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8"), d / "cam-lo.docx")
    numbering_docx(d / "numbering.docx")
    (d / "broken.docx").write_bytes(b"PK\x03\x04 truncated")
    (d / "notes.txt").write_text((CORPUS / "kien-giang-2017.txt").read_text(encoding="utf-8"), encoding="utf-8")
    return d


def test_parse_report_lines(files: Path):
    out = run("parse", "--report", str(files / "cam-lo.docx"), str(files / "numbering.docx"),
              str(files / "broken.docx"), str(files / "notes.txt"))
    assert out.returncode == 1  # one file failed; the others are reported
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"== {files / 'cam-lo.docx'}  docx · Word XML (numbering resolved) · 18 đơn vị (11 nhiệm vụ)")
    assert "    cảnh báo: tracked changes accepted" in lines
    assert "    cảnh báo: numbering from style" in lines
    assert any(ln.startswith(f"== {files / 'notes.txt'}  txt · plain text · 13 đơn vị (7 nhiệm vụ)") for ln in lines)
    assert f"{files / 'broken.docx'}  LỖI: corrupt .docx" in out.stderr


def test_parse_json_carries_the_same_report(files: Path):
    out = run("parse", "--json", str(files / "cam-lo.docx"), str(files / "broken.docx"))
    data = json.loads(out.stdout)
    ok, bad = data
    assert ok["report"] == {**ok["report"], "status": "ok", "format": "docx", "units": 18, "tasks": 11,
                            "chunks": len(ok["chunks"]), "ocr": False, "warnings": ["tracked changes accepted"]}
    assert ok["ingest"]["reader"] == "Word XML (numbering resolved)"
    assert bad["report"]["status"] == "error" and bad["report"]["error"].startswith("corrupt .docx")


def test_index_reports_each_file_it_read(files: Path, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("cam-lo.docx", "broken.docx"):
        (corpus / name).write_bytes((files / name).read_bytes())
    report = build_index(corpus, tmp_path / "index", progress=False)
    by = {f.source: f for f in report.files}
    assert by["cam-lo.docx"].status == "ok" and by["cam-lo.docx"].tasks == 11
    assert by["broken.docx"].status == "error"
    assert "cam-lo.docx  docx · Word XML (numbering resolved)" in report.summary()
    out = run("index", "--json", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"))
    # unchanged files are not read again; a file that failed is tried again at every build
    assert [f["source"] for f in json.loads(out.stdout)["files"]] == ["broken.docx"]
    (corpus / "notes.txt").write_bytes((files / "notes.txt").read_bytes())
    out = run("index", "--json", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"))
    files_read = json.loads(out.stdout)["files"]
    assert [(f["source"], f["status"], f["tasks"]) for f in files_read] == [("broken.docx", "error", 0), ("notes.txt", "ok", 7)]
