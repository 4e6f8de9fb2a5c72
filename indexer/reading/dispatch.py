"""One entry point, ``read_document``: check the file, pick the reader by extension, fill the ingest info."""

from __future__ import annotations

import hashlib
from pathlib import Path

from indexer.models import IngestInfo
from indexer.reading.document import RawDocument, ReadOptions
from indexer.reading.docx import read_docx
from indexer.reading.encodings import decode_bytes
from indexer.reading.errors import ReadError
from indexer.reading.html import decode_html, html_to_text
from indexer.reading.pdf import read_pdf

__all__ = ["SUFFIXES", "read_document"]

_TEXT_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
SUFFIXES = frozenset(_TEXT_FORMATS) | {".docx", ".pdf"}


def _load(path: Path, max_bytes: int) -> bytes:
    src = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReadError(src, f"file too large: {size} bytes > limit {max_bytes}")
        data = path.read_bytes()
    except OSError as e:
        raise ReadError(src, f"cannot open: {e.strerror or e}") from e
    if len(data) > max_bytes:  # grew since stat
        raise ReadError(src, f"file too large: {len(data)} bytes > limit {max_bytes}")
    if not data.strip():
        raise ReadError(src, "empty file")
    return data


def read_document(path: Path, *, max_bytes: int | None = None, options: ReadOptions | None = None) -> RawDocument:
    """Read one document file into text; ``ReadError`` (naming the file) on any failure."""
    opts = options or ReadOptions()
    path = Path(path)
    src = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReadError(src, f"unsupported format: '{suffix or path.name}' (use .txt, .md, .docx, .pdf, .html)")
    data = _load(path, max_bytes or opts.max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    try:
        if suffix == ".docx":
            text, enc, fmt, reader = read_docx(path), "utf-8", "docx", "python-docx"
        elif suffix == ".pdf":
            text, enc, fmt, reader = read_pdf(path), "pdf", "pdf", "pypdf"
        elif _TEXT_FORMATS[suffix] == "html":
            raw, enc = decode_html(data)
            text, fmt, reader = html_to_text(raw), "html", "html"
        else:
            text, enc = decode_bytes(data)
            fmt, reader = _TEXT_FORMATS[suffix], "text"
    except ReadError as e:
        raise e.at(src) from e.__cause__
    if not text.strip():
        raise ReadError(src, "empty file")
    if "\r" in text and "\n" not in text:  # classic Mac line ends
        text = text.replace("\r", "\n")
    return RawDocument(source=src, format=fmt, encoding=enc, text=text, content_hash=digest,
                       ingest=IngestInfo(reader=reader))
