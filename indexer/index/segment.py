"""Immutable index segments: a set of documents with their chunks, vectors, postings and vocabulary.

Like a Lucene/Tantivy segment, a segment is written once into a private directory, fsynced and renamed into
place, and never changed afterwards; generations (``indexer/index/generation.py``) list which segments are live
and which of their documents are deleted. Layout of ``segments/seg-<id>/``::

    docs.sqlite     documents (metadata columns + the Directive as zlib JSON) and chunks (rowid, texts,
                    paths), vocab / bigrams counts of this segment's text (for diacritic restoration)
    rowids.npy      int64 chunk rowids, sorted: local position i is chunk rowids[i]
    vectors.npy     float32 (n, dim) chunk vectors (a long chunk's first window)
    windows.npy     float32 (m, dim) the windows of chunks longer than the model, window_of.npy their chunk
    terms.json, indptr.npy, rows.npy, tf.npy, dl.npy   postings (indexer/index/lexical.py)
    ann.faiss       only in large segments: an HNSW graph over the vectors and windows (indexer/index/ann.py)
    segment.json    counts, dimension, and the sha256 of every file above; written last

A chunk's rowid is a 63-bit hash of its document's content hash and its chunk id: the same text gets the
same rowid in any build, so results (ties included) come out in the same order as a full rebuild's, and an
edited document's chunks get new rowids, so a request that straddles a generation switch never mixes
versions. Writing a segment (:class:`SegmentWriter`) needs only parsed documents and their vectors, so
parsing and embedding can run anywhere (a worker) and hand over a :class:`SegmentPayload`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import sqlite3
import threading
import uuid
import weakref
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.embedding.vectors import Embedded
from indexer.fileio import fsync_path, npy_header, sha256_file
from indexer.index.jit import compiled
from indexer.index.lexical import PostingsBuilder, SegmentPostings
from indexer.index.lexical import open_files as open_postings_files
from indexer.models import Directive
from indexer.terms import fold_lower, fts_columns, vocab_counts
from indexer.textnorm import fold

SEGMENT_FORMAT = 1
INFO = "segment.json"
DB = "docs.sqlite"

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
    title TEXT, issuer TEXT, issuer_folded TEXT, place TEXT, place_folded TEXT, level TEXT,
    province TEXT, province_current TEXT, doc_type TEXT, number TEXT, date TEXT, year INTEGER,
    subject TEXT, n_chunks INTEGER NOT NULL, json BLOB NOT NULL
);
CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL, ord INTEGER NOT NULL,
    path TEXT, headings TEXT, text TEXT NOT NULL, kind TEXT, section_kind TEXT,
    agency TEXT, agency_folded TEXT, start INTEGER, "end" INTEGER
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE TABLE vocab (folded TEXT NOT NULL, accented TEXT NOT NULL, n INTEGER NOT NULL,
                    PRIMARY KEY (folded, accented)) WITHOUT ROWID;
CREATE TABLE bigrams (folded TEXT NOT NULL, accented TEXT NOT NULL, n INTEGER NOT NULL,
                      PRIMARY KEY (folded, accented)) WITHOUT ROWID;
"""


def chunk_rowid(content_hash: str, chunk_id: str) -> int:
    """63-bit id of a chunk of one version of a document (see the module doc)."""
    h = hashlib.blake2b(f"{content_hash}\0{chunk_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") >> 1


# --- documents: compact JSON -----------------------------------------------------------------------------

def offset_runs(offsets: list[int]) -> list[list[int]]:
    """[[i, offsets[i]], …] where the map stops advancing one by one: a few pairs instead of one per char."""
    runs: list[list[int]] = []
    prev = None
    for i, o in enumerate(offsets):
        if prev is None or o != prev + 1:
            runs.append([i, o])
        prev = o
    return runs


def expand_runs(runs: list[list[int]], length: int) -> list[int]:
    out: list[int] = []
    for k, (i, o) in enumerate(runs):
        end = runs[k + 1][0] if k + 1 < len(runs) else length
        out.extend(range(o, o + end - i))
    return out


def directive_blob(d: Directive) -> bytes:
    """The whole Directive (ingest info included) as zlib-compressed JSON with run-length offsets."""
    data = d.to_dict(with_text=True)
    data["offset_runs"] = offset_runs(d.offsets)
    data["n_offsets"] = len(d.offsets)
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def directive_data(blob: bytes | str) -> dict:
    raw = blob if isinstance(blob, str) else zlib.decompress(blob).decode("utf-8")  # str: never compressed
    data = json.loads(raw)
    if "offset_runs" in data:
        data["offsets"] = expand_runs(data.pop("offset_runs"), int(data.pop("n_offsets")))
    return data


# --- writing ------------------------------------------------------------------------------------------------

@dataclass
class SegmentPayload:
    """Parsed documents with the vectors of their chunks: everything a segment is written from."""

    documents: list[tuple[Directive, list[Embedded]]] = field(default_factory=list)

    @property
    def n_chunks(self) -> int:
        return sum(len(d.chunks) for d, _ in self.documents)


class SegmentWriter:
    """Streams documents into a private segment directory; :meth:`finish` seals it (fsynced, ``segment.json`` last).

    Documents go to SQLite as they come and vectors to a scratch file, so a large first build holds neither
    its parsed documents nor its vectors in memory.
    """

    def __init__(self, folder: Path, dim: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True)
        self.dim = dim
        self.con = sqlite3.connect(self.folder / DB)
        self.con.execute("PRAGMA journal_mode = OFF")  # private until sealed; durability from fsync + rename
        self.con.execute("PRAGMA synchronous = OFF")
        self.con.executescript(SCHEMA)
        self._vec = open(self.folder / "vectors.tmp", "wb")  # noqa: SIM115 (closed by finish/abort)
        self._win: list[np.ndarray] = []
        self._win_of: list[int] = []
        self._rowids: list[int] = []
        self._n_vec = 0
        self.postings = PostingsBuilder()
        self.uni: Counter[str] = Counter()
        self.bi: Counter[str] = Counter()
        self.doc_ids: list[str] = []

    @property
    def n_chunks(self) -> int:
        return len(self._rowids)

    def add(self, d: Directive, embedded: list[Embedded] | None = None) -> list[tuple[int, str]]:
        """Add one document; its chunk vectors now (in chunk order) or later through :meth:`add_vectors`.

        Returns (rowid, text) of its chunks, in the order their vectors are expected.
        """
        if embedded is not None and len(embedded) != len(d.chunks):
            raise ValueError(f"{d.doc_id}: {len(embedded)} vectors for {len(d.chunks)} chunks")
        m = d.metadata
        self.con.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.doc_id, d.source, d.content_hash, m.title, m.issuer, fold_lower(m.issuer), m.place,
             fold_lower(m.place), m.level, m.province, m.province_current, m.doc_type, m.number, m.date, m.year,
             m.subject, len(d.chunks), directive_blob(d)))
        out = []
        for i, c in enumerate(d.chunks):
            rowid = chunk_rowid(d.content_hash, c.chunk_id)
            self.con.execute(
                'INSERT INTO chunks (rowid, chunk_id, doc_id, ord, path, headings, text, kind, section_kind, agency, '
                'agency_folded, start, "end") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
                (rowid, c.chunk_id, d.doc_id, i, c.path, json.dumps(c.headings, ensure_ascii=False), c.text, c.kind,
                 c.section_kind, c.agency, fold_lower(c.agency), c.start, c.end))
            self.postings.add(*fts_columns(c.text))
            uni, bi = vocab_counts(c.text)
            self.uni.update(uni)
            self.bi.update(bi)
            self._rowids.append(rowid)
            out.append((rowid, c.text))
        self.doc_ids.append(d.doc_id)
        if embedded is not None:
            self.add_vectors(embedded)
        return out

    def add_vectors(self, embedded: list[Embedded]) -> None:
        """Vectors of the next chunks, in the order :meth:`add` returned them."""
        for e in embedded:
            pos = self._n_vec
            if pos >= len(self._rowids):
                raise ValueError("more vectors than chunks")
            self._vec.write(np.asarray(e.vector, dtype=np.float32).reshape(self.dim).tobytes())
            if e.windows is not None and len(e.windows) > 1:
                self._win.append(np.asarray(e.windows, dtype=np.float32))
                self._win_of += [pos] * len(e.windows)
            self._n_vec += 1

    def finish(self) -> dict:
        """Sort chunks by rowid, write the arrays, fsync everything; returns the segment info."""
        self._vec.close()
        if self._n_vec != len(self._rowids):
            raise RuntimeError(f"{self._n_vec} vectors for {len(self._rowids)} chunks")
        self.con.executemany("INSERT INTO vocab VALUES (?,?,?)", ((fold(w), w, n) for w, n in self.uni.items()))
        self.con.executemany("INSERT INTO bigrams VALUES (?,?,?)", ((fold(w), w, n) for w, n in self.bi.items()))
        self.con.commit()
        self.con.close()
        n = self.n_chunks
        ins = np.asarray(self._rowids, dtype=np.int64)
        order = np.argsort(ins, kind="stable")
        if len(np.unique(ins)) != n:
            raise RuntimeError("two chunks with the same rowid (a document added twice?)")
        new_pos = np.empty(n, dtype=np.int64)
        new_pos[order] = np.arange(n)
        raw = np.memmap(self.folder / "vectors.tmp", dtype=np.float32, mode="r", shape=(n, self.dim)) if n else \
            np.zeros((0, self.dim), np.float32)
        np.save(self.folder / "rowids.npy", ins[order])
        out = np.lib.format.open_memmap(self.folder / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, self.dim))
        for a in range(0, n, 16_384):
            out[a:a + 16_384] = raw[order[a:a + 16_384]]
        out.flush()
        del out, raw
        (self.folder / "vectors.tmp").unlink()
        win = np.concatenate(self._win) if self._win else np.zeros((0, self.dim), np.float32)
        win_of = new_pos[np.asarray(self._win_of, dtype=np.int64)] if self._win_of else np.zeros(0, np.int64)
        worder = np.argsort(win_of, kind="stable")
        np.save(self.folder / "windows.npy", win[worder])
        np.save(self.folder / "window_of.npy", win_of[worder].astype(np.int32))
        self.postings.finish(new_pos).save(self.folder)
        return seal(self.folder, n_chunks=n, n_docs=len(self.doc_ids), dim=self.dim)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        with contextlib.suppress(Exception):
            self._vec.close()


FILES = (DB, "rowids.npy", "vectors.npy", "windows.npy", "window_of.npy", "terms.json", "indptr.npy", "rows.npy",
         "tf.npy", "dl.npy")


def write_ann(folder: Path) -> dict | None:
    """The HNSW graph of a segment of at least ``ANN_FROM`` vector rows (indexer/index/ann.py); None below that or
    without FAISS (the segment is then scanned, as before)."""
    from indexer.index import ann

    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    windows = np.load(folder / "windows.npy", mmap_mode="r")
    if len(vectors) + len(windows) < ann.ANN_FROM:
        return None
    try:
        return ann.build([vectors, windows] if len(windows) else [vectors], folder / ann.ANN_FILE)
    except ImportError:
        return None


def seal(folder: Path, **info) -> dict:
    """Build the graph of a large segment, checksum and fsync every file, then write ``segment.json`` (its
    presence means complete)."""
    from indexer.index.ann import ANN_FILE

    graph = write_ann(folder)
    info = {"format": SEGMENT_FORMAT, **info, "files": {}, "sizes": {}}
    if graph is not None:
        info["ann"] = graph
    for name in FILES + ((ANN_FILE,) if graph is not None else ()):
        fsync_path(folder / name)
        info["files"][name] = sha256_file(folder / name)
        info["sizes"][name] = (folder / name).stat().st_size
    with open(folder / INFO, "w", encoding="utf-8") as f:
        json.dump(info, f)
        f.flush()
        os.fsync(f.fileno())
    fsync_path(folder)
    return info


def new_segment_name() -> str:
    return f"seg-{uuid.uuid4().hex[:16]}"


def write_segment(payload: SegmentPayload, folder: Path, dim: int) -> dict:
    w = SegmentWriter(folder, dim)
    try:
        for d, emb in payload.documents:
            w.add(d, emb)
        return w.finish()
    except BaseException:
        w.abort()
        raise


# --- reading ------------------------------------------------------------------------------------------------

class IncompleteSegment(FileNotFoundError):
    """A segment whose files are not (yet) those its ``segment.json`` lists: a copy still in progress."""


def check_complete(folder: Path, info: dict | None = None) -> dict:
    """The segment's info if ``segment.json`` exists and every file it lists has the size it records (a few
    stat calls, no hashing); else :class:`IncompleteSegment` (or FileNotFoundError)."""
    folder = Path(folder)
    if info is None:
        try:
            info = json.loads((folder / INFO).read_text(encoding="utf-8"))
        except ValueError as e:  # segment.json itself half-written by a copy
            raise IncompleteSegment(f"segment {folder.name}: unreadable {INFO}") from e
    for name, size in info.get("sizes", {}).items():
        got = (folder / name).stat().st_size if (folder / name).exists() else None
        if got != size:
            raise IncompleteSegment(f"segment {folder.name}: {name} has {got} bytes, {INFO} says {size}")
    return info


class Segment:
    """A sealed segment opened read-only (immutable=1: no locks, no journal; safe on a read-only replica)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.name = self.folder.name
        self.info = check_complete(self.folder)  # a few stat calls: never serve a half-copied replica
        uri = f"file:{self.folder / DB}?mode=ro&immutable=1"
        self.con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.con.row_factory = sqlite3.Row
        self.rowids = np.load(self.folder / "rowids.npy")
        # a plain ndarray over the mapping: np.memmap's __getitem__ costs microseconds per call
        self.vectors = np.asarray(np.load(self.folder / "vectors.npy", mmap_mode="r"))
        graph = "ann.faiss" in self.info.get("files", {})
        # a segment with a graph is never scanned, only gathered from: its rows are read (RowReader), and its
        # windows stay on disk (mapped for a full scan, which only a search without FAISS makes)
        self._vector_reader = RowReader(self.folder / "vectors.npy") if graph else None
        self._window_reader = RowReader(self.folder / "windows.npy") if graph else None
        if self._window_reader is not None and self._window_reader.n:
            self.windows = np.asarray(np.load(self.folder / "windows.npy", mmap_mode="r"))
        else:
            self.windows = np.load(self.folder / "windows.npy")
        self.window_of = np.load(self.folder / "window_of.npy")  # sorted: a chunk's windows are consecutive
        starts = np.flatnonzero(np.diff(self.window_of, prepend=-1)) if len(self.window_of) else np.zeros(0, np.int64)
        self.window_owners = self.window_of[starts].astype(np.int64)  # local positions of long chunks
        self.window_starts = starts
        self._postings: SegmentPostings | None = None
        self._postings_files = open_postings_files(self.folder)  # parsed on first use, readable after a merge
        self._scan = None
        self._scan_lock = threading.Lock()
        self._ann = None
        # opened now, read on first use: like the postings, readable after a merge removed the folder
        self._ann_file = open(self.folder / "ann.faiss", "rb") if "ann.faiss" in self.info.get("files", {}) else None  # noqa: SIM115

    @property
    def n(self) -> int:
        return len(self.rowids)

    @property
    def n_rows(self) -> int:
        """Rows of the approximate structures: the chunk vectors, then the window vectors."""
        return self.n + len(self.window_of)

    def vector_rows(self, pos: np.ndarray) -> np.ndarray:
        """The chunk vectors at local positions ``pos`` (a copy, float32); read, not mapped, in a segment
        with a graph (:class:`RowReader`)."""
        if self._vector_reader is None:
            return self.vectors[np.asarray(pos, dtype=np.int64)]
        return self._vector_reader.rows(pos)

    def window_rows(self, rows: np.ndarray) -> np.ndarray:
        """Window vectors ``rows`` (a copy, float32); read, not mapped, in a segment with a graph."""
        if self._window_reader is None:
            return self.windows[np.asarray(rows, dtype=np.int64)]
        return self._window_reader.rows(rows)

    def row_owners(self, rows: np.ndarray) -> np.ndarray:
        """Local chunk position of each row of :meth:`int8_scan` / :meth:`ann` (a window's row → its chunk)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(self.window_of):
            return rows
        out = rows.copy()
        win = rows >= self.n
        out[win] = self.window_of[rows[win] - self.n]
        return out

    def row_mask(self, mask: np.ndarray | None) -> np.ndarray | None:
        """A per-chunk mask extended to the window rows."""
        if mask is None or not len(self.window_of):
            return mask
        return np.concatenate([mask, mask[self.window_of]])

    @property
    def has_ann(self) -> bool:
        return self._ann_file is not None

    def ann(self):
        """The HNSW graph of this segment (indexer/index/ann.py), loaded once per process; None if it has none."""
        if self._ann is None and self._ann_file is not None:
            with self._scan_lock:
                if self._ann is None:
                    from indexer.index.ann import Ann

                    self._ann = Ann(self._ann_file)
                    self._ann_file.close()
        return self._ann

    @property
    def postings(self) -> SegmentPostings:
        """Loaded on first use (the term dictionary is the slow part, ~0.5 s at 100k): a build that only
        counts chunks or marks deletions never pays it."""
        if self._postings is None:
            with self._scan_lock:
                if self._postings is None:
                    self._postings = SegmentPostings.load(self.folder, self._postings_files)
        return self._postings

    def positions(self, rowids: np.ndarray) -> np.ndarray:
        """Local positions of ``rowids`` (−1 where a rowid is not in this segment)."""
        if not self.n or not len(rowids):
            return np.full(len(rowids), -1, dtype=np.int64)
        pos = np.searchsorted(self.rowids, rowids)
        pos = np.minimum(pos, self.n - 1)
        return np.where(self.rowids[pos] == rowids, pos, -1)

    def int8_scan(self):
        """The int8 codes of this segment's vectors and windows (indexer/index/vectors.py), built once per process."""
        if self._scan is None:
            with self._scan_lock:
                if self._scan is None:
                    from indexer.index.vectors import Int8Scan

                    self._scan = Int8Scan(self.vectors, *([self.windows] if len(self.windows) else []))
        return self._scan

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        for f in self._postings_files.values():
            f.close()
        if self._ann_file is not None:
            self._ann_file.close()
        for r in (self._vector_reader, self._window_reader):
            if r is not None:
                r.close()


class RowReader:
    """Rows of a float32 ``.npy`` matrix, read with ``pread`` rather than through a memory map.

    A memory map is right for a scan, wrong for a gather: the kernel maps a whole page-cache folio per touched
    row (~128 KB for a 1.5 kB row on ext4 here), so at 1M chunks, after a few hundred queries re-scoring
    1,000 random rows each, the five graph segments' 1.6 GB of vectors were all in the server's RSS. Read,
    the pages stay in the page cache (shared, reclaimable) and out of the process. Each row is one ``pread``
    from a compiled loop (libc's, through ctypes): ~0.5 µs a row from the page cache, where a Python loop
    over coalesced runs took ~1.35 µs (2,000 random rows: 1.0 against 2.7 ms). The file is opened now, so it
    stays readable after a merge removed its folder."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115  (closed by Segment.close)
        shape, fortran, dtype, self._at = npy_header(self._file)
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-order float32 matrix, got {dtype} {shape}")
        self.n, self.dim = shape

    def rows(self, pos: np.ndarray) -> np.ndarray:
        pos = np.ascontiguousarray(pos, dtype=np.int64).reshape(-1)
        out = np.empty((len(pos), self.dim), dtype=np.float32)
        if not len(pos):
            return out
        if pos.min() < 0 or pos.max() >= self.n:
            raise IndexError(f"{self._file.name}: row out of range")
        fd, row_bytes = self._file.fileno(), self.dim * 4
        done = _read_rows(fd, self._at, row_bytes, pos, out)
        while done < len(pos):  # a short or interrupted pread: that row through os.pread, then the fast loop again
            self._read_row(int(pos[done]), out[done])
            done += 1
            done += _read_rows(fd, self._at, row_bytes, pos[done:], out[done:])
        return out

    def _read_row(self, row: int, into: np.ndarray) -> None:
        """One row with ``os.pread``, which retries on EINTR (PEP 475); reads again after a short read and
        stops only at the end of the file (a truncated matrix)."""
        buf, n = memoryview(into).cast("B"), self.dim * 4
        got, at = 0, self._at + row * n
        while got < n:
            b = os.pread(self._file.fileno(), n - got, at + got)
            if not b:
                raise OSError(f"{self._file.name}: short read of row {row} (the file ends at byte {at + got})")
            buf[got:got + len(b)] = b
            got += len(b)

    def close(self) -> None:
        self._file.close()


_libc_pread = ctypes.CDLL(None, use_errno=True).pread
_libc_pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]
_libc_pread.restype = ctypes.c_ssize_t


@compiled(cache=False)
def _read_rows(fd: int, at: int, row_bytes: int, pos: np.ndarray, out: np.ndarray) -> int:
    """Row ``pos[i]`` of the file into ``out[i]``, for every i; returns how many were read in full."""
    base = out.ctypes.data
    for i in range(pos.shape[0]):
        if _libc_pread(fd, base + i * row_bytes, row_bytes, at + pos[i] * row_bytes) != row_bytes:
            return i
    return pos.shape[0]


_open: weakref.WeakValueDictionary[tuple[str, int], Segment] = weakref.WeakValueDictionary()
_open_lock = threading.Lock()


def open_segment(folder: Path) -> Segment:
    """Segments are immutable, so a process opens each once and every generation that lists it shares it."""
    folder = Path(folder).resolve()
    key = (str(folder), (folder / INFO).stat().st_ino)
    with _open_lock:
        seg = _open.get(key)
        if seg is None:
            seg = Segment(folder)
            _open[key] = seg
        return seg


def segment_texts(seg: Segment, rowids: Iterable[int]) -> list[str]:
    ids = list(rowids)
    out: list[str] = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        out += [r[0] for r in seg.con.execute(
            f"SELECT text FROM chunks WHERE rowid IN ({','.join('?' * len(part))})", part)]
    return out
