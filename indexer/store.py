"""The on-disk index: one directory, immutable generations, a ``CURRENT`` pointer.

Layout::

    index_dir/CURRENT            name of the live generation (switched with os.replace: atomic)
    index_dir/gen-<stamp>/index.sqlite   documents, chunks, FTS5 (exact + folded terms), vocabulary, meta
    index_dir/gen-<stamp>/vectors.faiss  IndexIDMap2(IndexFlatIP) of L2-normalised chunk vectors, ids = chunk rowids

A generation is never modified once published, so readers open it read-only and ``immutable`` (no locks),
and a build killed at any moment leaves the previous generation untouched.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer.int8_scan import Int8Scan
from indexer.lexical import LEXICAL_NAME, LexicalIndex, load_lexical
from indexer.models import Chunk, Directive, IngestInfo, LegalRef, Metadata, Unit
from indexer.textnorm import fold

CURRENT = "CURRENT"
DB_NAME = "index.sqlite"
FAISS_NAME = "vectors.faiss"
SCHEMA_VERSION = "1"
INT8_SCAN_FROM = 20_000  # vectors from which dense search scans int8 codes and re-scores (indexer/int8_scan.py)
RESCORE = 8  # ... re-scoring this many times the rows asked for (at least RESCORE_MIN) with float32 vectors
RESCORE_MIN = 1_000

# letters/digits (no underscore: "_" joins bigrams); segments break at punctuation so bigrams never span "; ".
_WORD = re.compile(r"[^\W_]+")
_SEGMENT = re.compile(r"[^\W_]+(?:[ \t\u00a0]+[^\W_]+)*")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, content_hash TEXT NOT NULL, docs TEXT NOT NULL  -- JSON [[doc_id, content_hash]]
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
    title TEXT, issuer TEXT, issuer_folded TEXT, place TEXT, place_folded TEXT, level TEXT,
    province TEXT, province_current TEXT, doc_type TEXT, number TEXT, date TEXT, year INTEGER,
    subject TEXT, json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id), ord INTEGER NOT NULL,
    path TEXT, headings TEXT, text TEXT NOT NULL, kind TEXT, section_kind TEXT,
    agency TEXT, agency_folded TEXT, start INTEGER, "end" INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    exact, folded, tokenize = "unicode61 remove_diacritics 0 tokenchars '_'"
);
CREATE TABLE IF NOT EXISTS vocab (folded TEXT NOT NULL, accented TEXT NOT NULL, n INTEGER NOT NULL,
                                  PRIMARY KEY (folded, accented)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bigrams (folded TEXT NOT NULL, accented TEXT NOT NULL, n INTEGER NOT NULL,
                                    PRIMARY KEY (folded, accented)) WITHOUT ROWID;
"""


class IndexNotFound(FileNotFoundError):
    """No usable index at the given directory (never built, or built elsewhere)."""


# --- terms -------------------------------------------------------------------------------------------------

def fold_lower(s: str) -> str:
    """Lower-case and strip diacritics (đ→d); length-preserving, so offsets carry over."""
    return fold(s.lower())


def segments(text: str) -> list[list[str]]:
    """Lower-cased syllables, grouped in runs not broken by punctuation."""
    return [_WORD.findall(m.group(0).lower()) for m in _SEGMENT.finditer(text)]


def terms_of(segs: Iterable[list[str]]) -> list[str]:
    """Syllables plus adjacent-syllable bigrams ("đuối nước" → đuối, nước, đuối_nước)."""
    out: list[str] = []
    for seg in segs:
        out += seg
        out += [f"{a}_{b}" for a, b in itertools.pairwise(seg)]
    return out


def fts_columns(text: str) -> tuple[str, str]:
    """The FTS5 row for a chunk: exact terms and folded terms."""
    segs = segments(text)
    exact = " ".join(terms_of(segs))
    return exact, fold(exact)


# --- generations -------------------------------------------------------------------------------------------

def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no complete index exists."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    gen = index_dir / name
    if not name or "/" in name or not (gen / DB_NAME).is_file():
        return None
    return gen


def create_schema(con: sqlite3.Connection) -> None:
    con.executescript(SCHEMA)


# --- reading -----------------------------------------------------------------------------------------------

def _unit(d: dict[str, Any]) -> Unit:
    kids = [_unit(c) for c in d.get("children", [])]
    fields = {k: v for k, v in d.items() if k != "children"}
    return Unit(**fields, children=kids)


def _ref(d: dict[str, Any] | None) -> LegalRef | None:
    return LegalRef(**d) if d else None


def directive_from_dict(d: dict[str, Any]) -> Directive:
    """Rebuild a Directive from ``Directive.to_dict(with_text=True)``."""
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


def directive_json(d: Directive) -> str:
    data = d.to_dict(with_text=True)
    data["offsets"] = d.offsets
    return json.dumps(data, ensure_ascii=False)


@dataclass
class StoredChunk:
    """A chunk as stored: the shared ``Chunk`` plus its FAISS id."""

    rowid: int
    chunk: Chunk


def _chunk_row(r: sqlite3.Row) -> StoredChunk:
    return StoredChunk(r["rowid"], Chunk(
        chunk_id=r["chunk_id"], doc_id=r["doc_id"], path=r["path"], headings=json.loads(r["headings"]),
        text=r["text"], kind=r["kind"], section_kind=r["section_kind"], agency=r["agency"],
        start=r["start"], end=r["end"],
    ))


CHUNK_COLS = 'rowid, chunk_id, doc_id, path, headings, text, kind, section_kind, agency, start, "end"'


class IndexStore:
    """Read-only view of one published generation."""

    def __init__(self, gen_dir: Path, con: sqlite3.Connection, faiss_index: faiss.Index,
                 lexical: LexicalIndex | None = None, int8_from: int = INT8_SCAN_FROM):
        self.gen_dir = gen_dir
        self.con = con
        self.faiss = faiss_index
        self.lexical = lexical  # BM25 postings; None for a generation written before they existed (FTS5 then)
        # the flat index's vectors as a numpy view (no copy): top-k and lookups are single numpy operations,
        # cheaper than FAISS's per-id reconstruct (9 ms for 800 ids at 100k) and its single-query search
        flat = faiss.downcast_index(faiss_index.index) if hasattr(faiss_index, "index") else faiss_index
        n, d = int(flat.ntotal), int(flat.d)
        self._matrix = (faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d) if n
                        else np.zeros((0, d), dtype="float32"))
        self._ids = faiss.vector_to_array(faiss_index.id_map).astype(np.int64) if n else np.zeros(0, np.int64)
        self._pos = np.full(int(self._ids.max()) + 1 if n else 1, -1, dtype=np.int64)
        self._pos[self._ids] = np.arange(n)
        self._int8_from = int8_from
        self._scan: Int8Scan | None = None
        self._scan_lock = threading.Lock()
        self.meta: dict[str, str] = dict(con.execute("SELECT key, value FROM meta").fetchall())

    @classmethod
    def open(cls, index_dir: Path | str, *, int8_from: int = INT8_SCAN_FROM) -> IndexStore:
        index_dir = Path(index_dir)
        gen = current_generation(index_dir)
        if gen is None:
            raise IndexNotFound(f"no index at {index_dir} (build one: directives index --corpus DIR "
                                f"--index-dir {index_dir})")
        con = sqlite3.connect(f"file:{gen / DB_NAME}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        con.row_factory = sqlite3.Row
        idx = faiss.read_index(str(gen / FAISS_NAME))
        lx = load_lexical(gen / LEXICAL_NAME) if (gen / LEXICAL_NAME).is_file() else None
        return cls(gen, con, idx, lx, int8_from)

    def close(self) -> None:
        self.con.close()

    # metadata about the index
    @property
    def model(self) -> str:
        return self.meta.get("model", "")

    @property
    def dim(self) -> int:
        return int(self.meta.get("dim", "0"))

    # documents
    def documents(self) -> list[sqlite3.Row]:
        """Document rows (metadata columns, no JSON), in doc_id order."""
        return self.con.execute(
            "SELECT doc_id, source, title, issuer, place, level, province, province_current, doc_type, number, "
            "date, year, subject, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id) AS n_chunks "
            "FROM documents d ORDER BY doc_id").fetchall()

    def document_row(self, doc_id: str) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()

    def document(self, doc_id: str) -> Directive | None:
        r = self.con.execute("SELECT json FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return directive_from_dict(json.loads(r[0])) if r else None

    # chunks
    def chunk(self, chunk_id: str) -> StoredChunk | None:
        r = self.con.execute(f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
        return _chunk_row(r) if r else None

    def chunks_by_rowid(self, rowids: Iterable[int]) -> dict[int, StoredChunk]:
        ids = list(dict.fromkeys(int(i) for i in rowids))
        out: dict[int, StoredChunk] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = f"SELECT {CHUNK_COLS} FROM chunks WHERE rowid IN ({','.join('?' * len(part))})"
            for r in self.con.execute(q, part):
                out[r["rowid"]] = _chunk_row(r)
        return out

    def facet_rows(self, rowids: Iterable[int] | None = None) -> list[tuple[str, str, str]]:
        """(doc_id, section_kind, agency) per chunk, without loading texts: facet counts over large sets."""
        if rowids is None:
            return [tuple(r) for r in self.con.execute("SELECT doc_id, section_kind, agency FROM chunks")]
        ids = list(dict.fromkeys(int(i) for i in rowids))
        out: list[tuple[str, str, str]] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = f"SELECT doc_id, section_kind, agency FROM chunks WHERE rowid IN ({','.join('?' * len(part))})"
            out += [tuple(r) for r in self.con.execute(q, part)]
        return out

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        rows = self.con.execute(f"SELECT {CHUNK_COLS} FROM chunks WHERE doc_id = ? ORDER BY ord", (doc_id,))
        return [_chunk_row(r) for r in rows]

    def iter_chunks(self) -> Iterator[StoredChunk]:
        for r in self.con.execute(f"SELECT {CHUNK_COLS} FROM chunks ORDER BY rowid"):
            yield _chunk_row(r)

    def rowids_of(self, chunk_ids: Iterable[str]) -> list[int | None]:
        ids = list(chunk_ids)
        found = dict(self.con.execute(
            f"SELECT chunk_id, rowid FROM chunks WHERE chunk_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        ) if ids else {}
        return [found.get(c) for c in ids]

    # vectors
    def vectors(self, rowids: Iterable[int]) -> np.ndarray:
        """Stored vectors of the given chunk rowids, one row each (float32, L2-normalised)."""
        ids = np.fromiter((int(i) for i in rowids), dtype=np.int64)
        out = np.zeros((len(ids), self._matrix.shape[1]), dtype="float32")
        ok = (ids >= 0) & (ids < len(self._pos))
        pos = np.full(len(ids), -1, dtype=np.int64)
        pos[ok] = self._pos[ids[ok]]
        found = pos >= 0
        out[found] = self._matrix[pos[found]]
        return out

    def dense_top(self, qvec: np.ndarray, n: int, allowed: set[int] | None = None) -> dict[int, float]:
        """The ``n`` rowids with the highest cosine to ``qvec`` (vectors are normalised), within ``allowed``.

        Scores are always exact float32 cosines. Large indexes choose the rows to score with an int8 scan
        (a superset of ``RESCORE`` × ``n`` rows); small ones, and filters that leave few rows, score every row.
        """
        q = np.asarray(qvec, dtype="float32").reshape(-1)
        want = None
        if allowed is not None:
            want = np.fromiter((i for i in allowed if 0 <= i < len(self._pos)), dtype=np.int64)
            pos = self._pos[want]
            want = pos[pos >= 0]
        total = len(self._ids) if want is None else len(want)
        if not total:
            return {}
        n = min(n, total)
        scan = self.int8_scan() if total >= self._int8_from else None
        if scan is not None:
            mask = None
            if want is not None:
                mask = np.zeros(len(self._ids), dtype=bool)
                mask[want] = True
            pos = scan.candidates(q, max(RESCORE * n, RESCORE_MIN), mask)
        else:
            pos = np.arange(len(self._ids)) if want is None else want
        sims = (self._matrix if want is None and scan is None else self._matrix[pos]) @ q
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        ids = self._ids[pos]
        return {int(ids[i]): float(sims[i]) for i in top}

    def int8_scan(self) -> Int8Scan | None:
        """The int8 codes of this generation's vectors, built on first use (~1 s at 100k); None when the
        index is below ``int8_from`` vectors or ONNX Runtime is missing (then every row is scored exactly)."""
        if self._scan is None and len(self._ids) >= max(self._int8_from, 1):
            with self._scan_lock:
                if self._scan is None:
                    try:
                        self._scan = Int8Scan(self._matrix)
                    except ImportError:
                        self._int8_from = len(self._ids) + 1
        return self._scan

    def chunk_doc_ids(self) -> list[tuple[int, str]]:
        """(rowid, doc_id) of every chunk: per-document aggregates of the vectors without loading texts."""
        return [(int(r), d) for r, d in self.con.execute("SELECT rowid, doc_id FROM chunks ORDER BY rowid")]

    def reference_rows(self) -> Iterator[tuple[str, LegalRef | None, list[LegalRef], str]]:
        """(doc_id, implements, references, opening) of every document, where ``opening`` is the text from
        the implements citation on (1,000 characters). SQLite's JSON functions pick these out of each
        document's JSON, which is far cheaper than rebuilding every Directive (link graphs over the corpus)."""
        q = ("WITH m AS (SELECT doc_id, json, json_extract(json, '$.metadata') AS meta FROM documents) "
             "SELECT doc_id, json_extract(meta, '$.implements'), json_extract(meta, '$.references'), "
             "substr(json_extract(json, '$.text'), coalesce(json_extract(meta, '$.implements.start'), 0) + 1, 1000) "
             "FROM m ORDER BY doc_id")  # the large JSON is parsed twice per document, the metadata thrice
        for doc_id, impl, refs, opening in self.con.execute(q):
            imp = _ref(json.loads(impl)) if impl else None
            found = [_ref(r) for r in json.loads(refs or "[]")]
            if imp is not None:  # the same object as in references, so callers can tell it apart
                imp = next((r for r in found if r.start == imp.start), imp)
            yield doc_id, imp, [r for r in found if r is not None], opening or ""

    def counts(self) -> dict[str, int]:
        return {
            "documents": self.con.execute("SELECT count(*) FROM documents").fetchone()[0],
            "chunks": self.con.execute("SELECT count(*) FROM chunks").fetchone()[0],
            "vectors": int(self.faiss.ntotal),
        }


# --- writing (used by build.py on a private, not yet published generation) -------------------------------

def insert_directive(con: sqlite3.Connection, d: Directive) -> list[tuple[int, str]]:
    """Insert one document with its chunks and FTS rows; returns [(rowid, text)] of the new chunks."""
    m = d.metadata
    con.execute(
        "INSERT INTO documents (doc_id, source, content_hash, title, issuer, issuer_folded, place, place_folded, "
        "level, province, province_current, doc_type, number, date, year, subject, json) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (d.doc_id, d.source, d.content_hash, m.title, m.issuer, fold_lower(m.issuer), m.place,
         fold_lower(m.place), m.level, m.province, m.province_current, m.doc_type, m.number, m.date, m.year,
         m.subject, directive_json(d)),
    )
    out = []
    for i, c in enumerate(d.chunks):
        cur = con.execute(
            'INSERT INTO chunks (chunk_id, doc_id, ord, path, headings, text, kind, section_kind, agency, '
            'agency_folded, start, "end") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)',
            (c.chunk_id, d.doc_id, i, c.path, json.dumps(c.headings, ensure_ascii=False), c.text, c.kind,
             c.section_kind, c.agency, fold_lower(c.agency), c.start, c.end),
        )
        rowid = int(cur.lastrowid)
        con.execute("INSERT INTO chunks_fts (rowid, exact, folded) VALUES (?,?,?)", (rowid, *fts_columns(c.text)))
        out.append((rowid, c.text))
    return out


def delete_documents(con: sqlite3.Connection, doc_ids: Iterable[str]) -> list[int]:
    """Delete documents with their chunks and FTS rows; returns the removed chunk rowids (for FAISS)."""
    removed: list[int] = []
    for doc_id in doc_ids:
        rowids = [r[0] for r in con.execute("SELECT rowid FROM chunks WHERE doc_id = ?", (doc_id,))]
        con.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(r,) for r in rowids])
        con.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        con.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        removed += rowids
    return removed


def rebuild_vocab(con: sqlite3.Connection) -> None:
    """Folded → accented syllable and bigram counts over all chunks: the corpus's own diacritic statistics."""
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    for (text,) in con.execute("SELECT text FROM chunks"):
        for seg in segments(text):
            uni.update(seg)
            bi.update(f"{a} {b}" for a, b in itertools.pairwise(seg))
    con.execute("DELETE FROM vocab")
    con.execute("DELETE FROM bigrams")
    con.executemany("INSERT INTO vocab VALUES (?,?,?)", ((fold(w), w, n) for w, n in uni.items()))
    con.executemany("INSERT INTO bigrams VALUES (?,?,?)", ((fold(w), w, n) for w, n in bi.items()))


def new_faiss(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
