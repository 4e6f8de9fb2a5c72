"""View models for the HTML pages: everything a template shows is computed here, so templates stay dumb.

Templates receive plain dataclasses of strings, numbers and URLs; the only markup they get is ``Markup``
built here from escaped pieces (highlights, redlines), so document text can never inject HTML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from indexer.chunks import chunk_id as make_chunk_id
from indexer.models import Directive, LegalRef, Unit
from search_api.redline import Redline, render_html
from search_api.schemas import ResultDocument, SearchFilters
from search_api.service import MAX_K, MAX_QUERY_CHARS, SearchService

FILTER_NAMES = ("province", "place", "level", "doc_type", "year_from", "year_to", "section", "agency")
DEFAULT_K = 10
SNIPPET_CHARS = 320

LEVEL_LABELS = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã", "national": "Trung ương"}
SECTION_LABELS = {"purpose": "Mục đích, yêu cầu", "targets": "Chỉ tiêu", "tasks": "Nhiệm vụ, giải pháp",
                  "funding": "Kinh phí", "organisation": "Tổ chức thực hiện", "reporting": "Chế độ báo cáo",
                  "other": "Khác"}
FACET_LABELS = {"province": "Lọc theo tỉnh", "year": "Lọc theo năm", "level": "Lọc theo cấp",
                "doc_type": "Lọc theo loại văn bản", "section": "Lọc theo phần", "agency": "Lọc theo cơ quan"}
FILTER_LABELS = {"province": "Tỉnh", "place": "Địa phương", "level": "Cấp", "doc_type": "Loại văn bản",
                 "year_from": "Từ năm", "year_to": "Đến năm", "section": "Phần", "agency": "Cơ quan"}
SUGGESTIONS = ("đuối nước", "Tổng đài 111", "Tháng hành động vì trẻ em", "xã phù hợp với trẻ em",
               "phong chong xam hai tre em", "kinh phí thực hiện")
FACET_VALUES_SHOWN = 8


class BadRequest(ValueError):
    """A page parameter the user (or a hand-edited link) got wrong: shown as a friendly 400 page."""


# --- small helpers ---------------------------------------------------------------------------------------


def anchor_of(doc_id: str, path: str) -> str:
    """HTML id of a unit: "t-" + the URL-safe path part of its chunk id ("III.2 • 4" → "t-III.2_i4")."""
    return "t-" + make_chunk_id(doc_id, path).split("~", 1)[1]


def doc_url(doc_id: str, chunk_id: str | None = None, anchor: str | None = None) -> str:
    url = f"/documents/{quote(doc_id, safe='')}"
    if chunk_id:
        url += "?" + urlencode({"chunk": chunk_id})
    return url + (f"#{anchor}" if anchor else "")


def format_date(iso: str) -> str:
    """"2023-05-08" → "08/05/2023"; a bare year stays as it is."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso or "")
    return f"{m[3]}/{m[2]}/{m[1]}" if m else (iso or "")


def date_label(iso: str) -> str:
    """"Ngày 08/05/2023", or "Năm 2023" when only the year is known."""
    shown = format_date(iso)
    if not shown:
        return ""
    return f"Năm {shown}" if re.fullmatch(r"\d{4}", shown) else f"Ngày {shown}"


def level_label(v: str) -> str:
    return LEVEL_LABELS.get(v, v)


def facet_value_label(name: str, v: str) -> str:
    if name == "level":
        return level_label(v)
    if name == "section":
        return SECTION_LABELS.get(v, v)
    return v


def highlight(text: str, spans: list[list[int]]) -> Markup:
    """``text`` escaped, with ``<mark>`` around the [start, end) spans (clipped, overlaps merged)."""
    out: list[str] = []
    pos = 0
    for s, e in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        s = max(s, pos)
        if e <= s:
            continue
        out.append(str(escape(text[pos:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def snippet(text: str, spans: list[list[int]], width: int = SNIPPET_CHARS) -> Markup:
    """A window of about ``width`` characters around the first highlight, cut at spaces, highlighted."""
    if len(text) <= width:
        return highlight(text, spans)
    first = min((s for s, _ in spans), default=0)
    start = max(0, min(first - width // 4, len(text) - width))
    if start > 0:
        sp = text.find(" ", start)
        start = sp + 1 if 0 <= sp < first else start
    end = min(len(text), start + width)
    if end < len(text):
        sp = text.rfind(" ", start, end)
        end = sp if sp > start else end
    shifted = [[s - start, e - start] for s, e in spans if e > start and s < end]
    body = highlight(text[start:end], shifted)
    return Markup(("… " if start else "") + body + (" …" if end < len(text) else ""))


# --- search ---------------------------------------------------------------------------------------------


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


# --- document -------------------------------------------------------------------------------------------


@dataclass
class OutlineItem:
    label: str
    anchor: str
    depth: int
    current: bool


@dataclass
class MetaRow:
    label: str
    value: str


@dataclass
class DocumentView:
    doc_id: str
    title: str
    subject: str
    meta: list[MetaRow]
    implements: str
    references: list[str]
    outline: list[OutlineItem]
    body: Markup
    chosen_anchor: str
    chosen_path: str
    api_url: str
    warnings: list[str]
    ocr_note: str = ""  # "Văn bản quét, nhận dạng chữ (OCR) 4 trang, độ tin cậy trung bình 91%"


# ingest warnings as the page says them; others are shown as the reader wrote them
INGEST_NOTES = {
    "numbering from style": "số thứ tự lấy từ kiểu đoạn (style) của Word",
    "tracked changes accepted": "tệp có theo dõi thay đổi (track changes): đã đọc theo bản chấp nhận mọi thay đổi",
    "text boxes read": "đã đọc cả chữ trong khung (text box)",
    "footnotes kept": "đã giữ chú thích cuối trang",
    "hidden text dropped": "đã bỏ phần chữ bị ẩn",
}
_RE_RENAMED = re.compile(r"^the file is named (\.\w+) but is (.+)$")


def ingest_note(w: str) -> str:
    if w in INGEST_NOTES:
        return INGEST_NOTES[w]
    if m := _RE_RENAMED.match(w):
        return f"tệp mang đuôi {m.group(1)} nhưng thực chất là {m.group(2)}"
    return w


def _ocr_note(d: Directive) -> str:
    i = d.ingest
    if not i.ocr:
        return ""
    conf = f", độ tin cậy trung bình {i.ocr_confidence:.0f}%" if i.ocr_confidence is not None else ""
    pages = f" {i.ocr_pages} trang" if i.ocr_pages else ""
    return f"Văn bản quét: chữ được nhận dạng tự động (OCR){pages}{conf}. Hãy đối chiếu với bản gốc khi trích dẫn."


def _unit_label(u: Unit) -> str:
    head = u.heading or u.text
    head = " ".join(head.split())
    head = head[:90] + ("…" if len(head) > 90 else "")
    if u.kind == "section":
        return f"{u.label}. {head}".strip(". ")
    if u.kind == "task":
        return f"{u.path}. {head}"
    return head


def _ref_text(r: LegalRef) -> str:
    return " ".join((r.text or " ".join(x for x in (r.kind, r.number, r.title) if x)).split())


def _unit_tools(doc_id: str, u: Unit, chunk_ids: set[str]) -> str:
    cid = make_chunk_id(doc_id, u.path)
    if cid not in chunk_ids:
        return ""
    sim = "/precedents?" + urlencode({"chunk": cid})
    cmp = "/compare?" + urlencode({"a": doc_id, "chunk": cid})
    return (f'<span class="unit-tools"><a href="{escape(sim)}">Tìm nhiệm vụ tương tự</a>'
            f' <a href="{escape(cmp)}">So sánh với…</a></span>')


def render_body(d: Directive, chosen: Unit | None) -> Markup:
    """The whole normalised text, every unit wrapped in an anchored block (children nested), all escaped."""
    text = d.text
    chunk_ids = {c.chunk_id for c in d.chunks}
    parts: list[str] = []

    def gap(s: str) -> str:  # blocks already separate units: blank lines around them would double the spacing
        return "" if not s.strip() else str(escape(s.strip("\n")))

    def emit(u: Unit) -> None:
        cls = f"unit unit-{u.kind}" + (" chosen" if u is chosen else "")
        tools = _unit_tools(d.doc_id, u, chunk_ids) if u.kind in ("task", "item", "paragraph") else ""
        parts.append(f'<div class="{cls}" id="{escape(anchor_of(d.doc_id, u.path))}" tabindex="-1">{tools}')
        pos = u.start
        for c in u.children:
            if c.start < pos or c.end > u.end:
                continue  # malformed offsets: never duplicate or reorder text
            parts.append(gap(text[pos:c.start]))
            emit(c)
            pos = c.end
        parts.append(gap(text[pos:max(pos, u.end)]))
        parts.append("</div>")

    pos = 0
    for u in d.units:
        if u.start < pos:
            continue
        parts.append(gap(text[pos:u.start]))
        emit(u)
        pos = u.end
    parts.append(gap(text[pos:]))
    return Markup("".join(parts))


def _find_unit(d: Directive, chunk_id: str) -> Unit | None:
    chunk = next((c for c in d.chunks if c.chunk_id == chunk_id), None)
    if chunk is None:
        return None
    best = None
    for u in d.walk():
        if u.path == chunk.path:
            return u
        if u.start <= chunk.start and chunk.end <= u.end and (best is None or u.end - u.start <= best.end - best.start):
            best = u
    return best


def build_document_view(d: Directive, chunk_id: str | None) -> DocumentView:
    """Metadata panel, outline and anchored full text; ``chunk_id`` picks the highlighted task (BadRequest if foreign)."""
    chosen = None
    if chunk_id:
        chosen = _find_unit(d, chunk_id)
        if chosen is None:
            raise BadRequest(f"Văn bản này không có nhiệm vụ mang mã “{chunk_id[:80]}”.")
    m = d.metadata
    rows = [("Cơ quan ban hành", m.issuer), ("Loại văn bản", m.doc_type), ("Số, ký hiệu", m.number),
            ("Ngày ban hành", format_date(m.date)), ("Địa phương", m.place), ("Cấp", level_label(m.level)),
            ("Tỉnh (trước 2025)", m.province),
            ("Tỉnh (sau sắp xếp 2025)", m.province_current if m.province_current != m.province else ""),
            ("Người ký", " — ".join(x for x in (m.signer, m.signer_title) if x)),
            ("Nơi nhận", "; ".join(m.recipients)), ("Tệp nguồn", d.source), ("Tên tệp gốc", m.original_name),
            ("Cách đọc tệp", d.ingest.reader), ("Số trang", str(d.ingest.pages) if d.ingest.pages else "")]
    outline: list[OutlineItem] = []

    def walk(u: Unit, depth: int) -> None:
        if u.kind in ("section", "task"):
            outline.append(OutlineItem(_unit_label(u), anchor_of(d.doc_id, u.path), depth, u is chosen))
        for c in u.children:
            walk(c, depth + (u.kind in ("section", "task")))

    for u in d.units:
        walk(u, 0)
    return DocumentView(
        doc_id=d.doc_id, title=m.title, subject=m.subject, meta=[MetaRow(k, v) for k, v in rows if v],
        implements=_ref_text(m.implements) if m.implements else "",
        references=[_ref_text(r) for r in m.references], outline=outline, body=render_body(d, chosen),
        chosen_anchor=anchor_of(d.doc_id, chosen.path) if chosen else "", chosen_path=chosen.path if chosen else "",
        api_url=f"/api/documents/{quote(d.doc_id, safe='')}",
        warnings=[ingest_note(w) for w in [*d.ingest.warnings, *d.warnings]], ocr_note=_ocr_note(d))


# --- redlines -------------------------------------------------------------------------------------------


def redline_sides(rl: Redline) -> tuple[Markup, Markup]:
    """(A with its deletions marked, B with its insertions marked): the side-by-side view of one redline."""
    a: list[str] = []
    b: list[str] = []
    for o in rl.ops:
        if o.op == "equal":
            a.append(str(escape(o.a_text)))
            b.append(str(escape(o.b_text)))
            continue
        if o.a_text:
            a.append(_mark("del", o.a_text))
        if o.b_text:
            b.append(_mark("ins", o.b_text))
    return Markup("".join(a)), Markup("".join(b))


def _mark(tag: str, s: str) -> str:
    core = s.strip()
    if not core:
        return str(escape(s))
    lead = s[: len(s) - len(s.lstrip())]
    trail = s[len(s.rstrip()):]
    title = "Đã xóa" if tag == "del" else "Đã thêm"
    return f'{escape(lead)}<{tag} title="{title}">{escape(core)}</{tag}>{escape(trail)}'


def redline_inline(rl: Redline) -> Markup:
    return render_html(rl)


def percent(x: float | None) -> str:
    return "" if x is None else f"{round(100 * x)}%"


# --- compare --------------------------------------------------------------------------------------------


@dataclass
class CompareRow:
    kind: str  # "pair" | "only_a" | "only_b"
    anchor: str
    a_label: str
    b_label: str
    a_html: Markup
    b_html: Markup
    inline: Markup  # the one-column redline (pairs only)
    similarity: str
    status: str  # Vietnamese status label
    status_class: str
    focused: bool


@dataclass
class CompareView:
    a: str
    b: str
    chunk: str
    pick_a: Any = None  # web.views_picker.Pick
    pick_b: Any = None
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)  # (label, url, why)
    title_a: str = ""
    title_b: str = ""
    url_a: str = ""
    url_b: str = ""
    summary: list[tuple[str, int, str]] = field(default_factory=list)  # (label, count, css class)
    rows: list[CompareRow] = field(default_factory=list)
    exports: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    api_url: str = "/api/documents"
    compared: bool = False


def _unit_label_of(u: Any) -> str:
    head = " ".join((u.heading or "").split())
    return f"{u.path} · {head}" if head else u.path


def _units_html(units: list[Any]) -> Markup:
    return Markup("<br>").join(Markup(f"<strong>{escape(u.path)}</strong> ") + escape(u.text) for u in units)


def build_compare_view(svc: SearchService, a: str, b: str, chunk: str = "") -> CompareView:
    """The picker (typed names resolved, or choices when several match), suggestions for A, and when both
    are chosen the aligned comparison (NotFound / ValueError propagate)."""
    from search_api.compare import compare
    from web.views_picker import pick, suggestions

    pa = pick(svc, "a", a, {"b": b.strip()} if b.strip() else {})
    pb = pick(svc, "b", b, {"a": pa.doc_id or a.strip()} if (pa.doc_id or a.strip()) else {})
    a, b = pa.doc_id, pb.doc_id
    view = CompareView(a=a, b=b, chunk=chunk, pick_a=pa, pick_b=pb, suggestions=suggestions(svc, a, b))
    if not (a and b):
        return view
    c = compare(svc, a, b)
    q = urlencode({"a": a, "b": b})
    view.compared = True
    view.title_a, view.title_b = c.a.title, c.b.title
    view.url_a, view.url_b = doc_url(a), doc_url(b)
    view.api_url = f"/api/compare?{q}"
    view.exports = [("Tải về Word — B là bản sửa của A (theo dõi thay đổi)", f"/api/compare/export?{q}&format=tracked"),
                    ("Tải về Word (.docx, hai cột)", f"/api/compare/export?{q}&format=docx"),
                    ("Tải về Markdown (.md)", f"/api/compare/export?{q}&format=md"),
                    ("Tải về bảng tính (.csv)", f"/api/compare/export?{q}&format=csv")]
    s = c.summary
    view.summary = [("Cặp gần như giống nhau", s.shared, "shared"), ("Cặp có sửa đổi", s.changed, "changed"),
                    ("Tách (một nhiệm vụ A thành nhiều ở B)", s.split, "changed"),
                    ("Gộp (nhiều nhiệm vụ A thành một ở B)", s.merged, "changed"),
                    ("Chỉ có trong A", s.dropped, "only-a"), ("Chỉ có trong B", s.new, "only-b")]
    for p in c.pairs:
        rl = Redline.model_validate(p.redline)
        g = next((x for x in c.groups if p.a.chunk_id in {u.chunk_id for u in x.a}
                  and p.b.chunk_id in {u.chunk_id for u in x.b}), None) if p.group else None
        if g is not None:
            label_kind = "Tách" if g.kind == "tách" else "Gộp"
            view.rows.append(CompareRow(
                "group", "g-" + p.a.chunk_id.split("~", 1)[-1], ", ".join(u.path for u in g.a),
                ", ".join(u.path for u in g.b), _units_html(g.a), _units_html(g.b), render_html(g.redline),
                percent(g.text_similarity), f"{label_kind}: {len(g.a)} ↔ {len(g.b)} nhiệm vụ", "changed",
                chunk in {u.chunk_id for u in (*g.a, *g.b)}))
            continue
        ha, hb = redline_sides(rl)
        view.rows.append(CompareRow(
            "pair", "p-" + p.a.chunk_id.split("~", 1)[-1], _unit_label_of(p.a), _unit_label_of(p.b), ha, hb,
            render_html(rl), percent(p.text_similarity),
            "Có sửa đổi" if p.status == "changed" else "Sửa ít" if rl.changes else "Giống hệt", p.status,
            chunk in (p.a.chunk_id, p.b.chunk_id)))
    for u in c.only_in_a:
        view.rows.append(CompareRow("only_a", "a-" + u.chunk_id.split("~", 1)[-1], _unit_label_of(u), "",
                                    Markup(escape(u.text)), Markup(""), Markup(""), "", "Chỉ có trong A",
                                    "only-a", chunk == u.chunk_id))
    for u in c.only_in_b:
        view.rows.append(CompareRow("only_b", "b-" + u.chunk_id.split("~", 1)[-1], "", _unit_label_of(u),
                                    Markup(""), Markup(escape(u.text)), Markup(""), "", "Chỉ có trong B",
                                    "only-b", chunk == u.chunk_id))
    return view


# --- evolution ------------------------------------------------------------------------------------------


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
    from search_api.evolution import evolution

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
            path=_unit_label_of(e.unit), text=Markup(escape(e.unit.text)),
            redline=render_html(e.redline) if e.redline is not None else None, previous_label=prev,
            similarity=percent(e.text_similarity),
            first_seen=str(e.first_seen) if e.first_seen and e.first_seen != d.year else "",
            others=[(_unit_label_of(o.unit), _item_url(d.doc_id, o.unit.chunk_id, o.unit.path),
                     Markup(escape(o.unit.text))) for o in e.others]))
    return view


# --- precedents -----------------------------------------------------------------------------------------


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


def _item_url(doc_id: str, chunk_id: str, path: str) -> str:
    return doc_url(doc_id, chunk_id, anchor_of(doc_id, re.sub(r" \(\d+\)$", "", path)))


def build_precedents_view(svc: SearchService, text: str, chunk: str) -> PrecedentsView:
    """Precedents of a pasted draft (``text``) or similar tasks of an existing one (``chunk``)."""
    from search_api.precedents import MAX_DRAFT_CHARS, citation, precedents, similar

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
                p.document.title, _item_url(p.unit.doc_id, p.unit.chunk_id, p.unit.path), p.unit.path,
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
                h.document.title, _item_url(h.unit.doc_id, h.unit.chunk_id, h.unit.path), h.unit.path,
                metas[h.unit.doc_id], Markup(escape(h.unit.text)), render_html(h.redline), percent(h.similarity),
                "Dùng lại gần nguyên văn" if h.reused else ""))
    return view
