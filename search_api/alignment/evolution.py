"""How one theme's wording moved across places and years.

For each document: the unit that carries the topic (a search query, or an existing chunk), ordered by year
then place; each entry redlined against the closest earlier version (the same place's if there is one,
else the most similar earlier entry), and dated by the first year its wording (near-identical text) appears.

The unit shown is the best-matching one that is a TASK: a target ("Thực hiện có chất lượng … Tháng hành
động vì trẻ em" among the year's targets) or a bare heading names the topic without saying what to do, so
it is shown only when the document has nothing else. The document's other matching units are folded under
the entry. Entries are built from the search hits themselves: no document is re-read per request.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from rapidfuzz.distance import Indel

from indexer.chunks import chunk_id as make_chunk_id
from indexer.models import Chunk
from indexer.textnorm import fold, normalize_text, tokenize
from search_api.alignment.compare import CompareUnit, doc_units, unit_out
from search_api.alignment.redline import Redline, redline
from search_api.schemas import ResultDocument
from search_api.service import NotFound, SearchService

SAME_WORDING = 0.8  # redline similarity from which two entries are one wording
REL_THRESHOLD = 0.5  # topic mode: a document's best hit must score ≥ this share of the overall best
CHUNK_THRESHOLD = 0.88  # chunk mode: e5 cosine a document's best unit must reach
SEARCH_POOL = 100
NOT_TASK_SECTIONS = ("targets", "purpose")  # "Mục tiêu, chỉ tiêu", "Mục đích, yêu cầu": they name, not do
MIN_TASK_WORDS = 12  # fewer words than this is a heading line, not a task
MAX_FOLDED = 5


class OtherUnit(BaseModel):
    """Another unit of the same document that matches the topic (folded under the entry)."""

    unit: CompareUnit
    score: float


class EvolutionEntry(BaseModel):
    document: ResultDocument
    unit: CompareUnit
    score: float  # relevance to the topic
    others: list[OtherUnit] = []  # the document's other matching units, best first
    previous: CompareUnit | None = None  # the earlier version this entry is redlined against
    previous_reason: str = ""  # "same place" | "most similar earlier"
    redline: Redline | None = None
    text_similarity: float | None = None
    first_seen: int | None  # first year this wording appears in the corpus


class Evolution(BaseModel):
    query: str | None = None
    chunk_id: str | None = None
    entries: list[EvolutionEntry]


Hit = tuple[str, CompareUnit, float, list[OtherUnit]]  # (doc_id, unit shown, score, folded units)


def carries_task(c: Chunk) -> bool:
    """A unit that says what to do: a task, item or paragraph outside the targets/purpose sections, with
    more than a heading's worth of words."""
    return c.kind in ("task", "item", "paragraph") and c.section_kind not in NOT_TASK_SECTIONS \
        and len(c.text.split()) >= MIN_TASK_WORDS


def _parent_task(svc: SearchService, c: Chunk) -> Chunk:
    """An item's own task ("III.5 • 1" → "III.5"), the unit that carries it as a task; not when that task is
    an agency's list of duties ("1. Sở Lao động - Thương binh và Xã hội"), which bundles unrelated topics."""
    if " • " not in c.path:
        return c
    try:
        parent = svc.chunk(make_chunk_id(c.doc_id, c.path.split(" • ", 1)[0]))
    except NotFound:
        return c
    return parent if parent.kind == "task" and not parent.agency else c


def _as_unit(c: Chunk) -> CompareUnit:
    return CompareUnit(chunk_id=c.chunk_id, doc_id=c.doc_id, path=c.path, heading="", text=c.text, kind=c.kind)


def _topic_hits(svc: SearchService, q: str) -> list[Hit]:
    """Per document: its best hit that carries the topic as a task (else its best hit), above the relative
    threshold, with its other hits above the threshold folded."""
    res = svc.search(q, k=SEARCH_POOL)
    top = max((r.score for r in res.results), default=0.0)
    per: dict[str, list[tuple[Chunk, float]]] = {}
    for r in res.results:
        if top > 0 and r.score >= REL_THRESHOLD * top:
            per.setdefault(r.doc_id, []).append((svc.chunk(r.chunk_id), r.score))
    out: list[Hit] = []
    for doc_id, hits in per.items():
        tasks = [(c, s) for c, s in hits if carries_task(c)]
        # the "tasks" section says what to do; "organisation" says who does it: prefer the former
        shown = min(tasks, key=lambda h: (h[0].section_kind != "tasks", -h[1])) if tasks else hits[0]
        shown = (_parent_task(svc, shown[0]), shown[1])
        others = [OtherUnit(unit=_as_unit(c), score=round(s, 4)) for c, s in hits
                  if c is not shown[0] and c.text not in shown[0].text]  # not the shown task's own items
        out.append((doc_id, _as_unit(shown[0]), shown[1], others[:MAX_FOLDED]))
    return out


def _chunk_hits(svc: SearchService, chunk_id: str) -> list[Hit]:
    """Each document's unit nearest to an existing chunk (e5 cosine over the alignment units)."""
    src = svc.chunk(chunk_id)
    vec = svc.chunk_vectors([chunk_id])[0]
    out: list[Hit] = [(src.doc_id, _as_unit(src), 1.0, [])]
    for d in svc.documents():
        if d.doc_id == src.doc_id:
            continue
        du = doc_units(svc, d.doc_id)
        if not du.units:
            continue
        sims = du.vectors @ vec
        i = int(np.argmax(sims))
        if sims[i] >= CHUNK_THRESHOLD:
            out.append((d.doc_id, unit_out(du.units[i]), float(sims[i]), []))
    return out


def _tokens(text: str) -> list[str]:
    """What the redline's similarity counts, without its offsets (only the chosen pair gets a full redline)."""
    return [t.text for t in tokenize(normalize_text(text))]


def evolution(svc: SearchService, q: str | None = None, chunk_id: str | None = None) -> Evolution:
    """The theme's entries in year, place order; exactly one of ``q`` / ``chunk_id`` (ValueError otherwise)."""
    q = (q or "").strip() or None
    if (q is None) == (chunk_id is None):
        raise ValueError("give either a topic (q) or a chunk_id, not both and not neither")
    hits = _topic_hits(svc, q) if q else _chunk_hits(svc, chunk_id or "")
    rows = []
    for doc_id, unit, score, others in hits:
        doc = svc.document_summary(doc_id)
        rows.append((doc.year or 0, fold(doc.place).lower(), doc, unit, score, others))
    rows.sort(key=lambda r: (r[0], r[1]))
    entries: list[EvolutionEntry] = []
    tokens: dict[int, list[str]] = {}  # entry index → tokens, computed only when an entry is compared

    def toks_of(i: int) -> list[str]:
        if i not in tokens:
            tokens[i] = _tokens(entries[i].unit.text if i < len(entries) else rows[i][3].text)
        return tokens[i]

    for year, place, doc, unit, score, others in rows:
        n_earlier = sum(1 for x in entries if (x.document.year or 0) < year)
        earlier = entries[:n_earlier]  # rows are sorted by year, so the earlier ones are a prefix
        e = EvolutionEntry(document=doc, unit=unit, score=round(score, 4), others=others, first_seen=doc.year)
        if earlier:
            # the redline's similarity (2·matched tokens / all tokens) via Indel on token lists: fast enough
            # to compare with every earlier entry; the full redline is computed once, for the chosen one
            toks = toks_of(len(entries))
            sims = [Indel.normalized_similarity(toks_of(j), toks) for j in range(n_earlier)]
            same_place = [k for k, p in enumerate(earlier) if fold(p.document.place).lower() == place]
            if same_place:
                k, reason = same_place[-1], "same place"
            else:
                k, reason = max(range(len(earlier)), key=lambda k: sims[k]), "most similar earlier"
            rl = redline(earlier[k].unit.text, unit.text)
            e.previous, e.previous_reason = earlier[k].unit, reason
            e.redline, e.text_similarity = rl, round(rl.similarity, 4)
            same = [p.first_seen for p, sim in zip(earlier, sims, strict=True)
                    if sim >= SAME_WORDING and p.first_seen is not None]
            if same:
                e.first_seen = min(same)
        entries.append(e)
    return Evolution(query=q, chunk_id=chunk_id if q is None else None, entries=entries)
