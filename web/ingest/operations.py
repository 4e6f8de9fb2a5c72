"""Corpus management as operations: upload, edit, remove, replace, restore. Pages and the JSON API call these.

Each operation checks its input, changes the corpus folder (under the corpus lock), queues one job, writes
the audit log and wakes the worker. Refusals raise ``OperationError`` with an HTTP status and a Vietnamese
message, after which nothing has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.models import Directive
from indexer.parsing.sidecar import dump_sidecar, sidecar_path
from search_api.service import SearchService
from web.accounts.auth import Actor
from web.audit.log import record
from web.datadir import DataDB
from web.ingest import formats, jobs, metadata_form
from web.ingest.corpus_files import BadPath, Conflict, CorpusFiles, write_atomic
from web.ingest.jobs import Item, Job
from web.ingest.multipart import ReceivedForm, UploadLimits
from web.ingest.names import clean_original_name, suffix_of
from web.ingest.trash import Trash, TrashError


class OperationError(Exception):
    def __init__(self, status: int, message: str, *, form: metadata_form.FormResult | None = None,
                 conflict: Conflict | None = None):
        super().__init__(message)
        self.status, self.message, self.form, self.conflict = status, message, form, conflict


@dataclass
class FileResult:
    name: str  # cleaned original name
    status: str  # queued | duplicate | refused
    message: str = ""
    path: str = ""  # where it is stored (queued) or the file it duplicates
    doc_id: str = ""  # the indexed document it duplicates

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class UploadOutcome:
    files: list[FileResult] = field(default_factory=list)
    job: Job | None = None


@dataclass
class EditTarget:
    """A document that can be changed from the browser: its indexed form and its file."""

    doc: Directive
    path: Path
    rel: str
    version: str
    text: dict[str, str]  # what the text says
    sidecar: dict[str, Any]  # corrections on disk now
    values: dict[str, str]  # what the form shows
    pending: Job | None


class Manager:
    def __init__(self, db: DataDB, corpus: Path, limits: UploadLimits | None = None, notify=lambda: None):
        self.db = db
        self.files = CorpusFiles(corpus, db)
        self.trash = Trash(self.files.root)
        self.limits = limits or UploadLimits()
        self.notify = notify

    # --- upload ------------------------------------------------------------------------------------------
    def upload(self, actor: Actor, form: ReceivedForm, svc: SearchService) -> UploadOutcome:
        meta = metadata_form.validate(form.fields, metadata_form.UPLOAD_FIELDS)
        if not meta.ok:
            form.discard()
            raise OperationError(422, "Thông tin văn bản chưa hợp lệ; chưa có tệp nào được lưu.", form=meta)
        if not form.files:
            raise OperationError(400, "Chưa chọn tệp nào để tải lên.", form=meta)
        indexed = {d.source: d.doc_id for d in svc.documents()}
        out = UploadOutcome()
        items: list[Item] = []
        given = {k: v for k, v in meta.parsed.items() if v}
        with self.files.locked():
            self.files.refresh_hashes()
            for f in form.files:
                res = self._store_one(f, meta, indexed)
                out.files.append(res)
                items.append(Item(res.name, res.path, "add") if res.status == "queued" else
                             Item(res.name, res.path, "add", "duplicate" if res.status == "duplicate" else "error",
                                  res.message, [res.doc_id] if res.doc_id else []))
                record(self.db, actor=actor.name, action="upload", target=res.path or res.name, address=actor.address,
                       new={"name": res.name, "status": res.status, "sha256": f.sha256, "bytes": f.size,
                            **({"metadata": given} if res.status == "queued" and given else {})},
                       detail=res.message)
        form.discard()  # whatever was not stored
        if any(i.status == "pending" for i in items):
            out.job = jobs.enqueue(self.db, "upload", actor.name, items)
            self.notify()
        return out

    def _store_one(self, f, meta: metadata_form.FormResult, indexed: dict[str, str]) -> FileResult:
        name = clean_original_name(f.client_name)
        suffix = suffix_of(name)
        shown = name or "(không tên)"
        if not formats.suffix_allowed(suffix):
            f.temp_path.unlink(missing_ok=True)
            what = f"“{suffix}”" if suffix else "không có phần mở rộng"
            return FileResult(shown, "refused", f"Định dạng {what} không được hỗ trợ. Chấp nhận: "
                                                f"{formats.accepted_list()}.")
        dup = self.files.duplicate_of(f.sha256)
        if dup:
            f.temp_path.unlink(missing_ok=True)
            doc_id = indexed.get(dup, "")
            return FileResult(shown, "duplicate", f"Đã có trong kho: {dup}" + ("" if doc_id else " (đang chờ lập chỉ mục)"),
                              dup, doc_id)
        overrides = {"original_name": name, **{k: v for k, v in meta.parsed.items() if v}}
        try:
            stored = self.files.store_upload(f, suffix, overrides)
        except formats.Refused as e:
            return FileResult(shown, "refused", str(e))
        return FileResult(shown, "queued", "", stored.path)

    # --- the document being changed ------------------------------------------------------------------------
    def target(self, svc: SearchService, doc_id: str) -> EditTarget:
        """NotFound propagates (404); a record of a .jsonl file or a missing file is a 409."""
        return self.target_of(svc.document(doc_id))

    def target_of(self, d: Directive) -> EditTarget:
        if "#" in d.source:
            raise OperationError(409, f"Văn bản này là một bản ghi trong tệp {d.source.split('#', 1)[0]}; hãy sửa "
                                      "hoặc gỡ bản ghi trong chính tệp đó.")
        try:
            path = self.files.path_of(d.source)
        except BadPath:
            raise OperationError(409, "Tệp nguồn của văn bản này nằm ngoài kho.") from None
        if not path.is_file():
            raise OperationError(409, "Tệp nguồn của văn bản này không còn trong kho (có thể vừa bị gỡ); hãy chờ "
                                      "việc cập nhật chỉ mục xong.")
        try:
            sidecar = self.files.overrides(path)
        except ValueError as e:
            raise OperationError(409, f"Tệp sửa thông tin (.meta.yaml) của văn bản bị lỗi: {e}") from None
        text = metadata_form.text_values(d.metadata)
        values = metadata_form.effective_values(text, sidecar)
        values["date"] = metadata_form.show_date(values["date"])
        return EditTarget(d, path, self.files.rel(path), self.files.sidecar_version(path), text, sidecar, values,
                          jobs.pending_for(self.db, self.files.rel(path)))

    # --- edit --------------------------------------------------------------------------------------------
    def edit(self, actor: Actor, svc: SearchService, doc_id: str, raw: dict[str, Any], version: str) -> Job | None:
        """Save the fields given in ``raw`` (others unchanged); None when nothing changed."""
        t = self.target(svc, doc_id)
        names = tuple(f for f in metadata_form.EDIT_FIELDS if f in raw)
        result = metadata_form.validate(raw, names)
        if not result.ok:
            raise OperationError(422, "Thông tin chưa hợp lệ; chưa lưu gì.", form=result)
        new_sidecar = metadata_form.merge_overrides(t.sidecar, t.text, result)
        old = metadata_form.effective_values(t.text, t.sidecar)
        new = metadata_form.effective_values(t.text, new_sidecar)
        before, after = metadata_form.changes(old, new)
        if not after:
            return None
        try:
            self.files.save_overrides(t.path, new_sidecar, version)
        except Conflict as c:
            raise OperationError(409, "Văn bản vừa được người khác sửa sau khi bạn mở biểu mẫu. Thông tin bạn nhập "
                                      "vẫn còn bên dưới; hãy xem giá trị mới rồi lưu lại.", form=result,
                                 conflict=c) from None
        job = jobs.enqueue(self.db, "edit", actor.name, [Item(t.doc.metadata.title or doc_id, t.rel, "edit")])
        record(self.db, actor=actor.name, action="edit", target=doc_id, address=actor.address, old=before, new=after,
               detail=f"job {job.id}")
        self.notify()
        return job

    # --- remove ------------------------------------------------------------------------------------------
    def remove(self, actor: Actor, svc: SearchService, doc_id: str) -> Job:
        t = self.target(svc, doc_id)
        with self.files.locked():
            entry = self.trash.put(t.path, actor=actor.name, kind="removed", doc_ids=[doc_id],
                                   title=t.doc.metadata.title)
        job = jobs.enqueue(self.db, "remove", actor.name, [Item(t.doc.metadata.title or doc_id, t.rel, "remove")])
        record(self.db, actor=actor.name, action="remove", target=doc_id, address=actor.address,
               old={"source": t.rel, "title": t.doc.metadata.title}, new={"trash": entry.id}, detail=f"job {job.id}")
        self.notify()
        return job

    # --- replace -----------------------------------------------------------------------------------------
    def replace(self, actor: Actor, svc: SearchService, doc_id: str, form: ReceivedForm) -> Job:
        """A new version of the file: same name stem (same document id and corrections), old one to the trash."""
        try:
            t = self.target(svc, doc_id)
            if len(form.files) != 1:
                raise OperationError(400, "Hãy chọn đúng một tệp để thay thế.")
            f = form.files[0]
            name = clean_original_name(f.client_name)
            suffix = suffix_of(name)
            if not formats.suffix_allowed(suffix):
                raise OperationError(415, f"Định dạng “{suffix or name}” không được hỗ trợ. Chấp nhận: "
                                          f"{formats.accepted_list()}.")
            with self.files.locked():
                self.files.refresh_hashes()
                dup = self.files.duplicate_of(f.sha256)
                if dup:
                    raise OperationError(409, f"Tệp mới giống hệt một tệp đã có trong kho: {dup}.")
                try:
                    self.files.check(f, suffix)
                except formats.Refused as e:
                    raise OperationError(415, str(e)) from None
                old_hash = next((r["sha256"] for r in self.db.con.execute(
                    "SELECT sha256 FROM file_hashes WHERE path = ?", (t.rel,))), "")
                entry = self.trash.put(t.path, actor=actor.name, kind="replaced", doc_ids=[doc_id],
                                       title=t.doc.metadata.title, reason=f"thay bằng “{name}”", keep_sidecar=True)
                stored = self.files.place(f, t.path.with_suffix(suffix))
                if t.sidecar or name:
                    write_atomic(sidecar_path(t.path), dump_sidecar({**t.sidecar, "original_name": name}).encode())
        finally:
            form.discard()
        job = jobs.enqueue(self.db, "replace", actor.name, [Item(name, stored.path, "replace")])
        record(self.db, actor=actor.name, action="replace", target=doc_id, address=actor.address,
               old={"source": t.rel, "sha256": old_hash, "trash": entry.id},
               new={"source": stored.path, "sha256": stored.sha256, "name": name}, detail=f"job {job.id}")
        self.notify()
        return job

    # --- restore -----------------------------------------------------------------------------------------
    def restore(self, actor: Actor, entry_id: str) -> Job:
        with self.files.locked():
            try:
                entry = self.trash.restore(entry_id)
            except TrashError as e:
                raise OperationError(409, str(e)) from None
        docs = [f for f in entry.files if not f.endswith(".meta.yaml")]
        job = jobs.enqueue(self.db, "restore", actor.name, [Item(entry.title or p, p, "restore") for p in docs])
        record(self.db, actor=actor.name, action="restore", target=", ".join(entry.doc_ids) or ", ".join(docs),
               address=actor.address, old={"trash": entry.id, "kind": entry.kind}, new={"files": docs},
               detail=f"job {job.id}")
        self.notify()
        return job
