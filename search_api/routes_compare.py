"""HTTP routes for comparing plans, redlining two tasks, tracing a topic, precedents and reuse, and exports.

Errors follow the app's convention: unknown ids → 404 (``NotFound``), bad input → 400 (``ValueError``), both
with a JSON ``detail``. Downloads carry an ASCII ``filename`` plus the Vietnamese name as RFC 5987
``filename*`` so browsers save "Đối chiếu Cam Lộ 2023 - Trà Cú 2022.docx".
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from indexer.parsing.pipeline import slug
from search_api.alignment.compare import Comparison, alignment_of, compare, resolve_document, revision_blocks
from search_api.alignment.evolution import Evolution, evolution
from search_api.alignment.precedents import (
    MAX_K,
    PrecedentsOut,
    PrecedentsRequest,
    SimilarOut,
    SourceUnit,
    precedents,
    similar,
)
from search_api.alignment.redline import Redline, redline, render_html, render_markdown
from search_api.deps import Service
from search_api.exports.export import (
    CSV_MEDIA_TYPE,
    ComparisonExport,
    ExportPair,
    ExportUnit,
    redline_to_docx,
    to_csv,
    to_docx,
    to_markdown,
)
from search_api.exports.tracked_changes import revisions_docx
from search_api.schemas import ErrorOut, ResultDocument

ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MD_MEDIA_TYPE = "text/markdown; charset=utf-8"

router = APIRouter(prefix="/api", tags=["compare"])


def content_disposition(name: str, ext: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 5987/6266) for modern browsers."""
    ascii_name = f"{slug(name)}.{ext}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(f'{name}.{ext}', safe='')}"


def _download(body: bytes | str, media_type: str, name: str, ext: str) -> Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Response(data, media_type=media_type, headers={"Content-Disposition": content_disposition(name, ext)})


def _short(doc: ResultDocument) -> str:
    return " ".join(str(x) for x in (doc.place or doc.doc_id, doc.year or "") if x)


def comparison_export(c: Comparison) -> ComparisonExport:
    """The export module's neutral structure from a comparison."""
    def unit(u) -> ExportUnit:
        n = getattr(u, "nearest", None)  # only unmatched units have one
        return ExportUnit(path=u.path, heading=u.heading, text=u.text,
                          nearest=f"{n.unit.path}: “{n.sentence}”" if n is not None else "")

    return ComparisonExport(
        title_a=c.a.title, title_b=c.b.title,
        pairs=[ExportPair(a=unit(p.a), b=unit(p.b), similarity=p.text_similarity, redline=p.redline)
               for p in c.pairs],
        only_a=[unit(u) for u in c.only_in_a], only_b=[unit(u) for u in c.only_in_b],
        summary={"pairs": len(c.pairs), "identical": c.summary.shared, "changed": c.summary.changed,
                 "only_a": c.summary.dropped, "only_b": c.summary.new})


@router.get("/compare", response_model=Comparison, responses=ERRORS)
def compare_documents(svc: Service, a: Annotated[str, Query(description="document id or 'Cam Lộ 2023'")],
                      b: Annotated[str, Query(description="document id or 'Trà Cú 2022'")]) -> Response:
    """Align the tasks of two documents: pairs (in A's order) with a redline, many-to-one groups ("tách",
    "gộp"), then what only one has. The JSON is written directly: the model is already validated, and
    FastAPI re-validating a comparison's redlines costs more than computing them."""
    c = compare(svc, resolve_document(svc, a), resolve_document(svc, b))
    return Response(c.model_dump_json(), media_type="application/json")


@router.get("/compare/export", responses={**ERRORS, 200: {"content": {DOCX_MEDIA_TYPE: {}, MD_MEDIA_TYPE: {},
                                                                       CSV_MEDIA_TYPE: {}}}})
def compare_export(svc: Service, a: str, b: str,
                   format: Literal["docx", "tracked", "md", "csv"] = "docx") -> Response:
    """The comparison as a Word document (``docx``: side by side in colour; ``tracked``: B as real Word
    revisions of A — "Accept all" gives B, "Reject all" gives A), Markdown, or CSV (UTF-8 with BOM)."""
    a, b = resolve_document(svc, a), resolve_document(svc, b)
    if format == "tracked":
        return tracked_export(svc, a, b)
    c = compare(svc, a, b)
    exp = comparison_export(c)
    name = f"Đối chiếu {_short(c.a)} - {_short(c.b)}"
    if format == "md":
        return _download(to_markdown(exp), MD_MEDIA_TYPE, name, "md")
    if format == "csv":
        return _download(to_csv(exp), CSV_MEDIA_TYPE, name, "csv")
    return _download(to_docx(exp), DOCX_MEDIA_TYPE, name, "docx")


def tracked_export(svc, a: str, b: str) -> Response:
    """B as tracked revisions of A, task by task (unmatched tasks as whole inserted/deleted paragraphs)."""
    da, db = svc.document_summary(a), svc.document_summary(b)
    blocks = revision_blocks(alignment_of(svc, a, b))
    notes = [f"Văn bản gốc (A): {da.title}", f"Văn bản mới (B): {db.title}",
             "Các thay đổi được ghi bằng chế độ Theo dõi thay đổi (Track Changes): chọn “Chấp nhận tất cả” để có "
             "văn bản B, “Từ chối tất cả” để trở về văn bản A."]
    name = f"{_short(db)} sửa từ {_short(da)}"
    body = revisions_docx(f"{db.title} — sửa đổi từ {da.title}", notes, blocks)
    return _download(body, DOCX_MEDIA_TYPE, name, "docx")


class DiffOut(BaseModel):
    a: SourceUnit
    b: SourceUnit
    document_a: ResultDocument
    document_b: ResultDocument
    redline: Redline
    html: str  # the redline rendered with <del>/<ins> (escaped)


@router.get("/diff", response_model=DiffOut, responses=ERRORS)
def diff(svc: Service, a: Annotated[str, Query(description="chunk id")],
         b: Annotated[str, Query(description="chunk id")],
         format: Literal["json", "docx", "md"] = "json") -> DiffOut | Response:
    """Word-level redline of two chunks (syllables and punctuation; normalisation differences ignored)."""
    ca, cb = svc.chunk(a), svc.chunk(b)
    r = redline(ca.text, cb.text)
    da, db = svc.document_summary(ca.doc_id), svc.document_summary(cb.doc_id)
    name = f"So sánh {_short(da)} {ca.path} - {_short(db)} {cb.path}"
    if format == "docx":
        return _download(redline_to_docx(r, name), DOCX_MEDIA_TYPE, name, "docx")
    if format == "md":
        return _download(f"# {name}\n\n{render_markdown(r)}\n", MD_MEDIA_TYPE, name, "md")

    return DiffOut(a=SourceUnit.of(ca), b=SourceUnit.of(cb), document_a=da, document_b=db, redline=r, html=str(render_html(r)))


@router.get("/evolution", response_model=Evolution, responses=ERRORS)
def topic_evolution(svc: Service,
                    q: Annotated[str | None, Query(max_length=1000, description="a topic; give q or chunk_id (400 "
                                                   "for both or neither)", json_schema_extra={"minLength": 1,
                                                                                              "pattern": r"\S"})] = None,
                    chunk_id: Annotated[str | None, Query(description="a task whose theme to follow, instead of q",
                                                          json_schema_extra={"minLength": 1})] = None) -> Response:
    """A topic (or a chunk's theme) across documents, by year then place, each redlined against its predecessor;
    each entry is the document's unit that carries the topic as a task, its other matching units folded."""
    return Response(evolution(svc, q=q, chunk_id=chunk_id or None).model_dump_json(), media_type="application/json")


@router.post("/precedents", response_model=PrecedentsOut, responses=ERRORS)
def find_precedents(svc: Service, body: PrecedentsRequest) -> PrecedentsOut:
    """Tasks across the corpus most similar to a draft paragraph (≤ 5,000 characters), with citations."""
    return precedents(svc, body.text, body.k)


@router.get("/similar", response_model=SimilarOut, responses=ERRORS)
def similar_tasks(svc: Service, chunk_id: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> SimilarOut:
    """Nearest tasks in other documents; near-identical wording is flagged ``reused``."""
    return similar(svc, chunk_id, k)
