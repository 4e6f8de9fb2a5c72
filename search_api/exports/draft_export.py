"""The draft check as documents to hand on: a Word file (the report, then the draft as tracked changes
against last year's plan) and Markdown."""

from __future__ import annotations

import re

from search_api.alignment.redline import render_markdown
from search_api.drafting.draft_check import DraftCheck, MissingTask
from search_api.exports.tracked_changes import Block, revisions_docx

NO_PREVIOUS = "Không tìm thấy kế hoạch năm trước của cùng địa phương: toàn bộ dự thảo được ghi là nội dung thêm mới."


def _md(s: str) -> str:
    """Markdown specials in document text shown literally."""
    return re.sub(r"([\\`*_\[\]<>~|#])", r"\\\1", s)


def _title(r: DraftCheck) -> str:
    return f"Rà soát dự thảo: {r.draft.get('title') or 'dự thảo'}"


def report_sections(r: DraftCheck) -> list[tuple[str, list[str]]]:
    """The four parts as (heading, paragraphs)."""
    refs = [f"Văn bản hướng dẫn: {r.guidance.title if r.guidance else 'chưa xác định'}",
            f"Kế hoạch năm trước: {r.previous.title if r.previous else 'không có'}",
            "Đơn vị cùng cấp: " + ("; ".join(p.title for p in r.peers) or "không có")]
    out = [("Căn cứ đối chiếu", [*r.notices, *refs])]
    out.append(("1. Nhiệm vụ của văn bản hướng dẫn chưa có trong dự thảo",
                [f"{m.unit.path}. {m.unit.text}{_nearest_note(m)}" for m in r.missing_from_guidance]
                or ["(không có)"]))
    out.append(("2. Nhiệm vụ đa số đơn vị cùng cấp có mà dự thảo chưa có",
                [f"{t.peers}/{t.of} đơn vị. Ví dụ ({t.citation}): {t.example.text}" for t in r.common_in_peers]
                or ["(không có)"]))
    out.append(("3. Nhiệm vụ thay đổi so với năm trước",
                [f"Mục {', '.join(c.previous_paths) or c.previous.path} → mục {', '.join(c.draft_paths) or c.draft.path} "
                 f"(giống {round(100 * c.text_similarity)}%)"
                 for c in r.changed_from_previous] or ["(không có)"]))
    out.append(("4. Nhiệm vụ chỉ dự thảo có", [f"{u.path}. {u.text}" for u in r.only_in_draft] or ["(không có)"]))
    return out


def _nearest_note(m: MissingTask) -> str:
    """" (Gần nhất trong dự thảo: mục 4.)" after a missing guidance task, so the reader can check it by eye."""
    return f" (Gần nhất trong dự thảo: mục {m.nearest.unit.path}, chưa đủ giống.)" if m.nearest else ""


def to_docx(r: DraftCheck, blocks: list[Block]) -> bytes:
    notes = ["Phần cuối là dự thảo ghi bằng chế độ Theo dõi thay đổi so với kế hoạch năm trước: "
             "“Chấp nhận tất cả” cho dự thảo, “Từ chối tất cả” cho kế hoạch năm trước."]
    if r.previous is None:
        notes.append(NO_PREVIOUS)
    return revisions_docx(_title(r), notes, blocks, sections=report_sections(r),
                          tracked_heading="Dự thảo so với kế hoạch năm trước (theo dõi thay đổi)")


def to_markdown(r: DraftCheck) -> str:
    out = [f"# {_md(_title(r))}", ""]
    for head, paras in report_sections(r)[:1]:
        out += [f"## {head}", "", *[f"- {_md(p)}" for p in paras], ""]
    out += ["## 1. Nhiệm vụ của văn bản hướng dẫn chưa có trong dự thảo", ""]
    out += [f"- **{_md(m.unit.path)}.** {_md(m.unit.text)}"
            + (f"\n  - Gần nhất trong dự thảo: mục {_md(m.nearest.unit.path)} — “{_md(m.nearest.sentence)}”"
               if m.nearest else "") for m in r.missing_from_guidance] or ["(không có)"]
    out += ["", "## 2. Nhiệm vụ đa số đơn vị cùng cấp có mà dự thảo chưa có", ""]
    out += [f"- {t.peers}/{t.of} đơn vị — {_md(t.example.text)}\n  - Trích dẫn: {_md(t.citation)}"
            for t in r.common_in_peers] or ["(không có)"]
    out += ["", "## 3. Nhiệm vụ thay đổi so với năm trước", "", "Chú thích: ~~đã xóa~~, **đã thêm**.", ""]
    for c in r.changed_from_previous:
        out += [f"### Mục {_md(c.previous.path)} → mục {_md(c.draft.path)} (giống {round(100 * c.text_similarity)}%)", "",
                render_markdown(c.redline), ""]
    if not r.changed_from_previous:
        out.append("(không có)")
    out += ["", "## 4. Nhiệm vụ chỉ dự thảo có", ""]
    out += [f"- **{_md(u.path)}.** {_md(u.text)}" for u in r.only_in_draft] or ["(không có)"]
    return "\n".join(out) + "\n"
