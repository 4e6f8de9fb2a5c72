"""The JSON API: search, documents and chunks (here) plus compare/diff/evolution/precedents.

Bad input is always a 4xx with a JSON ``detail`` message; the index is opened once and injected with
``Depends(get_service)`` so tests and other routers share the same service. The web pages are composed on
top of this app in ``web/app.py``; this stage does not know about them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from search_api import routes_compare, routes_drafting, warmup
from search_api.deps import Service, get_service
from search_api.schemas import (
    ChunkOut,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    SearchFilters,
    SearchResponse,
    StatusOut,
)
from search_api.service import MAX_K, MAX_QUERY_CHARS, ModelMismatch, NotFound, SearchService

__all__ = ["create_app", "get_service"]
ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"description": "invalid parameter"}}

router = APIRouter(prefix="/api", tags=["search"])


@router.get("/search", response_model=SearchResponse, responses=ERRORS)
def search(
    svc: Service,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="query, with or without diacritics (400 when blank)",
                            json_schema_extra={"minLength": 1, "pattern": r"\S"})],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    province: str | None = None,
    place: str | None = None,
    level: str | None = None,
    doc_type: str | None = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2200, description="at most year_to (400 otherwise)")] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2200, description="at least year_from (400 otherwise)")] = None,
    section: str | None = None,
    agency: str | None = None,
) -> Response:
    """Hybrid (BM25 + e5) search over task chunks, with filters; highlights are offsets into each text.

    The hot path returns its JSON itself: the model is already validated, and FastAPI's re-validation and
    re-encoding of it cost ~2 ms a request (measured with ``serialize_response``). ``response_model`` still
    documents the shape in OpenAPI."""
    if not q.strip():
        raise HTTPException(400, "empty query: q must contain some text")
    try:
        filters = SearchFilters(province=province, place=place, level=level, doc_type=doc_type,
                                year_from=year_from, year_to=year_to, section=section, agency=agency)
    except ValidationError as e:
        raise HTTPException(400, "; ".join(err["msg"] for err in e.errors())) from None
    return Response(svc.search(q, k=k, offset=offset, filters=filters).model_dump_json(), media_type="application/json")


@router.get("/status", response_model=StatusOut)
def status(svc: Service) -> StatusOut:
    """The live generation, its chunk count, and whether the background warm-up (encoder, dense scans,
    drafting caches) has finished: ``warm`` is false right after start and after a switch to a new generation."""
    return StatusOut(generation=svc.store.gen_dir.name, chunks=svc.vocab.n_chunks, warm=svc.warmed,
                     encoder_error=svc.encoder_error)


@router.get("/documents", response_model=list[DocumentSummary])
def documents(svc: Service) -> list[DocumentSummary]:
    """Every indexed document with its metadata."""
    return svc.documents()


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS)
def document(doc_id: str, svc: Service) -> DocumentOut:
    """One document's metadata and numbered-task tree."""
    d = svc.document(doc_id)
    data = d.to_dict()
    return DocumentOut(title=d.metadata.title, **data)


@router.get("/chunks/{chunk_id}", response_model=ChunkOut, responses=ERRORS)
def chunk(chunk_id: str, svc: Service) -> ChunkOut:
    """One retrieval chunk (a task or an item) with its document's metadata."""
    c = svc.chunk(chunk_id)
    return ChunkOut(**c.to_dict(), document=svc.document_summary(c.doc_id))


def _json_error(status: int):
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)
    return handler


def create_app(index_dir: Path | str, *, service: SearchService | None = None) -> FastAPI:
    """The whole application over the index in ``index_dir`` (or an already opened ``service``)."""
    app = FastAPI(title="directives", description="Tìm kiếm, đối chiếu văn bản chỉ đạo — JSON API",
                  version="0.1.0", docs_url="/docs")
    app.state.index_dir = Path(index_dir)
    app.state.service = service or SearchService.open(index_dir)
    app.state.service.add_warmer(warmup.warm_drafting)  # run by svc.warm() / a new generation, off requests
    app.add_exception_handler(NotFound, _json_error(404))
    app.add_exception_handler(ValueError, _json_error(400))
    app.add_exception_handler(ModelMismatch, _json_error(409))
    app.include_router(router)

    app.include_router(routes_compare.router)
    app.include_router(routes_drafting.router)
    return app
