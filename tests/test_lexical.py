"""Precomputed BM25 postings and the numpy dense path agree with what they replace (FTS5, FAISS)."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3

import numpy as np
import pytest

from indexer.lexical import LEXICAL_NAME, build_lexical, densify, load_lexical, save_lexical
from indexer.store import IndexStore, current_generation, fts_columns
from search_api.service import SearchService


def tiny_fts(texts: list[str]) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(exact, folded, tokenize = \"unicode61 remove_diacritics 0 "
                "tokenchars '_'\")")
    for i, t in enumerate(texts, 1):
        con.execute("INSERT INTO chunks_fts (rowid, exact, folded) VALUES (?,?,?)", (i, *fts_columns(t)))
    return con


TEXTS = [
    "Phòng, chống đuối nước cho trẻ em trong dịp hè.",
    "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111.",
    "Dạy bơi an toàn, phòng chống đuối nước, đuối nước ở trẻ em.",
    "Kinh phí thực hiện kế hoạch năm 2023.",
]


@pytest.mark.parametrize("dense_share", [2.0, 0.5])  # every term as postings / common ones as dense rows
def test_postings_rank_like_bm25_and_keep_spaces_apart(tmp_path, dense_share):
    lx = build_lexical(tiny_fts(TEXTS), dense_share)
    assert bool(lx.dense_of) == (dense_share < 1)
    assert lx.df("e:đuối_nước") == 2 and lx.df("f:duoi_nuoc") == 2 and lx.df("e:duoi_nuoc") == 0
    top = lx.top([("e:đuối_nước", 2.0), ("f:duoi_nuoc", 1.0)], limit=10)
    assert list(top) == [3, 1]  # two occurrences beat one; unrelated chunks score nothing
    assert lx.top([("f:duoi", 1.0)], limit=10, allowed={1, 2}).keys() == {1}
    assert lx.top([("e:không_có", 1.0)], limit=10) == {}
    save_lexical(lx, tmp_path / LEXICAL_NAME)
    again = load_lexical(tmp_path / LEXICAL_NAME)
    assert again.terms == lx.terms and np.array_equal(again.weights, lx.weights)
    assert again.dense_of == lx.dense_of and np.array_equal(again.dense, lx.dense)


def test_common_terms_as_dense_rows_score_like_their_postings(seed_index, tmp_path):
    """Terms in ≥ 1/8 of the chunks become 8-bit rows: same matches, scores within half a step per term."""
    store = IndexStore.open(seed_index)
    try:
        plain, dense = build_lexical(store.con, 2.0), build_lexical(store.con)
        terms = {plain.terms[k] for k in ("e:trẻ", "e:em", "f:tre")}
        assert not plain.dense_of and terms <= dense.dense_of.keys()
        assert "e:tổng_đài" in dense.terms and dense.terms["e:tổng_đài"] not in dense.dense_of  # rarer: postings
        assert len(dense.rows) < len(plain.rows) / 2  # most postings belong to common syllables
        for q in ("phòng chống đuối nước cho trẻ em", "tổng đài điện thoại quốc gia bảo vệ trẻ em 111",
                  "kinh phí thực hiện kế hoạch công tác trẻ em"):
            words = q.split()
            weighted = [(f"e:{w}", 2.0) for w in words] + [(f"e:{a}_{b}", 2.0) for a, b in itertools.pairwise(words)]
            assert all(plain.df(k) == dense.df(k) for k, _ in weighted)
            a, b = plain.top(weighted, 500), dense.top(weighted, 500)
            assert a.keys() == b.keys() and len(a) > 20, q
            bound = sum(w * dense.dense_scale[dense.dense_of[dense.terms[k]]] / 2 for k, w in weighted
                        if dense.terms.get(k) in dense.dense_of)
            assert max(abs(a[r] - b[r]) for r in a) <= bound * 1.001 + 1e-5, q
            assert len(set(list(a)[:10]) & set(list(b)[:10])) >= 9, q
        old = tmp_path / LEXICAL_NAME  # a file saved before dense rows existed is densified when loaded
        with open(old, "wb") as f:
            np.savez(f, indptr=plain.indptr, rows=plain.rows, weights=plain.weights, size=np.int64(plain.size),
                     terms=np.frombuffer(json.dumps(list(plain.terms), ensure_ascii=False).encode(), dtype=np.uint8))
        assert load_lexical(old).dense_of == dense.dense_of == densify(plain).dense_of
    finally:
        store.close()


def test_postings_order_matches_fts5_bm25_on_the_seeds(seed_index):
    store = IndexStore.open(seed_index)
    try:
        assert store.lexical is not None
        for term in ("đuối_nước", "tổng_đài", "tháng_hành", "kinh_phí"):
            fts = [r for (r,) in store.con.execute(
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank", (f'exact : "{term}"',))]
            ours = list(store.lexical.top([(f"e:{term}", 1.0)], limit=len(fts) + 5))
            assert set(ours) == set(fts), term  # the same matching set …
            assert ours[0] == fts[0], term  # … and the same best chunk
    finally:
        store.close()


def test_both_ways_of_summing_postings_agree_on_the_seeds(seed_index, monkeypatch):
    """A long query is scored term at a time, a short one by bincount: same scores, same order, filters kept."""
    from indexer import lexical

    store = IndexStore.open(seed_index)
    try:
        words = "phòng chống đuối nước cho trẻ em tổng đài điện thoại bảo vệ trẻ em kinh phí thực hiện kế hoạch"
        terms = [(f"e:{t}", 2.0) for t in words.split()] + [(f"f:{t}", 1.0) for t in
                                                             ("phong", "chong", "duoi", "nuoc", "tre", "em")]
        allowed = set(range(1, 60))
        got = {}
        for above in (10**9, 0):  # bincount always / accumulate always
            monkeypatch.setattr(lexical, "ACCUMULATE_ABOVE", above)
            got[above] = (store.lexical.top(terms, 40), store.lexical.top(terms, 40, allowed))
        (a, fa), (b, fb) = got[10**9], got[0]
        assert len(a) == 40 and list(a) == list(b)
        assert np.allclose(list(a.values()), list(b.values()), rtol=1e-5)
        assert fa and list(fa) == list(fb) and set(fa) <= allowed
    finally:
        store.close()


def test_dense_top_equals_faiss(seed_index):
    store = IndexStore.open(seed_index)
    try:
        q = store.vectors([store._ids[7]])[0]
        ours = store.dense_top(q, 10)
        dist, ids = store.faiss.search(q.reshape(1, -1), 10)
        assert list(ours) == [int(i) for i in ids[0]]
        assert np.allclose(list(ours.values()), dist[0], atol=1e-5)
        allowed = {int(i) for i in store._ids[::3]}
        assert set(store.dense_top(q, 5, allowed)) <= allowed
        assert store.vectors([10**9]).sum() == 0  # unknown rowid: a zero row, not a crash
    finally:
        store.close()


@pytest.mark.slow
def test_generation_without_postings_falls_back_to_fts5(seed_index, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(seed_index, copy)
    (current_generation(copy) / LEXICAL_NAME).unlink()
    old, new = SearchService.open(copy), SearchService.open(seed_index)
    try:
        assert old.store.lexical is None and new.store.lexical is not None
        a = [r.doc_id for r in old.search("đuối nước", k=10, mode="lexical").results]
        b = [r.doc_id for r in new.search("đuối nước", k=10, mode="lexical").results]
        assert len(set(a)) >= 4 and set(a) == set(b)
    finally:
        old.close()
        new.close()
