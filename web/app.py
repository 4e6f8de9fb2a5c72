"""The whole site: the JSON API of ``search_api`` with the Vietnamese pages on top (what `make run` serves)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from search_api.app import create_app as create_api
from search_api.service import SearchService
from web import routes_drafting
from web.routes import router


def create_app(index_dir: Path | str, *, service: SearchService | None = None) -> FastAPI:
    app = create_api(index_dir, service=service)
    app.include_router(router)
    app.include_router(routes_drafting.router)
    return app
