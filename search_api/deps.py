"""The one dependency every router shares: the opened index, as a ``SearchService``.

Kept apart from ``app.py`` so routers (compare here, the pages in ``web/``) can depend on it without
importing the application that includes them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from search_api.service import SearchService


def get_service(request: Request) -> SearchService:
    svc: SearchService = request.app.state.service
    svc.refresh()  # picks up a rebuilt index (cheap: reads CURRENT at most once a second)
    return svc


Service = Annotated[SearchService, Depends(get_service)]
