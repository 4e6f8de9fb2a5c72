"""Picking documents to compare when the corpus has thousands: search-as-you-type over document metadata,
and "suggested comparisons" (the documents most similar to a given one).

Both work from per-generation caches: the folded metadata line of every document (a substring scan of
10,000 short lines takes a few milliseconds) and each document's centroid of chunk vectors (built once,
from one pass over the chunk table).
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel

from indexer.textnorm import fold
from search_api.generation_cache import PerGeneration
from search_api.schemas import ResultDocument
from search_api.service import SearchService

MAX_SUGGEST = 50


class DocumentHit(BaseModel):
    document: ResultDocument
    label: str  # "Cam Lộ 2023 — Công văn 364/UBND-LĐTBXH — UBND huyện Cam Lộ (2023)"


class SuggestOut(BaseModel):
    q: str
    total: int
    results: list[DocumentHit]


class SimilarDocument(BaseModel):
    document: ResultDocument
    similarity: float  # cosine of the two documents' mean chunk vectors
    reason: str  # "same place, earlier" | "similar content"


class SuggestionsOut(BaseModel):
    doc_id: str
    results: list[SimilarDocument]


def _key(s: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(s or "").lower()))


def label(d: ResultDocument) -> str:
    return f"{d.place or d.doc_id} {d.year or ''} — {d.title}".strip()


def _build_lines(svc: SearchService) -> list[tuple[str, ResultDocument]]:
    """The folded metadata line of every document, with its summary."""
    got = []
    for d in svc.documents():
        rd = ResultDocument(**{k: getattr(d, k) for k in ResultDocument.model_fields})
        line = _key(" ".join(str(x) for x in (d.place, d.province, d.province_current, d.title, d.number,
                                              d.year or "", d.doc_type, d.issuer, d.subject, d.doc_id)))
        got.append((f" {line} ", rd))
    return got


LINES = PerGeneration(_build_lines)
_index = LINES.get


def suggest(svc: SearchService, q: str, limit: int = 10) -> SuggestOut:
    """Documents whose metadata contain every word of ``q`` (with or without diacritics; a word may be the
    beginning of a longer one), those whose place starts with the query first, then newest first."""
    if not 1 <= limit <= MAX_SUGGEST:
        raise ValueError(f"limit must be between 1 and {MAX_SUGGEST}")
    words = _key(q).split()[:8]
    if not words:
        return SuggestOut(q=q, total=0, results=[])
    hits = [d for line, d in _index(svc) if all(f" {w}" in line for w in words)]
    qk = " ".join(words)
    hits.sort(key=lambda d: (not _key(d.place).startswith(qk), -(d.year or 0), d.doc_id))
    return SuggestOut(q=q, total=len(hits), results=[DocumentHit(document=d, label=label(d)) for d in hits[:limit]])


def _build_centroids(svc: SearchService) -> tuple[list[str], np.ndarray]:
    """Each document's normalised mean chunk vector (1.5 s at 107k chunks), in doc_id order."""
    store = svc.store
    pairs = store.chunk_doc_ids()
    ids = sorted({d for _, d in pairs})
    pos = {d: k for k, d in enumerate(ids)}
    mat = np.zeros((len(ids), store.dim), dtype="float32")
    for start in range(0, len(pairs), 20_000):  # bounded memory: 20k vectors at a time
        part = pairs[start:start + 20_000]
        np.add.at(mat, np.fromiter((pos[d] for _, d in part), dtype=np.int64), store.vectors(r for r, _ in part))
    mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-9)
    return ids, mat


CENTROIDS = PerGeneration(_build_centroids)  # built by the server's background warm-up (``search_api.warmup``)
_centroid_matrix = CENTROIDS.get


def similar_documents(svc: SearchService, doc_id: str, k: int = 5) -> SuggestionsOut:
    """The same place's latest earlier document first (last year's plan), then the most similar others."""
    me = svc.document_summary(doc_id)
    ids, mat = _centroid_matrix(svc)
    if doc_id not in ids:
        return SuggestionsOut(doc_id=doc_id, results=[])
    sims = mat @ mat[ids.index(doc_id)]
    out: list[SimilarDocument] = []
    earlier = [d for _, d in _index(svc) if d.doc_id != doc_id and _key(d.place) == _key(me.place) and me.place
               and (d.year or 0) < (me.year or 0)]
    if earlier:
        prev = max(earlier, key=lambda d: (d.year or 0, d.date))
        out.append(SimilarDocument(document=svc.document_summary(prev.doc_id),
                                   similarity=round(float(sims[ids.index(prev.doc_id)]), 4) if prev.doc_id in ids
                                   else 0.0, reason="same place, earlier"))
    for i in np.argsort(-sims):
        other = ids[int(i)]
        if len(out) >= k:
            break
        if other == doc_id or any(o.document.doc_id == other for o in out):
            continue
        out.append(SimilarDocument(document=svc.document_summary(other), similarity=round(float(sims[int(i)]), 4),
                                   reason="similar content"))
    return SuggestionsOut(doc_id=doc_id, results=out)
