"""Login, logout, the account page (password, API tokens) and the users page (admin), with JSON twins.

Every form that changes something carries the session's CSRF token; the login form, which has no session
yet, carries a double-submit token that must equal its cookie. Failed and throttled logins are audited; the
password itself never reaches a log or the audit table.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from web.accounts import passwords, sessions, throttle, tokens, users
from web.accounts.auth import Actor, AuthError, actor_of, check_csrf, cookie_kwargs, cookie_value, require
from web.accounts.users import ROLE_LABELS, ROLES, AccountError
from web.audit.log import record
from web.datadir import DataDB
from web.page_helpers import error, safe_next, see_other
from web.routes import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["accounts"])
THROTTLE_AUDIT_EVERY = 60.0


def _db(request: Request) -> DataDB:
    return request.app.state.db


# --- login / logout ---------------------------------------------------------------------------------------

def _login_page(request: Request, status: int = 200, message: str = "", name: str = "", next_url: str = "/",
                headers: dict[str, str] | None = None) -> Response:
    token = cookie_value(request.headers.get("cookie", ""), sessions.PRE_COOKIE) or sessions.new_token()
    r = render(request, "login.html", status=status, title="Đăng nhập", message=message, name=name,
               next_url=safe_next(next_url), login_csrf=token)
    r.set_cookie(sessions.PRE_COOKIE, token, max_age=3600, **cookie_kwargs(request))
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    actor = actor_of(request)
    if actor.user is not None:
        return see_other(safe_next(next))
    return _login_page(request, next_url=next)


def _audit_throttled(db: DataDB, name: str, address: str, kind: str) -> None:
    """Throttled attempts are recorded at most once a minute per account (a flood must not flood the log)."""
    last = db.con.execute("SELECT max(at) FROM audit WHERE action = 'login_throttled' AND target = ?", (name,)).fetchone()[0]
    if last is None or time.time() - last > THROTTLE_AUDIT_EVERY:
        record(db, actor=name or "(trống)", action="login_throttled", target=name, address=address,
               detail=f"limit per {'account' if kind == 'account' else 'address'}")


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
          csrf_token: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=2000)] = "/"
          ) -> Response:
    db = _db(request)
    actor = actor_of(request)
    expected = cookie_value(request.headers.get("cookie", ""), sessions.PRE_COOKIE)
    if not sessions.same_token(expected, csrf_token):
        return error(request, 403, "Biểu mẫu đăng nhập đã hết hạn hoặc thiếu mã chống giả mạo. Hãy tải lại trang "
                                   "đăng nhập rồi thử lại.")
    account = users.normalise_name(name)[:64]
    verdict = throttle.check(db, account, actor.address)
    if not verdict.allowed:
        _audit_throttled(db, account, actor.address, verdict.kind)
        return _login_page(request, 429, f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {verdict.retry_after} giây.",
                           account, next, headers={"Retry-After": str(verdict.retry_after)})
    user = users.authenticate(db, account, password)
    if user is None:
        throttle.failed(db, account, actor.address)
        record(db, actor=account or "(trống)", action="login_failed", target=account, address=actor.address,
               detail="wrong name or password")
        return _login_page(request, 401, "Tên đăng nhập hoặc mật khẩu không đúng.", account, next)
    throttle.succeeded(db, account)
    old = cookie_value(request.headers.get("cookie", ""), sessions.COOKIE)
    raw, _ = sessions.create(db, user, actor.address, replaces=old or None)
    record(db, actor=user.name, action="login", target=user.name, address=actor.address)
    r = see_other(safe_next(next))
    r.set_cookie(sessions.COOKIE, raw, **cookie_kwargs(request))
    r.delete_cookie(sessions.PRE_COOKIE, path="/")
    return r


@router.get("/logout")
def logout_form(request: Request) -> Response:
    actor = actor_of(request)
    if actor.user is None:
        return see_other("/")
    return render(request, "logout.html", title="Đăng xuất")


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    actor = actor_of(request)
    if actor.session is None:
        return see_other("/")
    check_csrf(request, actor, csrf_token)
    sessions.end(_db(request), cookie_value(request.headers.get("cookie", ""), sessions.COOKIE))
    record(_db(request), actor=actor.name, action="logout", target=actor.name, address=actor.address)
    r = see_other("/")
    r.delete_cookie(sessions.COOKIE, path="/")
    return r


# --- account ----------------------------------------------------------------------------------------------

def _account_page(request: Request, actor: Actor, status: int = 200, message: str = "", error_msg: str = "",
                  new_token: str = "") -> Response:
    return render(request, "account.html", status=status, title="Tài khoản của tôi", user=actor.user,
                  tokens=tokens.of_user(_db(request), actor.user), message=message, error_msg=error_msg,
                  new_token=new_token, min_length=passwords.MIN_LENGTH)


@router.get("/account")
def account(request: Request, actor: Annotated[Actor, Depends(require("viewer"))]) -> Response:
    return _account_page(request, actor)


@router.post("/account/password")
def change_password(request: Request, actor: Annotated[Actor, Depends(require("viewer"))],
                    csrf_token: Annotated[str, Form(max_length=200)] = "",
                    old: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
                    new: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
                    new2: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    if new != new2:
        return _account_page(request, actor, 422, error_msg="Hai lần nhập mật khẩu mới không giống nhau.")
    try:
        users.change_password(_db(request), actor.user, old, new)
    except (AccountError, passwords.WeakPassword) as e:
        return _account_page(request, actor, 422, error_msg=str(e))
    sessions.end_others(_db(request), actor.user, actor.session.id_hash)
    record(_db(request), actor=actor.name, action="password_change", target=actor.name, address=actor.address)
    return _account_page(request, actor, message="Đã đổi mật khẩu; các phiên đăng nhập khác đã bị đóng.")


@router.post("/account/tokens")
def create_token(request: Request, actor: Annotated[Actor, Depends(require("viewer"))],
                 csrf_token: Annotated[str, Form(max_length=200)] = "",
                 name: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        token, info = tokens.create(_db(request), actor.user, name)
    except AccountError as e:
        return _account_page(request, actor, 422, error_msg=str(e))
    record(_db(request), actor=actor.name, action="token_create", target=actor.name, address=actor.address,
           new={"name": info.name, "prefix": info.prefix})
    return _account_page(request, actor, message="Đã tạo mã API. Hãy chép ngay: mã chỉ hiện một lần.",
                         new_token=token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, actor: Annotated[Actor, Depends(require("viewer"))],
                 csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        info = tokens.revoke(_db(request), actor.user, token_id)
    except AccountError as e:
        return _account_page(request, actor, 404, error_msg=str(e))
    record(_db(request), actor=actor.name, action="token_revoke", target=actor.name, address=actor.address,
           old={"name": info.name, "prefix": info.prefix})
    return _account_page(request, actor, message=f"Đã thu hồi mã “{info.name}”.")


# --- users (admin) ----------------------------------------------------------------------------------------

def _users_page(request: Request, status: int = 200, message: str = "", error_msg: str = "") -> Response:
    return render(request, "users.html", status=status, title="Người dùng", users=users.all_users(_db(request)),
                  roles=[(r, ROLE_LABELS[r]) for r in ROLES], message=message, error_msg=error_msg,
                  min_length=passwords.MIN_LENGTH)


@router.get("/users")
def users_page(request: Request, actor: Annotated[Actor, Depends(require("admin"))]) -> Response:
    return _users_page(request)


@router.post("/users")
def add_user(request: Request, actor: Annotated[Actor, Depends(require("admin"))],
             csrf_token: Annotated[str, Form(max_length=200)] = "", name: Annotated[str, Form(max_length=200)] = "",
             role: Annotated[str, Form(max_length=20)] = "viewer",
             password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
             password2: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    if password != password2:
        return _users_page(request, 422, error_msg="Hai lần nhập mật khẩu không giống nhau.")
    try:
        u = users.add(_db(request), name, password, role)
    except (AccountError, passwords.WeakPassword) as e:
        return _users_page(request, 422, error_msg=str(e))
    record(_db(request), actor=actor.name, action="user_add", target=u.name, address=actor.address, new={"role": u.role})
    return _users_page(request, message=f"Đã tạo tài khoản “{u.name}” ({u.role_label}).")


@router.post("/users/{name}/role")
def set_role(request: Request, name: str, actor: Annotated[Actor, Depends(require("admin"))],
             csrf_token: Annotated[str, Form(max_length=200)] = "", role: Annotated[str, Form(max_length=20)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        u, old = users.set_role(_db(request), name, role)
    except AccountError as e:
        return _users_page(request, 409 if "cuối cùng" in str(e) else 422, error_msg=str(e))
    record(_db(request), actor=actor.name, action="role_change", target=u.name, address=actor.address,
           old={"role": old}, new={"role": u.role})
    return _users_page(request, message=f"“{u.name}” giờ là {u.role_label}.")


@router.post("/users/{name}/remove")
def remove_user(request: Request, name: str, actor: Annotated[Actor, Depends(require("admin"))],
                csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, actor, csrf_token)
    try:
        u = users.remove(_db(request), name)
    except AccountError as e:
        return _users_page(request, 409, error_msg=str(e))
    record(_db(request), actor=actor.name, action="user_remove", target=u.name, address=actor.address,
           old={"role": u.role})
    if u.id == actor.user.id:
        r = see_other("/")
        r.delete_cookie(sessions.COOKIE, path="/")
        return r
    return _users_page(request, message=f"Đã xóa tài khoản “{u.name}”.")


# --- JSON twins ---------------------------------------------------------------------------------------------

AUTH_RESPONSES = {401: {"description": "not logged in, or a bad API token"},
                  403: {"description": "the account's role is not enough"}}


@api.get("/account", summary="The account the request is authenticated as, with its API tokens (no secrets)",
         responses=AUTH_RESPONSES)
def account_json(request: Request, actor: Annotated[Actor, Depends(require("viewer"))]) -> JSONResponse:
    return JSONResponse({"name": actor.user.name, "role": actor.user.role, "via": actor.via,
                         "tokens": [{"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
                                     "last_used": t.last_used} for t in tokens.of_user(_db(request), actor.user)]})


@api.get("/users", summary="Every account and its role (admin)", responses=AUTH_RESPONSES)
def users_json(request: Request, actor: Annotated[Actor, Depends(require("admin"))]) -> JSONResponse:
    return JSONResponse([{"name": u.name, "role": u.role, "created_at": u.created_at}
                         for u in users.all_users(_db(request))])


__all__ = ["AuthError", "api", "router"]
