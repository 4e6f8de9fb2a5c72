"""The compare page: two documents aligned task by task, with redlines and the document picker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from search_api.alignment.redline import Redline, render_html
from search_api.service import SearchService
from web.views.common import (
    doc_url,
    item_url,
    percent,
    redline_sides,
    unit_label_of,
)

NEAR_CHARS = 240  # how much of the nearest unit's wording an unmatched row quotes


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
    near_label: str = ""  # an unmatched unit's nearest unit on the other side ("III.7 · …"), a hint only
    near_url: str = ""  # its row on this page, or its place in its document
    near_text: str = ""  # its sentence closest to this row's wording
    near_chunk: str = ""
    units: tuple[str, ...] = ()  # chunk ids this row shows (where a pointer to one of them lands)


@dataclass
class CompareView:
    a: str
    b: str
    chunk: str
    pick_a: Any = None  # web.views.picker.Pick
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


def _units_html(units: list[Any]) -> Markup:
    return Markup("<br>").join(Markup(f"<strong>{escape(u.path)}</strong> ") + escape(u.text) for u in units)


def build_compare_view(svc: SearchService, a: str, b: str, chunk: str = "") -> CompareView:
    """The picker (typed names resolved, or choices when several match), suggestions for A, and when both
    are chosen the aligned comparison (NotFound / ValueError propagate)."""
    from search_api.alignment.compare import compare
    from web.views.picker import pick, suggestions

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
                chunk in {u.chunk_id for u in (*g.a, *g.b)}, units=tuple(u.chunk_id for u in (*g.a, *g.b))))
            continue
        ha, hb = redline_sides(rl)
        view.rows.append(CompareRow(
            "pair", "p-" + p.a.chunk_id.split("~", 1)[-1], unit_label_of(p.a), unit_label_of(p.b), ha, hb,
            render_html(rl), percent(p.text_similarity),
            "Có sửa đổi" if p.status == "changed" else "Sửa ít" if rl.changes else "Giống hệt", p.status,
            chunk in (p.a.chunk_id, p.b.chunk_id), units=(p.a.chunk_id, p.b.chunk_id)))
    for u in c.only_in_a:
        view.rows.append(_only_row("only_a", u, chunk, "a-"))
    for u in c.only_in_b:
        view.rows.append(_only_row("only_b", u, chunk, "b-"))
    shown = {cid: r.anchor for r in reversed(view.rows) for cid in r.units}
    for r in view.rows:
        if r.near_chunk:
            r.near_url = f"#{shown[r.near_chunk]}" if r.near_chunk in shown else r.near_url
    return view


def _only_row(kind: str, u: Any, chunk: str, prefix: str) -> CompareRow:
    """A unit with no counterpart, and a pointer to the other side's nearest unit: to its row on this page
    when it has one (set by the caller), else to its place in its document (an item of a task compared
    whole, or the reverse)."""
    text = Markup(escape(u.text))
    side_a = kind == "only_a"
    row = CompareRow(kind, prefix + u.chunk_id.split("~", 1)[-1], unit_label_of(u) if side_a else "",
                     "" if side_a else unit_label_of(u), text if side_a else Markup(""),
                     Markup("") if side_a else text, Markup(""), "", "Chỉ có trong A" if side_a else "Chỉ có trong B",
                     "only-a" if side_a else "only-b", chunk == u.chunk_id, units=(u.chunk_id,))
    n = u.nearest
    if n is not None:
        words = n.sentence if len(n.sentence) <= NEAR_CHARS else n.sentence[:NEAR_CHARS].rsplit(" ", 1)[0] + " …"
        row.near_label = unit_label_of(n.unit)
        row.near_text = words if " ".join(n.unit.text.split()).startswith(n.sentence[:40]) else "… " + words
        row.near_chunk = n.unit.chunk_id
        row.near_url = item_url(n.unit.doc_id, n.unit.chunk_id, n.unit.path)
    return row
