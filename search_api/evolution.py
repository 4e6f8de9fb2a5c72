"""How one theme's wording moved across places and years.

For each document: its best-matching unit for the topic (a search query, or an existing chunk), ordered by
year then place; each entry redlined against the closest earlier version (the same place's if there is one,
else the most similar earlier entry), and dated by the first year its wording (near-identical text) appears.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from rapidfuzz.distance import Indel

from indexer.textnorm import fold, normalize_text, tokenize
from search_api.compare import CompareUnit, doc_units, unit_out
from search_api.redline import Redline, redline
from search_api.schemas import ResultDocument
from search_api.service import SearchService

SAME_WORDING = 0.8  # redline similarity from which two entries are one wording
REL_THRESHOLD = 0.5  # topic mode: a document's best hit must score ≥ this share of the overall best
CHUNK_THRESHOLD = 0.88  # chunk mode: e5 cosine a document's best unit must reach
SEARCH_POOL = 100


class EvolutionEntry(BaseModel):
    document: ResultDocument
    unit: CompareUnit
    score: float  # relevance to the topic
    previous: CompareUnit | None = None  # the earlier version this entry is redlined against
    previous_reason: str = ""  # "same place" | "most similar earlier"
    redline: Redline | None = None
    text_similarity: float | None = None
    first_seen: int | None  # first year this wording appears in the corpus


class Evolution(BaseModel):
    query: str | None = None
    chunk_id: str | None = None
    entries: list[EvolutionEntry]


def _topic_hits(svc: SearchService, q: str) -> list[tuple[str, str, float]]:
    """(doc_id, chunk_id, score) of each document's best search hit above the relative threshold."""
    res = svc.search(q, k=SEARCH_POOL)
    best: dict[str, tuple[str, float]] = {}
    for r in res.results:
        if r.doc_id not in best:
            best[r.doc_id] = (r.chunk_id, r.score)
    top = max((s for _, s in best.values()), default=0.0)
    return [(d, c, s) for d, (c, s) in best.items() if top > 0 and s >= REL_THRESHOLD * top]


def _chunk_hits(svc: SearchService, chunk_id: str) -> list[tuple[str, str, float]]:
    """Each document's unit nearest to an existing chunk (e5 cosine over the alignment units)."""
    src = svc.chunk(chunk_id)
    vec = svc.chunk_vectors([chunk_id])[0]
    out = [(src.doc_id, chunk_id, 1.0)]
    for d in svc.documents():
        if d.doc_id == src.doc_id:
            continue
        du = doc_units(svc, d.doc_id)
        if not du.units:
            continue
        sims = du.vectors @ vec
        i = int(np.argmax(sims))
        if sims[i] >= CHUNK_THRESHOLD:
            out.append((d.doc_id, du.units[i].chunk_id, float(sims[i])))
    return out


def _unit(svc: SearchService, doc_id: str, chunk_id: str) -> CompareUnit:
    for u in doc_units(svc, doc_id).units:
        if u.chunk_id == chunk_id:
            return unit_out(u)
    c = svc.chunk(chunk_id)  # a chunk that is not an alignment unit (e.g. a section): show it as is
    return CompareUnit(chunk_id=c.chunk_id, doc_id=c.doc_id, path=c.path, heading="", text=c.text, kind=c.kind)


def _tokens(text: str) -> list[str]:
    return [t.text for t in tokenize(normalize_text(text))]


def evolution(svc: SearchService, q: str | None = None, chunk_id: str | None = None) -> Evolution:
    """The theme's entries in year, place order; exactly one of ``q`` / ``chunk_id`` (ValueError otherwise)."""
    q = (q or "").strip() or None
    if (q is None) == (chunk_id is None):
        raise ValueError("give either a topic (q) or a chunk_id, not both and not neither")
    hits = _topic_hits(svc, q) if q else _chunk_hits(svc, chunk_id or "")
    rows = []
    for doc_id, cid, score in hits:
        doc = svc.document_summary(doc_id)
        rows.append((doc.year or 0, fold(doc.place).lower(), doc, _unit(svc, doc_id, cid), score))
    rows.sort(key=lambda r: (r[0], r[1]))
    entries: list[EvolutionEntry] = []
    tokens: list[list[str]] = []
    for year, place, doc, unit, score in rows:
        n_earlier = sum(1 for x in entries if (x.document.year or 0) < year)
        earlier = entries[:n_earlier]  # rows are sorted by year, so the earlier ones are a prefix
        toks = _tokens(unit.text)
        e = EvolutionEntry(document=doc, unit=unit, score=round(score, 4), first_seen=doc.year)
        if earlier:
            # the redline's similarity (2·matched tokens / all tokens) via Indel on token lists: fast enough
            # to compare with every earlier entry; the full redline is computed once, for the chosen one
            sims = [Indel.normalized_similarity(t, toks) for t in tokens[:n_earlier]]
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
        tokens.append(toks)
    return Evolution(query=q, chunk_id=chunk_id if q is None else None, entries=entries)
