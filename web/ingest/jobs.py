"""The ingest job table: every upload, edit, removal, replacement and restore waits here for the worker.

A job's files are already in place in the corpus when it is queued; the job is the re-indexing that makes
the change searchable. Its life: queued → running (with the stage and counts of the build: parsing file
3/12, OCR page 4/30, embedding 120/400, publishing) → published or failed, with one result per file. The
worker takes every queued job at once as a *batch*, because one incremental build covers them all.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from indexer.progress import Progress
from web.datadir import DataDB

KINDS = {"upload": "Tải lên", "edit": "Sửa thông tin", "remove": "Gỡ văn bản", "replace": "Thay tệp",
         "restore": "Khôi phục"}
STATES = {"queued": "Đang chờ", "running": "Đang xử lý", "published": "Đã xong", "failed": "Thất bại"}
FINISHED = ("published", "failed")
STAGE_LABELS = {"parsing": "Đang đọc tệp", "ocr": "Đang nhận dạng chữ (OCR) trang", "embedding": "Đang tạo vector",
                "publishing": "Đang công bố chỉ mục mới"}
ITEM_STATUS = {"pending": "Đang chờ", "indexed": "Đã lập chỉ mục", "removed": "Đã gỡ khỏi chỉ mục",
               "error": "Lỗi", "duplicate": "Trùng"}


@dataclass
class Item:
    """One file of a job and what became of it."""

    name: str  # what the person saw: the original file name, or the document's title
    path: str  # corpus-relative source
    action: str  # add | edit | remove | replace | restore
    status: str = "pending"
    message: str = ""
    doc_ids: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return ITEM_STATUS.get(self.status, self.status)


@dataclass
class Job:
    id: int
    kind: str
    state: str
    user_name: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    stage: str
    done: int
    total: int
    source: str
    items: list[Item]
    error: str
    summary: str

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def status_text(self) -> str:
        """"Đang tạo vector 120/400", "Đang chờ", "Đã xong" … (Vietnamese, one line)."""
        if self.state == "running" and self.stage:
            label = STAGE_LABELS.get(self.stage, self.stage)
            count = f" {self.done}/{self.total}" if self.total and self.stage != "publishing" else ""
            return f"{label}{count}"
        if self.state == "running":
            return "Đang khởi động tiến trình lập chỉ mục"
        return self.state_label

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "status": self.status_text(),
                "user": self.user_name, "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "attempts": self.attempts,
                "progress": {"stage": self.stage, "done": self.done, "total": self.total, "source": self.source},
                "items": [{"name": i.name, "path": i.path, "action": i.action, "status": i.status,
                           "message": i.message, "doc_ids": i.doc_ids} for i in self.items],
                "error": self.error, "summary": self.summary}


def _job(r) -> Job:
    return Job(r["id"], r["kind"], r["state"], r["user_name"], r["created_at"], r["started_at"], r["finished_at"],
               r["attempts"], r["stage"], r["done"], r["total"], r["source"],
               [Item(**i) for i in json.loads(r["items"])], r["error"], r["summary"])


def _items_json(items: list[Item]) -> str:
    return json.dumps([i.__dict__ for i in items], ensure_ascii=False)


def enqueue(db: DataDB, kind: str, user: str, items: list[Item]) -> Job:
    if kind not in KINDS:
        raise ValueError(kind)
    cur = db.con.execute("INSERT INTO jobs (kind, state, user_name, created_at, items) VALUES (?, 'queued', ?, ?, ?)",
                         (kind, user, time.time(), _items_json(items)))
    return get(db, int(cur.lastrowid))


def get(db: DataDB, job_id: int) -> Job | None:
    r = db.con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return _job(r) if r else None


def recent(db: DataDB, limit: int = 20) -> list[Job]:
    return [_job(r) for r in db.con.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]


def pending_for(db: DataDB, path: str) -> Job | None:
    """The newest unfinished job that touches a corpus path (the document page says it is being updated)."""
    for r in db.con.execute("SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY id DESC"):
        j = _job(r)
        if any(i.path == path for i in j.items):
            return j
    return None


def claim_batch(db: DataDB) -> int | None:
    """Mark every queued job running under one new batch id (the oldest job's id); None when none wait."""
    with db.tx() as con:
        first = con.execute("SELECT min(id) FROM jobs WHERE state = 'queued'").fetchone()[0]
        if first is None:
            return None
        con.execute("UPDATE jobs SET state = 'running', batch = ?, started_at = ?, attempts = attempts + 1, "
                    "stage = '', done = 0, total = 0, source = '' WHERE state = 'queued'", (first, time.time()))
    return int(first)


def in_batch(db: DataDB, batch: int) -> list[Job]:
    return [_job(r) for r in db.con.execute("SELECT * FROM jobs WHERE batch = ? AND state = 'running' ORDER BY id",
                                            (batch,))]


def progress(db: DataDB, batch: int, p: Progress) -> None:
    db.con.execute("UPDATE jobs SET stage = ?, done = ?, total = ?, source = ? WHERE batch = ? AND state = 'running'",
                   (p.stage, p.done, p.total, p.source[:300], batch))


def finish(db: DataDB, job_id: int, state: str, items: list[Item], error: str = "", summary: str = "") -> None:
    if state not in FINISHED:
        raise ValueError(state)
    db.con.execute("UPDATE jobs SET state = ?, finished_at = ?, items = ?, error = ?, summary = ? WHERE id = ?",
                   (state, time.time(), _items_json(items), error[:4000], summary[:4000], job_id))


def fail_batch(db: DataDB, batch: int, error: str) -> int:
    """Fail the batch's unfinished jobs (the build process died); returns how many."""
    cur = db.con.execute("UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE batch = ? AND "
                         "state = 'running'", (time.time(), error[:4000], batch))
    return cur.rowcount


def requeue_running(db: DataDB) -> int:
    """At start-up: jobs left running by a killed server go back to the queue.

    Re-running is safe: a build either published whole or not at all, and a job's results are read from the
    index it finds, not from what an interrupted run might have said."""
    cur = db.con.execute("UPDATE jobs SET state = 'queued', batch = NULL, stage = '', done = 0, total = 0, "
                         "source = '' WHERE state = 'running'")
    return cur.rowcount
