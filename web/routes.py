"""The HTML pages (Vietnamese), server-rendered with Jinja2; each links its JSON twin under /api.

Query parameters are taken as plain strings and validated in ``web.views`` so that a bad link gives a friendly
Vietnamese 400 page instead of FastAPI's JSON 422; unknown documents give a 404 page. Nothing here calls the
HTTP API: pages use the same Python functions the API uses.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from search_api.deps import Service
from search_api.service import NotFound, SearchService
from web import views
from web.views import BadRequest
from web.views.drafting import document_links_view

HERE = Path(__file__).resolve().parent
STATIC_FILES = {"style.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
log = logging.getLogger(__name__)

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)

router = APIRouter(include_in_schema=False)

NAV = (("/", "Tìm kiếm"), ("/compare", "So sánh"), ("/evolution", "Diễn biến theo thời gian"), ("/precedents", "Tiền lệ"),
       ("/draft-check", "Rà soát dự thảo"))


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """Render a page; the server time goes into a ``Server-Timing`` header (the ≤ 100 ms budget is tested)."""
    t0 = time.perf_counter()
    page = {"me": None, "csrf": "", "login_enabled": False, **getattr(request.state, "page_context", {})}
    html = env.get_template(template).render(nav=NAV, path=request.url.path, **{**page, **ctx})
    ms = (time.perf_counter() - t0) * 1000
    return HTMLResponse(html, status_code=status, headers={"Server-Timing": f"render;dur={ms:.1f}"})


def error_page(request: Request, status: int, message: str, api_url: str = "") -> HTMLResponse:
    titles = {400: "Yêu cầu không hợp lệ", 404: "Không tìm thấy", 413: "Tệp quá lớn", 422: "Dữ liệu không hợp lệ",
              500: "Đã có lỗi xảy ra"}
    return render(request, "error.html", status=status, title=titles.get(status, "Lỗi"), message=message,
                  status_code=status, api_url=api_url)


def _guard(request: Request, fn, *args: Any) -> Any:
    """Run a view builder, mapping NotFound → 404 page and bad input → 400 page (never a 500 or raw JSON)."""
    try:
        return fn(*args)
    except NotFound as e:
        return error_page(request, 404, f"Không tìm thấy văn bản hoặc nhiệm vụ được yêu cầu ({e}).")
    except BadRequest as e:
        return error_page(request, 400, str(e))
    except ValueError as e:
        return error_page(request, 400, f"Tham số không hợp lệ: {e}")


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, svc: Service) -> Response:
    params = dict(request.query_params)
    state = _guard(request, views.parse_search_state, params)
    if isinstance(state, Response):
        return state
    view = _guard(request, views.build_search_view, svc, state)
    if isinstance(view, Response):
        return view
    title = f"{state.q} — Tìm kiếm" if state.q else "Tìm kiếm văn bản chỉ đạo"
    return render(request, "search.html", title=title, v=view, filter_labels=views.FILTER_LABELS,
                  level_labels=views.LEVEL_LABELS, section_labels=views.SECTION_LABELS)


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str, svc: Service, chunk: str = "") -> Response:
    try:
        d = svc.document(doc_id)
    except NotFound:
        return error_page(request, 404, f"Không tìm thấy văn bản “{doc_id[:120]}”. Có thể văn bản đã bị xóa khỏi "
                                        "kho hoặc đường dẫn bị sai.")
    view = _guard(request, views.build_document_view, d, chunk)
    if isinstance(view, Response):
        return view
    manage = getattr(request.app.state, "document_manage", None)  # edit/remove forms (web/ingest), if enabled
    return render(request, "document.html", title=view.title, v=view, manage=manage(request, d) if manage else None,
                  links=document_links_view(svc, doc_id))


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, svc: Service) -> Response:
    docs = [(d, views.doc_url(d.doc_id), views.format_date(d.date), views.level_label(d.level))
            for d in svc.documents()]
    return render(request, "documents.html", title="Văn bản trong kho", docs=docs)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, svc: Service, a: str = "", b: str = "", chunk: str = "") -> Response:
    view = _guard(request, views.build_compare_view, svc, a, b, chunk)
    if isinstance(view, Response):
        return view
    title = f"So sánh: {view.title_a} và {view.title_b}" if view.compared else "So sánh hai văn bản"
    return render(request, "compare.html", title=title, v=view)


@router.get("/evolution", response_class=HTMLResponse)
def evolution_page(request: Request, svc: Service, q: str = "") -> Response:
    view = _guard(request, views.build_evolution_view, svc, q)
    if isinstance(view, Response):
        return view
    title = f"Diễn biến: {view.q}" if view.q else "Diễn biến theo thời gian"
    return render(request, "evolution.html", title=title, v=view)


def _precedents(request: Request, svc: SearchService, text: str, chunk: str) -> Response:
    view = _guard(request, views.build_precedents_view, svc, text, chunk)
    if isinstance(view, Response):
        return view
    return render(request, "precedents.html", title="Tiền lệ — tìm cách viết đã có", v=view)


@router.get("/precedents", response_class=HTMLResponse)
def precedents_page(request: Request, svc: Service, text: str = "", chunk: str = "") -> Response:
    return _precedents(request, svc, text, chunk)


@router.post("/precedents", response_class=HTMLResponse)
def precedents_post(request: Request, svc: Service, text: Annotated[str, Form()] = "") -> Response:
    return _precedents(request, svc, text, "")


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The stylesheet and the small script (a fixed list: no path ever reaches the file system unchecked)."""
    if name not in STATIC_FILES:
        return Response("Không tìm thấy", status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "public, max-age=300"})
