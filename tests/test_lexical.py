"""BM25 over segment postings: the textbook formula, the same scores however the index is split or merged."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from indexer.index import lexical
from indexer.index.bm25_kernel import BLOCK
from indexer.index.lexical import (
    IMPACT_STEP,
    K1,
    B,
    LexicalView,
    PostingsBuilder,
    SegmentPostings,
    merge_postings,
    tokens,
)
from indexer.index.store import IndexStore, fts_columns

SEEDS = Path(__file__).resolve().parents[1] / "corpus"

TEXTS = [
    "Phòng, chống đuối nước cho trẻ em trong dịp hè.",
    "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111.",
    "Dạy bơi an toàn, phòng chống đuối nước, đuối nước ở trẻ em.",
    "Kinh phí thực hiện kế hoạch năm 2023.",
]


def segment(texts: list[str], first_rowid: int = 1) -> tuple[SegmentPostings, np.ndarray]:
    b = PostingsBuilder()
    for t in texts:
        b.add(*fts_columns(t))
    return b.finish(), np.arange(first_rowid, first_rowid + len(texts), dtype=np.int64)


def reference_bm25(texts: dict[int, str], weighted: list[tuple[str, float]], step: float | None = None) -> dict[int, float]:
    """Plain-Python BM25 (Lucene idf, k1 = 1.2, b = 0.75) over the two term spaces: what the arrays must give.

    ``step``: each term's part tf·(k1+1)/(tf + norm) rounded to a multiple of it (at least one), as 8-bit
    impacts are."""
    cols = {r: dict(zip(("e:", "f:"), fts_columns(t), strict=True)) for r, t in texts.items()}
    bags = {r: {s: Counter(tokens(c)) for s, c in col.items()} for r, col in cols.items()}
    n = len(texts)
    out: dict[int, float] = {}
    for key, w in weighted:
        space, term = key[:2], key[2:]
        avgdl = sum(sum(b[space].values()) for b in bags.values()) / n
        df = sum(1 for b in bags.values() if term in b[space])
        if not df:
            continue
        idf = math.log1p((n - df + 0.5) / (df + 0.5))
        for r, b in bags.items():
            tf = b[space].get(term, 0)
            if tf:
                dl = sum(b[space].values())
                part = tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl))
                if step is not None:
                    part = max(1, round(part / step)) * step
                out[r] = out.get(r, 0.0) + w * idf * part
    return out


def test_postings_rank_like_bm25_and_keep_spaces_apart():
    p, rows = segment(TEXTS)
    lx = LexicalView([(p, rows, None)])
    assert lx.df("e:đuối_nước") == 2 and lx.df("f:duoi_nuoc") == 2 and lx.df("e:duoi_nuoc") == 0
    weighted = [("e:đuối_nước", 2.0), ("f:duoi_nuoc", 1.0)]
    top = lx.top(weighted, limit=10)
    assert list(top) == [3, 1]  # two occurrences beat one; unrelated chunks score nothing
    ref = reference_bm25(dict(enumerate(TEXTS, 1)), weighted, step=float(IMPACT_STEP))
    assert top.keys() == ref.keys() and all(abs(top[r] - ref[r]) < 1e-5 for r in ref)
    textbook = reference_bm25(dict(enumerate(TEXTS, 1)), weighted)  # within half a step per term of the formula
    assert all(0 < abs(top[r] - textbook[r]) <= 3 * float(IMPACT_STEP) / 2 * lx.idf(2) for r in ref)
    assert lx.top([("f:duoi", 1.0)], limit=10, allowed=[np.array([True, True, False, False])]).keys() == {1}
    assert lx.top([("e:không_có", 1.0)], limit=10) == {}


def test_scores_are_textbook_bm25_on_the_seeds(seed_index):
    store = IndexStore.open(seed_index)
    try:
        texts = {s.rowid: s.chunk.text for s in store.iter_chunks()}
        for q in ("phòng chống đuối nước cho trẻ em", "tổng đài điện thoại quốc gia 111", "kinh phí thực hiện"):
            words = q.split()
            weighted = [(f"e:{w}", 2.0) for w in words] + [(f"f:{w}", 1.0) for w in words]
            weighted += [(f"e:{a}_{b}", 2.0) for a, b in itertools.pairwise(words)]
            ours = store.lexical.top(weighted, 1000)
            ref = reference_bm25(texts, weighted, step=float(IMPACT_STEP))
            assert ours.keys() == ref.keys(), q
            assert max(abs(ours[r] - ref[r]) for r in ref) < 1e-4, q
            assert list(ours)[:10] == sorted(ref, key=lambda r: (-ref[r], r))[:10], q
            textbook = reference_bm25(texts, weighted)
            bound = sum(w * store.lexical.idf(store.lexical.df(k)) for k, w in weighted if store.lexical.df(k))
            assert max(abs(ours[r] - textbook[r]) for r in ref) <= bound * float(IMPACT_STEP) / 2 + 1e-4, q
    finally:
        store.close()


def test_common_terms_from_cached_rows_score_exactly_like_postings(seed_index, monkeypatch):
    """A term in ≥ 1/8 of a segment's chunks is scored from a cached dense row: bit-for-bit the same scores."""
    store = IndexStore.open(seed_index)
    try:
        weighted = [(f"e:{w}", 2.0) for w in ["phòng", "chống", "đuối", "nước", "cho", "trẻ", "em", "tổng", "đài"]]
        monkeypatch.setattr(lexical, "COMMON_MIN_CHUNKS", 10**9)
        plain = LexicalView(store.lexical.segments).top(weighted, 80)
        monkeypatch.setattr(lexical, "COMMON_MIN_CHUNKS", 1)
        view = LexicalView(store.lexical.segments)
        cached = view.top(weighted, 80)
        assert view._rows and any(k == "e:trẻ" for _, k in view._rows)  # "trẻ" took the dense path
        assert list(plain.items()) == list(cached.items()) and len(plain) == 80
    finally:
        store.close()


def _numpy_weights(view: LexicalView, s: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings in segment ``s`` and their impacts by the numpy formula (the kernel's reference)."""
    p = view.segments[s][0]
    a, b = p.span(key)
    rows, tf = np.asarray(p.rows[a:b]), np.asarray(p.tf[a:b]).astype(np.float32)
    norm = view._norm[s][lexical.SPACES.index(key[:2])]
    return rows, lexical.impacts(tf * np.float32(K1 + 1) / (tf + norm[rows]))


def _numpy_sum(view: LexicalView, s: int, terms: list[tuple[str, np.float32]]) -> np.ndarray:
    """Segment ``s``'s scores summed term by term with numpy, as before the compiled kernel."""
    p = view.segments[s][0]
    scores = np.zeros(p.n, dtype=np.float32)
    for key, c in terms:
        if p.span(key) is not None:
            rows, q = _numpy_weights(view, s, key)
            scores[rows] += c * q.astype(np.float32)
    return scores


def test_compiled_impacts_equal_the_numpy_formula_on_every_term(seed_index):
    """Every posting's impact, as postings and as a dense row, is numpy's round(tf·(k1+1)/(tf+norm)/step)."""
    store = IndexStore.open(seed_index)
    try:
        view = LexicalView(store.lexical.segments)
        for s, (p, _, _) in enumerate(view.segments):
            assert len(p.terms) > 1000
            for key in p.terms:
                rows, want = _numpy_weights(view, s, key)
                got_rows, got = view._weights(s, key, *p.span(key))
                assert np.array_equal(got_rows, rows) and np.array_equal(got, want), key
                dense = view._weights(s, key, *p.span(key), dense=True)[1]
                assert np.count_nonzero(dense) == len(rows) and np.array_equal(dense[rows], want), key
    finally:
        store.close()


@pytest.mark.parametrize("min_chunks", [1, 10**9])  # every term as a dense row / every term as postings
def test_the_compiled_sum_equals_numpy_term_by_term_to_the_bit(seed_index, monkeypatch, min_chunks):
    """The kernel adds c·impact per chunk in the terms' order in float32 (no fused multiply-add), so its
    scores are numpy's bit for bit, on every term of real queries, whichever way a term is held."""
    monkeypatch.setattr(lexical, "COMMON_MIN_CHUNKS", min_chunks)
    store = IndexStore.open(seed_index)
    try:
        view = LexicalView(store.lexical.segments)
        # and one segment of several kernel blocks: the seeds' lines, over and over
        lines = [ln for f in sorted(SEEDS.glob("*.txt")) for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
        p, rowids = segment([lines[i % len(lines)] for i in range(3 * BLOCK + 77)])
        big = LexicalView([(p, rowids, None)])
        for q in ["phòng chống đuối nước cho trẻ em", "tổng đài điện thoại 111", "xã phường phù hợp với trẻ em",
                  "kinh phí thực hiện kế hoạch"]:
            exact, folded = fts_columns(q)
            weighted = [(f"e:{t}", 2.0) for t in tokens(exact)] + [(f"f:{t}", 1.0) for t in tokens(folded)]
            terms = [(k, np.float32(np.float32(w * view.idf(view.df(k))) * IMPACT_STEP)) for k, w in weighted
                     if view.df(k)]
            for v in (view, big):
                for s in range(len(v.segments)):
                    got, want = v._scores(s, terms), _numpy_sum(v, s, terms)
                    assert got is not None and got.dtype == np.float32 and np.count_nonzero(got) > 0, q
                    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), q
    finally:
        store.close()


def test_deleted_chunks_leave_the_statistics_and_merged_postings_equal_fresh_ones():
    """Deletion marks change df, N and avgdl exactly as if the chunks had never been indexed."""
    more = [*TEXTS, "Đuối nước là nguyên nhân tử vong hàng đầu ở trẻ em.", "Trẻ em cần được học bơi."]
    a, ra = segment(more[:3], 1)
    b, rb = segment(more[3:], 4)
    live_a = np.array([True, False, True])  # chunk 2 deleted
    split = LexicalView([(a, ra, live_a), (b, rb, None)])
    keep = [t for i, t in enumerate(more) if i != 1]
    fresh_p, _ = segment(keep, 1)
    fresh = LexicalView([(fresh_p, np.array([1, 3, 4, 5, 6]), None)])
    weighted = [("e:trẻ", 2.0), ("e:em", 2.0), ("f:duoi_nuoc", 1.0), ("e:111", 2.0)]
    assert split.n_chunks == fresh.n_chunks == 5 and split.avgdl == fresh.avgdl
    assert all(split.df(k) == fresh.df(k) for k, _ in weighted) and split.df("e:111") == 0
    assert split.top(weighted, 10) == fresh.top(weighted, 10)
    merged = merge_postings([(a, np.array([0, -1, 1])), (b, np.array([2, 3, 4]))], 5)
    assert merged.terms.keys() == fresh_p.terms.keys()
    for k, i in fresh_p.terms.items():
        j = merged.terms[k]
        assert np.array_equal(merged.rows_of_term(j), fresh_p.rows_of_term(i)), k
    assert np.array_equal(merged.dl, fresh_p.dl)
    assert LexicalView([(merged, np.array([1, 3, 4, 5, 6]), None)]).top(weighted, 10) == fresh.top(weighted, 10)


@pytest.mark.parametrize("limit", [1, 3])
def test_ties_at_the_limit_are_broken_by_rowid_across_segments(limit):
    a, _ = segment(["đuối nước", "trẻ em"])
    b, _ = segment(["đuối nước", "trẻ em"])
    view = LexicalView([(a, np.array([10, 11]), None), (b, np.array([5, 12]), None)])
    assert list(view.top([("e:đuối", 1.0)], limit)) == [5, 10][:limit]


def test_dense_top_equals_brute_force(seed_index):
    store = IndexStore.open(seed_index)
    try:
        rows = [s.rowid for s in store.iter_chunks()]
        m = store.vectors(rows)
        q = m[7]
        ours = store.dense_top(q, 10)
        sims = store.dense_scores(rows, q)
        best = sorted(range(len(rows)), key=lambda i: (-sims[i], rows[i]))[:10]
        assert list(ours) == [rows[i] for i in best]
        assert np.allclose(list(ours.values()), sims[best], atol=1e-6)
        allowed = set(rows[::3])
        assert set(store.dense_top(q, 5, allowed)) <= allowed
        assert store.vectors([10**9]).sum() == 0  # unknown rowid: a zero row, not a crash
    finally:
        store.close()


def test_warm_builds_the_most_frequent_rows_and_changes_no_score(seed_index, monkeypatch):
    """The warm-up fills the row cache with the commonest terms of large segments, within its share of the
    budget, and a query then scores exactly as on a cold view."""
    monkeypatch.setattr(lexical, "COMMON_MIN_CHUNKS", 1)
    store = IndexStore.open(seed_index)
    try:
        weighted = [(f"e:{w}", 2.0) for w in ["phòng", "chống", "đuối", "nước", "cho", "trẻ", "em"]]
        cold = LexicalView(store.lexical.segments).top(weighted, 50)
        warm = LexicalView(store.lexical.segments)
        built = warm.warm()
        assert built > 0 and len(warm._rows) == built
        assert any(k == "e:trẻ" for _, k in warm._rows)  # the commonest syllable of the seeds
        assert all(rows is None for rows, _ in warm._rows.values())  # only dense rows of common terms
        assert list(warm.top(weighted, 50).items()) == list(cold.items())
        monkeypatch.setattr(lexical, "ROW_CACHE_BYTES", 0)
        monkeypatch.setattr(lexical, "ROW_CACHE_PER_CHUNK", 0)
        assert LexicalView(store.lexical.segments).warm() == 0  # no budget, no rows
    finally:
        store.close()


def test_a_loaded_segment_reads_postings_for_dense_rows_without_the_map(seed_index):
    """Postings read for a dense row are copies (pread), equal to the mapped slices: they never join the
    server's mapped pages."""
    store = IndexStore.open(seed_index)
    try:
        p = store.lexical.segments[0][0]
        assert p.readers is not None
        for key in ["e:trẻ", "f:tre", "e:đuối", "f:111"]:
            a, b = p.span(key)
            rows, tf = p.read_span(a, b)
            assert b > a and np.array_equal(rows, p.rows[a:b]) and np.array_equal(tf, p.tf[a:b])
            assert not np.shares_memory(rows, p.rows) and not np.shares_memory(tf, p.tf)
    finally:
        store.close()
