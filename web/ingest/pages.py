"""Pages that change the corpus: upload, edit, remove, replace, the job pages and the trash (admin).

Every form works without JavaScript (plain multipart or urlencoded POSTs, 303 redirects to the job page,
which refreshes itself with a ``<noscript>`` meta refresh); ``app.js`` only adds drag-and-drop feedback and a
live status. The JSON twins are in ``web.ingest.api``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from indexer.models import Directive
from search_api.deps import Service
from search_api.service import NotFound
from web.accounts.auth import Actor, actor_of, check_csrf, require
from web.ingest import formats, jobs, metadata_form
from web.ingest.multipart import ReceivedForm, UploadError, receive_form
from web.ingest.operations import Manager, OperationError, UploadOutcome
from web.page_helpers import error, see_other
from web.routes import render

router = APIRouter(include_in_schema=False)
Editor = Annotated[Actor, Depends(require("editor"))]
Admin = Annotated[Actor, Depends(require("admin"))]
KIND_OF_FIELD = {"level": "level", "doc_type": "doc_type", "subject": "textarea"}


def manager(request: Request) -> Manager:
    return request.app.state.manager


def doc_path(doc_id: str, tail: str = "") -> str:
    return f"/documents/{quote(doc_id, safe='')}{tail}"


@dataclass
class FieldView:
    name: str
    label: str
    value: str
    kind: str  # text | textarea | level | doc_type
    max_chars: int
    error: str = ""
    current: str = ""  # on a conflict: the value someone else saved


def field_views(names: tuple[str, ...], values: dict[str, str], errors: dict[str, str] | None = None,
                current: dict[str, str] | None = None) -> list[FieldView]:
    return [FieldView(n, metadata_form.LABELS[n], values.get(n, ""), KIND_OF_FIELD.get(n, "text"),
                      metadata_form.MAX_CHARS[n], (errors or {}).get(n, ""), (current or {}).get(n, ""))
            for n in names]


FORM_CHOICES = {"levels": metadata_form.LEVEL_CHOICES, "doc_types": metadata_form.DOC_TYPES}


# --- upload --------------------------------------------------------------------------------------------------

def _upload_page(request: Request, status: int = 200, message: str = "", outcome: UploadOutcome | None = None,
                 values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
    m = manager(request)
    return render(request, "upload.html", status=status, title="Tải văn bản lên", message=message,
                  results=outcome.files if outcome else [],
                  fields=field_views(metadata_form.UPLOAD_FIELDS, values or {}, errors), accept=formats.accepted_list(),
                  accept_attr=",".join(sorted(formats.ACCEPTED)), max_file_mb=m.limits.max_file_bytes // 1_000_000,
                  max_request_mb=m.limits.max_request_bytes // 1_000_000, max_files=m.limits.max_files,
                  recent=jobs.recent(m.db, 8), **FORM_CHOICES)


@router.get("/documents/new")
def upload_form(request: Request, actor: Editor) -> Response:
    return _upload_page(request)


async def _receive(request: Request, actor: Actor) -> ReceivedForm:
    """The multipart body, the CSRF field checked before the first file byte is stored."""
    m = manager(request)
    form = await receive_form(request, m.files.incoming, m.limits,
                              before_file=lambda fields: check_csrf(request, actor, fields.get("csrf_token")))
    try:
        check_csrf(request, actor, form.fields.get("csrf_token"))
    except Exception:
        form.discard()
        raise
    return form


@router.post("/documents/new")
async def upload(request: Request, actor: Editor, svc: Service) -> Response:
    try:
        form = await _receive(request, actor)
    except UploadError as e:
        return _upload_page(request, e.status, e.message)
    try:
        out = await run_in_threadpool(manager(request).upload, actor, form, svc)
    except OperationError as e:
        return _upload_page(request, e.status, e.message, values=e.form.values if e.form else None,
                            errors=e.form.errors if e.form else None)
    if out.job is not None:
        return see_other(f"/jobs/{out.job.id}")
    dup = all(f.status == "duplicate" for f in out.files)
    return _upload_page(request, 409 if dup else 422, "Không có tệp mới nào được lưu.", out)


# --- jobs ----------------------------------------------------------------------------------------------------

@dataclass
class ItemView:
    name: str
    action: str
    status: str
    status_label: str
    message: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)


ACTION_LABELS = {"add": "Thêm", "edit": "Sửa thông tin", "remove": "Gỡ", "replace": "Thay tệp", "restore": "Khôi phục"}


def job_view(job: jobs.Job) -> dict[str, Any]:
    items = [ItemView(i.name or i.path, ACTION_LABELS.get(i.action, i.action), i.status, i.status_label, i.message,
                      [(d, doc_path(d)) for d in i.doc_ids] if i.status == "indexed" else []) for i in job.items]
    return {"job": job, "items": items, "api_url": f"/api/jobs/{job.id}",
            "percent": int(100 * job.done / job.total) if job.total else 0}


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: int, actor: Editor) -> Response:
    job = jobs.get(manager(request).db, job_id)
    if job is None:
        return error(request, 404, f"Không có việc số {job_id}.")
    return render(request, "job.html", title=f"Việc #{job.id}: {job.kind_label}", **job_view(job))


@router.get("/jobs")
def jobs_page(request: Request, actor: Editor) -> Response:
    return render(request, "jobs.html", title="Việc lập chỉ mục", jobs=jobs.recent(manager(request).db, 50))


# --- the document page's forms -------------------------------------------------------------------------------

@dataclass
class DocManage:
    doc_id: str
    fields: list[FieldView]
    version: str
    edit_url: str
    remove_url: str
    replace_url: str
    pending_url: str
    pending_label: str
    reason: str  # why it cannot be changed from here ("" when it can)
    levels: tuple = metadata_form.LEVEL_CHOICES
    doc_types: tuple = metadata_form.DOC_TYPES


def document_manage(request: Request, d: Directive) -> DocManage | None:
    """The edit/remove/replace panel of a document page, for editors (None for everyone else)."""
    actor = actor_of(request)
    if actor.user is None or not actor.user.can("editor"):
        return None
    m = manager(request)
    rel = d.source.split("#", 1)[0]
    pending = jobs.pending_for(m.db, rel)
    base = DocManage(d.doc_id, [], "", doc_path(d.doc_id, "/edit"), doc_path(d.doc_id, "/remove"),
                     doc_path(d.doc_id, "/replace"), f"/jobs/{pending.id}" if pending else "",
                     f"việc #{pending.id} ({pending.status_text()})" if pending else "", "")
    try:
        t = m.target_of(d)
    except OperationError as e:
        base.reason = e.message
        return base
    base.fields = field_views(metadata_form.EDIT_FIELDS, t.values)
    base.version = t.version
    return base


def _edit_page(request: Request, t, status: int = 200, message: str = "", values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, current: dict[str, str] | None = None,
               version: str | None = None) -> Response:
    return render(request, "edit.html", status=status, title=f"Sửa thông tin: {t.doc.metadata.title}",
                  doc_id=t.doc.doc_id, doc_url=doc_path(t.doc.doc_id), doc_title=t.doc.metadata.title,
                  fields=field_views(metadata_form.EDIT_FIELDS, values or t.values, errors, current),
                  version=version or t.version, message=message, edit_url=doc_path(t.doc.doc_id, "/edit"),
                  api_url=f"/api/documents/{quote(t.doc.doc_id, safe='')}/edit", **FORM_CHOICES)


def _target(request: Request, svc, doc_id: str):
    try:
        return manager(request).target(svc, doc_id), None
    except NotFound:
        return None, error(request, 404, f"Không tìm thấy văn bản “{doc_id[:120]}”.")
    except OperationError as e:
        return None, error(request, e.status, e.message)


@router.get("/documents/{doc_id}/edit")
def edit_form(request: Request, doc_id: str, actor: Editor, svc: Service) -> Response:
    t, err = _target(request, svc, doc_id)
    return err or _edit_page(request, t)


@router.post("/documents/{doc_id}/edit")
def edit(request: Request, doc_id: str, actor: Editor, svc: Service,
         csrf_token: Annotated[str, Form(max_length=200)] = "", version: Annotated[str, Form(max_length=64)] = "",
         issuer: Annotated[str | None, Form(max_length=2000)] = None,
         place: Annotated[str | None, Form(max_length=2000)] = None,
         level: Annotated[str | None, Form(max_length=2000)] = None,
         doc_type: Annotated[str | None, Form(max_length=2000)] = None,
         number: Annotated[str | None, Form(max_length=2000)] = None,
         date: Annotated[str | None, Form(max_length=2000)] = None,
         subject: Annotated[str | None, Form(max_length=5000)] = None,
         signer: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """Fields the form leaves out stay as they are (a browser sends them all)."""
    check_csrf(request, actor, csrf_token)
    given = {"issuer": issuer, "place": place, "level": level, "doc_type": doc_type, "number": number, "date": date,
             "subject": subject, "signer": signer}
    raw = {k: v for k, v in given.items() if v is not None}
    t, err = _target(request, svc, doc_id)
    if err:
        return err
    try:
        job = manager(request).edit(actor, svc, doc_id, raw, version)
    except OperationError as e:
        if e.conflict is not None:
            t2 = manager(request).target(svc, doc_id)  # the values someone else saved, and the new version
            return _edit_page(request, t2, 409, e.message, values={**t2.values, **(e.form.values if e.form else raw)},
                              current=t2.values, version=t2.version)
        return _edit_page(request, t, e.status, e.message, values={**t.values, **(e.form.values if e.form else raw)},
                          errors=e.form.errors if e.form else None, version=version)
    if job is None:
        return see_other(doc_path(doc_id))
    return see_other(f"/jobs/{job.id}")


@router.get("/documents/{doc_id}/remove")
def remove_form(request: Request, doc_id: str, actor: Editor, svc: Service) -> Response:
    t, err = _target(request, svc, doc_id)
    return err or render(request, "remove.html", title=f"Gỡ văn bản: {t.doc.metadata.title}", doc_id=doc_id,
                         doc_title=t.doc.metadata.title, doc_url=doc_path(doc_id), source=t.rel,
                         action=doc_path(doc_id, "/remove"))


@router.post("/documents/{doc_id}/remove")
def remove(request: Request, doc_id: str, actor: Editor, svc: Service,
           csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        job = manager(request).remove(actor, svc, doc_id)
    except NotFound:
        return error(request, 404, f"Không tìm thấy văn bản “{doc_id[:120]}”.")
    except OperationError as e:
        return error(request, e.status, e.message)
    return see_other(f"/jobs/{job.id}")


def _replace_page(request: Request, t, status: int = 200, message: str = "") -> Response:
    m = manager(request)
    return render(request, "replace.html", status=status, title=f"Thay tệp: {t.doc.metadata.title}",
                  doc_id=t.doc.doc_id, doc_title=t.doc.metadata.title, doc_url=doc_path(t.doc.doc_id), source=t.rel,
                  action=doc_path(t.doc.doc_id, "/replace"), message=message, accept=formats.accepted_list(),
                  accept_attr=",".join(sorted(formats.ACCEPTED)), max_file_mb=m.limits.max_file_bytes // 1_000_000)


@router.get("/documents/{doc_id}/replace")
def replace_form(request: Request, doc_id: str, actor: Editor, svc: Service) -> Response:
    t, err = _target(request, svc, doc_id)
    return err or _replace_page(request, t)


@router.post("/documents/{doc_id}/replace")
async def replace(request: Request, doc_id: str, actor: Editor, svc: Service) -> Response:
    t, err = _target(request, svc, doc_id)
    if err:
        return err
    try:
        form = await _receive(request, actor)
    except UploadError as e:
        return _replace_page(request, t, e.status, e.message)
    try:
        job = await run_in_threadpool(manager(request).replace, actor, svc, doc_id, form)
    except OperationError as e:
        return _replace_page(request, t, e.status, e.message)
    return see_other(f"/jobs/{job.id}")


# --- trash (admin) -------------------------------------------------------------------------------------------

@router.get("/trash")
def trash_page(request: Request, actor: Admin) -> Response:
    return render(request, "trash.html", title="Thùng rác", entries=manager(request).trash.entries(), message="")


@router.post("/trash/{entry_id}/restore")
def restore(request: Request, entry_id: str, actor: Admin, csrf_token: Annotated[str, Form(max_length=200)] = ""
            ) -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        job = manager(request).restore(actor, entry_id)
    except OperationError as e:
        return render(request, "trash.html", status=e.status, title="Thùng rác",
                      entries=manager(request).trash.entries(), message=e.message)
    return see_other(f"/jobs/{job.id}")
