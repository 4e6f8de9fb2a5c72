"""BM25 over the postings of immutable segments, scored with the statistics of the whole live index.

Each segment stores, per term, the chunks that contain it and how often (CSR arrays: ``indptr``, ``rows`` =
segment-local chunk positions, ``tf``), and each chunk's length in both term spaces. Nothing in a segment
depends on the rest of the index, so adding a file writes one small segment and rewrites nothing else.
What BM25 needs globally — the number of live chunks, each term's live document frequency and the average
length — is computed when a generation is opened and at query time, from integers, so a chunk's score is
the same float whether the index is one freshly built segment or a base with small segments and deletion
marks (tested against a full rebuild). Lucene keeps deleted documents in its statistics until a merge;
here they are left out at once, which the equality with a rebuild requires.

Terms live in two spaces, like the columns of the former FTS5 table: ``e:`` exact (with diacritics) and
``f:`` folded, so an accented query can weigh exact matches above folded ones.

Syllables such as "trẻ", "em", "công", "tác" are in a large share of all chunks, and scattering their
postings one by one was most of a query's time at 100k chunks. For a term in at least ``COMMON_SHARE`` of a
segment's chunks, the per-chunk part of its BM25 weight (which depends only on tf, the chunk's length and
the average length) is expanded once into a dense row (of 8-bit impacts, below) and cached for the generation
(its postings read with pread, so they never stay mapped in the server's RSS). A query's terms are then summed
in one compiled pass over each segment's chunks (``bm25_kernel``). The row holds exactly the values the
postings would give, so which path a term takes never changes a score.

A term's part lies in (0, k1 + 1), and it is scored as an **8-bit impact**: rounded to one of 255 steps of
(k1 + 1) / 255, on every path (Lucene quantises norms and impacts the same way, to one byte). Scores stay a
function of the chunk and the live statistics alone, so segmented and rebuilt indexes still agree bit for bit,
while a cached dense row takes one byte per chunk instead of four: at a million chunks the rows the benchmark's
queries touch no longer fit 256 MB as floats (each query rebuilt most of its rows: BM25 p50 38–45 ms, p95
100–118 ms; with impacts 19–21 / 51–61 ms in the same minutes, README "BM25 at 1M"). A part moves by at most half a step (0.0043, about 0.4 % of a
typical part); retrieval quality on the gold set and the external set is unchanged (README, eval/RESULTS.md).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from indexer.fileio import npy_header
from indexer.index.bm25_kernel import impacts_of, sum_terms

K1, B = 1.2, 0.75
IMPACT_STEP = np.float32((K1 + 1) / 255)  # a part is scored as q · step, q = 1 … 255
COMMON_SHARE = 1 / 8  # terms in at least this share of a segment's chunks are scored from cached dense rows
COMMON_MIN_CHUNKS = 2_000  # ... in segments of at least this many chunks (small ones: postings are cheaper)
ROW_CACHE_BYTES = 256 << 20  # term impacts kept per generation (one byte per chunk of a common term's row) ...
ROW_CACHE_PER_CHUNK = 768  # ... or this many bytes per live chunk if more: 785 MiB at 1M, all its common rows (README)
RE_TOKEN = re.compile(r"\w+")  # what FTS5's unicode61 tokenizer (with '_' as a token char) kept
SPACES = ("e:", "f:")
FILES = ("terms.json", "indptr.npy", "rows.npy", "tf.npy", "dl.npy")


def open_files(folder: Path) -> dict[str, BinaryIO]:
    """Open handles on a segment's postings files: they stay readable when the folder is later removed."""
    return {name: open(Path(folder) / name, "rb") for name in FILES}


def _read_all(f: BinaryIO) -> bytes:
    f.seek(0)
    return f.read()


def _memmap_npy(f: BinaryIO) -> np.ndarray:
    """``np.load(..., mmap_mode="r")`` from an open file (np.load maps only by file name)."""
    shape, fortran, dtype, at = npy_header(f)
    if 0 in shape:
        return np.zeros(shape, dtype=dtype)
    # a plain ndarray over the mapping: np.memmap's __getitem__ costs microseconds, and queries slice a lot
    return np.asarray(np.memmap(f, dtype=dtype, mode="r", offset=at, shape=shape, order="F" if fortran else "C"))


class SpanReader:
    """Ranges of a 1-d ``.npy`` array read with ``pread`` into fresh arrays, never through the memory map.

    A common term's postings are read once, to build its dense row, and then never again while the row is
    cached; through the map their pages would stay in the server's RSS for good (at 1M chunks most of the
    1.69 GB of mapped postings). The file stays open, so it is readable after a merge removed its folder."""

    def __init__(self, f: BinaryIO):
        self._f = f
        shape, _, self.dtype, self._at = npy_header(f)
        self.n = int(shape[0]) if shape else 0

    def read(self, a: int, b: int) -> np.ndarray:
        out = np.empty(b - a, dtype=self.dtype)
        if b > a:
            got = os.preadv(self._f.fileno(), [out], self._at + a * self.dtype.itemsize)
            if got != out.nbytes:
                raise OSError(f"{self._f.name}: short read ({got} of {out.nbytes} bytes)")
        return out


def tokens(column_text: str) -> list[str]:
    return RE_TOKEN.findall(column_text.lower())


class PostingsBuilder:
    """Collects the terms of a segment's chunks in local order; ``finish`` sorts them into CSR arrays.

    One Counter per chunk and space (counting runs in C) and one dict look-up per *distinct* term, never a
    Python step per occurrence; the sort is one numpy argsort over (term, chunk) keys.
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._term = array("i")
        self._row = array("i")
        self._tf = array("H")
        self._dl = array("I")
        self.n = 0

    def add(self, exact_column: str, folded_column: str) -> int:
        """Add the next chunk (its two FTS-style columns); returns its local position."""
        pos = self.n
        vocab = self.vocab
        for prefix, col in zip(SPACES, (exact_column, folded_column), strict=True):
            counts = Counter(tokens(col))
            self._dl.append(sum(counts.values()))
            ids = [vocab.setdefault(prefix + t, len(vocab)) for t in counts]
            self._term.extend(ids)
            self._tf.extend(min(n, 0xFFFF) for n in counts.values())
            self._row.extend([pos] * len(ids))
        self.n += 1
        return pos

    def finish(self, new_pos: np.ndarray | None = None) -> SegmentPostings:
        """CSR arrays; ``new_pos`` renumbers the chunks (chunk added i-th goes to position new_pos[i])."""
        terms = np.frombuffer(self._term, dtype=np.int32) if len(self._term) else np.zeros(0, np.int32)
        rows = np.frombuffer(self._row, dtype=np.int32) if len(self._row) else np.zeros(0, np.int32)
        tf = np.frombuffer(self._tf, dtype=np.uint16) if len(self._tf) else np.zeros(0, np.uint16)
        dl = (np.frombuffer(self._dl, dtype=np.uint32).reshape(-1, 2) if self.n else np.zeros((0, 2), np.uint32))
        if new_pos is not None:
            rows = new_pos.astype(np.int32)[rows]
            moved = np.empty_like(dl)
            moved[new_pos] = dl
            dl = moved
        key = terms.astype(np.int64) * max(self.n, 1) + rows
        order = np.argsort(key)  # keys are unique (one posting per term and chunk): no need for a stable sort
        del key
        indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(self.vocab)), out=indptr[1:])
        rows, tf = rows[order], tf[order]
        del order
        return SegmentPostings(dict(self.vocab), indptr, rows, _narrow(tf), dl.copy())


def _narrow(tf: np.ndarray) -> np.ndarray:
    return tf.astype(np.uint16) if not len(tf) or int(tf.max()) <= 0xFFFF else tf.astype(np.uint32)


@dataclass
class SegmentPostings:
    """The postings of one segment (immutable once written)."""

    terms: dict[str, int]  # "e:đuối_nước" / "f:duoi_nuoc" → term id
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32 local chunk positions, sorted within each term
    tf: np.ndarray  # uint16 term frequency of each posting
    dl: np.ndarray  # (n_chunks, 2) uint32: chunk length in the exact and the folded space
    readers: tuple[SpanReader, SpanReader] | None = None  # rows and tf by pread, for a loaded segment

    @property
    def n(self) -> int:
        return int(self.dl.shape[0])

    def span(self, key: str) -> tuple[int, int] | None:
        i = self.terms.get(key)
        return None if i is None else (int(self.indptr[i]), int(self.indptr[i + 1]))

    def save(self, folder: Path) -> None:
        (folder / "terms.json").write_text(json.dumps(list(self.terms), ensure_ascii=False), encoding="utf-8")
        for name, arr in (("indptr", self.indptr), ("rows", self.rows), ("tf", self.tf), ("dl", self.dl)):
            np.save(folder / f"{name}.npy", arr)

    @classmethod
    def load(cls, folder: Path, files: dict[str, BinaryIO] | None = None) -> SegmentPostings:
        """The postings of a segment, from its folder or from ``files`` opened earlier (see ``open_files``):
        a reader that opened a segment keeps it readable after a merge has removed its folder."""
        files = files or open_files(folder)
        try:
            keys = json.loads(_read_all(files["terms.json"]).decode("utf-8"))
            arr = {n: _memmap_npy(files[f"{n}.npy"]) for n in ("indptr", "rows", "tf", "dl")}
            readers = SpanReader(files["rows.npy"]), SpanReader(files["tf.npy"])
        finally:
            for name, f in files.items():
                if name not in ("rows.npy", "tf.npy"):  # those two stay open for the readers (closed with the segment)
                    f.close()
        return cls({k: i for i, k in enumerate(keys)}, arr["indptr"], arr["rows"], arr["tf"], arr["dl"], readers)

    def read_span(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Postings ``a:b`` (rows, tf) as copies read with pread when loaded from disk, else as slices."""
        if self.readers is None:
            return np.asarray(self.rows[a:b]), np.asarray(self.tf[a:b])
        return self.readers[0].read(a, b), self.readers[1].read(a, b)

    def rows_of_term(self, term_id: int) -> np.ndarray:
        return self.rows[self.indptr[term_id]:self.indptr[term_id + 1]]


def merge_postings(parts: list[tuple[SegmentPostings, np.ndarray]], n_out: int) -> SegmentPostings:
    """Postings of a merged segment: ``parts`` = (postings, new local position of each old row or −1 if dropped)."""
    vocab: dict[str, int] = {}
    terms_l, rows_l, tf_l = [], [], []
    dl = np.zeros((n_out, 2), dtype=np.uint32)
    for p, new_pos in parts:
        keep_row = new_pos >= 0
        dl[new_pos[keep_row]] = p.dl[keep_row]
        remap = np.fromiter((vocab.setdefault(k, len(vocab)) for k in p.terms), dtype=np.int32, count=len(p.terms))
        term_of = np.repeat(remap, np.diff(np.asarray(p.indptr)))
        new_rows = new_pos[np.asarray(p.rows)]
        keep = new_rows >= 0
        terms_l.append(term_of[keep])
        rows_l.append(new_rows[keep].astype(np.int32))
        tf_l.append(np.asarray(p.tf)[keep].astype(np.uint32))
    terms = np.concatenate(terms_l) if terms_l else np.zeros(0, np.int32)
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int32)
    tf = np.concatenate(tf_l) if tf_l else np.zeros(0, np.uint32)
    counts = np.bincount(terms, minlength=len(vocab)) if len(vocab) else np.zeros(0, np.int64)
    # terms no live chunk has any more are dropped, so a merged segment equals one written from scratch
    alive = np.flatnonzero(counts > 0)
    new_id = np.full(len(vocab), -1, dtype=np.int64)
    new_id[alive] = np.arange(len(alive))
    keys = list(vocab)
    terms = new_id[terms]
    order = np.argsort(terms * max(n_out, 1) + rows, kind="stable")
    indptr = np.zeros(len(alive) + 1, dtype=np.int64)
    np.cumsum(counts[alive], out=indptr[1:])
    return SegmentPostings({keys[i]: j for j, i in enumerate(alive)}, indptr, rows[order], _narrow(tf[order]), dl)


class LexicalView:
    """BM25 over the live chunks of several segments, as if they were one index.

    ``segments``: (postings, rowids, live) per segment — rowids sorted (local position i is chunk rowids[i]),
    live a bool mask or None when nothing in the segment is deleted.
    """

    def __init__(self, segments: list[tuple[SegmentPostings, np.ndarray, np.ndarray | None]]):
        self.segments = segments
        self.n_chunks = sum(int(p.n if live is None else np.count_nonzero(live)) for p, _, live in segments)
        total = np.zeros(2, dtype=np.int64)
        for p, _, live in segments:
            dl = np.asarray(p.dl, dtype=np.int64)
            total += (dl if live is None else dl[live]).sum(axis=0) if len(dl) else 0
        n = max(self.n_chunks, 1)
        self.avgdl = [float(total[0]) / n or 1.0, float(total[1]) / n or 1.0]
        # per chunk, the length part of BM25's denominator, for each space
        self._norm = [[(K1 * (1 - B + B * np.asarray(p.dl[:, s], dtype=np.float32) / np.float32(self.avgdl[s])))
                       .astype(np.float32) for s in range(2)] for p, _, _ in segments]
        self._df: dict[str, int] = {}
        self._rows: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._rows_bytes = 0
        self.row_budget = max(ROW_CACHE_BYTES, ROW_CACHE_PER_CHUNK * self.n_chunks)
        self._lock = threading.Lock()

    def df(self, key: str) -> int:
        """Live chunks containing ``key`` (with its space prefix)."""
        got = self._df.get(key)
        if got is None:
            got = 0
            for p, _, live in self.segments:
                sp = p.span(key)
                if sp is not None:
                    got += (sp[1] - sp[0]) if live is None else int(np.count_nonzero(live[p.rows[sp[0]:sp[1]]]))
            if len(self._df) > 200_000:
                self._df.clear()
            self._df[key] = got
        return got

    def idf(self, df: int) -> float:
        return math.log1p((self.n_chunks - df + 0.5) / (df + 0.5))  # Lucene's idf: always positive

    def _weights(self, s: int, key: str, a: int, b: int, dense: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Local rows and the 8-bit impact of one term in segment ``s``: tf·(k1+1)/(tf + norm) in steps; with
        ``dense``, the impacts as one row of the segment's chunks (0 where the term is absent)."""
        p = self.segments[s][0]
        # a dense row's postings are read once and dropped (pread: never mapped into the RSS); a rare term's
        # cached rows stay a view of the mapped postings, with no memory of their own
        rows, tf = p.read_span(a, b) if dense else (np.asarray(p.rows[a:b]), np.asarray(p.tf[a:b]))
        norm = self._norm[s][SPACES.index(key[:2])]
        return rows, impacts_of(rows, tf, norm, K1 + 1, IMPACT_STEP, p.n if dense else None)

    def _part(self, s: int, key: str, a: int, b: int) -> tuple[np.ndarray | None, np.ndarray]:
        """One term's per-chunk impacts in segment ``s``, cached for the generation (LRU, bytes-bounded):
        (None, dense uint8 row, 0 where absent) for a common term, (rows, impacts) for the others."""
        with self._lock:
            got = self._rows.get((s, key))
            if got is not None:
                self._rows.move_to_end((s, key))
                return got
        p = self.segments[s][0]
        if p.n >= COMMON_MIN_CHUNKS and b - a >= COMMON_SHARE * p.n:
            got = (None, self._weights(s, key, a, b, dense=True)[1])
        else:
            got = self._weights(s, key, a, b)  # rows: a view of the mapped postings, no memory of its own
        for arr in got:
            if arr is not None:
                arr.flags.writeable = False  # shared by every query of the generation
        with self._lock:
            self._rows[(s, key)] = got
            self._rows_bytes += got[1].nbytes
            while self._rows_bytes > self.row_budget and len(self._rows) > 1:
                _, old = self._rows.popitem(last=False)
                self._rows_bytes -= old[1].nbytes
        return got

    def warm(self, share: float = 0.9) -> int:
        """Before requests: compile the kernel and build the rows of each large segment's most frequent common
        terms ("trẻ", "em", "công", …, which nearly every query has) into up to ``share`` of the row cache, so
        the first queries of a new generation do not each rebuild them. Returns the rows built."""
        sum_terms(1, [(None, np.ones(1, np.uint8), np.float32(1))])
        built = 0
        for s in sorted(range(len(self.segments)), key=lambda s: -self.segments[s][0].n):
            p = self.segments[s][0]
            if p.n < COMMON_MIN_CHUNKS:
                break
            keys = list(p.terms)  # in term id order
            counts = np.diff(np.asarray(p.indptr))
            for i in np.argsort(-counts, kind="stable"):
                if counts[i] < COMMON_SHARE * p.n or self._rows_bytes + p.n > share * self.row_budget:
                    break
                self._part(s, keys[i], int(p.indptr[i]), int(p.indptr[i + 1]))
                built += 1
        return built

    def top(self, weighted: list[tuple[str, float]], limit: int,
            allowed: list[np.ndarray | None] | None = None) -> dict[int, float]:
        """The ``limit`` best rowids for a weighted bag of terms, best first (ties: lower rowid first).

        ``allowed``: per segment a bool mask of the chunks that may be returned (None: all). Terms are added
        in the order given, each as (c·step)·impact in float32, whichever way a segment holds it, so a
        chunk's score does not depend on the segments it was written in. Segments are scored largest first,
        and the ``limit``-th score found so far (a lower bound of the final one) spares the later ones from
        sorting chunks that cannot make the cut.
        """
        terms = []
        for key, w in weighted:
            df = self.df(key) if w != 0 else 0
            if df:
                terms.append((key, np.float32(np.float32(w * self.idf(df)) * IMPACT_STEP)))
        got_ids, got_scores = [], []
        floor = np.float32(0)
        for s in sorted(range(len(self.segments)), key=lambda s: -self.segments[s][0].n):
            _, rowids, live = self.segments[s]
            sc = self._scores(s, terms)
            if sc is None:
                continue
            ok = sc >= floor if floor > 0 else sc > 0
            if live is not None:
                ok &= live
            if allowed is not None and allowed[s] is not None:
                ok &= allowed[s]
            hit = np.flatnonzero(ok)
            if len(hit) > limit:  # keep every tie of the limit-th score: the final order decides among them
                kth = -np.partition(-sc[hit], limit - 1)[limit - 1]
                hit = hit[sc[hit] >= kth]
            got_ids.append(np.asarray(rowids)[hit])
            got_scores.append(sc[hit])
            if len(got_ids) < len(self.segments):
                found = np.concatenate(got_scores)
                if len(found) >= limit:
                    floor = -np.partition(-found, limit - 1)[limit - 1]
        if not got_ids:
            return {}
        ids, sc = np.concatenate(got_ids), np.concatenate(got_scores)
        order = np.lexsort((ids, -sc))[:limit]
        return {int(ids[i]): float(sc[i]) for i in order}

    def _scores(self, s: int, terms: list[tuple[str, np.float32]]) -> np.ndarray | None:
        """Every chunk's score in segment ``s`` (None if no term occurs there): the terms in the order given."""
        p = self.segments[s][0]
        parts = []
        for key, c in terms:
            sp = p.span(key)
            if sp is not None:
                rows, q = self._part(s, key, *sp)
                parts.append((rows, q, c))
        return sum_terms(p.n, parts) if parts else None


def impacts(parts: np.ndarray) -> np.ndarray:
    """BM25 parts (0, k1 + 1) as 8-bit impacts 1 … 255 (a matching chunk never scores 0): the numpy form of
    ``bm25_kernel.impacts_of``, which the tests hold it to."""
    return np.clip(np.rint(parts / IMPACT_STEP), 1, 255).astype(np.uint8)
