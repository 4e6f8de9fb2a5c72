"""The search page: its query state from the URL, results, facets and active filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from search_api.schemas import ResultDocument, SearchFilters
from search_api.service import MAX_K, MAX_QUERY_CHARS, SearchService
from web.views.common import (
    DEFAULT_K,
    FACET_LABELS,
    FACET_VALUES_SHOWN,
    FILTER_LABELS,
    FILTER_NAMES,
    SUGGESTIONS,
    BadRequest,
    anchor_of,
    date_label,
    doc_url,
    facet_value_label,
    snippet,
)


@dataclass
class SearchState:
    """Everything the search page shows is a function of this, and this is the URL's query string."""

    q: str = ""
    k: int = DEFAULT_K
    offset: int = 0
    filters: dict[str, str] = field(default_factory=dict)  # raw strings as in the URL, only non-empty ones

    def params(self, **changes: Any) -> dict[str, str]:
        p: dict[str, Any] = {"q": self.q, **self.filters}
        if self.k != DEFAULT_K:
            p["k"] = self.k
        if self.offset:
            p["offset"] = self.offset
        p.update(changes)
        return {k: str(v) for k, v in p.items() if v not in (None, "", 0) or (k == "offset" and v)}

    def url(self, base: str = "/", **changes: Any) -> str:
        qs = urlencode(self.params(**changes))
        return f"{base}?{qs}" if qs else base

    def search_filters(self) -> SearchFilters:
        f = dict(self.filters)
        try:
            return SearchFilters(**{k: (int(v) if k.startswith("year_") else v) for k, v in f.items()})
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise BadRequest("Khoảng năm không hợp lệ: “từ năm” phải nhỏ hơn hoặc bằng “đến năm”.") from e


def _int_param(params: Mapping[str, str], name: str, default: int, lo: int, hi: int, label: str) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not lo <= int(raw) <= hi:
        raise BadRequest(f"Tham số “{label}” phải là số nguyên từ {lo} đến {hi} (đã nhận: “{raw[:40]}”).")
    return int(raw)


def parse_search_state(params: Mapping[str, str]) -> SearchState:
    """Validate the search page's query string; BadRequest (a 400 page) on anything malformed."""
    q = (params.get("q") or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"Câu tìm kiếm quá dài ({len(q)} ký tự, tối đa {MAX_QUERY_CHARS}).")
    k = _int_param(params, "k", DEFAULT_K, 1, MAX_K, "số kết quả mỗi trang")
    offset = _int_param(params, "offset", 0, 0, 10_000, "vị trí bắt đầu")
    filters: dict[str, str] = {}
    for name in FILTER_NAMES:
        v = (params.get(name) or "").strip()
        if not v:
            continue
        if name.startswith("year_"):
            v = str(_int_param(params, name, 0, 1900, 2200, FILTER_LABELS[name]))
        filters[name] = v[:200]
    state = SearchState(q=q, k=k, offset=offset, filters=filters)
    state.search_filters()  # validates the year range
    return state


@dataclass
class ResultView:
    rank: int
    title: str
    url: str
    place: str
    doc_type: str
    number: str
    date: str
    path: str
    headings: list[str]
    snippet: Markup


@dataclass
class FacetValue:
    label: str
    count: int
    url: str
    active: bool


@dataclass
class FacetView:
    name: str
    label: str
    values: list[FacetValue]
    more: int  # values not shown


@dataclass
class ActiveFilter:
    label: str
    value: str
    remove_url: str


@dataclass
class SearchView:
    state: SearchState
    total: int = 0
    results: list[ResultView] = field(default_factory=list)
    facets: list[FacetView] = field(default_factory=list)
    active: list[ActiveFilter] = field(default_factory=list)
    suggestions: list[tuple[str, str]] = field(default_factory=list)  # (query, url)
    prev_url: str = ""
    next_url: str = ""
    range_text: str = ""
    api_url: str = "/api/documents"
    documents: int = 0
    clear_url: str = "/"


def result_view(rank: int, r: Any) -> ResultView:
    d: ResultDocument = r.document
    anchor = anchor_of(r.doc_id, re.sub(r" \(\d+\)$", "", r.path))
    return ResultView(rank=rank, title=d.title, url=doc_url(r.doc_id, r.chunk_id, anchor), place=d.place,
                      doc_type=d.doc_type, number=d.number, date=date_label(d.date), path=r.path,
                      headings=list(r.headings), snippet=snippet(r.text, r.highlights))


def _facet_filter(name: str, value: str) -> dict[str, str]:
    return {"year_from": value, "year_to": value} if name == "year" else {name: value}


def facet_views(state: SearchState, facets: dict[str, list[tuple[str, int]]]) -> list[FacetView]:
    out = []
    for name, values in facets.items():
        if not values:
            continue
        items = []
        for value, count in values[:FACET_VALUES_SHOWN]:
            f = _facet_filter(name, value)
            active = all(state.filters.get(k) == v for k, v in f.items())
            change = {k: ("" if active else v) for k, v in f.items()}
            items.append(FacetValue(facet_value_label(name, value), count, state.url(offset=0, **change), active))
        out.append(FacetView(name, FACET_LABELS.get(name, name), items, max(0, len(values) - FACET_VALUES_SHOWN)))
    return out


def build_search_view(svc: SearchService, state: SearchState) -> SearchView:
    """Results, facets and paging for a search state (empty state with suggestions when there is no query)."""
    view = SearchView(state=state, documents=len(svc.documents()), clear_url=SearchState(q=state.q, k=state.k).url())
    for name, value in state.filters.items():
        shown = facet_value_label("level" if name == "level" else "section" if name == "section" else name, value)
        view.active.append(ActiveFilter(FILTER_LABELS[name], shown, state.url(offset=0, **{name: ""})))
    if not state.q:
        view.suggestions = [(s, SearchState(q=s).url()) for s in SUGGESTIONS]
        return view
    filters = state.search_filters()
    res = svc.search(state.q, k=state.k, offset=state.offset, filters=filters)
    view.total = res.total
    view.results = [result_view(state.offset + i + 1, r) for i, r in enumerate(res.results)]
    view.facets = facet_views(state, svc.facets(state.q, filters))
    if state.offset > 0:
        view.prev_url = state.url(offset=max(0, state.offset - state.k))
    if state.offset + state.k < res.total:
        view.next_url = state.url(offset=state.offset + state.k)
    if res.results:
        view.range_text = f"{state.offset + 1}–{state.offset + len(res.results)} trong {res.total} kết quả"
    view.api_url = state.url("/api/search")
    if not res.results:
        view.suggestions = [(s, SearchState(q=s).url()) for s in SUGGESTIONS[:4]]
    return view
