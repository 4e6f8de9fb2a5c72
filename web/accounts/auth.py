"""Who is asking: the session cookie or an API token, resolved once per request by a small ASGI middleware.

The middleware puts an ``Actor`` in ``request.state.actor`` (and the page globals ``me``/``csrf`` the
templates use). With ``--read login`` it also turns every anonymous request away, except the login page and
the static files: pages redirect to ``/login``, the API answers 401. Routes then ask for a role with
``Depends(require("editor"))`` and check the CSRF token with ``check_csrf``.

A write authorised by a session cookie must carry the session's CSRF token (a form field or the
``X-CSRF-Token`` header); a write authorised by ``Authorization: Bearer`` needs none, because a browser never
sends that header by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

from fastapi import Request

from web.accounts import sessions, tokens
from web.accounts.sessions import Session
from web.accounts.users import ROLES, User
from web.datadir import DataDB

READ_POLICIES = ("open", "login")
PUBLIC_PREFIXES = ("/login", "/static/")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class AuthError(Exception):
    """401 (no or bad credentials) or 403 (wrong role, bad CSRF token); shown as a page or as JSON."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Actor:
    user: User | None
    session: Session | None  # set when authenticated by the cookie
    via: str  # "session", "token" or ""
    address: str

    @property
    def name(self) -> str:
        return self.user.name if self.user else "(khách)"

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


def _headers(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def cookie_value(header: str, name: str) -> str:
    try:
        c = SimpleCookie()
        c.load(header or "")
    except CookieError:
        return ""
    m = c.get(name)
    return m.value if m else ""


def client_address(scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class AuthMiddleware:
    """Resolves the actor of every HTTP request; enforces ``--read login``."""

    def __init__(self, app, db: DataDB, read: str = "open", idle: float = sessions.IDLE_SECONDS):
        if read not in READ_POLICIES:
            raise ValueError(f"read policy must be one of {READ_POLICIES}, got {read!r}")
        self.app, self.db, self.read, self.idle = app, db, read, idle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        h = _headers(scope)
        address = client_address(scope)
        user = session = None
        via = ""
        auth = h.get("authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            user = tokens.authenticate(self.db, token.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                return await _json(send, 401, "invalid or revoked API token (Authorization: Bearer …)")
            via = "token"
        else:
            raw = cookie_value(h.get("cookie", ""), sessions.COOKIE)
            session = sessions.lookup(self.db, raw, self.idle) if raw else None
            if session is not None:
                user, via = session.user, "session"
        actor = Actor(user, session, via, address)
        state = scope.setdefault("state", {})
        state["actor"] = actor
        state["page_context"] = {"me": user, "csrf": actor.csrf, "login_enabled": True}
        path = scope.get("path", "")
        if self.read == "login" and user is None and not path.startswith(PUBLIC_PREFIXES):
            if path.startswith("/api/") or path in ("/openapi.json", "/docs", "/redoc") or path.startswith("/docs/"):
                return await _json(send, 401, "login required: this server is run with --read login")
            qs = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{qs}" if qs else "")
            return await _redirect(send, "/login?next=" + quote(target, safe=""))
        return await self.app(scope, receive, send)


async def _json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="directives"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def actor_of(request: Request) -> Actor:
    actor = getattr(request.state, "actor", None)
    return actor if actor is not None else Actor(None, None, "", client_address(request.scope))


def require(role: str):
    """A dependency: the actor, who must be logged in with at least ``role`` (401 / 403 otherwise)."""
    if role not in ROLES:
        raise ValueError(role)

    def dep(request: Request) -> Actor:
        actor = actor_of(request)
        if actor.user is None:
            raise AuthError(401, "Bạn cần đăng nhập để làm việc này.")
        if not actor.user.can(role):
            raise AuthError(403, f"Tài khoản “{actor.user.name}” ({actor.user.role_label}) không có quyền làm việc "
                                 f"này; cần vai trò {ROLE_NAMES[role]}.")
        return actor
    return dep


ROLE_NAMES = {"viewer": "người xem", "editor": "biên tập viên", "admin": "quản trị viên"}


def check_csrf(request: Request, actor: Actor, form_token: str | None = None) -> None:
    """403 unless a cookie-authenticated write carries its session's CSRF token (form field or header)."""
    if request.method in SAFE_METHODS or actor.via == "token":
        return
    given = form_token or request.headers.get("x-csrf-token")
    if actor.session is None or not sessions.same_token(actor.session.csrf, given):
        raise AuthError(403, "Mã chống giả mạo (CSRF) thiếu hoặc sai. Hãy tải lại trang rồi thử lại.")


def secure_cookie(request: Request) -> bool:
    """Secure cookies when served over https (directly, or behind a proxy that says so)."""
    return request.url.scheme == "https"


def cookie_kwargs(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": secure_cookie(request), "path": "/"}
