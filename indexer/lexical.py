"""BM25 as precomputed postings: the lexical side of search at 100k chunks in milliseconds.

SQLite FTS5 ranks by scoring *every* row that matches, and an OR over Vietnamese syllables ("trẻ", "em",
"nước" …) matches most of the corpus: 330 ms per query at 100k chunks here. Instead, each generation stores
per-term postings with their BM25 weight already computed (CSR arrays), and a query is one ``np.bincount``
over the postings of its terms. Terms live in two spaces, like the FTS5 columns they mirror: ``e:`` exact
(with diacritics) and ``f:`` folded, so an accented query can weigh exact matches above folded ones.

Syllables such as "trẻ", "em", "công", "tác" are in a large share of all chunks, and scattering their
postings one by one was most of a query's time. A term found in at least ``DENSE_SHARE`` of the chunks is
kept instead as one dense row of 8-bit impacts (its BM25 weights quantised per term, as Lucene-style
engines do): adding a row of 107k bytes costs ~60 µs where scattering 50k postings cost ~600 µs, and the row
takes no more memory than the postings it replaces (1 byte per chunk against 8 per posting).
"""

from __future__ import annotations

import json
import re
import sqlite3
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEXICAL_NAME = "lexical.npz"
K1, B = 1.2, 0.75
ACCUMULATE_ABOVE = 8  # postings per chunk in a query beyond which top() accumulates term at a time
DENSE_SHARE = 1 / 8  # terms in at least this share of the chunks are stored as dense 8-bit impact rows
RE_TOKEN = re.compile(r"\w+")  # what FTS5's unicode61 tokenizer (with '_' as a token char) keeps


def tokens(column_text: str) -> list[str]:
    return RE_TOKEN.findall(column_text.lower())


@dataclass
class LexicalIndex:
    terms: dict[str, int]  # "e:đuối_nước" / "f:duoi_nuoc" → term id
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32 chunk rowids, postings of term i at indptr[i]:indptr[i+1]
    weights: np.ndarray  # float32 BM25 weight of each posting (idf × saturated, length-normalised tf)
    size: int  # max rowid + 1
    # common terms, out of the CSR arrays: term id → row of ``dense`` (uint8 impacts × ``dense_scale``)
    dense_of: dict[int, int] = field(default_factory=dict)
    dense: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint8))
    dense_scale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    dense_df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def df(self, key: str) -> int:
        i = self.terms.get(key)
        if i is None:
            return 0
        r = self.dense_of.get(i)
        return int(self.dense_df[r]) if r is not None else int(self.indptr[i + 1] - self.indptr[i])

    def top(self, weighted: list[tuple[str, float]], limit: int, allowed: set[int] | None = None) -> dict[int, float]:
        """The ``limit`` best rowids for a weighted bag of terms (keys with their space prefix).

        Short posting lists: one ``np.bincount`` over their concatenation. Long ones (a query full of
        syllables found in most chunks, ~1.5M postings at 100k): term at a time into a float32 accumulator
        instead of concatenating them; a term's rows are unique, so fancy-index ``+=`` loses nothing.
        Measured at 100k synthetic chunks over the 63 gold queries: p50 4.0 → 4.4 ms, p95 17.6 → 11.8 ms.
        """
        spans, rows = [], []
        for key, w in weighted:
            i = self.terms.get(key)
            if i is None or w == 0:
                continue
            r = self.dense_of.get(i)
            if r is not None:
                rows.append((r, np.float32(w * self.dense_scale[r])))
            else:
                spans.append((int(self.indptr[i]), int(self.indptr[i + 1]), np.float32(w)))
        if not spans and not rows:
            return {}
        if not spans:
            scores = np.zeros(self.size, dtype=np.float32)
        elif sum(b - a for a, b, _ in spans) <= ACCUMULATE_ABOVE * self.size:
            scores = np.bincount(np.concatenate([self.rows[a:b] for a, b, _ in spans]),
                                 weights=np.concatenate([self.weights[a:b] * w for a, b, w in spans]),
                                 minlength=self.size)
        else:
            scores = np.zeros(self.size, dtype=np.float32)
            for a, b, w in spans:
                scores[self.rows[a:b]] += self.weights[a:b] * w
        for r, w in rows:
            scores += self.dense[r] * w
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[np.fromiter((i for i in allowed if 0 <= i < self.size), dtype=np.int64)] = True
            scores[~mask] = 0.0
        hit = np.flatnonzero(scores > 0)
        if len(hit) > limit:
            hit = hit[np.argpartition(-scores[hit], limit - 1)[:limit]]
        hit = hit[np.argsort(-scores[hit], kind="stable")]
        return {int(i): float(scores[i]) for i in hit}


def build_lexical(con: sqlite3.Connection, dense_share: float = DENSE_SHARE) -> LexicalIndex:
    """Postings of every chunk's exact and folded terms, from the FTS table the build just wrote.

    Vectorised: (term, row) pairs go through ``np.unique`` to get term frequencies, so 100k chunks cost
    seconds and a few hundred MB, not millions of Python tuples.
    """
    vocab: dict[str, int] = {}
    term_ids = array("q")
    row_ids = array("q")
    lengths: dict[str, dict[int, int]] = {"e:": {}, "f:": {}}
    for rowid, e, f in con.execute("SELECT rowid, exact, folded FROM chunks_fts ORDER BY rowid"):
        for prefix, col in (("e:", e), ("f:", f)):
            toks = tokens(col or "")
            lengths[prefix][int(rowid)] = len(toks)
            for t in toks:
                term_ids.append(vocab.setdefault(prefix + t, len(vocab)))
                row_ids.append(int(rowid))
    if not vocab:
        return LexicalIndex({}, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.float32), 1)
    terms = np.frombuffer(term_ids, dtype=np.int64)
    rows = np.frombuffer(row_ids, dtype=np.int64)
    size = int(rows.max()) + 1
    pair, tf = np.unique(terms * size + rows, return_counts=True)  # sorted by term, then row
    p_term, p_row = pair // size, pair % size
    keys = list(vocab)
    is_exact = np.fromiter((k.startswith("e:") for k in keys), dtype=bool, count=len(keys))
    weights = np.empty(len(pair), dtype=np.float64)
    for prefix, exact in (("e:", True), ("f:", False)):
        dl = np.zeros(size, dtype=np.float64)
        for r, n in lengths[prefix].items():
            dl[r] = n
        n_docs = len(lengths[prefix])
        avgdl = (dl.sum() / n_docs) if n_docs else 1.0
        sel = is_exact[p_term] == exact
        df = np.bincount(p_term[sel], minlength=len(keys)).astype(np.float64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))  # Lucene's idf: always positive
        t = tf[sel].astype(np.float64)
        norm = K1 * (1 - B + B * dl[p_row[sel]] / (avgdl or 1.0))
        weights[sel] = idf[p_term[sel]] * t * (K1 + 1) / (t + norm)
    indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(np.bincount(p_term, minlength=len(keys)), out=indptr[1:])
    return densify(LexicalIndex({k: i for i, k in enumerate(keys)}, indptr, p_row.astype(np.int32),
                                weights.astype(np.float32), size), dense_share)


def densify(lx: LexicalIndex, share: float = DENSE_SHARE) -> LexicalIndex:
    """Move the postings of terms found in at least ``share`` of the chunks into dense 8-bit impact rows.

    Each row is quantised on its own scale (its largest weight / 255); a chunk that has the term never rounds
    to 0, so the matching set is unchanged. Scores move by at most half a step per term (tested).
    """
    if lx.dense_of or not len(lx.rows):
        return lx
    df = np.diff(lx.indptr)
    n_chunks = int(np.count_nonzero(np.bincount(lx.rows, minlength=lx.size)))
    common = np.flatnonzero(df >= max(share * n_chunks, 1))
    if not len(common):
        return lx
    dense = np.zeros((len(common), lx.size), dtype=np.uint8)
    scale = np.empty(len(common), dtype=np.float32)
    for r, t in enumerate(common):
        a, b = int(lx.indptr[t]), int(lx.indptr[t + 1])
        w = lx.weights[a:b]
        scale[r] = float(w.max()) / 255 or 1.0
        dense[r, lx.rows[a:b]] = np.clip(np.rint(w / scale[r]), 1, 255)
    keep = np.ones(len(df), dtype=bool)
    keep[common] = False
    postings = np.repeat(keep, df)
    indptr = np.zeros_like(lx.indptr)
    np.cumsum(np.where(keep, df, 0), out=indptr[1:])
    return LexicalIndex(lx.terms, indptr, lx.rows[postings], lx.weights[postings], lx.size,
                        {int(t): r for r, t in enumerate(common)}, dense, scale, df[common].astype(np.int64))


def save_lexical(lx: LexicalIndex, path: Path) -> None:
    with open(path, "wb") as f:
        np.savez(f, indptr=lx.indptr, rows=lx.rows, weights=lx.weights, size=np.int64(lx.size),
                 terms=np.frombuffer(json.dumps(list(lx.terms), ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
                 dense_terms=np.array(sorted(lx.dense_of, key=lx.dense_of.__getitem__), dtype=np.int64),
                 dense=lx.dense, dense_scale=lx.dense_scale, dense_df=lx.dense_df)


def load_lexical(path: Path) -> LexicalIndex:
    """The postings as saved; a file from before dense rows existed is densified on load."""
    with np.load(path) as z:
        keys = json.loads(z["terms"].tobytes().decode("utf-8"))
        lx = LexicalIndex({k: i for i, k in enumerate(keys)}, z["indptr"], z["rows"], z["weights"], int(z["size"]))
        if "dense_terms" not in z:
            return densify(lx)
        lx.dense_of = {int(t): r for r, t in enumerate(z["dense_terms"])}
        lx.dense, lx.dense_scale, lx.dense_df = z["dense"], z["dense_scale"], z["dense_df"]
        return lx
