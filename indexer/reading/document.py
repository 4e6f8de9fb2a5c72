"""What a reader returns (``RawDocument``) and what it may be told (``ReadOptions``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from indexer.models import IngestInfo
from indexer.progress import ProgressFn, ignore

MAX_BYTES = 50_000_000  # a directive is rarely over 5 MB; a 300-page scan is ~30–60 MB


@dataclass
class ReadOptions:
    max_bytes: int = MAX_BYTES
    ocr: bool = True  # OCR pages and images that have no text
    ocr_cache: Path | None = None  # directory of OCR results by content hash (None: the user cache)
    ocr_max_pages: int = 60  # pages OCR'd per file; the rest are reported, not read
    progress: bool = False  # bars on stderr for long runs
    on_progress: ProgressFn = ignore


@dataclass
class Extracted:
    """What one format reader found: the text, and how it got it (the dispatcher adds hash and source)."""

    text: str
    reader: str  # "Word (numbering resolved)", "LibreOffice → .docx", "pypdf", "Tesseract 5 (vie)" …
    encoding: str = "utf-8"
    pages: int | None = None
    ocr_pages: int = 0
    ocr_confidence: float | None = None
    warnings: list[str] = field(default_factory=list)

    def ingest(self) -> IngestInfo:
        return IngestInfo(reader=self.reader, pages=self.pages, ocr=self.ocr_pages > 0, ocr_pages=self.ocr_pages,
                          ocr_confidence=self.ocr_confidence, warnings=list(self.warnings))


@dataclass
class RawDocument:
    source: str
    format: str  # "txt", "md", "docx", "doc", "odt", "rtf", "pdf", "html", "image"
    encoding: str  # how the bytes were decoded ("utf-8", "utf-16", "cp1258", "tcvn3", "vni", "pdf", "ocr"…)
    text: str  # decoded, not normalised: the original for display
    content_hash: str  # sha256 hex of the raw bytes
    ingest: IngestInfo = field(default_factory=IngestInfo)
