"""Dense search over segments: candidates chosen over the whole index, HNSW graphs in large segments (built
when a segment is sealed or merged), exact cosines reported, results as the exact scan's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from indexer.index import ann
from indexer.index import store as store_module
from indexer.index.generation import Manifest, current_generation, segments_dir
from indexer.index.merge import merge_segments
from indexer.index.store import IndexStore
from search_api.service import SearchService
from tests.test_int8_scan import clustered_unit_vectors

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


def brute_top(m: np.ndarray, q: np.ndarray, k: int) -> float:
    return float(-np.partition(-(m @ q), k - 1)[k - 1])


def test_graph_proposes_the_exact_neighbours_and_respects_a_mask(tmp_path):
    m = clustered_unit_vectors(6000, seed=3)
    ann.build([m[:5000], m[5000:]], tmp_path / ann.ANN_FILE)  # rows of both parts, in order
    g = ann.Ann(tmp_path / ann.ANN_FILE)
    assert g.n == 6000
    rng = np.random.default_rng(2)
    mask = rng.random(6000) < 0.5
    recalls = []
    for i in rng.integers(0, 6000, 20):
        q = m[i] + rng.normal(0, 0.05, m.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        rows, est = g.top(q, 512)
        exact = m[rows] @ q
        assert np.abs(est - exact).max() < 0.02  # 8-bit codes: an estimate close to the cosine
        kth = brute_top(m, q, 100)
        recalls.append(min(100, int((exact >= kth - 1e-6).sum())) / 100)
        rows, _ = g.top(q, 200, mask)
        assert len(rows) == 200 and mask[rows].all()
    assert np.mean(recalls) >= 0.99
    assert g.top(m[0], 10, np.zeros(6000, bool))[0].size == 0


def _force_graphs(monkeypatch, rows: int = 1) -> None:
    monkeypatch.setattr(ann, "ANN_FROM", rows)


@pytest.fixture(scope="module")
def graph_index_built(tmp_path_factory):
    """The seed corpus in three segments (a build and two updates), each sealed with a graph."""
    tmp = tmp_path_factory.mktemp("graphs")
    corpus, index = tmp / "corpus", tmp / "index"
    corpus.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        _force_graphs(mp)
        for i, p in enumerate(sorted(CORPUS.glob("*.txt"))):
            if i < 3:
                shutil.copy(p, corpus / p.name)
        build_index(corpus, index, progress=False, merge="off")
        for p in sorted(CORPUS.glob("*.txt"))[3:]:
            shutil.copy(p, corpus / p.name)
            build_index(corpus, index, progress=False, merge="off")
    return corpus, index


@pytest.fixture()
def graph_index(graph_index_built, tmp_path):
    """A private copy (tests merge it)."""
    corpus, index = graph_index_built
    shutil.copytree(index, tmp_path / "index")
    return corpus, tmp_path / "index"


def test_sealed_segments_carry_a_checksummed_graph_and_answer_as_the_exact_scan(graph_index, seed_index):
    _, index = graph_index
    m = Manifest.read(current_generation(index))
    assert len(m.segments) == 3
    for name in m.segments:
        info = json.loads((segments_dir(index) / name / "segment.json").read_text())
        assert ann.ANN_FILE in info["files"] and info["ann"]["rows"] >= info["n_chunks"]
        assert info["sizes"][ann.ANN_FILE] == (segments_dir(index) / name / ann.ANN_FILE).stat().st_size
    graphs = IndexStore.open(index)
    exact = IndexStore.open(seed_index, int8_from=10**9)
    try:
        assert all(s.has_ann for s in graphs.segments) and not any(s.has_ann for s in exact.segments)
        graphs.warm_dense()
        assert all(s._ann is not None and s._scan is None for s in graphs.segments)  # no int8 codes beside a graph
        ids = [s.rowid for s in exact.iter_chunks()]
        for r in ids[::7]:
            q = exact.vectors([r])[0]
            a, b = graphs.dense_top(q, 10), exact.dense_top(q, 10)
            assert list(a) == list(b) and np.allclose(list(a.values()), list(b.values()), atol=1e-6)
    finally:
        graphs.close()
        exact.close()
    # the whole search (BM25 + dense + fusion) equals the one over the exact index for every gold query, so
    # Recall@10 and MRR@10 on eval/gold.json cannot change
    gold = [q["q"] for q in json.loads((REPO / "eval" / "gold.json").read_text(encoding="utf-8"))["queries"]]
    assert len(gold) >= 60
    fast, slow = SearchService.open(index), SearchService.open(seed_index)
    try:
        for q in ["child drowning prevention", "tong dai 111", *gold]:
            a, b = fast.search(q, k=10), slow.search(q, k=10)
            assert [(x.chunk_id, x.score) for x in a.results] == [(x.chunk_id, x.score) for x in b.results], q
    finally:
        fast.close()
        slow.close()


def test_graph_search_under_a_filter(graph_index, seed_index, monkeypatch):
    _, index = graph_index
    monkeypatch.setattr(store_module, "EXACT_FILTERED_MAX", 0)  # never fall back to scoring every allowed row
    monkeypatch.setattr(store_module, "ANN_FILTER_SHARE", 0.0)
    graphs, exact = IndexStore.open(index), IndexStore.open(seed_index, int8_from=10**9)
    try:
        ids = [s.rowid for s in exact.iter_chunks()]
        allowed = set(ids[::3])
        for r in ids[::11]:
            q = exact.vectors([r])[0]
            a, b = graphs.dense_top(q, 10, allowed), exact.dense_top(q, 10, allowed)
            assert set(a) <= allowed and list(a) == list(b)
    finally:
        graphs.close()
        exact.close()


def test_a_merge_writes_a_graph_only_for_a_large_segment(graph_index, monkeypatch):
    _, index = graph_index
    names = Manifest.read(current_generation(index)).segments
    monkeypatch.setattr(ann, "ANN_FROM", 10**9)  # merged segment below the threshold: no graph
    rep = merge_segments(index, names[:2])
    info = json.loads((segments_dir(index) / rep.into / "segment.json").read_text())
    assert ann.ANN_FILE not in info["files"] and "ann" not in info
    assert not (segments_dir(index) / rep.into / ann.ANN_FILE).exists()
    monkeypatch.setattr(ann, "ANN_FROM", 1)
    rep = merge_segments(index, Manifest.read(current_generation(index)).segments)
    info = json.loads((segments_dir(index) / rep.into / "segment.json").read_text())
    assert info["ann"]["rows"] == info["n_chunks"] + len(np.load(segments_dir(index) / rep.into / "windows.npy"))


def test_long_chunk_found_by_its_window_through_the_graph(graph_index):
    _, index = graph_index
    st = IndexStore.open(index)
    try:
        seg = next(s for s in st.segments if len(s.window_owners))
        pos = int(seg.window_owners[0])
        w = seg.windows[int(seg.window_starts[0]) + 1]  # the chunk's second window: not its own vector
        got = st.dense_top(w, 5)
        rowid = int(seg.rowids[pos])
        assert rowid in got and got[rowid] == pytest.approx(1.0, abs=1e-5)
        assert st.dense_scores([rowid], w)[0] == pytest.approx(1.0, abs=1e-5)
    finally:
        st.close()


def test_candidates_are_chosen_over_all_segments(graph_index, seed_index, monkeypatch):
    """The int8 scan of several segments re-scores RESCORE × n rows in all, not per segment."""
    _, index = graph_index
    monkeypatch.setattr(store_module, "RESCORE_MIN", 0)
    monkeypatch.setattr(store_module, "RESCORE", 3)
    st = IndexStore.open(index, int8_from=0)
    for s in st.segments:
        s._ann_file = None  # these segments have graphs: take the int8 path instead
    exact = IndexStore.open(seed_index, int8_from=10**9)
    scored: list[int] = []
    real = IndexStore._owner_scores
    monkeypatch.setattr(IndexStore, "_owner_scores",
                        staticmethod(lambda seg, pos, q: scored.append(len(pos)) or real(seg, pos, q)))
    try:
        ids = [s.rowid for s in exact.iter_chunks()]
        for r in ids[::13]:
            q = exact.vectors([r])[0]
            scored.clear()
            a = st.dense_top(q, 10)
            assert sum(scored) <= 30  # 3 × 10 over the three segments together
            assert list(a)[:3] == list(exact.dense_top(q, 10))[:3]
    finally:
        st.close()
        exact.close()


def test_graphs_searched_in_parallel_return_exactly_the_sequential_result(graph_index, monkeypatch):
    """Three graph segments: searched on the pool's threads (ANN_THREADS > 1) or one after another, the same
    rowids in the same order with the same scores."""
    import threading

    _, index = graph_index
    st = IndexStore.open(index)
    where: list[str] = []
    real = ann.Ann.top
    monkeypatch.setattr(ann.Ann, "top", lambda self, *a: where.append(threading.current_thread().name) or real(self, *a))
    try:
        assert sum(s.has_ann for s in st.segments) == 3
        rng = np.random.default_rng(5)
        ids = [s.rowid for s in st.iter_chunks()]
        for r in ids[::9]:
            q = st.vectors([r])[0] + rng.normal(0, 0.02, st.dim).astype(np.float32)
            monkeypatch.setattr(store_module, "ANN_THREADS", 1)
            where.clear()
            one = st.dense_top(q, 20)
            assert where == [threading.current_thread().name] * 3
            monkeypatch.setattr(store_module, "ANN_THREADS", 2)
            where.clear()
            par = st.dense_top(q, 20)
            assert len(where) == 3 and all(w.startswith("ann") for w in where)
            assert list(par) == list(one) and list(par.values()) == list(one.values())
    finally:
        st.close()


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (Linux /proc/self/smaps)."""
    total, cur = 0, ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            cur = parts[5] if len(parts) > 5 else ""
        elif parts and parts[0] == "Rss:" and cur == str(path):
            total += int(parts[1])
    return total


def test_vectors_of_a_graph_segment_are_read_not_mapped(graph_index):
    """vector_rows / window_rows read rows with pread: the same rows as the file's in any order, with repeats
    and runs; out-of-range positions are an error; and re-scoring leaves none of the vectors and windows files
    in the process's resident set."""
    _, index = graph_index
    st = IndexStore.open(index)
    try:
        seg = max(st.segments, key=lambda s: s.n)
        assert seg.has_ann and seg.n > 40
        rng = np.random.default_rng(7)
        cases = [rng.permutation(seg.n)[:25], rng.integers(0, seg.n, 60), np.arange(3, 40), np.arange(seg.n)[::-1],
                 np.array([5, 5, 6, 7, 7, 30, 31]), np.zeros(0, np.int64)]
        with open(seg.folder / "vectors.npy", "rb") as f:
            want_all = np.load(f)
        for pos in cases:
            got = seg.vector_rows(pos)
            assert got.dtype == np.float32 and got.shape == (len(pos), want_all.shape[1])
            assert np.array_equal(got, want_all[pos])
        with pytest.raises(IndexError):
            seg.vector_rows(np.array([0, seg.n]))
        wseg = next(s for s in st.segments if len(s.window_of))
        wins = np.load(wseg.folder / "windows.npy")
        for rows in [np.arange(len(wins))[::-1], rng.integers(0, len(wins), 9)]:
            assert np.array_equal(wseg.window_rows(rows), wins[rows])
        with pytest.raises(IndexError):
            wseg.window_rows(np.array([len(wins)]))
        if Path("/proc/self/smaps").exists():
            for r in [s.rowid for s in st.iter_chunks()][::5]:
                st.dense_top(st.vectors([r])[0], 10)
                st.dense_top(wseg.window_rows([0])[0], 10)  # a long chunk: its windows re-scored too
            for s in st.segments:
                assert _mapped_kb((s.folder / "vectors.npy").resolve()) == 0
                assert _mapped_kb((s.folder / "windows.npy").resolve()) == 0
    finally:
        st.close()


def test_a_repeated_query_on_graph_segments_is_searched_beside_bm25(graph_index):
    """With graphs the dense search is long, so a repeated query's (its vector cached) also runs in the worker
    beside BM25; on the seed index without graphs it stays on the request's thread (tests/test_query_path.py)."""
    from search_api.service import SearchService
    from tests.spies import thread_names

    _, index = graph_index
    svc = SearchService.open(index)
    try:
        with thread_names(svc.store, "dense_top") as searched:
            q = "tổng đài điện thoại quốc gia bảo vệ trẻ em 111"
            first = [(r.chunk_id, r.score) for r in svc.search(q, k=10).results]
            again = [(r.chunk_id, r.score) for r in svc.search(q, k=10).results]
        assert again == first and len(first) == 10
        assert len(searched) == 2 and all(t.startswith("encode-query") for t in searched)
    finally:
        svc.close()
