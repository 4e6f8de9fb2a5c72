"""Precedents for a draft and reuse between documents.

``precedents``: the tasks across the corpus closest to a draft paragraph, each with a citation ready to
paste into the draft ("Công văn số 364/UBND-LĐTBXH ngày 08/5/2023 của UBND huyện Cam Lộ") and a redline
from the precedent to the draft. ``similar``: the nearest tasks in other documents to one chunk, flagging
near-identical wording (both copied the Ministry's annual guidance, say) as reuse.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from indexer.models import Chunk, Metadata
from search_api.alignment.align import AlignConfig, fold_key
from search_api.alignment.redline import Redline, redline
from search_api.schemas import ChunkRef, ResultDocument
from search_api.service import SearchService

MAX_DRAFT_CHARS = 5000
MAX_K = 50
REUSED_SIMILARITY = 0.85  # redline similarity from which two tasks count as the same (reused) wording
_UNIT_KINDS = ("task", "item", "paragraph")


def citation(meta: Metadata) -> str:
    """How a Vietnamese drafter cites a document: "Công văn số 364/UBND-LĐTBXH ngày 08/5/2023 của UBND huyện
    Cam Lộ". The month has no leading zero, the day keeps two digits; a blank number or day is left out
    ("Kế hoạch năm 2023 của Sở LĐTBXH tỉnh Lạng Sơn")."""
    parts = [meta.doc_type or "Văn bản"]
    if meta.number:
        parts.append(f"số {meta.number}")
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", meta.date or "")
    if m:
        parts.append(f"ngày {m.group(3)}/{int(m.group(2))}/{m.group(1)}")
    elif meta.year:
        parts.append(f"năm {meta.year}")
    if meta.issuer or meta.place:
        parts.append(f"của {meta.issuer or meta.place}")
    return " ".join(parts)


SourceUnit = ChunkRef  # the name this module's answers have always used for a cited chunk


class Precedent(BaseModel):
    unit: SourceUnit
    document: ResultDocument
    citation: str
    score: float  # e5 cosine mixed with token-set similarity, 0..1
    dense: float
    lexical: float
    redline: Redline  # from the precedent (A) to the draft (B)


class PrecedentsOut(BaseModel):
    text: str
    results: list[Precedent]


class PrecedentsRequest(BaseModel):
    text: str = Field(description=f"the draft paragraph, at most {MAX_DRAFT_CHARS} characters (400 when blank)",
                      json_schema_extra={"minLength": 1, "maxLength": MAX_DRAFT_CHARS, "pattern": r"\S"})
    k: int = Field(10, ge=1, le=MAX_K)


class SimilarHit(BaseModel):
    unit: SourceUnit
    document: ResultDocument
    similarity: float  # e5 cosine
    text_similarity: float  # word-level similarity of the wording (redline)
    reused: bool  # near-identical wording
    redline: Redline  # from the source chunk (A) to this one (B)


class SimilarOut(BaseModel):
    source: SourceUnit
    results: list[SimilarHit]


def _lexical(a: str, b: str) -> float:
    return fuzz.token_set_ratio(fold_key(a), fold_key(b)) / 100.0


def _distinct(hits: list[tuple[Chunk, float]]) -> list[tuple[Chunk, float]]:
    """Task-level units only, and one of a task and its own items (whichever ranks first)."""
    out: list[tuple[Chunk, float]] = []
    for c, s in hits:
        if c.kind not in _UNIT_KINDS:
            continue
        if any(o.doc_id == c.doc_id and (c.text in o.text or o.text in c.text) for o, _ in out):
            continue
        out.append((c, s))
    return out


def _meta(svc: SearchService, doc_id: str, cache: dict[str, Metadata]) -> Metadata:
    if doc_id not in cache:
        cache[doc_id] = svc.document(doc_id).metadata
    return cache[doc_id]


def precedents(svc: SearchService, text: str, k: int = 10, cfg: AlignConfig | None = None) -> PrecedentsOut:
    """The ``k`` tasks most similar to a draft (ValueError for an empty or oversized draft)."""
    cfg = cfg or AlignConfig()
    draft = (text or "").strip()
    if not draft:
        raise ValueError("empty draft: send the paragraph to find precedents for in 'text'")
    if len(draft) > MAX_DRAFT_CHARS:
        raise ValueError(f"draft too long: {len(draft)} characters > {MAX_DRAFT_CHARS}; send one paragraph")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}")
    vec = svc.encoder.encode_passages([draft])[0]
    pool = _distinct(svc.similar_chunks(vec, k=max(4 * k, 40)))
    scored = []
    for c, dense in pool:
        lex = _lexical(draft, c.text)
        scored.append(((cfg.w_dense * dense + cfg.w_lexical * lex) / (cfg.w_dense + cfg.w_lexical), dense, lex, c))
    scored.sort(key=lambda x: -x[0])
    metas: dict[str, Metadata] = {}
    results = [Precedent(unit=SourceUnit.of(c), document=svc.document_summary(c.doc_id),
                         citation=citation(_meta(svc, c.doc_id, metas)), score=round(score, 4),
                         dense=round(dense, 4), lexical=round(lex, 4), redline=redline(c.text, draft))
               for score, dense, lex, c in scored[:k]]
    return PrecedentsOut(text=draft, results=results)


def similar(svc: SearchService, chunk_id: str, k: int = 10) -> SimilarOut:
    """Nearest tasks in other documents to ``chunk_id`` (NotFound when unknown), reuse flagged."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}")
    src = svc.chunk(chunk_id)
    vec = svc.chunk_vectors([chunk_id])[0]
    hits = _distinct(svc.similar_chunks(vec, k=max(4 * k, 40), exclude_doc=src.doc_id))[:k]
    results = []
    for c, cos in hits:
        r = redline(src.text, c.text)
        results.append(SimilarHit(unit=SourceUnit.of(c), document=svc.document_summary(c.doc_id),
                                  similarity=round(cos, 4), text_similarity=round(r.similarity, 4),
                                  reused=r.similarity >= REUSED_SIMILARITY, redline=r))
    return SimilarOut(source=SourceUnit.of(src), results=results)
