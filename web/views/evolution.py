"""The evolution page: one topic followed across years and places."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup, escape

from search_api.alignment.redline import render_html
from search_api.service import MAX_QUERY_CHARS, SearchService
from web.views.common import (
    BadRequest,
    anchor_of,
    doc_url,
    item_url,
    percent,
    unit_label_of,
)


@dataclass
class EvolutionStep:
    year: str
    place: str
    title: str
    url: str
    path: str
    text: Markup
    redline: Markup | None
    previous_label: str
    similarity: str
    first_seen: str
    others: list[tuple[str, str, Markup]] = field(default_factory=list)  # (label, url, text) folded


@dataclass
class EvolutionView:
    q: str
    steps: list[EvolutionStep] = field(default_factory=list)
    api_url: str = ""
    suggestions: list[tuple[str, str]] = field(default_factory=list)


EVOLUTION_SUGGESTIONS = ("Tháng hành động vì trẻ em", "đuối nước", "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111",
                         "xã, phường phù hợp với trẻ em")


def build_evolution_view(svc: SearchService, q: str) -> EvolutionView:
    from search_api.alignment.evolution import evolution

    q = q.strip()
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"Chủ đề quá dài ({len(q)} ký tự, tối đa {MAX_QUERY_CHARS}).")
    view = EvolutionView(q=q, suggestions=[(s, "/evolution?" + urlencode({"q": s})) for s in EVOLUTION_SUGGESTIONS])
    if not q:
        return view
    ev = evolution(svc, q=q)
    view.api_url = "/api/evolution?" + urlencode({"q": q})
    for e in ev.entries:
        d = e.document
        prev = ""
        if e.previous is not None:
            pd = svc.document_summary(e.previous.doc_id)
            why = "cùng địa phương" if e.previous_reason == "same place" else "văn bản trước gần giống nhất"
            prev = f"So với {pd.place} {pd.year or ''} ({why})"
        anchor = anchor_of(d.doc_id, re.sub(r" \(\d+\)$", "", e.unit.path))
        view.steps.append(EvolutionStep(
            year=str(d.year or "?"), place=d.place, title=d.title, url=doc_url(d.doc_id, e.unit.chunk_id, anchor),
            path=unit_label_of(e.unit), text=Markup(escape(e.unit.text)),
            redline=render_html(e.redline) if e.redline is not None else None, previous_label=prev,
            similarity=percent(e.text_similarity),
            first_seen=str(e.first_seen) if e.first_seen and e.first_seen != d.year else "",
            others=[(unit_label_of(o.unit), item_url(d.doc_id, o.unit.chunk_id, o.unit.path),
                     Markup(escape(o.unit.text))) for o in e.others]))
    return view
