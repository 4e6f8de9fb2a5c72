"""View models for the drafting pages: the draft check, the propagation of a guidance document, and the
"Văn bản cấp trên / Văn bản thực hiện" panel of the document page. Everything a template shows is computed
here; the only markup is ``Markup`` built from escaped pieces (redlines)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup

from search_api.alignment.redline import render_html
from search_api.drafting.draft_check import DraftCheck
from search_api.drafting.guidance_links import DocumentLinks, document_links
from search_api.drafting.propagation import Propagation
from search_api.schemas import ResultDocument
from web.views.common import anchor_of, doc_url, percent


def _short(d: ResultDocument) -> str:
    return " ".join(str(x) for x in (d.place or d.doc_id, d.year or "") if x)


def unit_url(doc_id: str, chunk_id: str, path: str) -> str:
    return doc_url(doc_id, chunk_id, anchor_of(doc_id, re.sub(r" \(\d+\)$", "", path)))


@dataclass
class LinkItem:
    label: str  # the citation or the document's title
    url: str  # "" when the document is not in the corpus
    note: str  # "Chưa có trong kho", "Qua: Sở … (2023)", "Khớp nhiều văn bản"
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (title, url) when ambiguous


@dataclass
class LinksView:
    upstream: list[LinkItem]
    downstream: list[LinkItem]
    propagation_url: str
    api_url: str


def document_links_view(svc, doc_id: str) -> LinksView:
    """The panel of the document page (from the link graph of the service's generation)."""
    return links_view(document_links(svc, doc_id))


def links_view(links: DocumentLinks) -> LinksView:
    up: list[LinkItem] = []
    for r in links.upstream:
        if r.status == "linked":
            d = r.documents[0]
            up.append(LinkItem(d.title, doc_url(d.doc_id), r.text))
        elif r.status == "ambiguous":
            up.append(LinkItem(r.text, "", "Khớp với nhiều văn bản trong kho:",
                               [(d.title, doc_url(d.doc_id)) for d in r.documents]))
        else:
            up.append(LinkItem(r.text, "", "Chưa có trong kho"))
    direct = {r.documents[0].doc_id for r in links.upstream if r.status == "linked"}
    for a in links.ancestors:
        if a.document.doc_id not in direct:
            up.append(LinkItem(a.document.title, doc_url(a.document.doc_id), f"Cấp trên nữa (qua {a.via or ''})"
                               if a.via else "Cấp trên nữa"))
    titles = {d.document.doc_id: _short(d.document) for d in links.downstream}
    down = [LinkItem(d.document.title, doc_url(d.document.doc_id),
                     f"Gián tiếp, qua {titles.get(d.via, d.via)}" if d.via else "Trực tiếp") for d in links.downstream]
    return LinksView(up, down, "/propagation?" + urlencode({"doc": links.doc_id}) if links.downstream else "",
                     f"/api/documents/{links.doc_id}/links")


STATUS_LABELS = {"verbatim": "Giữ nguyên văn", "changed": "Có sửa đổi", "dropped": "Không có"}


@dataclass
class CarriedCell:
    place: str
    title: str
    url: str
    status: str
    status_label: str
    similarity: str
    paths: str
    redline: Markup | None
    depth_note: str


@dataclass
class ReuseNote:
    text: str
    first: str
    first_url: str
    copied_by: list[tuple[str, str]]


@dataclass
class TaskRow:
    path: str
    text: str
    url: str
    counts: str
    cells: list[CarriedCell]
    reuse: list[ReuseNote]


@dataclass
class PropagationView:
    title: str
    url: str
    downstream: list[tuple[str, str, str]]  # (label, url, how)
    rows: list[TaskRow]
    outside: list[ReuseNote]
    api_url: str


def _reuse(rs) -> list[ReuseNote]:
    return [ReuseNote(r.text, f"{r.first.title}, mục {r.first_unit.path}",
                      unit_url(r.first.doc_id, r.first_unit.chunk_id, r.first_unit.path),
                      [(d.title, doc_url(d.doc_id)) for d in r.copied_by]) for r in rs]


def propagation_view(p: Propagation) -> PropagationView:
    g = p.guidance
    titles = {d.document.doc_id: _short(d.document) for d in p.downstream}
    rows = []
    for t in p.tasks:
        cells = []
        for c in t.carried:
            cells.append(CarriedCell(
                place=_short(c.document), title=c.document.title, url=(
                    unit_url(c.document.doc_id, c.units[0].chunk_id, c.units[0].path) if c.units
                    else doc_url(c.document.doc_id)),
                status=c.status, status_label=STATUS_LABELS[c.status], similarity=percent(c.text_similarity),
                paths=", ".join(u.path for u in c.units), redline=render_html(c.redline) if c.redline and
                c.status == "changed" else None, depth_note="" if c.depth == 1 else "gián tiếp"))
        rows.append(TaskRow(t.unit.path, t.unit.text, unit_url(g.doc_id, t.unit.chunk_id, t.unit.path),
                            f"{t.verbatim} giữ nguyên văn · {t.changed} có sửa đổi · {t.dropped} không có",
                            cells, _reuse(t.reuse)))
    down = [(d.document.title, doc_url(d.document.doc_id),
             f"gián tiếp, qua {titles.get(d.via, d.via)}" if d.via else "trực tiếp") for d in p.downstream]
    return PropagationView(g.title, doc_url(g.doc_id), down, rows, _reuse(p.reuse_outside_tasks),
                           "/api/propagation?" + urlencode({"doc": g.doc_id}))


@dataclass
class UnitItem:
    path: str
    text: str
    url: str
    note: str = ""
    citation: str = ""
    redline: Markup | None = None
    near_path: str = ""  # a missing guidance task: the draft's closest task, to check by eye
    near_text: str = ""


@dataclass
class DraftCheckView:
    text: str  # the draft's text, re-sent by the export and choice buttons
    checked: bool = False
    notices: list[str] = field(default_factory=list)
    draft_title: str = ""
    draft_tasks: int = 0
    guidance: tuple[str, str] | None = None  # (title, url)
    guidance_reference: str = ""
    candidates: list[tuple[str, str, str]] = field(default_factory=list)  # (doc_id, title, url)
    previous: tuple[str, str] | None = None
    peers: list[tuple[str, str]] = field(default_factory=list)
    missing: list[UnitItem] = field(default_factory=list)
    common: list[UnitItem] = field(default_factory=list)
    changed: list[UnitItem] = field(default_factory=list)
    unchanged: int = 0
    only: list[UnitItem] = field(default_factory=list)
    guidance_id: str = ""
    previous_id: str = ""


def draft_check_view(r: DraftCheck, text: str, guidance_id: str = "", previous_id: str = "") -> DraftCheckView:
    v = DraftCheckView(text=text, checked=True, notices=list(r.notices), draft_title=r.draft.get("title", ""),
                       draft_tasks=int(r.draft.get("tasks", 0)), guidance_reference=r.guidance_reference,
                       unchanged=r.unchanged_from_previous, guidance_id=guidance_id, previous_id=previous_id)
    if r.guidance:
        v.guidance = (r.guidance.title, doc_url(r.guidance.doc_id))
    v.candidates = [(d.doc_id, d.title, doc_url(d.doc_id)) for d in r.guidance_candidates]
    if r.previous:
        v.previous = (r.previous.title, doc_url(r.previous.doc_id))
    v.peers = [(d.title, doc_url(d.doc_id)) for d in r.peers]
    v.missing = [UnitItem(m.unit.path, m.unit.text, unit_url(m.unit.doc_id, m.unit.chunk_id, m.unit.path),
                          near_path=m.nearest.unit.path if m.nearest else "",
                          near_text=m.nearest.sentence if m.nearest else "")
                 for m in r.missing_from_guidance]
    v.common = [UnitItem(t.example.path, t.example.text, unit_url(t.example.doc_id, t.example.chunk_id, t.example.path),
                         f"{t.peers}/{t.of} đơn vị cùng cấp có nhiệm vụ này", t.citation) for t in r.common_in_peers]
    v.changed = [UnitItem(", ".join(c.draft_paths) or c.draft.path, c.draft.text, "",
                          f"So với mục {', '.join(c.previous_paths) or c.previous.path} năm trước · giống "
                          f"{percent(c.text_similarity)}", redline=render_html(c.redline))
                 for c in r.changed_from_previous]
    v.only = [UnitItem(u.path, u.text, "") for u in r.only_in_draft]
    return v
