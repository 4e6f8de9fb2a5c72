"""The drafting pages: /draft-check (paste or upload a draft, see the four-part report, download it) and
/propagation?doc= (how a guidance document went down the levels). Registered in ``web/app.py``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from search_api.deps import Service
from search_api.drafting.draft_check import MAX_DRAFT_BYTES, DraftTooLarge
from search_api.drafting.propagation import propagation
from search_api.routes_drafting import read_draft_request, run_check
from search_api.service import NotFound
from web.routes import error_page, render
from web.views.drafting import DraftCheckView, draft_check_view, propagation_view

router = APIRouter(include_in_schema=False)


@router.get("/draft-check", response_class=HTMLResponse)
def draft_check_form(request: Request) -> Response:
    return render(request, "draft_check.html", title="Rà soát dự thảo kế hoạch", v=DraftCheckView(text=""),
                  max_mb=MAX_DRAFT_BYTES // (1024 * 1024))


@router.post("/draft-check", response_class=HTMLResponse)
async def draft_check_page(request: Request, svc: Service) -> Response:
    try:
        req = await read_draft_request(request)
        report, d = await run_in_threadpool(run_check, svc, req)
    except DraftTooLarge:
        return error_page(request, 413, f"Dự thảo quá lớn (tối đa {MAX_DRAFT_BYTES // (1024 * 1024)} MB). Hãy gửi "
                                        "tệp .docx hoặc văn bản của kế hoạch, không kèm ảnh quét.")
    except NotFound as e:
        return error_page(request, 404, f"Không tìm thấy văn bản đã chọn ({e}).")
    except ValueError as e:
        return error_page(request, 400, f"Không kiểm tra được dự thảo: {e}")
    view = draft_check_view(report, d.original, req.get("guidance") or "", req.get("previous") or "")
    return render(request, "draft_check.html", title="Kết quả rà soát dự thảo", v=view,
                  max_mb=MAX_DRAFT_BYTES // (1024 * 1024))


@router.get("/propagation", response_class=HTMLResponse)
def propagation_page(request: Request, svc: Service, doc: str = "") -> Response:
    if not doc.strip():
        return error_page(request, 400, "Hãy chọn một văn bản hướng dẫn (tham số doc).")
    try:
        p = propagation(svc, doc.strip())
    except NotFound:
        return error_page(request, 404, f"Không tìm thấy văn bản “{doc[:120]}”.")
    v = propagation_view(p)
    return render(request, "propagation.html", title=f"Lan tỏa: {v.title}", v=v)
