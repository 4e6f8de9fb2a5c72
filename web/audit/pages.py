"""``/audit`` (admin): the log with filters, newest first, and its JSON twin ``GET /api/audit``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from web.accounts.auth import Actor, require
from web.audit.log import ACTIONS, PAGE_SIZE, AuditFilter, actors, query
from web.page_helpers import VN_TIME, error, when
from web.routes import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["audit"])
Admin = Annotated[Actor, Depends(require("admin"))]
FILTERS = ("actor", "action", "target", "from", "to", "offset")
DAY_PATTERN = r"^\s*(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{1,2}-\d{1,2})?\s*$"


class BadFilter(ValueError):
    pass


def _day(s: str, label: str) -> float | None:
    """"08/05/2023" or "2023-05-08" → the start of that day, Việt Nam time."""
    s = s.strip()
    if not s:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(s, fmt).replace(tzinfo=VN_TIME).timestamp()
        except ValueError:
            continue
    raise BadFilter(f"“{label}” phải là một ngày có thật, dạng ngày/tháng/năm (đã nhận “{s[:20]}”).")


def parse_filter(params: dict[str, str]) -> AuditFilter:
    action = params.get("action", "").strip()
    if action and action not in ACTIONS:
        raise BadFilter(f"Không có loại thao tác “{action[:40]}”.")
    offset = params.get("offset", "0").strip() or "0"
    if not offset.isdigit() or int(offset) > 1_000_000:
        raise BadFilter("Vị trí bắt đầu phải là số nguyên không âm.")
    until = _day(params.get("to", ""), "Đến ngày")
    return AuditFilter(actor=params.get("actor", "").strip()[:64], action=action,
                       target=params.get("target", "").strip()[:200], since=_day(params.get("from", ""), "Từ ngày"),
                       until=None if until is None else until + 86400, offset=int(offset))


def _show(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_show(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_show(x) for x in v)
    return str(v)


@dataclass
class Row:
    at: str
    actor: str
    action: str
    target: str
    address: str
    changes: list[tuple[str, str, str]]  # (field, old, new)
    detail: str


def rows_of(entries) -> list[Row]:
    out = []
    for e in entries:
        old = e.old if isinstance(e.old, dict) else ({"": e.old} if e.old is not None else {})
        new = e.new if isinstance(e.new, dict) else ({"": e.new} if e.new is not None else {})
        keys = list(dict.fromkeys([*old, *new]))
        out.append(Row(when(e.at), e.actor, ACTIONS.get(e.action, e.action), e.target, e.address,
                       [(k, _show(old.get(k)), _show(new.get(k))) for k in keys], e.detail))
    return out


@router.get("/audit")
def audit_page(request: Request, actor: Admin) -> Response:
    params = dict(request.query_params)
    try:
        f = parse_filter(params)
    except BadFilter as e:
        return error(request, 400, str(e))
    entries, total = query(request.app.state.db, f)
    kept = {k: v for k, v in params.items() if k in FILTERS and k != "offset" and v}
    page = lambda off: "/audit?" + urlencode({**kept, **({"offset": off} if off else {})})  # noqa: E731
    return render(request, "audit.html", title="Nhật ký thao tác", rows=rows_of(entries), total=total,
                  params={k: params.get(k, "") for k in FILTERS}, actions=sorted(ACTIONS.items(), key=lambda x: x[1]),
                  actors=actors(request.app.state.db), api_url="/api/audit?" + urlencode(kept),
                  prev_url=page(max(0, f.offset - PAGE_SIZE)) if f.offset else "",
                  next_url=page(f.offset + PAGE_SIZE) if f.offset + PAGE_SIZE < total else "",
                  range_text=f"{f.offset + 1}–{f.offset + len(entries)} trong {total}" if entries else "")


@api.get("/audit", summary="The audit log, newest first (admin); same filters as /audit",
         responses={400: {"description": "a filter that is not a real day or action"},
                    401: {"description": "not logged in, or a bad API token"}, 403: {"description": "not an admin"}})
def audit_json(request: Request, actor: Admin,
               actor_name: Annotated[str, Query(alias="actor", max_length=64)] = "",
               action: Annotated[str, Query(max_length=40, json_schema_extra={"enum": ["", *sorted(ACTIONS)]})] = "",
               target: Annotated[str, Query(max_length=200)] = "",
               since: Annotated[str, Query(alias="from", max_length=20, description="dd/mm/yyyy or yyyy-mm-dd, a real "
                                           "day (400 otherwise)", json_schema_extra={"pattern": DAY_PATTERN})] = "",
               until: Annotated[str, Query(alias="to", max_length=20, description="dd/mm/yyyy or yyyy-mm-dd, a real "
                                           "day (400 otherwise)", json_schema_extra={"pattern": DAY_PATTERN})] = "",
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> JSONResponse:
    try:
        f = parse_filter({"actor": actor_name, "action": action, "target": target, "from": since, "to": until,
                          "offset": str(offset)})
    except BadFilter as e:
        return JSONResponse({"detail": str(e)}, status_code=400)
    entries, total = query(request.app.state.db, f)
    return JSONResponse({"total": total, "offset": f.offset, "entries": [e.to_dict() for e in entries]})
