"""Per-user API tokens for ``Authorization: Bearer …``: shown once when created, stored as SHA-256.

A token is 256 random bits, so a fast hash is enough (there is nothing to guess); only its first characters
are kept in clear to tell tokens apart on the account page.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from web.accounts.users import AccountError, User, by_id
from web.datadir import DataDB

PREFIX = "dvt_"
MAX_TOKENS = 20


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    created_at: float
    last_used: float | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(db: DataDB, user: User, name: str) -> tuple[str, TokenInfo]:
    """(the token, shown once; its record)."""
    name = " ".join((name or "").split())[:80] or "Mã API"
    token = PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    with db.tx() as con:
        if con.execute("SELECT count(*) FROM api_tokens WHERE user_id = ?", (user.id,)).fetchone()[0] >= MAX_TOKENS:
            raise AccountError(f"Mỗi tài khoản có tối đa {MAX_TOKENS} mã API; hãy thu hồi mã không dùng.")
        cur = con.execute("INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (?,?,?,?,?)",
                          (user.id, name, _digest(token), token[:10], now))
    return token, TokenInfo(int(cur.lastrowid), name, token[:10], now, None)


def of_user(db: DataDB, user: User) -> list[TokenInfo]:
    return [TokenInfo(r["id"], r["name"], r["prefix"], r["created_at"], r["last_used"])
            for r in db.con.execute("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id", (user.id,))]


def revoke(db: DataDB, user: User, token_id: int) -> TokenInfo:
    r = db.con.execute("SELECT * FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user.id)).fetchone()
    if r is None:
        raise AccountError("Không có mã API này trong tài khoản của bạn.")
    db.con.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
    return TokenInfo(r["id"], r["name"], r["prefix"], r["created_at"], r["last_used"])


def authenticate(db: DataDB, token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    r = db.con.execute("SELECT id, user_id, last_used FROM api_tokens WHERE token_hash = ?", (_digest(token),)).fetchone()
    if r is None:
        return None
    now = time.time()
    if r["last_used"] is None or now - r["last_used"] > 60:
        db.con.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, r["id"]))
    return by_id(db, r["user_id"])
