"""PDF → text: the text layer page by page (pages separated by a blank line; the parser repairs breaks)."""

from __future__ import annotations

import io
from pathlib import Path

from indexer.reading.document import Extracted, ReadOptions
from indexer.reading.errors import ReadError

__all__ = ["read_pdf"]


def read_pdf(path: Path, data: bytes, opts: ReadOptions) -> Extracted:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("", "password-protected PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except ReadError:
        raise
    except Exception as e:  # pypdf raises PdfReadError, ValueError, KeyError… on damaged files
        raise ReadError("", f"corrupt PDF: {type(e).__name__}: {e}") from e
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise ReadError("", "no text layer (scanned PDF?)")
    return Extracted(text=text, reader="pypdf (text layer)", encoding="pdf", pages=len(pages))
