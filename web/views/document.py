"""The document page: metadata rows, the outline and the body with anchors, ingest notes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from indexer.chunks import chunk_id as make_chunk_id
from indexer.models import Directive, LegalRef, Unit
from web.views.common import (
    BadRequest,
    anchor_of,
    format_date,
    level_label,
)


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
