"""Labels, URLs, dates, highlights and redline markup shared by every page's view model."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from indexer.chunks import chunk_id as make_chunk_id
from search_api.alignment.redline import Redline, render_html

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


def unit_label_of(u: Any) -> str:
    head = " ".join((u.heading or "").split())
    return f"{u.path} · {head}" if head else u.path


def item_url(doc_id: str, chunk_id: str, path: str) -> str:
    return doc_url(doc_id, chunk_id, anchor_of(doc_id, re.sub(r" \(\d+\)$", "", path)))
