"""Two directives side by side, task by task: aligned pairs with a redline, what only one side has, a summary.

The per-document units (chunks, headings, stored vectors) are cached per service, so a warm comparison costs
one similarity matrix, a few small Hungarian solves and the redlines.
"""

from __future__ import annotations

import re
import threading
import weakref
from typing import Literal

import numpy as np
from pydantic import BaseModel

from indexer.textnorm import fold
from search_api.align import AlignConfig, Alignment, AlignUnit, DocUnits, align, build_units
from search_api.redline import Redline, redline
from search_api.schemas import ResultDocument
from search_api.service import NotFound, SearchService

SHARED_SIMILARITY = 0.9  # redline similarity from which a pair counts as the same wording

_cache: weakref.WeakKeyDictionary[SearchService, dict[str, DocUnits]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


class CompareUnit(BaseModel):
    chunk_id: str
    doc_id: str
    path: str
    heading: str
    text: str
    kind: str


class ComparePair(BaseModel):
    a: CompareUnit
    b: CompareUnit
    similarity: float  # alignment score (e5 cosine mixed with token-set similarity), 0..1
    margin: float  # how far the pair stands out from each unit's other candidates (> threshold = match)
    dense: float  # e5 cosine
    lexical: float  # token-set similarity on folded text, 0..1
    text_similarity: float  # the redline's own similarity of the wording
    status: Literal["shared", "changed"]
    redline: Redline


class CompareSummary(BaseModel):
    shared: int  # near-identical wording
    changed: int  # aligned, wording changed
    new: int  # only in B
    dropped: int  # only in A


class Comparison(BaseModel):
    a: ResultDocument
    b: ResultDocument
    pairs: list[ComparePair]
    only_in_a: list[CompareUnit]
    only_in_b: list[CompareUnit]
    summary: CompareSummary


def _headings(svc: SearchService, doc_id: str) -> dict[str, str]:
    return {u.path: u.heading for u in svc.document(doc_id).walk()}


def doc_units(svc: SearchService, doc_id: str) -> DocUnits:
    """Alignment units of a document (NotFound for an unknown id), cached for the life of the service."""
    with _cache_lock:
        per = _cache.setdefault(svc, {})
        got = per.get(doc_id)
    if got is not None:
        return got
    chunks = svc.chunks_of(doc_id)
    ids = [c.chunk_id for c in chunks]
    vecs = svc.chunk_vectors(ids) if ids else np.zeros((0, 1), dtype="float32")
    got = build_units(doc_id, chunks, _headings(svc, doc_id), dict(zip(ids, vecs, strict=True)))
    with _cache_lock:
        _cache.setdefault(svc, {})[doc_id] = got
    return got


def unit_out(u: AlignUnit) -> CompareUnit:
    return CompareUnit(**u.to_dict())


def alignment_of(svc: SearchService, a: str, b: str, cfg: AlignConfig | None = None) -> Alignment:
    if a == b:
        raise ValueError(f"cannot compare document {a!r} with itself: choose two different documents")
    return align(doc_units(svc, a), doc_units(svc, b), cfg)


def compare(svc: SearchService, a: str, b: str, cfg: AlignConfig | None = None) -> Comparison:
    """Compare documents ``a`` and ``b`` (ValueError when they are the same, NotFound when unknown)."""
    doc_a, doc_b = svc.document_summary(a), svc.document_summary(b)
    al = alignment_of(svc, a, b, cfg)
    pairs: list[ComparePair] = []
    for p in al.pairs:
        ua, ub = al.a.units[p.a], al.b.units[p.b]
        r = redline(ua.text, ub.text)
        sim = float(r.similarity)
        pairs.append(ComparePair(
            a=unit_out(ua), b=unit_out(ub), similarity=round(p.similarity, 4), margin=round(p.margin, 4), dense=round(p.dense, 4),
            lexical=round(p.lexical, 4), text_similarity=round(sim, 4),
            status="shared" if sim >= SHARED_SIMILARITY else "changed", redline=r))
    only_a = [unit_out(al.a.units[i]) for i in al.only_a]
    only_b = [unit_out(al.b.units[j]) for j in al.only_b]
    shared = sum(1 for p in pairs if p.status == "shared")
    return Comparison(a=doc_a, b=doc_b, pairs=pairs, only_in_a=only_a, only_in_b=only_b,
                      summary=CompareSummary(shared=shared, changed=len(pairs) - shared, new=len(only_b),
                                             dropped=len(only_a)))


def resolve_document(svc: SearchService, ref: str) -> str:
    """A document id from an id or a unique "place year" ("Cam Lộ 2023", "cam lo 2023", "Lạng Sơn").

    NotFound when nothing matches, ValueError (listing the candidates) when several do.
    """
    ref = (ref or "").strip()
    docs = svc.documents()
    if any(d.doc_id == ref for d in docs):
        return ref
    key = " ".join(re.findall(r"[^\W_]+", fold(ref).lower()))
    years = re.findall(r"\b(\d{4})\b", key)
    place = " ".join(w for w in key.split() if w not in years)
    found = [d for d in docs
             if (not years or str(d.year) in years)
             and place and " ".join(re.findall(r"[^\W_]+", fold(d.place).lower())) == place]
    if not found:
        raise NotFound(f"no document {ref!r}: give a document id or a place and year such as 'Cam Lộ 2023'")
    if len(found) > 1:
        names = ", ".join(f"{d.doc_id} ({d.place} {d.year})" for d in found)
        raise ValueError(f"{ref!r} is ambiguous: {names}; give the document id or add the year")
    return found[0].doc_id
