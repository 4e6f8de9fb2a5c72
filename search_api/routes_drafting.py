"""HTTP routes for drafting next year's plan: guidance links of a document, the propagation of a guidance
document, the draft check (with its exports), and the compare picker (document search, suggestions).

Errors follow the app's convention (404 unknown id, 400 bad input, JSON ``detail``); a draft over the size
limit is 413 and is refused from its Content-Length before the body is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from search_api.deps import Service
from search_api.drafting.doc_picker import MAX_SUGGEST, SuggestionsOut, SuggestOut, similar_documents, suggest
from search_api.drafting.draft_check import (
    MAX_DRAFT_BYTES,
    DraftCheck,
    DraftTooLarge,
    check_draft,
    parse_draft,
    revision_blocks_against,
)
from search_api.drafting.guidance_links import DocumentLinks, document_links
from search_api.drafting.propagation import Propagation, propagation
from search_api.exports.draft_export import to_docx, to_markdown
from search_api.routes_compare import DOCX_MEDIA_TYPE, ERRORS, MD_MEDIA_TYPE, _download
from search_api.schemas import ErrorOut
from search_api.service import SearchService

router = APIRouter(prefix="/api", tags=["drafting"])
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields around the draft


@router.get("/documents/{doc_id}/links", response_model=DocumentLinks, responses=ERRORS)
def links(doc_id: str, svc: Service) -> DocumentLinks:
    """"Văn bản cấp trên" (its "Thực hiện …" references, resolved; ambiguous ones list every candidate) and
    "Văn bản thực hiện" (documents implementing it, directly or through others), each document once."""
    return document_links(svc, doc_id)


@router.get("/propagation", response_model=Propagation, responses=ERRORS)
def guidance_propagation(svc: Service, doc: Annotated[str, Query(description="the guidance document's id")]
                         ) -> Propagation:
    """Task by task: which downstream documents carried the guidance word for word, changed it (redline)
    or dropped it, and wording one of them introduced that others copied."""
    return propagation(svc, doc)


async def read_draft_request(request: Request) -> dict[str, Any]:
    """The draft request as a dict (text, data, filename, guidance, previous, format) from a multipart or
    url-encoded form or a JSON body; DraftTooLarge before reading a body over the limit."""
    size = request.headers.get("content-length")
    if size and size.isdigit() and int(size) > MAX_DRAFT_BYTES + FORM_OVERHEAD:
        raise DraftTooLarge(f"draft too large: {int(size):,} bytes > {MAX_DRAFT_BYTES:,}")
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("send a JSON object: {\"text\": \"…\"}")
        return {k: body.get(k) for k in ("text", "guidance", "previous", "format")}
    form = await request.form(max_files=1, max_fields=20, max_part_size=MAX_DRAFT_BYTES + 1)
    out: dict[str, Any] = {k: form.get(k) or None for k in ("text", "guidance", "previous", "format")}
    upload = form.get("file")
    if upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read(MAX_DRAFT_BYTES + 1)
        out["data"], out["filename"] = data, upload.filename
    return out


def run_check(svc: SearchService, req: dict[str, Any]) -> tuple[DraftCheck, Any]:
    d = parse_draft(text=req.get("text") if isinstance(req.get("text"), str) else None, data=req.get("data"),
                    filename=req.get("filename") or "")
    return check_draft(svc, d, guidance=req.get("guidance") or None, previous=req.get("previous") or None), d


DRAFT_BODY = {  # the body is read by hand (JSON or a form with a file); this is what it may hold, as JSON
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["text"], "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 1_000_000, "pattern": r"\S",
                     "description": "the draft's full text (a form may send a .docx/.txt file instead)"},
            "guidance": {"type": "string", "minLength": 1, "maxLength": 200, "description": "guidance doc_id"},
            "previous": {"type": "string", "minLength": 1, "maxLength": 200, "description": "last year's plan"},
            "format": {"type": "string", "enum": ["json", "docx", "md"]},
        }}}},
}


@router.post("/draft-check", response_model=DraftCheck, openapi_extra={"requestBody": DRAFT_BODY},
             responses={**ERRORS, 413: {"model": ErrorOut},
                        200: {"content": {DOCX_MEDIA_TYPE: {}, MD_MEDIA_TYPE: {}}}})
async def draft_check(request: Request, svc: Service) -> Any:
    """Check a draft plan (form field ``text`` or ``file`` = .docx/.txt/.md; or JSON ``{"text": …}``)
    against its guidance, last year's plan and peer plans. ``guidance``/``previous`` choose those documents;
    ``format`` = json (default) | docx (report + draft as tracked changes against last year's plan) | md.
    The draft is not added to the corpus."""
    try:
        req = await read_draft_request(request)
    except DraftTooLarge as e:
        raise HTTPException(413, str(e)) from None
    fmt = req.get("format") or "json"
    if fmt not in ("json", "docx", "md"):
        raise HTTPException(400, f"format must be json, docx or md (got {str(fmt)[:20]!r})")
    try:
        report, d = await run_in_threadpool(run_check, svc, req)
    except DraftTooLarge as e:
        raise HTTPException(413, str(e)) from None
    name = f"Rà soát {report.draft.get('place') or 'dự thảo'} {report.draft.get('year') or ''}".strip()
    if fmt == "md":
        return _download(to_markdown(report), MD_MEDIA_TYPE, name, "md")
    if fmt == "docx":
        prev = report.previous.doc_id if report.previous else None
        blocks = await run_in_threadpool(revision_blocks_against, svc, prev, d)
        return _download(to_docx(report, blocks), DOCX_MEDIA_TYPE, name, "docx")
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/suggest/documents", response_model=SuggestOut, responses=ERRORS)
def suggest_documents(svc: Service, q: Annotated[str, Query(max_length=200)] = "",
                      limit: Annotated[int, Query(ge=1, le=MAX_SUGGEST)] = 10) -> SuggestOut:
    """Search-as-you-type over document metadata (place, title, number, year, issuer), diacritics optional."""
    return suggest(svc, q, limit)


@router.get("/compare/suggestions", response_model=SuggestionsOut, responses=ERRORS)
def compare_suggestions(svc: Service, a: str, k: Annotated[int, Query(ge=1, le=20)] = 5) -> SuggestionsOut:
    """Suggested comparisons for document ``a``: its place's previous plan, then the most similar documents."""
    return similar_documents(svc, a, k)
