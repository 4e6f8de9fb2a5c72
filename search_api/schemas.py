"""The API's shapes (pydantic v2): what the JSON endpoints return and what the web and compare code receive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator


class SearchFilters(BaseModel):
    """Result filters; every field optional. Text fields compare without case or diacritics."""

    province: str | None = None  # old (pre-2025) or new province name
    place: str | None = None
    level: str | None = None  # province / district / commune / national
    doc_type: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    section: str | None = None  # section kind: purpose, targets, tasks, funding, organisation, reporting, other
    agency: str | None = None  # substring of the assigned agency

    @model_validator(mode="after")
    def _years(self) -> SearchFilters:
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise ValueError(f"year_from ({self.year_from}) > year_to ({self.year_to})")
        return self

    def active(self) -> bool:
        return any(v not in (None, "") for v in self.model_dump().values())


class ResultDocument(BaseModel):
    doc_id: str
    title: str
    place: str
    province: str
    level: str
    doc_type: str
    number: str
    date: str
    year: int | None
    issuer: str


class DocumentSummary(ResultDocument):
    """One line of the document list: metadata plus where it came from."""

    source: str = ""
    province_current: str = ""
    subject: str = ""
    n_chunks: int = 0


class SearchResult(BaseModel):
    chunk_id: str
    doc_id: str
    text: str
    path: str
    headings: list[str]
    score: float
    highlights: list[list[int]] = Field(description="[start, end) character offsets into text")
    document: ResultDocument


class SearchResponse(BaseModel):
    query: str
    total: int
    results: list[SearchResult]


class ChunkRef(BaseModel):
    """A chunk as other answers cite it: where it is and what it says (precedents, diffs, chunk pages)."""

    chunk_id: str
    doc_id: str
    path: str
    headings: list[str]
    text: str
    kind: str

    @classmethod
    def of(cls, c: Any) -> ChunkRef:
        """From an ``indexer.models.Chunk`` (or anything with its attributes)."""
        return cls(chunk_id=c.chunk_id, doc_id=c.doc_id, path=c.path, headings=list(c.headings), text=c.text,
                   kind=c.kind)


class ChunkOut(ChunkRef):
    section_kind: str
    agency: str
    start: int
    end: int
    document: ResultDocument


class DocumentOut(BaseModel):
    """A document's metadata and task tree (``Directive.to_dict()``) plus its display title."""

    doc_id: str
    title: str
    source: str
    format: str
    metadata: dict[str, Any]
    units: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    warnings: list[str]
    ingest: dict[str, Any] = {}  # how the file was read: reader, pages, OCR and its confidence, reader warnings


class ErrorOut(BaseModel):
    detail: str


class StatusOut(BaseModel):
    """What ``GET /api/status`` reports: the live generation and whether its warm-up has finished."""

    generation: str
    chunks: int
    warm: bool
    encoder_error: str = ""  # set when the warm-up could not load the query encoder: searches will fail
