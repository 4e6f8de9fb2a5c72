"""Chunks: the unit of retrieval and comparison.

One chunk per numbered task (its own text plus its items), plus one per item when the task is long, so a
query about one bullet of a long task can land on that bullet. Paragraphs outside tasks are chunks too:
nothing of the body is dropped.
"""

from __future__ import annotations

import re

from indexer.models import Chunk, Unit

LONG_TASK_CHARS = 1200  # ~300 e5 tokens; longer tasks also get item-level chunks


def chunk_id(doc_id: str, path: str) -> str:
    """Stable, URL-safe id from the document id and the unit's path ("III.2 • 4" → "doc~III.2_i4")."""
    p = path.replace(" • ", "_i").replace(" ¶", "_p").replace("¶", "p").replace("§", "s")
    p = re.sub(r"\s*\((\d+)\)", r"_\1", p)
    p = re.sub(r"[^0-9A-Za-z._-]+", "-", p)
    return f"{doc_id}~{p}"


def _text(u: Unit) -> str:
    head = u.heading
    body = u.full_text()
    return f"{head}\n{body}".strip() if head else body


def make_chunks(doc_id: str, units: list[Unit]) -> list[Chunk]:
    chunks: list[Chunk] = []

    def add(u: Unit, headings: list[str], kind: str, text: str | None = None) -> None:
        t = (text if text is not None else _text(u)).strip()
        if t:
            chunks.append(Chunk(chunk_id(doc_id, u.path), doc_id, u.path, headings, t, kind,
                                u.section_kind, u.agency, u.start, u.end))

    def visit(u: Unit, headings: list[str]) -> None:
        label = f"{u.label}. {u.heading}".strip() if u.heading else ""
        if u.kind == "section":
            for c in u.children:
                visit(c, [*headings, label] if label else headings)
            return
        if u.kind == "task":
            has_subtasks = any(c.kind == "task" for c in u.children)
            if has_subtasks:
                # a heading task with subtasks: its own text (if any) and its non-task children, then recurse
                own = [u.text] + [c.full_text() for c in u.children if c.kind != "task"]
                own_text = "\n".join(x for x in own if x)
                if own_text:
                    add(u, headings, "task", f"{u.heading}\n{own_text}".strip())
                for c in u.children:
                    if c.kind == "task":
                        visit(c, [*headings, label] if label else headings)
                return
            add(u, headings, "task")
            if len(_text(u)) > LONG_TASK_CHARS:
                for c in u.children:
                    add(c, [*headings, label] if label else headings, c.kind)
            return
        add(u, headings, u.kind)  # paragraph or item directly under a section, or top-level paragraph

    for u in units:
        visit(u, [])
    return chunks
