"""The corpus-writing JSON API: ``POST /api/documents``, ``PATCH``/``DELETE /api/documents/{id}``, jobs, trash.

Authorised like the pages — an editor (or an admin for the trash) — by a per-user API token
(``Authorization: Bearer …``, from the account page) or by a session cookie plus its ``X-CSRF-Token`` header.
The same operations as the forms run underneath (``web.ingest.operations``), so both get the same checks,
jobs and audit entries.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from search_api.deps import Service
from search_api.service import NotFound
from web.accounts.auth import Actor, check_csrf, require
from web.ingest import jobs, metadata_form
from web.ingest.multipart import UploadError, receive_form
from web.ingest.operations import Manager, OperationError
from web.ingest.trash import TrashEntry

bearer = HTTPBearer(auto_error=False, description="an API token created on /account (the server checks it)")
router = APIRouter(prefix="/api", tags=["corpus (write)"], dependencies=[Depends(bearer)])
Editor = Annotated[Actor, Depends(require("editor"))]
Admin = Annotated[Actor, Depends(require("admin"))]
DocId = Annotated[str, Path(min_length=1, max_length=300)]


class Detail(BaseModel):
    detail: str


class ProgressOut(BaseModel):
    stage: str
    done: int
    total: int
    source: str


class ItemOut(BaseModel):
    name: str
    path: str
    action: Literal["add", "edit", "remove", "replace", "restore"]
    status: Literal["pending", "indexed", "removed", "error", "duplicate"]
    message: str
    doc_ids: list[str]


class JobOut(BaseModel):
    id: int
    kind: Literal["upload", "edit", "remove", "replace", "restore"]
    state: Literal["queued", "running", "published", "failed"]
    status: str = Field(description="the state in Vietnamese, e.g. 'Đang tạo vector 120/400'")
    user: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    progress: ProgressOut
    items: list[ItemOut]
    error: str
    summary: str


class FileResultOut(BaseModel):
    name: str
    status: Literal["queued", "duplicate", "refused"]
    message: str
    path: str
    doc_id: str


class UploadOut(BaseModel):
    detail: str = ""
    job: JobOut | None = None
    files: list[FileResultOut] = []
    errors: dict[str, str] = Field(default_factory=dict, description="metadata field → message")


class JobAccepted(BaseModel):
    detail: str = ""
    job: JobOut | None


DATE_PATTERN = (r"^\s*(\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{4}|\d{4}-\d{1,2}-\d{1,2}|(năm\s+)?\d{4}"
                r"|(ngày\s+)?\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4})?\s*$")


class MetadataPatch(BaseModel):
    """Only the fields given change; ``version`` is the one ``GET /api/documents/{id}/edit`` returned."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=64)
    issuer: str | None = Field(None, max_length=metadata_form.MAX_CHARS["issuer"])
    place: str | None = Field(None, max_length=metadata_form.MAX_CHARS["place"])
    level: Literal["", "national", "province", "district", "commune"] | None = None
    doc_type: str | None = Field(None, max_length=metadata_form.MAX_CHARS["doc_type"])
    number: str | None = Field(None, max_length=metadata_form.MAX_CHARS["number"])
    date: str | None = Field(None, max_length=metadata_form.MAX_CHARS["date"],
                             description="dd/mm/yyyy, yyyy-mm-dd or yyyy (a real day, 1945 to next year)",
                             json_schema_extra={"pattern": DATE_PATTERN})
    subject: str | None = Field(None, max_length=metadata_form.MAX_CHARS["subject"])
    signer: str | None = Field(None, max_length=metadata_form.MAX_CHARS["signer"])


class FieldErrors(BaseModel):
    """Our field messages (``errors``), or FastAPI's own list when the body is not even the right shape."""

    detail: str | list[dict[str, Any]]
    errors: dict[str, str] = Field(default_factory=dict)


class ConflictOut(BaseModel):
    detail: str
    current_version: str = ""
    current: dict[str, Any] = Field(default_factory=dict, description="the corrections saved by someone else")


class EditFormOut(BaseModel):
    doc_id: str
    source: str
    version: str
    values: dict[str, str] = Field(description="what the edit form shows (text corrected by the sidecar)")
    text_values: dict[str, str] = Field(description="what the document's text says")
    sidecar: dict[str, Any]
    pending_job: int | None


class TrashEntryOut(BaseModel):
    id: str
    at: float
    actor: str
    kind: Literal["removed", "replaced", "rejected"]
    reason: str
    doc_ids: list[str]
    title: str
    files: list[str]


UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1,
                      "description": "one or more files (.docx .doc .odt .rtf .pdf .txt .md .html .jsonl)"},
            **{f: {"type": "string", "maxLength": metadata_form.MAX_CHARS[f]} for f in metadata_form.UPLOAD_FIELDS},
        }}}},
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Detail, "description": "no or bad credentials"},
                                                403: {"model": Detail, "description": "role too low or bad CSRF"}}


def _m(request: Request) -> Manager:
    return request.app.state.manager


def job_out(job: jobs.Job) -> dict[str, Any]:
    return job.to_dict()


def _json(status: int, model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


@router.post("/documents", status_code=202, response_model=UploadOut, openapi_extra={"requestBody": UPLOAD_BODY},
             summary="Upload files into the corpus; they are indexed by a background job",
             responses={**AUTH_ERRORS, 400: {"model": UploadOut}, 409: {"model": UploadOut, "description": "all duplicates"},
                        413: {"model": Detail}, 415: {"model": Detail}, 422: {"model": UploadOut}})
async def upload(request: Request, actor: Editor, svc: Service) -> JSONResponse:
    m = _m(request)
    try:
        form = await receive_form(request, m.files.incoming, m.limits,
                                  before_file=lambda fields: check_csrf(request, actor, fields.get("csrf_token")))
        check_csrf(request, actor, form.fields.get("csrf_token"))
    except UploadError as e:
        return _json(e.status, Detail(detail=e.message))
    try:
        out = await run_in_threadpool(m.upload, actor, form, svc)
    except OperationError as e:
        return _json(e.status, UploadOut(detail=e.message, errors=e.form.errors if e.form else {}))
    files = [FileResultOut(**f.to_dict()) for f in out.files]
    if out.job is not None:
        return _json(202, UploadOut(job=JobOut(**job_out(out.job)), files=files))
    dup = all(f.status == "duplicate" for f in out.files)
    return _json(409 if dup else 422, UploadOut(detail="Không có tệp mới nào được lưu.", files=files))


@router.get("/documents/{doc_id}/edit", response_model=EditFormOut, summary="What the edit form of a document shows",
            responses={**AUTH_ERRORS, 404: {"model": Detail}, 409: {"model": Detail}})
def edit_form(request: Request, doc_id: DocId, actor: Editor, svc: Service) -> JSONResponse:
    try:
        t = _m(request).target(svc, doc_id)
    except NotFound as e:
        return _json(404, Detail(detail=str(e)))
    except OperationError as e:
        return _json(e.status, Detail(detail=e.message))
    return _json(200, EditFormOut(doc_id=doc_id, source=t.rel, version=t.version, values=t.values,
                                  text_values=t.text, sidecar={k: v for k, v in t.sidecar.items()
                                                               if isinstance(v, str | int | float | type(None))},
                                  pending_job=t.pending.id if t.pending else None))


@router.patch("/documents/{doc_id}", status_code=202, response_model=JobAccepted,
              summary="Correct a document's metadata (optimistic concurrency on `version`)",
              responses={**AUTH_ERRORS, 200: {"model": JobAccepted, "description": "nothing changed"},
                         400: {"model": Detail, "description": "a body that is not JSON"}, 404: {"model": Detail},
                         409: {"model": ConflictOut}, 422: {"model": FieldErrors}})
def patch_document(request: Request, doc_id: DocId, body: MetadataPatch, actor: Editor, svc: Service) -> JSONResponse:
    check_csrf(request, actor)
    raw = body.model_dump(exclude_none=True, exclude={"version"})
    try:
        job = _m(request).edit(actor, svc, doc_id, raw, body.version)
    except NotFound as e:
        return _json(404, Detail(detail=str(e)))
    except OperationError as e:
        if e.conflict is not None:
            return _json(409, ConflictOut(detail=e.message, current_version=e.conflict.current_version,
                                          current={k: v for k, v in e.conflict.current.items()
                                                   if isinstance(v, str | int | float | type(None))}))
        if e.status == 422 and e.form is not None:
            return _json(422, FieldErrors(detail=e.message, errors=e.form.errors))
        return _json(e.status, ConflictOut(detail=e.message))
    if job is None:
        return _json(200, JobAccepted(detail="Không có thay đổi.", job=None))
    return _json(202, JobAccepted(job=JobOut(**job_out(job))))


@router.delete("/documents/{doc_id}", status_code=202, response_model=JobAccepted,
               summary="Move a document's file to the trash; it leaves the index in the job",
               responses={**AUTH_ERRORS, 404: {"model": Detail}, 409: {"model": Detail}})
def delete_document(request: Request, doc_id: DocId, actor: Editor, svc: Service) -> JSONResponse:
    check_csrf(request, actor)
    try:
        job = _m(request).remove(actor, svc, doc_id)
    except NotFound as e:
        return _json(404, Detail(detail=str(e)))
    except OperationError as e:
        return _json(e.status, Detail(detail=e.message))
    return _json(202, JobAccepted(job=JobOut(**job_out(job))))


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's state, progress and per-file results",
            responses={**AUTH_ERRORS, 404: {"model": Detail}})
def get_job(request: Request, job_id: Annotated[int, Path(ge=1, le=2**62)], actor: Editor) -> JSONResponse:
    job = jobs.get(_m(request).db, job_id)
    if job is None:
        return _json(404, Detail(detail=f"no job {job_id}"))
    return _json(200, JobOut(**job_out(job)))


@router.get("/jobs", response_model=list[JobOut], summary="The 50 most recent jobs", responses=AUTH_ERRORS)
def list_jobs(request: Request, actor: Editor) -> JSONResponse:
    return JSONResponse([JobOut(**job_out(j)).model_dump(mode="json") for j in jobs.recent(_m(request).db, 50)])


def _entry(e: TrashEntry) -> TrashEntryOut:
    return TrashEntryOut(**e.__dict__)


@router.get("/trash", response_model=list[TrashEntryOut], summary="The trash (admin)", responses=AUTH_ERRORS)
def list_trash(request: Request, actor: Admin) -> JSONResponse:
    return JSONResponse([_entry(e).model_dump(mode="json") for e in _m(request).trash.entries()])


@router.post("/trash/{entry_id}/restore", status_code=202, response_model=JobAccepted,
             summary="Put a trashed file back in the corpus (admin)",
             responses={**AUTH_ERRORS, 409: {"model": Detail}})
def restore(request: Request, entry_id: Annotated[str, Path(max_length=40)], actor: Admin) -> JSONResponse:
    check_csrf(request, actor)
    try:
        job = _m(request).restore(actor, entry_id)
    except OperationError as e:
        return _json(e.status, Detail(detail=e.message))
    return _json(202, JobAccepted(job=JobOut(**job_out(job))))
