"""Small helpers shared by the pages that change things (accounts, uploads, jobs, trash, audit)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web.routes import render

VN_TIME = dt.timezone(dt.timedelta(hours=7), "ICT")  # Việt Nam: UTC+7 all year
TITLES = {400: "Yêu cầu không hợp lệ", 401: "Cần đăng nhập", 403: "Không có quyền", 404: "Không tìm thấy",
          409: "Xung đột", 413: "Tệp quá lớn", 415: "Định dạng không được hỗ trợ", 422: "Dữ liệu không hợp lệ",
          429: "Thử lại sau"}


def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    r = render(request, "error.html", status=status, title=TITLES.get(status, "Lỗi"), message=message,
               status_code=status, api_url="")
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


def see_other(url: str) -> RedirectResponse:
    """303: after a POST the browser GETs the result page (reloading it does not post again)."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never "//host", "https://…" or a backslash trick (open redirect)."""
    t = (target or "").strip()
    parts = urlsplit(t)
    if not t.startswith("/") or t.startswith("//") or "\\" in t or parts.scheme or parts.netloc:
        return default
    return t


def when(ts: float | None) -> str:
    """Timestamp → "08/05/2023 14:03:09" in Việt Nam time ("" for None)."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, VN_TIME).strftime("%d/%m/%Y %H:%M:%S")


def context(**kw: Any) -> dict[str, Any]:
    return {"when": when, **kw}
