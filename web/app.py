"""The whole site: the JSON API of ``search_api`` with the Vietnamese pages on top (what `make run` serves)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from search_api.app import create_app as create_api
from search_api.service import SearchService
from web import routes_drafting
from web.routes import router


def create_app(index_dir: Path | str, *, service: SearchService | None = None, manage=None) -> FastAPI:
    """``manage`` (a ``web.manage.ManageConfig``) adds accounts, uploads, jobs, trash and audit."""
    app = create_api(index_dir, service=service)
    if manage is not None:
        from web.manage import install

        install(app, manage)  # before the pages: "/documents/new" must win over "/documents/{doc_id}"
    app.include_router(router)
    app.include_router(routes_drafting.router)
    return app
