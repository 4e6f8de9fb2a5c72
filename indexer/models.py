"""Typed records that cross stage boundaries: files -> parsed directives -> chunks.

Everything downstream (index, search, compare, web) reads these and nothing else from the
indexer, so they are plain dataclasses that serialise to JSON with ``to_dict``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["province", "district", "commune", "national", ""]
UnitKind = Literal["section", "task", "item", "paragraph"]
SectionKind = Literal[
    "purpose", "targets", "tasks", "funding", "organisation", "reporting", "other"
]


@dataclass
class LegalRef:
    """A cited instrument: "Nghị định số 56/2017/NĐ-CP ngày 09/5/2017 của Chính phủ"."""

    kind: str  # Luật, Nghị quyết, Nghị định, Thông tư, Quyết định, Công văn, Kế hoạch, Chỉ thị …
    number: str = ""  # "56/2017/NĐ-CP"; "" for "Luật Trẻ em năm 2016"
    date: str = ""  # ISO "2017-05-09", or "" when not given
    issuer: str = ""  # "Chính phủ", "Bộ Lao động - Thương binh và Xã hội"
    title: str = ""  # "Luật Trẻ em" for laws cited by name
    text: str = ""  # the citation as written (normalised text)
    start: int = -1  # offsets into Directive.text
    end: int = -1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Metadata:
    """Header facts of a directive. ``parsed`` keeps what the text said when a sidecar overrides it."""

    issuer: str = ""  # "UBND huyện Cam Lộ", "Sở LĐTBXH tỉnh Lạng Sơn"
    place: str = ""  # "Cam Lộ"
    level: str = ""  # province / district / commune
    province: str = ""  # province as at the document's date (pre-2025 name): "Quảng Trị"
    province_current: str = ""  # province after the 2025 reorganisation: "Quảng Trị"
    doc_type: str = ""  # Công văn, Kế hoạch, Chỉ thị, Quyết định, Hướng dẫn …
    number: str = ""  # "364/UBND-LĐTBXH", "" when blank
    date: str = ""  # ISO "2023-05-08", or "2023" when only the year is known
    year: int | None = None
    subject: str = ""  # "V/v …" line (without "V/v") or the plan's title
    signer: str = ""
    signer_title: str = ""  # "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH"
    recipients: list[str] = field(default_factory=list)
    implements: LegalRef | None = None
    references: list[LegalRef] = field(default_factory=list)
    url: str = ""  # where a record imported from a portal came from
    given_title: str = ""  # a title supplied with a record; wins over the composed one
    original_name: str = ""  # the file name an uploader's computer gave (cleaned); stored files get safe names
    parsed: dict[str, Any] = field(default_factory=dict)  # field -> parsed value, where overridden
    overrides: dict[str, Any] = field(default_factory=dict)  # field -> sidecar value

    @property
    def title(self) -> str:
        """Short display title: "Công văn 364/UBND-LĐTBXH — UBND huyện Cam Lộ (2023)"."""
        if self.given_title:
            return self.given_title
        head = " ".join(x for x in (self.doc_type, self.number) if x)
        who = self.issuer or self.place
        year = f" ({self.year})" if self.year else ""
        return f"{head} — {who}{year}" if head else f"{who}{year}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["title"] = self.title
        return d


@dataclass
class Unit:
    """A node of the numbered-task tree.

    section: "I. MỤC TIÊU"; task: "1." / "1.1." / "a)"; item: a bullet ("-", "+", "•");
    paragraph: unnumbered body text. ``path`` is "III.2", "III.2 • 4", "¶3".
    Offsets are into ``Directive.text`` (normalised); ``Directive.to_original`` maps them back.
    """

    kind: str  # UnitKind
    label: str  # "III", "2", "a", "-", ""
    path: str
    heading: str  # title line for sections and for tasks that are headings ("2. Sở Giáo dục và Đào tạo")
    text: str  # own text (normalised, page breaks repaired, markdown removed), without children
    start: int
    end: int
    section_kind: str = "other"  # SectionKind
    agency: str = ""  # agency a task is assigned to, inherited by its children
    children: list[Unit] = field(default_factory=list)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def full_text(self) -> str:
        """Own text plus all descendants' text, one paragraph per line."""
        parts = [self.text] if self.text else []
        parts += [c.full_text() for c in self.children]
        return "\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "children"}
        d["children"] = [c.to_dict() for c in self.children]
        return d


@dataclass
class Chunk:
    """The unit of retrieval: one task with its items, or one item of a long task."""

    chunk_id: str  # stable: f"{doc_id}:{path}" made URL-safe, unchanged across re-parses
    doc_id: str
    path: str  # "III.2", "III.2 • 4"
    headings: list[str]  # heading chain above it, outermost first
    text: str  # normalised text that is embedded and indexed
    kind: str  # "task" | "item" | "paragraph" | "section"
    section_kind: str
    agency: str
    start: int  # offsets into Directive.text
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestInfo:
    """How a file was read: shown per file by ``directives parse``/``index`` and on the document page."""

    reader: str = ""  # "python-docx + Word numbering", "LibreOffice → .docx", "pypdf", "Tesseract (vie)" …
    pages: int | None = None  # pages of a PDF, TIFF or scan; None for flowing text
    ocr: bool = False  # some text came from OCR
    ocr_pages: int = 0
    ocr_confidence: float | None = None  # mean word confidence (0–100) over the OCR'd pages
    warnings: list[str] = field(default_factory=list)  # "numbering from style", "tracked changes accepted" …

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> IngestInfo:
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Directive:
    """One parsed document: normalised text, metadata, task tree and chunks."""

    doc_id: str
    source: str  # path of the file (relative to the corpus when indexed)
    content_hash: str  # sha256 of the raw bytes (or of the record for JSONL)
    format: str  # "txt", "md", "docx", "pdf", "html", "jsonl"
    encoding: str  # how the bytes were decoded
    original: str  # decoded text as in the file, for display
    text: str  # normalised text (NFC, canonical tones, markdown removed)
    offsets: list[int]  # offsets[i] = index in ``original`` of text[i]; len(text)+1 entries
    metadata: Metadata
    units: list[Unit]
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ingest: IngestInfo = field(default_factory=IngestInfo)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span back to the original text."""
        return self.offsets[start], self.offsets[end]

    def walk(self):
        for u in self.units:
            yield from u.walk()

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "doc_id": self.doc_id,
            "source": self.source,
            "content_hash": self.content_hash,
            "format": self.format,
            "encoding": self.encoding,
            "metadata": self.metadata.to_dict(),
            "units": [u.to_dict() for u in self.units],
            "chunks": [c.to_dict() for c in self.chunks],
            "warnings": list(self.warnings),
            "ingest": self.ingest.to_dict(),
        }
        if with_text:
            d["text"] = self.text
            d["original"] = self.original
        return d


@dataclass
class FileReport:
    """One file's line in the ingest report of ``directives parse`` / ``directives index`` (and its JSON)."""

    source: str
    status: str  # "ok" | "error"
    doc_id: str = ""
    format: str = ""
    reader: str = ""
    pages: int | None = None
    ocr: bool = False
    ocr_confidence: float | None = None
    units: int = 0  # units of the task tree (sections, tasks, items, paragraphs)
    tasks: int = 0  # numbered tasks among them
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    @classmethod
    def of(cls, d: Directive) -> FileReport:
        units = list(d.walk())
        return cls(source=d.source, status="ok", doc_id=d.doc_id, format=d.format, reader=d.ingest.reader,
                   pages=d.ingest.pages, ocr=d.ingest.ocr, ocr_confidence=d.ingest.ocr_confidence,
                   units=len(units), tasks=sum(1 for u in units if u.kind == "task"), chunks=len(d.chunks),
                   warnings=[*d.ingest.warnings, *d.warnings])

    @classmethod
    def failed(cls, err: ParseError) -> FileReport:
        return cls(source=err.source, status="error", error=err.reason)

    def line(self) -> str:
        """ "cam-lo.docx  docx · Word XML (numbering resolved) · 18 units (11 tasks) · tracked changes accepted"."""
        if self.status != "ok":
            return f"{self.source}  LỖI: {self.error}"
        bits = [self.format, self.reader]
        if self.pages:
            bits.append(f"{self.pages} trang")
        if self.ocr:
            conf = f", độ tin cậy {self.ocr_confidence:.0f}%" if self.ocr_confidence is not None else ""
            bits.append(f"OCR{conf}")
        bits.append(f"{self.units} đơn vị ({self.tasks} nhiệm vụ), {self.chunks} đoạn")
        return f"{self.source}  " + " · ".join(bits) + "".join(f"\n    cảnh báo: {w}" for w in self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParseError:
    """A file (or JSONL line) that could not be read; the batch goes on without it."""

    source: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"
