"""Corpus management and accounts, added to the site when it has a data directory (``directives serve``).

``install`` opens the data directory's database, adds the auth middleware (``--read open|login``), the
pages and JSON routes of accounts, uploads, jobs, trash and audit, the document page's edit panel, and the
job worker, started and stopped with the application. Without a data directory the site stays read-only,
exactly as before.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from web.accounts import pages as account_pages
from web.accounts import sessions
from web.accounts.auth import AuthError, AuthMiddleware
from web.audit import pages as audit_pages
from web.datadir import DataDB, check_location
from web.ingest import api as ingest_api
from web.ingest import draft_add
from web.ingest import pages as ingest_pages
from web.ingest.multipart import UploadLimits
from web.ingest.operations import Manager
from web.ingest.worker import Worker
from web.page_helpers import error, see_other, when
from web.routes import env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManageConfig:
    data_dir: Path
    corpus: Path
    index_dir: Path
    read: str = "open"  # "login": every page and API needs an account
    limits: UploadLimits = field(default_factory=UploadLimits)
    worker: bool = True  # run queued jobs (tests of the API alone turn it off)
    model: str | None = None
    idle_seconds: float = sessions.IDLE_SECONDS


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _auth_error(request: Request, exc: AuthError) -> Response:
    if _is_api(request):
        headers = {"WWW-Authenticate": 'Bearer realm="directives"'} if exc.status == 401 else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)
    if exc.status == 401 and request.method == "GET":
        return see_other("/login?next=" + quote(request.url.path, safe=""))
    r = error(request, exc.status, exc.message)
    if exc.status == 401:
        r.headers["WWW-Authenticate"] = 'Bearer realm="directives"'
    return r


def _validation_pages(default):
    """Pages answer a malformed form with a Vietnamese 422 page; the API keeps FastAPI's JSON."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request) or request.url.path in ("/docs", "/openapi.json"):
            return await default(request, exc)
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return error(request, 422, f"Biểu mẫu có trường không hợp lệ ({fields[:200]}).")
    return handler


def _allow_all_methods(app: FastAPI, default):
    """405s list every method of the path: GET /api/documents is search_api's, POST ours (Starlette names only
    the first route that matched the path)."""
    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            methods = set()
            for route in app.router.routes:
                if isinstance(route, Route) and route.methods and route.path_regex.match(request.url.path):
                    methods |= route.methods
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
        return await default(request, exc)
    return handler


def install(app: FastAPI, cfg: ManageConfig) -> None:
    check_location(cfg.data_dir, index_dir=cfg.index_dir, corpus=cfg.corpus)
    db = DataDB(cfg.data_dir)
    worker = Worker(db, cfg.corpus, cfg.index_dir, cfg.model) if cfg.worker else None
    app.state.db = db
    app.state.worker = worker
    app.state.manager = Manager(db, cfg.corpus, cfg.limits, notify=worker.notify if worker else lambda: None)
    app.state.document_manage = ingest_pages.document_manage
    env.filters.setdefault("when", when)
    for r in (account_pages.router, account_pages.api, ingest_pages.router, ingest_api.router, audit_pages.router,
              audit_pages.api, draft_add.pages, draft_add.api):
        app.include_router(r)
    app.add_middleware(AuthMiddleware, db=db, read=cfg.read, idle=cfg.idle_seconds)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(RequestValidationError, _validation_pages(request_validation_exception_handler))
    app.add_exception_handler(StarletteHTTPException, _allow_all_methods(app, http_exception_handler))
    if worker is not None:
        previous = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a):
            worker.start()
            try:
                async with previous(a) as state:
                    yield state
            finally:
                worker.stop()

        app.router.lifespan_context = lifespan
