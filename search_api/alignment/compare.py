"""Two directives side by side, task by task: aligned pairs with a redline, what only one side has, a summary.

The per-document units (chunks, headings, stored vectors) are cached per service, so a warm comparison costs
one similarity matrix, a few small Hungarian solves and the redlines.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import astuple
from typing import Literal

import numpy as np
from pydantic import BaseModel

from indexer.textnorm import fold
from search_api.alignment.align import (
    AlignConfig,
    AlignedPair,
    Alignment,
    AlignUnit,
    DocUnits,
    align,
    build_units,
    closest_sentence,
)
from search_api.alignment.redline import Redline, redline
from search_api.exports.tracked_changes import Block, paragraph_text
from search_api.schemas import ResultDocument
from search_api.service import NotFound, SearchService

SHARED_SIMILARITY = 0.9  # redline similarity from which a pair counts as the same wording

DOC_CACHE = 2048  # documents whose units stay parsed (≈40 KB each: vectors and folded texts)
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # IndexStore (a generation) → LRU of DocUnits
_cache_lock = threading.Lock()


class CompareUnit(BaseModel):
    chunk_id: str
    doc_id: str
    path: str
    heading: str
    text: str
    kind: str


class NearestUnit(BaseModel):
    """The other document's most similar unit to one left unmatched: shown so that a reader can check the
    task is really absent (plans written agency by agency beside plans written topic by topic leave many
    real counterparts below the threshold), never counted as a match."""

    unit: CompareUnit
    sentence: str  # the sentence of ``unit`` closest to the unmatched unit's wording
    similarity: float  # the alignment score of the two (the matched pairs' scale)
    margin: float  # below the threshold, or the pair would have matched
    dense: float
    lexical: float


class OnlyUnit(CompareUnit):
    """A unit with no counterpart in the other document, and the nearest one it has there."""

    nearest: NearestUnit | None = None


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
    group: Literal["", "tách", "gộp"] = ""  # this pair is the core of a many-to-one group (see ``groups``)


class CompareGroup(BaseModel):
    """One task of A split into several units of B ("tách"), or several of A merged into one of B ("gộp")."""

    kind: Literal["tách", "gộp"]
    a: list[CompareUnit]
    b: list[CompareUnit]
    text_similarity: float
    redline: Redline  # A's units joined (document order) against B's units joined


class CompareSummary(BaseModel):
    shared: int  # near-identical wording
    changed: int  # aligned, wording changed
    new: int  # only in B
    dropped: int  # only in A
    split: int = 0  # groups "tách"
    merged: int = 0  # groups "gộp"


class Comparison(BaseModel):
    a: ResultDocument
    b: ResultDocument
    pairs: list[ComparePair]  # one-to-one core pairs, A's order (a group's core pair included)
    only_in_a: list[OnlyUnit]
    only_in_b: list[OnlyUnit]
    summary: CompareSummary
    groups: list[CompareGroup] = []  # the many-to-one groups; their joined units are in no other list


def _headings(svc: SearchService, doc_id: str) -> dict[str, str]:
    return {u.path: u.heading for u in svc.document(doc_id).walk()}


def doc_units(svc: SearchService, doc_id: str) -> DocUnits:
    """Alignment units of a document (NotFound for an unknown id), cached per index generation (a new one
    after ``directives index`` starts empty, so a re-indexed document is never served stale), least
    recently used evicted beyond ``DOC_CACHE``."""
    with _cache_lock:
        per = _cache.get(svc.store)
        got = per.get(doc_id) if per is not None else None
        if got is not None:
            per.move_to_end(doc_id)
            return got
    chunks = svc.chunks_of(doc_id)
    ids = [c.chunk_id for c in chunks]
    vecs = svc.chunk_vectors(ids) if ids else np.zeros((0, 1), dtype="float32")
    got = build_units(doc_id, chunks, _headings(svc, doc_id), dict(zip(ids, vecs, strict=True)))
    with _cache_lock:
        per = _cache.setdefault(svc.store, OrderedDict())
        per[doc_id] = got
        docs = [k for k in per if isinstance(k, str)]
        for k in docs[: max(0, len(docs) - DOC_CACHE)]:
            del per[k]
    return got


def unit_out(u: AlignUnit) -> CompareUnit:
    return CompareUnit(**u.to_dict())


def nearest_out(al: Alignment, p: AlignedPair | None, side: str) -> NearestUnit | None:
    """``p``, an entry of ``al.nearest_a`` (``side`` "b": the nearest unit is B's) or of ``al.nearest_b``
    (``side`` "a"), with the sentence of the nearest unit closest to the unmatched one."""
    if p is None:
        return None
    u, own = (al.b.units[p.b], al.a.folded[p.a]) if side == "b" else (al.a.units[p.a], al.b.folded[p.b])
    return NearestUnit(unit=unit_out(u), sentence=closest_sentence(u.text, own), similarity=round(p.similarity, 4),
                       margin=round(p.margin, 4), dense=round(p.dense, 4), lexical=round(p.lexical, 4))


def only_out(al: Alignment, i: int, side: str) -> OnlyUnit:
    """Unit ``i`` of side ``side`` ("a" or "b"), left unmatched, with its nearest unit on the other side."""
    u, near = (al.a.units[i], al.nearest_a.get(i)) if side == "a" else (al.b.units[i], al.nearest_b.get(i))
    return OnlyUnit(**u.to_dict(), nearest=nearest_out(al, near, "b" if side == "a" else "a"))


ALIGN_CACHE = 64  # recent comparisons: the page, its JSON twin and its exports ask for the same one


def alignment_of(svc: SearchService, a: str, b: str, cfg: AlignConfig | None = None) -> Alignment:
    """The alignment of two documents, remembered for the last ``ALIGN_CACHE`` pairs of this generation."""
    if a == b:
        raise ValueError(f"cannot compare document {a!r} with itself: choose two different documents")
    cfg = cfg or AlignConfig()
    key = ("align", a, b, *astuple(cfg))
    with _cache_lock:
        recent = _cache.setdefault(svc.store, OrderedDict())
        got = recent.get(key)
    if got is not None:
        return got
    got = align(doc_units(svc, a), doc_units(svc, b), cfg)
    with _cache_lock:
        recent[key] = got
        aligned = [k for k in recent if isinstance(k, tuple)]
        for k in aligned[: max(0, len(aligned) - ALIGN_CACHE)]:
            del recent[k]
    return got


def compare(svc: SearchService, a: str, b: str, cfg: AlignConfig | None = None) -> Comparison:
    """Compare documents ``a`` and ``b`` (ValueError when they are the same, NotFound when unknown)."""
    doc_a, doc_b = svc.document_summary(a), svc.document_summary(b)
    al = alignment_of(svc, a, b, cfg)
    kinds = {id(g.links[0]): g.kind for g in al.groups()}
    pairs: list[ComparePair] = []
    for p in al.pairs:
        ua, ub = al.a.units[p.a], al.b.units[p.b]
        r = redline(ua.text, ub.text)
        sim = float(r.similarity)
        kind = kinds.get(id(p), "pair")
        pairs.append(ComparePair(
            a=unit_out(ua), b=unit_out(ub), similarity=round(p.similarity, 4), margin=round(p.margin, 4), dense=round(p.dense, 4),
            lexical=round(p.lexical, 4), text_similarity=round(sim, 4),
            status="shared" if sim >= SHARED_SIMILARITY else "changed", redline=r,
            group="" if kind == "pair" else kind))
    groups = []
    for g in al.groups():
        if g.kind == "pair":
            continue
        r = redline(joined(al.a, g.a), joined(al.b, g.b))
        groups.append(CompareGroup(kind=g.kind, a=[unit_out(al.a.units[i]) for i in g.a],
                                   b=[unit_out(al.b.units[j]) for j in g.b], text_similarity=round(r.similarity, 4),
                                   redline=r))
    only_a = [only_out(al, i, "a") for i in al.only_a]
    only_b = [only_out(al, j, "b") for j in al.only_b]
    shared = sum(1 for p in pairs if p.status == "shared")
    return Comparison(a=doc_a, b=doc_b, pairs=pairs, only_in_a=only_a, only_in_b=only_b, groups=groups,
                      summary=CompareSummary(shared=shared, changed=len(pairs) - shared, new=len(only_b),
                                             dropped=len(only_a), split=sum(g.kind == "tách" for g in groups),
                                             merged=sum(g.kind == "gộp" for g in groups)))


def joined(du: DocUnits, idx: list[int]) -> str:
    """Several units' texts as one, in document order (a group's side of the redline)."""
    return "\n".join(du.units[i].text for i in sorted(idx))


def revision_blocks(al: Alignment) -> list[Block]:
    """The blocks of a "B as revisions of A" document, in A's order: each group (pair, tách, gộp) as its
    paragraphs on both sides, a unit only in A as a deleted block, and a unit only in B as an inserted block
    placed after the block that holds the B unit before it (so B's order holds wherever A's allows it)."""
    def para(du: DocUnits, i: int) -> str:
        u = du.units[i]
        return paragraph_text(u.path, u.text)

    anchored: list[tuple[int, Block, list[int]]] = []  # (A position, block, its B units)
    for g in al.groups():
        anchored.append((min(g.a), Block([para(al.a, i) for i in g.a], [para(al.b, j) for j in g.b]), g.b))
    anchored += [(i, Block([para(al.a, i)], []), []) for i in al.only_a]
    anchored.sort(key=lambda x: x[0])
    after: dict[int, list[Block]] = {}  # index in ``anchored`` (-1: before everything) → inserted blocks
    owner = {j: k for k, (_, _, bs) in enumerate(anchored) for j in bs}
    b_order = sorted(j for _, _, bs in anchored for j in bs)
    for j in al.only_b:
        before = [x for x in b_order if x < j]
        k = owner[before[-1]] if before else -1
        after.setdefault(k, []).append(Block([], [para(al.b, j)]))
        owner[j] = k
        b_order = sorted([*b_order, j])
    out = list(after.get(-1, []))
    for k, (_, block, _) in enumerate(anchored):
        out.append(block)
        out += after.get(k, [])
    return out


def resolve_document(svc: SearchService, ref: str) -> str:
    """A document id from an id or a unique "place year" ("Cam Lộ 2023", "cam lo 2023", "Lạng Sơn").

    NotFound when nothing matches, ValueError (listing the candidates) when several do.
    """
    ref = (ref or "").strip()
    try:
        svc.document_summary(ref)  # an id: a dict lookup, not a list of every document (57 ms at 4,000)
        return ref
    except NotFound:
        pass
    docs = svc.documents()
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
