"""Accounts and roles: viewer (read), editor (upload, edit, remove), admin (accounts, trash, audit).

One module used by the web pages and by ``directives user …``. The last admin can be neither removed nor
demoted, so the site can always be administered.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from web.accounts import passwords
from web.datadir import DataDB

ROLES = ("viewer", "editor", "admin")
ROLE_LABELS = {"viewer": "Người xem", "editor": "Biên tập viên", "admin": "Quản trị viên"}
RE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


class AccountError(ValueError):
    """A refused account operation; the message is Vietnamese."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    created_at: float

    def can(self, role: str) -> bool:
        """At least ``role``: admin ⊃ editor ⊃ viewer."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def _user(r) -> User:
    return User(r["id"], r["name"], r["role"], r["created_at"])


def normalise_name(name: str) -> str:
    return (name or "").strip().lower()


def check_name(name: str) -> str:
    n = normalise_name(name)
    if not RE_NAME.fullmatch(n):
        raise AccountError("Tên đăng nhập phải dài 2–64 ký tự, chỉ gồm chữ Latin không dấu, số và . _ - "
                           "(bắt đầu bằng chữ hoặc số).")
    return n


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"Vai trò không hợp lệ: “{role[:40]}” (chọn viewer, editor hoặc admin).")
    return role


def add(db: DataDB, name: str, password: str, role: str) -> User:
    n, role = check_name(name), check_role(role)
    passwords.check_policy(password, n)
    now = time.time()
    with db.tx() as con:
        if con.execute("SELECT 1 FROM users WHERE name = ?", (n,)).fetchone():
            raise AccountError(f"Tài khoản “{n}” đã có.")
        cur = con.execute("INSERT INTO users (name, role, password_hash, created_at, password_changed_at) "
                          "VALUES (?,?,?,?,?)", (n, role, passwords.hash_password(password), now, now))
    return User(int(cur.lastrowid), n, role, now)


def get(db: DataDB, name: str) -> User | None:
    r = db.con.execute("SELECT * FROM users WHERE name = ?", (normalise_name(name),)).fetchone()
    return _user(r) if r else None


def by_id(db: DataDB, user_id: int) -> User | None:
    r = db.con.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return _user(r) if r else None


def all_users(db: DataDB) -> list[User]:
    return [_user(r) for r in db.con.execute("SELECT * FROM users ORDER BY name")]


def count(db: DataDB) -> int:
    return db.con.execute("SELECT count(*) FROM users").fetchone()[0]


def _admins(con) -> int:
    return con.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]


def remove(db: DataDB, name: str) -> User:
    """Delete an account with its sessions and API tokens (its audit entries stay)."""
    with db.tx() as con:
        r = con.execute("SELECT * FROM users WHERE name = ?", (normalise_name(name),)).fetchone()
        if r is None:
            raise AccountError(f"Không có tài khoản “{normalise_name(name)[:64]}”.")
        if r["role"] == "admin" and _admins(con) == 1:
            raise AccountError("Không thể xóa quản trị viên cuối cùng.")
        con.execute("DELETE FROM users WHERE id = ?", (r["id"],))
    return _user(r)


def set_role(db: DataDB, name: str, role: str) -> tuple[User, str]:
    """(the account with its new role, the old role)."""
    role = check_role(role)
    with db.tx() as con:
        r = con.execute("SELECT * FROM users WHERE name = ?", (normalise_name(name),)).fetchone()
        if r is None:
            raise AccountError(f"Không có tài khoản “{normalise_name(name)[:64]}”.")
        if r["role"] == "admin" and role != "admin" and _admins(con) == 1:
            raise AccountError("Không thể hạ vai trò của quản trị viên cuối cùng.")
        con.execute("UPDATE users SET role = ? WHERE id = ?", (role, r["id"]))
        if role != r["role"]:  # privileges changed: every session starts again
            con.execute("DELETE FROM sessions WHERE user_id = ?", (r["id"],))
    return User(r["id"], r["name"], role, r["created_at"]), r["role"]


def authenticate(db: DataDB, name: str, password: str) -> User | None:
    """The account when name and password match (constant work either way); rehashes outdated hashes."""
    r = db.con.execute("SELECT * FROM users WHERE name = ?", (normalise_name(name),)).fetchone()
    if not passwords.verify(r["password_hash"] if r else None, password):
        return None
    if passwords.needs_rehash(r["password_hash"]):
        db.con.execute("UPDATE users SET password_hash = ? WHERE id = ?", (passwords.hash_password(password), r["id"]))
    return _user(r)


def change_password(db: DataDB, user: User, old: str, new: str) -> None:
    r = db.con.execute("SELECT password_hash FROM users WHERE id = ?", (user.id,)).fetchone()
    if r is None or not passwords.verify(r["password_hash"], old):
        raise AccountError("Mật khẩu hiện tại không đúng.")
    passwords.check_policy(new, user.name)
    db.con.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                   (passwords.hash_password(new), time.time(), user.id))
