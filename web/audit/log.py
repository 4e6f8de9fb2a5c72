"""The audit log: who did what, when, from where, with the old and new values. Append-only.

Every write path (uploads, edits, removals, restores, replacements), every login failure and every account
change calls ``record``; ``/audit`` and ``GET /api/audit`` read it back with filters.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from web.datadir import DataDB

ACTIONS = {
    "login": "Đăng nhập", "login_failed": "Đăng nhập sai", "login_throttled": "Đăng nhập bị chặn tạm thời",
    "logout": "Đăng xuất", "upload": "Tải lên", "edit": "Sửa thông tin", "remove": "Gỡ văn bản",
    "restore": "Khôi phục", "replace": "Thay tệp", "user_add": "Tạo tài khoản", "user_remove": "Xóa tài khoản",
    "role_change": "Đổi vai trò", "password_change": "Đổi mật khẩu", "token_create": "Tạo mã API",
    "token_revoke": "Thu hồi mã API",
}
PAGE_SIZE = 50


@dataclass
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    address: str
    old: Any
    new: Any
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action, "target": self.target,
                "address": self.address, "old": self.old, "new": self.new, "detail": self.detail}


@dataclass
class AuditFilter:
    actor: str = ""
    action: str = ""
    target: str = ""  # substring
    since: float | None = None
    until: float | None = None
    offset: int = 0
    limit: int = PAGE_SIZE
    extra: dict[str, str] = field(default_factory=dict)


def record(db: DataDB, *, actor: str, action: str, target: str = "", address: str = "", old: Any = None,
           new: Any = None, detail: str = "") -> int:
    """Append one entry; ``old``/``new`` are JSON-serialisable values (never a password or a token)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    cur = db.con.execute(
        "INSERT INTO audit (at, actor, action, target, address, old, new, detail) VALUES (?,?,?,?,?,?,?,?)",
        (time.time(), actor, action, target, address,
         None if old is None else json.dumps(old, ensure_ascii=False),
         None if new is None else json.dumps(new, ensure_ascii=False), detail))
    return int(cur.lastrowid)


def query(db: DataDB, f: AuditFilter) -> tuple[list[AuditEntry], int]:
    """Entries matching ``f``, newest first, and how many match in all."""
    where, args = [], []
    if f.actor:
        where.append("actor = ?")
        args.append(f.actor)
    if f.action:
        where.append("action = ?")
        args.append(f.action)
    if f.target:
        where.append("instr(lower(target), lower(?)) > 0")
        args.append(f.target)
    if f.since is not None:
        where.append("at >= ?")
        args.append(f.since)
    if f.until is not None:
        where.append("at < ?")
        args.append(f.until)
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    total = db.con.execute(f"SELECT count(*) FROM audit{sql_where}", args).fetchone()[0]
    rows = db.con.execute(f"SELECT * FROM audit{sql_where} ORDER BY id DESC LIMIT ? OFFSET ?",
                          [*args, f.limit, f.offset]).fetchall()
    return [AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["target"], r["address"],
                       json.loads(r["old"]) if r["old"] is not None else None,
                       json.loads(r["new"]) if r["new"] is not None else None, r["detail"]) for r in rows], total


def actors(db: DataDB) -> list[str]:
    """Everyone who appears in the log (for the filter's drop-down)."""
    return [r[0] for r in db.con.execute("SELECT DISTINCT actor FROM audit ORDER BY actor")]
