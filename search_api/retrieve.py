"""Hybrid retrieval: BM25 over syllables + bigrams (postings per segment), fused with e5 cosine.

Vietnamese specifics handled here:
- unaccented queries match the folded FTS column, and their diacritics are restored from the corpus's own
  syllable/bigram counts (a Viterbi pass) so the dense side embeds real Vietnamese;
- exact-diacritic matches score higher than folded ones (term-space weights);
- typos outside the vocabulary are mapped to the nearest folded syllable (rapidfuzz).
"""

from __future__ import annotations

import functools
import math
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from indexer.index.lexical import tokens as lexical_tokens
from indexer.index.store import IndexStore, StoredChunk, fold_lower, segments, terms_of
from indexer.textnorm import fold
from search_api.schemas import SearchFilters

Fusion = Literal["weighted", "rrf"]
Mode = Literal["hybrid", "lexical", "dense"]


@dataclass
class FusionConfig:
    """How lexical and dense scores are combined; defaults are a first guess for the evaluation to tune."""

    method: Fusion = "weighted"
    w_lexical: float = 0.5
    w_dense: float = 0.5
    rrf_k: int = 60
    exact_weight: float = 2.0  # BM25 weight of the exact-diacritic column
    folded_weight: float = 1.0  # ... and of the folded column
    pool: int = 100  # dense candidates per query (at least offset + k)
    lexical_limit: int = 300  # lexical candidates per query
    dedup_ratio: float = 95.0  # rapidfuzz ratio above which two chunks of one document are one result
    doc_decay: float = 0.85  # the n-th result of one document is scaled by doc_decay**n (1.0 = off)
    dense_margin: float | None = 0.03  # keep a dense-only candidate only within this cosine of the best one (eval)
    common_df: float = 1.0  # terms in more than this share of chunks are left out of the BM25 query (eval)


@dataclass
class QueryPlan:
    """What the query became: terms for each FTS column, text for the encoder, words to highlight."""

    query: str
    exact_terms: list[str]
    folded_terms: list[str]
    dense_text: str
    highlight_exact: set[str]
    highlight_folded: set[str]
    corrections: dict[str, str] = field(default_factory=dict)  # typed token → chosen token

    def fts_query(self) -> str:
        """An FTS5 MATCH string built only from quoted word tokens: user syntax never reaches FTS5."""
        def group(terms: list[str]) -> str:
            return " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))

        parts = []
        if self.exact_terms:
            parts.append(f"exact : ({group(self.exact_terms)})")
        if self.folded_terms:
            parts.append(f"folded : ({group(self.folded_terms)})")
        return " OR ".join(parts)


@dataclass
class Hit:
    rowid: int
    score: float
    lexical: float = 0.0  # BM25 (higher is better), 0 when not matched
    dense: float = 0.0  # cosine
    chunk: StoredChunk | None = None
    highlights: list[list[int]] = field(default_factory=list)


class Vocabulary:
    """The corpus's folded → accented syllable counts (live chunks), and bigram counts looked up on demand."""

    def __init__(self, store: IndexStore):
        self.store = store
        self.by_folded: dict[str, list[tuple[str, int]]] = {}
        self.exact: dict[str, int] = {}
        for f, a, n in store.vocab_rows():
            self.by_folded.setdefault(f, []).append((a, n))
            self.exact[a] = n
        self.folded_keys = list(self.by_folded)
        self._bigram_cache: dict[str, dict[str, int]] = {}
        self.n_chunks = store.lexical.n_chunks

    def df(self, term: str) -> int:
        """Number of live chunks containing ``term`` (exact space, else folded)."""
        pieces = lexical_tokens(term) or [term.lower()]
        return min(max(self.store.lexical.df(f"e:{p}"), self.store.lexical.df(f"f:{p}")) for p in pieces)

    def bigrams(self, folded_pair: str) -> dict[str, int]:
        got = self._bigram_cache.get(folded_pair)
        if got is None:
            got = self.store.bigram_counts(folded_pair)
            if len(self._bigram_cache) > 50_000:
                self._bigram_cache.clear()
            self._bigram_cache[folded_pair] = got
        return got

    def candidates(self, tok: str, allow_fuzzy: bool) -> tuple[list[tuple[str, int]], bool]:
        """Accented forms the typed token may stand for, and whether that was a fuzzy (typo) guess."""
        f = fold(tok)
        if tok in self.exact and tok != f:
            return [(tok, self.exact[tok])], False  # typed with diacritics that the corpus knows: trust it
        if f in self.by_folded:
            return self.by_folded[f], False  # unaccented, or accents the corpus never uses ("nươc")
        if allow_fuzzy and len(f) >= 3 and not f.isdigit():
            best = process.extractOne(f, self.folded_keys, scorer=fuzz.ratio, score_cutoff=80)
            if best is not None:
                return self.by_folded[best[0]], True
        return [(tok, 0)], False


def plan_query(q: str, vocab: Vocabulary) -> QueryPlan:
    """Restore diacritics and fix typos with the corpus statistics; foreign queries pass through unchanged."""
    segs = segments(q)
    toks = [t for s in segs for t in s]
    known = sum(1 for t in toks if fold(t) in vocab.by_folded)
    vietnamese = (bool(toks) and known / len(toks) >= 0.5) or any(t != fold(t) for t in toks)
    chosen_segs: list[list[str]] = []
    corrections: dict[str, str] = {}
    for seg in segs:
        cands = [vocab.candidates(t, vietnamese) if vietnamese else ([(t, 0)], False) for t in seg]
        best = _viterbi([c for c, _ in cands], vocab)
        for t, b in zip(seg, best, strict=True):
            if b != t:
                corrections[t] = b
        chosen_segs.append(best)
    exact = terms_of(chosen_segs)
    folded = list(dict.fromkeys([fold(t) for t in terms_of(segs)] + [fold(t) for t in exact]))
    chosen = [t for s in chosen_segs for t in s]
    dense_text = q if not corrections else _substitute(q, corrections)
    return QueryPlan(
        query=q, exact_terms=exact, folded_terms=folded, dense_text=dense_text,
        highlight_exact=set(chosen) | set(toks),
        highlight_folded={fold(t) for t in toks if t == fold(t)} | {fold(t) for t in corrections.values()},
        corrections=corrections,
    )


def _viterbi(cands: list[list[tuple[str, int]]], vocab: Vocabulary) -> list[str]:
    """Most likely accented sequence: bigram counts dominate, syllable counts break ties."""
    if not cands:
        return []
    cands = [c[:12] for c in cands]  # the most frequent forms are enough
    score = [0.3 * math.log1p(n) for _, n in cands[0]]
    back: list[list[int]] = []
    for i in range(1, len(cands)):
        if len(cands[i]) == 1 and len(cands[i - 1]) == 1:  # one path through here: its bigram changes nothing
            score, back = [score[0] + 0.3 * math.log1p(cands[i][0][1])], [*back, [0]]
            continue
        new_score, ptr = [], []
        for w, n in cands[i]:
            best_j, best_s = 0, -1e9
            for j, (pw, _) in enumerate(cands[i - 1]):
                bi = vocab.bigrams(f"{fold(pw)} {fold(w)}").get(f"{pw} {w}", 0)
                s = score[j] + math.log1p(bi) * 2.0
                if s > best_s:
                    best_j, best_s = j, s
            new_score.append(best_s + 0.3 * math.log1p(n))
            ptr.append(best_j)
        score, back = new_score, [*back, ptr]
    k = int(np.argmax(score))
    out = [cands[-1][k][0]]
    for i in range(len(cands) - 1, 0, -1):
        k = back[i - 1][k]
        out.append(cands[i - 1][k][0])
    return out[::-1]


def _substitute(q: str, corrections: dict[str, str]) -> str:
    """The query with corrected words put back in place (lower-cased only where changed)."""
    return re.sub(r"[^\W_]+", lambda m: corrections.get(m.group(0).lower(), m.group(0)), q)


def highlight_spans(text: str, plan: QueryPlan) -> list[list[int]]:
    """[start, end) spans of query words in ``text``; neighbouring words merge ("đuối nước" is one span).

    A word is highlighted when its lower case is a query word or its folded form is a folded one. One regex
    over the folded text finds the few candidate words (``fold`` keeps offsets), instead of a Python step
    for every word of a long task: 3.0 → 1.0 ms (p50) for a page of results at 100k chunks.
    """
    pattern = _highlight_pattern(frozenset(plan.highlight_exact), frozenset(plan.highlight_folded))
    if pattern is None:
        return []
    folded = fold(text)
    spans: list[list[int]] = []
    for m in pattern.finditer(folded):
        a, b = m.span()
        if text[a:b].lower() in plan.highlight_exact or m.group(0) in plan.highlight_folded:
            if spans and text[spans[-1][1]:a].strip() == "":
                spans[-1][1] = b
            else:
                spans.append([a, b])
    return spans


@functools.lru_cache(maxsize=256)
def _highlight_pattern(exact: frozenset[str], folded: frozenset[str]) -> re.Pattern[str] | None:
    """Whole words whose folded form could be highlighted, longest first."""
    words = sorted({fold(w) for w in exact} | set(folded), key=lambda w: (-len(w), w))
    words = [w for w in words if w]
    if not words:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, words)) + r")(?![^\W_])")


# --- candidates -------------------------------------------------------------------------------------------

def _term_df(store: IndexStore, vocab: Vocabulary, term: str, space: str) -> int:
    """Live chunks containing ``term`` in one space, from the BM25 postings."""
    pieces = lexical_tokens(term) or [term.lower()]
    return min(store.lexical.df(f"{space}:{p}") for p in pieces)


def prune_common(plan: QueryPlan, vocab: Vocabulary, cfg: FusionConfig, store: IndexStore | None = None) -> QueryPlan:
    """Drop terms found in more than ``cfg.common_df`` of all chunks from the lexical query.

    Their BM25 IDF is about zero ("trẻ em" is in nearly every chunk), yet an OR over them makes FTS5 score
    the whole table: at 10k chunks that was 30 ms of a 35 ms BM25 query. If every term is that common, the
    rarest one is kept when it is in at most half the chunks; otherwise lexical search has nothing to say.
    """
    if not vocab.n_chunks or cfg.common_df >= 1.0:
        return plan
    limit = cfg.common_df * vocab.n_chunks

    def df(term: str, space: str) -> int:
        return vocab.df(term.lower()) if store is None else _term_df(store, vocab, term, space)

    def keep(terms: list[str], space: str) -> list[str]:
        return [t for t in terms if df(t, space) <= limit]

    exact, folded = keep(plan.exact_terms, "e"), keep(plan.folded_terms, "f")
    if not exact and not folded:
        everything = [(df(t, col), t, col) for col, ts in (("e", plan.exact_terms), ("f", plan.folded_terms))
                      for t in ts]
        rare = min(everything, default=None)
        if rare is None or rare[0] > vocab.n_chunks / 2:
            return QueryPlan(plan.query, [], [], plan.dense_text, plan.highlight_exact, plan.highlight_folded,
                             plan.corrections)
        exact, folded = ([rare[1]], []) if rare[2] == "e" else ([], [rare[1]])
    return QueryPlan(plan.query, exact, folded, plan.dense_text, plan.highlight_exact, plan.highlight_folded,
                     plan.corrections)


def lexical_scores(store: IndexStore, plan: QueryPlan, cfg: FusionConfig,
                   allowed: set[int] | None) -> dict[int, float]:
    """BM25 over the live segments' postings (indexer/index/lexical.py), exact column weighted above folded."""
    weighted = [(f"e:{t}", cfg.exact_weight) for t in dict.fromkeys(x for term in plan.exact_terms
                                                                     for x in lexical_tokens(term))]
    weighted += [(f"f:{t}", cfg.folded_weight) for t in dict.fromkeys(x for term in plan.folded_terms
                                                                      for x in lexical_tokens(term))]
    return store.lexical.top(weighted, cfg.lexical_limit, store.masks(allowed) if allowed is not None else None)


def dense_scores(store: IndexStore, qvec: np.ndarray, n: int, allowed: set[int] | None) -> dict[int, float]:
    return store.dense_top(qvec, n, allowed)


def fuse(lex: dict[int, float], dense: dict[int, float], cfg: FusionConfig) -> list[Hit]:
    """Weighted min-max-normalised sum, or reciprocal-rank fusion; ``dense`` must cover every candidate."""
    ids = list(dict.fromkeys([*lex, *dense]))
    if not ids:
        return []
    hits = [Hit(i, 0.0, lex.get(i, 0.0), dense.get(i, 0.0)) for i in ids]
    if cfg.method == "rrf":
        lex_rank = {i: r for r, i in enumerate(sorted(lex, key=lambda i: -lex[i]))}
        dense_rank = {i: r for r, i in enumerate(sorted(dense, key=lambda i: -dense[i]))}
        for h in hits:
            h.score = sum(w / (cfg.rrf_k + 1 + rank[h.rowid]) for w, rank in
                          ((cfg.w_lexical, lex_rank), (cfg.w_dense, dense_rank)) if h.rowid in rank)
    else:
        lmax = max(lex.values(), default=0.0) or 1.0
        dvals = [h.dense for h in hits]
        dmin, dmax = min(dvals), max(dvals)
        span = (dmax - dmin) or 1.0
        for h in hits:
            h.score = cfg.w_lexical * h.lexical / lmax + cfg.w_dense * (h.dense - dmin) / span
    hits.sort(key=lambda h: (-h.score, h.rowid))
    return hits


def dedupe(hits: list[Hit], ratio: float) -> list[Hit]:
    """Show each passage of a document once: drop a hit contained in, containing, or ≥ ratio alike a better
    hit of the same document (an item inside its task, or the task around an item already shown)."""
    shown: dict[str, list[str]] = {}
    out = []
    for h in hits:
        assert h.chunk is not None
        c = h.chunk.chunk
        prior = shown.setdefault(c.doc_id, [])
        norm = " ".join(c.text.split())
        if any(_same_passage(norm, p, ratio) for p in prior):
            continue
        prior.append(norm)
        out.append(h)
    return out


def _same_passage(a: str, b: str, ratio: float) -> bool:
    if a in b or b in a:
        return True
    # ratio ≥ r needs lengths within (200 - r) / r of each other: skip the edit distance otherwise
    shorter, longer = sorted((len(a), len(b)))
    if shorter < longer * ratio / (200 - ratio):
        return False
    return fuzz.ratio(a, b, score_cutoff=ratio) >= ratio


@dataclass
class Retrieval:
    plan: QueryPlan
    hits: list[Hit]  # fused, filtered, de-duplicated; chunks loaded


@functools.cache
def _encoding_pool() -> ThreadPoolExecutor:
    """Threads that encode queries and run their dense search: a new query's e5 encoding (10–15 ms) and
    dense search, and its BM25 (3–6 ms at 100k, ~20 ms at 1M), all release the GIL in native code, so on two
    cores they overlap instead of adding up."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="encode-query")


def retrieve(store: IndexStore, vocab: Vocabulary, q: str, *, allowed: set[int] | None,
             encode_query: Callable[[str], np.ndarray] | None, mode: Mode = "hybrid", need: int = 10,
             cfg: FusionConfig | None = None,
             cached_query: Callable[[str], np.ndarray | None] | None = None) -> Retrieval:
    """All candidates for ``q`` within ``allowed`` rowids (None = everything), best first.

    ``cached_query``: the query vector if it is already known (no thread is then started for it)."""
    cfg = cfg or FusionConfig()
    plan = plan_query(q, vocab)
    pending = qvec = None
    if mode in ("hybrid", "dense") and encode_query is not None and cached_query is not None:
        qvec = cached_query(plan.dense_text)
    pool = max(cfg.pool, need)
    if qvec is None and mode == "hybrid" and encode_query is not None:
        # a new query: encode it and search its vector (ONNX, FAISS, numpy: the GIL is released) while BM25
        # runs beside it
        def encode_and_search() -> tuple[np.ndarray, dict[int, float]]:
            v = encode_query(plan.dense_text)
            return v, dense_scores(store, v, pool, allowed)

        pending = _encoding_pool().submit(encode_and_search)
    lex = lexical_scores(store, prune_common(plan, vocab, cfg, store), cfg, allowed) if mode in ("hybrid", "lexical") else {}
    dense: dict[int, float] = {}
    if mode in ("hybrid", "dense") and encode_query is not None:
        if pending is not None:
            qvec, dense = pending.result()
        else:
            qvec = qvec if qvec is not None else encode_query(plan.dense_text)
            dense = dense_scores(store, qvec, pool, allowed)
        missing = [i for i in lex if i not in dense]
        if missing:  # exact cosine for lexical-only candidates, so the weighted sum compares like with like
            sims = store.dense_scores(missing, qvec)
            dense.update({i: float(s) for i, s in zip(missing, sims, strict=True)})
    if cfg.dense_margin is not None and dense:
        # e5 cosines of unrelated text still sit near 0.8: without a cut every query "matches" the whole
        # dense pool; candidates that BM25 also found are always kept
        floor = max(dense.values()) - cfg.dense_margin
        dense = {i: s for i, s in dense.items() if s >= floor or i in lex}
    if mode == "lexical":
        hits = [Hit(i, s, s, 0.0) for i, s in sorted(lex.items(), key=lambda x: (-x[1], x[0]))]
    elif mode == "dense":
        hits = [Hit(i, s, 0.0, s) for i, s in sorted(dense.items(), key=lambda x: (-x[1], x[0]))]
    else:
        hits = fuse(lex, dense, cfg)
    return Retrieval(plan, top_hits(store, hits, need, cfg))


def top_hits(store: IndexStore, hits: list[Hit], need: int, cfg: FusionConfig, batch: int | None = None) -> list[Hit]:
    """The best ``need`` hits after de-duplication and diversification, loading chunks lazily.

    Candidates arrive sorted by fused score and diversification only lowers scores, so once ``need``
    results are held whose diversified score beats the next candidate's raw score, nothing later can
    overtake them: the rest of a 1,000-candidate pool is never read from SQLite or compared.
    Every candidate is kept (without text) beyond that point so ``len()`` still counts the pool.
    Batches of 2 × ``need`` usually end it after the first read (64 rows a time cost 4.4 ms, 20 cost 1.8 ms).
    """
    batch = batch or max(20, 2 * need)
    kept: list[Hit] = []
    shown: dict[str, list[str]] = {}
    i = 0
    while i < len(hits):
        part = hits[i:i + batch]
        i += batch
        chunks = store.chunks_by_rowid(h.rowid for h in part)
        for h in part:
            h.chunk = chunks.get(h.rowid)
            if h.chunk is None:
                continue
            c = h.chunk.chunk
            prior = shown.setdefault(c.doc_id, [])
            norm = " ".join(c.text.split())
            if any(_same_passage(norm, p, cfg.dedup_ratio) for p in prior):
                continue
            prior.append(norm)
            kept.append(h)
        if len(kept) >= need and i < len(hits):
            ranked = diversify([Hit(h.rowid, h.score, chunk=h.chunk) for h in kept], cfg.doc_decay)
            if ranked[need - 1].score >= hits[i].score:
                rest = hits[i:]
                break
    else:
        rest = []
    return diversify(kept, cfg.doc_decay) + _unloaded(rest)


def _unloaded(rest: list[Hit]) -> list[Hit]:
    """Placeholders for candidates past the cut: counted in the total, never shown."""
    return [Hit(h.rowid, -1.0) for h in rest]


def diversify(hits: list[Hit], decay: float) -> list[Hit]:
    """Let other documents through: users look for how *different* places worded a task.

    Scaling each document's n-th hit by decay**n equals a greedy re-rank that penalises every result
    by the number of results of its document already shown (within-document order is unchanged).
    """
    if decay >= 1.0:
        return hits
    seen: dict[str, int] = {}
    for h in hits:
        n = seen.get(h.chunk.chunk.doc_id, 0)
        seen[h.chunk.chunk.doc_id] = n + 1
        h.score *= decay ** n
    return sorted(hits, key=lambda h: (-h.score, h.rowid))


# --- filters ----------------------------------------------------------------------------------------------

def _province_names(value: str) -> set[str]:
    """Folded pre-2025 province names a filter value stands for (old or new name)."""
    names = {fold_lower(value)}
    try:
        from indexer.parsing.places import old_provinces

        names |= {fold_lower(n) for n in old_provinces(value)}
    except ImportError:  # gazetteer not installed: plain name match
        pass
    return names


def allowed_rowids(store: IndexStore, f: SearchFilters | None,
                   documents: list[sqlite3.Row] | None = None) -> set[int] | None:
    """Chunk rowids passing the filters, or None when no filter is set (``documents``: cached rows)."""
    if f is None or not f.active():
        return None
    docs = []
    prov = _province_names(f.province) if f.province else None
    for d in documents if documents is not None else store.documents():
        if prov is not None and fold_lower(d["province"] or "") not in prov \
                and fold_lower(d["province_current"] or "") != fold_lower(f.province or ""):
            continue
        if f.place and fold_lower(f.place) != fold_lower(d["place"] or ""):
            continue
        if f.level and fold_lower(f.level) != fold_lower(d["level"] or ""):
            continue
        if f.doc_type and fold_lower(f.doc_type) != fold_lower(d["doc_type"] or ""):
            continue
        if f.year_from is not None and (d["year"] is None or d["year"] < f.year_from):
            continue
        if f.year_to is not None and (d["year"] is None or d["year"] > f.year_to):
            continue
        docs.append(d["doc_id"])
    if not docs:
        return set()
    return store.filter_rowids(docs, f.section.strip().lower() if f.section else None,
                               fold_lower(f.agency.strip()) if f.agency else None)
