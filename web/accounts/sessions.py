"""Login sessions and their CSRF tokens.

The cookie holds a random id (256 bits from ``secrets``); the database only its SHA-256, so a copy of the
database opens no session. Each login creates a NEW id (the old one, if any, is deleted: no fixation). A
session ends after ``idle`` seconds without a request, and at the latest after ``MAX_AGE``. Its CSRF token is
a second random value, sent in every form that changes anything and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from web.accounts.users import User, by_id
from web.datadir import DataDB

COOKIE = "directives_session"
PRE_COOKIE = "directives_login_csrf"  # double-submit token of the login form (no session yet)
IDLE_SECONDS = 2 * 3600
MAX_AGE = 7 * 24 * 3600
TOUCH_EVERY = 60  # last_seen is written at most once a minute per session


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    id_hash: str
    user: User
    csrf: str
    created_at: float
    last_seen: float


def create(db: DataDB, user: User, address: str, replaces: str | None = None) -> tuple[str, Session]:
    """A fresh session for ``user`` (deleting the one being replaced); returns (cookie value, session)."""
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = time.time()
    with db.tx() as con:
        if replaces:
            con.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(replaces),))
        con.execute("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?", (now - IDLE_SECONDS, now - MAX_AGE))
        con.execute("INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen, address) VALUES (?,?,?,?,?,?)",
                    (_digest(raw), user.id, csrf, now, now, address[:100]))
    return raw, Session(_digest(raw), user, csrf, now, now)


def lookup(db: DataDB, raw: str, idle: float = IDLE_SECONDS) -> Session | None:
    """The live session for a cookie value, or None (unknown, idle too long or too old: then it is deleted)."""
    if not raw or len(raw) > 200:
        return None
    h = _digest(raw)
    r = db.con.execute("SELECT * FROM sessions WHERE id_hash = ?", (h,)).fetchone()
    if r is None:
        return None
    now = time.time()
    if now - r["last_seen"] > idle or now - r["created_at"] > MAX_AGE:
        db.con.execute("DELETE FROM sessions WHERE id_hash = ?", (h,))
        return None
    user = by_id(db, r["user_id"])
    if user is None:
        return None
    if now - r["last_seen"] > TOUCH_EVERY:
        db.con.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, h))
    return Session(h, user, r["csrf"], r["created_at"], now)


def end(db: DataDB, raw: str) -> None:
    db.con.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(raw),))


def end_others(db: DataDB, user: User, keep_hash: str) -> None:
    """After a password change: every other session of the account ends."""
    db.con.execute("DELETE FROM sessions WHERE user_id = ? AND id_hash != ?", (user.id, keep_hash))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens (False for a missing or empty one)."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
