"""The int8 dense scan: exact integer sums, and exact cosines for the rows it proposes."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index import store as store_module
from indexer.index.store import IndexStore
from indexer.index.vectors import Int8Scan, encode, query_codes


def clustered_unit_vectors(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """Near-copies around a few hundred centres, with e5's habit of all cosines sitting high."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (300, d)) + 6.0 * rng.normal(0, 1, d)
    m = centres[rng.integers(0, 300, n)] + rng.normal(0, 0.6, (n, d))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def test_kernel_sums_are_exact_integers():
    """AVX2's u8×s8 multiply-add saturates with full 8-bit codes; the 7-bit codes must never hit it."""
    m = clustered_unit_vectors(3000)
    m[0] = np.sign(m[0]) / np.sqrt(m.shape[1])  # extreme rows: codes at both ends of the range
    m[1] = -m[0]
    scan = Int8Scan(m)
    codes, step = encode(m)
    assert codes.min() == -64 and codes.max() == 63
    for q in (m[0], m[1], m[7]):
        a = query_codes(q, step).astype(np.int64) - 128
        assert a.min() == -127 or a.max() == 127
        assert np.array_equal(scan.scores(q), (a @ codes.astype(np.int64)).reshape(-1))


def test_scan_proposes_the_exact_top_rows():
    m = clustered_unit_vectors(20_000)
    scan = Int8Scan(m)
    rng = np.random.default_rng(1)
    for i in rng.integers(0, len(m), 30):
        q = m[i] + rng.normal(0, 0.02, m.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = set(np.argpartition(-(m @ q), 99)[:100].tolist())
        proposed = set(scan.candidates(q, 1000).tolist())  # what dense_top re-scores for 100 results
        assert exact <= proposed
        assert len(proposed) == 1000
        scores = scan.scores(q).astype(np.float64)
        assert np.corrcoef(scores, m @ q)[0, 1] > 0.995  # 7-bit rounding: a proposal, not a score


def test_store_reports_exact_cosines_through_the_scan(seed_index, monkeypatch):
    """With the scan forced on the seed index and few rows re-scored, results equal the exact scan's."""
    monkeypatch.setattr(store_module, "RESCORE", 4)
    monkeypatch.setattr(store_module, "RESCORE_MIN", 0)
    fast, exact = IndexStore.open(seed_index, int8_from=0), IndexStore.open(seed_index, int8_from=10**9)
    try:
        assert fast.int8_scan() and not exact.int8_scan()
        ids = [s.rowid for s in exact.iter_chunks()]
        allowed = set(ids[::2])
        for r in ids[::10]:
            q = exact.vectors([int(r)])[0]
            a, b = fast.dense_top(q, 10), exact.dense_top(q, 10)
            assert list(a) == list(b) and np.allclose(list(a.values()), list(b.values()), atol=1e-6)
            fa, fb = fast.dense_top(q, 10, allowed), exact.dense_top(q, 10, allowed)
            assert list(fa) == list(fb) and set(fa) <= allowed
        assert fast.dense_top(q, 10, set()) == {}
    finally:
        fast.close()
        exact.close()


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_matrices(n):
    m = clustered_unit_vectors(max(n, 1))[:n] if n else np.zeros((0, 384), np.float32)
    if n == 0:
        with pytest.raises(ValueError, match="at least one vector"):
            Int8Scan(m)
        return
    scan = Int8Scan(m)
    assert scan.candidates(m[0], 10).tolist() == [0]


def test_warm_service_searches_through_the_scan_like_the_exact_one(seed_index):
    from search_api.service import SearchService

    fast = SearchService(IndexStore.open(seed_index, int8_from=0), query_only=True)
    exact = SearchService(IndexStore.open(seed_index, int8_from=10**9), query_only=True)
    try:
        fast.warm()
        assert fast._encoder is not None and fast.store.segments[0]._scan is not None
        for q in ("đuối nước", "child drowning prevention", "tổng đài 111"):
            a, b = fast.search(q, k=10), exact.search(q, k=10)
            assert [(x.chunk_id, x.score) for x in a.results] == [(x.chunk_id, x.score) for x in b.results], q
    finally:
        fast.close()
        exact.close()
