"""The precedents page: earlier wording of a task, ready to cite."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup, escape

from search_api.alignment.redline import render_html
from search_api.service import SearchService
from web.views.common import (
    BadRequest,
    item_url,
    percent,
)


@dataclass
class PrecedentItem:
    title: str
    url: str
    path: str
    citation: str
    text: Markup
    redline: Markup
    score: str
    note: str


@dataclass
class PrecedentsView:
    text: str
    chunk: str
    source_label: str = ""
    items: list[PrecedentItem] = field(default_factory=list)
    api_url: str = ""
    api_method: str = "GET"
    searched: bool = False


def build_precedents_view(svc: SearchService, text: str, chunk: str) -> PrecedentsView:
    """Precedents of a pasted draft (``text``) or similar tasks of an existing one (``chunk``)."""
    from search_api.alignment.precedents import MAX_DRAFT_CHARS, citation, precedents, similar

    text = text.strip()
    view = PrecedentsView(text=text, chunk=chunk)
    if len(text) > MAX_DRAFT_CHARS:
        raise BadRequest(f"Đoạn dự thảo quá dài ({len(text)} ký tự, tối đa {MAX_DRAFT_CHARS}); hãy dán từng đoạn.")
    if text:
        out = precedents(svc, text, k=10)
        view.searched = True
        view.api_url, view.api_method = "/api/precedents", "POST"
        for p in out.results:
            view.items.append(PrecedentItem(
                p.document.title, item_url(p.unit.doc_id, p.unit.chunk_id, p.unit.path), p.unit.path,
                p.citation, Markup(escape(p.unit.text)), render_html(p.redline), percent(p.score), ""))
    elif chunk:
        out = similar(svc, chunk, k=10)
        view.searched = True
        src = out.source
        sd = svc.document_summary(src.doc_id)
        view.source_label = f"{sd.title} — mục {src.path}"
        view.api_url = "/api/similar?" + urlencode({"chunk_id": chunk})
        metas: dict[str, str] = {}
        for h in out.results:
            if h.unit.doc_id not in metas:
                metas[h.unit.doc_id] = citation(svc.document(h.unit.doc_id).metadata)
            view.items.append(PrecedentItem(
                h.document.title, item_url(h.unit.doc_id, h.unit.chunk_id, h.unit.path), h.unit.path,
                metas[h.unit.doc_id], Markup(escape(h.unit.text)), render_html(h.redline), percent(h.similarity),
                "Dùng lại gần nguyên văn" if h.reused else ""))
    return view
