"""A checked draft added to the corpus when the user asks ("Thêm dự thảo vào kho"): the draft's text becomes an
upload like any other (a .txt named after its place and year), so it is stored, deduplicated, audited and
indexed by the job queue exactly as a file sent from /documents/new.

The draft check itself never writes (``search_api.drafting.draft_check``); this is the one write it leads to, and it
needs an editor's session and CSRF token (page) or an editor's API token (JSON), as every write does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from indexer.parsing.pipeline import parse_text, slug
from search_api.deps import Service
from search_api.drafting.draft_check import MAX_DRAFT_BYTES
from web.accounts.auth import Actor, check_csrf, require
from web.ingest.multipart import ReceivedFile, ReceivedForm
from web.ingest.operations import Manager, OperationError
from web.page_helpers import error, see_other

Editor = Annotated[Actor, Depends(require("editor"))]
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["corpus"])


class DraftAddIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_DRAFT_BYTES, pattern=r"\S",
                      description="the draft's full text, as checked")


def draft_file_name(text: str) -> str:
    """ "du-thao-cam-lo-2024.txt": a readable original name (the stored name is generated as for any upload)."""
    meta = parse_text(text, doc_id="du-thao").metadata
    parts = ["du-thao", slug(meta.place) if meta.place else "", str(meta.year or "")]
    return "-".join(p for p in parts if p) + ".txt"


def received_draft(m: Manager, text: str) -> ReceivedForm:
    """The draft's text as a received upload in the corpus's private incoming folder."""
    data = text.encode("utf-8")
    if not text.strip():
        raise OperationError(400, "Dự thảo trống: không có gì để thêm vào kho.")
    if len(data) > MAX_DRAFT_BYTES:
        raise OperationError(413, f"Dự thảo quá lớn (tối đa {MAX_DRAFT_BYTES // (1024 * 1024)} MB).")
    m.files.incoming.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=m.files.incoming, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return ReceivedForm(fields={}, files=[ReceivedFile("files", draft_file_name(text), Path(tmp), len(data),
                                                       hashlib.sha256(data).hexdigest())])


def _add(request: Request, actor: Actor, svc, text: str):
    m: Manager = request.app.state.manager
    form = received_draft(m, text)
    try:
        return m.upload(actor, form, svc)
    finally:
        form.discard()


@pages.post("/draft-check/add")
async def add_page(request: Request, actor: Editor, svc: Service,
                   text: Annotated[str, Form(max_length=MAX_DRAFT_BYTES)] = "",
                   csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        out = await run_in_threadpool(_add, request, actor, svc, text)
    except OperationError as e:
        return error(request, e.status, e.message)
    if out.job is not None:
        return see_other(f"/jobs/{out.job.id}")
    f = out.files[0]
    return error(request, 409 if f.status == "duplicate" else 422,
                 f"Dự thảo không được thêm: {f.message or 'đã có trong kho.'}")


@api.post("/draft-check/add", status_code=202, summary="Add a checked draft to the corpus (editor)",
          responses={400: {"description": "empty draft"}, 401: {"description": "no account"},
                     403: {"description": "not an editor, or no CSRF token with a session cookie"},
                     409: {"description": "the draft is already in the corpus"}, 413: {"description": "too large"},
                     422: {"description": "the text was refused as a file (binary characters)"}})
async def add_api(request: Request, body: DraftAddIn, actor: Editor, svc: Service) -> JSONResponse:
    """The draft's text is stored as a new document (a .txt named after its place and year) and indexed by a
    job, as an upload is; the answer names the job (``GET /api/jobs/{id}``)."""
    check_csrf(request, actor)
    try:
        out = await run_in_threadpool(_add, request, actor, svc, body.text)
    except OperationError as e:
        return JSONResponse({"detail": e.message}, status_code=e.status)
    f = out.files[0]
    payload: dict[str, Any] = {"file": f.to_dict(), "job": {"id": out.job.id, "url": f"/api/jobs/{out.job.id}"}
                               if out.job else None}
    return JSONResponse(payload, status_code=202 if out.job else (409 if f.status == "duplicate" else 422))
