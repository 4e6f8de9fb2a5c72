"""Chunks: the unit of retrieval and comparison.

One chunk per numbered task (its own text plus its items), plus one per item when the task is long, so a
query about one bullet of a long task can land on that bullet. Paragraphs outside tasks are chunks too:
nothing of the body is dropped.
"""

from __future__ import annotations

import re

from indexer.models import Chunk, Unit

LONG_TASK_CHARS = 1200  # ~300 e5 tokens; longer tasks also get item-level chunks
MAX_LEAF_CHARS = 1400  # a paragraph longer than this (~400 e5 tokens < 512) is split at sentence boundaries
RE_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+(?=[\"“(]?[A-ZĐÀ-Ỹ0-9])")


def split_sentences_to_fit(text: str, limit: int = MAX_LEAF_CHARS) -> list[str]:
    """Greedy groups of whole sentences, each ≤ ``limit`` characters (a sentence longer than that is cut at spaces)."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    cur = ""
    for sent in RE_SENTENCE_END.split(text):
        while len(sent) > limit:  # one enormous sentence: cut at the last space before the limit
            cut = sent.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(sent[:cut].strip())
            sent = sent[cut:].strip()
        if cur and len(cur) + 1 + len(sent) > limit:
            parts.append(cur)
            cur = sent
        else:
            cur = f"{cur} {sent}".strip()
    if cur:
        parts.append(cur)
    return parts


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
                    visit(c, [*headings, label] if label else headings)
            return
        # paragraph or item directly under a section, or a top-level paragraph; long ones split into parts
        pieces = split_sentences_to_fit(_text(u))
        if len(pieces) == 1:
            add(u, headings, u.kind)
            return
        for i, piece in enumerate(pieces, 1):
            chunks.append(Chunk(chunk_id(doc_id, f"{u.path} ({i})"), doc_id, f"{u.path} ({i})", headings, piece,
                                u.kind, u.section_kind, u.agency, u.start, u.end))

    for u in units:
        visit(u, [])
    return chunks
