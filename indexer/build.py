"""Build (or update) the index: incremental by content hash, atomic by generation switch.

Every build writes a fresh generation directory (previous database copied, then changed sources applied; the
previous FAISS vectors reused for unchanged chunks), fsyncs it, and only then points ``CURRENT`` at it with
``os.replace``. A SIGKILL at any moment therefore leaves the previous generation live and intact.

Sources map to *lists* of documents (``files.docs`` = [[doc_id, content_hash]]) so a JSONL record file can
later register a parser in ``SOURCE_PARSERS`` that returns many directives from one file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from indexer import store
from indexer.lexical import LEXICAL_NAME, build_lexical, save_lexical
from indexer.models import Directive, FileReport, ParseError
from indexer.parse import RECORD_SUFFIXES, iter_document_files, parse_source
from indexer.progress import Progress, ProgressFn, ignore
from indexer.reading import ReadOptions
from indexer.sidecar import sidecar_path

ENCODE_BATCH = 64
PROGRESS_MIN = 8  # show bars only when there is real work
OCR_CACHE = "ocr-cache"  # beside the generations: OCR results by content hash survive every build


@dataclass
class BuildReport:
    index_dir: str
    generation: str
    model: str
    added: list[str] = field(default_factory=list)  # sources
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)  # the ingest report of every file read in this run
    documents: int = 0
    chunks: int = 0
    encoded: int = 0  # chunks embedded in this run
    reencoded_all: bool = False  # the model changed: every vector rebuilt
    changed: bool = False  # a new generation was published
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"index {self.index_dir} ({self.generation}), model {self.model}: "
                 f"{self.documents} documents, {self.chunks} chunks",
                 f"  added {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
                 f"unchanged {len(self.skipped)}, errors {len(self.errors)}; embedded {self.encoded} chunks "
                 f"in {self.seconds:.1f}s"]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  {f.line()}".replace("\n", "\n  ") for f in self.files if f.status == "ok"]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _sidecars(path: Path) -> list[Path]:
    """Files next to a document that override its metadata: they are part of its content hash."""
    side = sidecar_path(path)
    return [side] if side.is_file() else []


def source_hash(path: Path) -> str:
    h = hashlib.sha256(path.read_bytes())
    for s in _sidecars(path):
        h.update(b"\0" + s.name.encode() + b"\0" + s.read_bytes())
    return h.hexdigest()


def resolve_model(model: str | None) -> str:
    """The model spec asked for: explicit argument, then $DIRECTIVES_MODEL, then "" (the built-in default)."""
    return model or os.environ.get("DIRECTIVES_MODEL", "") or ""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _lock(index_dir: Path) -> Iterator[None]:
    """One builder per index directory (released by the kernel if the builder dies)."""
    with open(index_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _read_previous(gen: Path | None) -> tuple[dict[str, str], dict[str, tuple[str, list[list[str]]]]]:
    if gen is None:
        return {}, {}
    con = sqlite3.connect(f"file:{gen / store.DB_NAME}?mode=ro&immutable=1", uri=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        files = {s: (h, json.loads(d)) for s, h, d in con.execute("SELECT source, content_hash, docs FROM files")}
    finally:
        con.close()
    return meta, files


def _encode(encoder, texts: list[str], progress: bool, on_progress: ProgressFn = ignore) -> np.ndarray:
    from tqdm import tqdm

    out = np.zeros((len(texts), encoder.dim), dtype="float32")
    bar = tqdm(total=len(texts), desc="embedding", unit="chunk", file=sys.stderr,
               disable=not progress or len(texts) < PROGRESS_MIN * ENCODE_BATCH)
    for i in range(0, len(texts), ENCODE_BATCH):
        v = np.asarray(encoder.encode_passages(texts[i:i + ENCODE_BATCH]), dtype="float32")
        out[i:i + len(v)] = v
        bar.update(len(v))
        on_progress(Progress("embedding", i + len(v), len(texts)))
    bar.close()
    return out


def _cleanup(index_dir: Path, keep: str) -> None:
    """Remove generations other than ``keep`` and leftovers of killed builds (we hold the lock)."""
    for p in index_dir.iterdir():
        if p.name != keep and p.is_dir() and (p.name.startswith("gen-") or p.name.startswith(".tmp-gen-")):
            shutil.rmtree(p, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (index_dir / (store.CURRENT + ".tmp")).unlink()


def build_index(corpus: Path, index_dir: Path, *, model: str | None = None, progress: bool = True,
                on_progress: ProgressFn = ignore) -> BuildReport:
    """Index every document under ``corpus`` into ``index_dir``; see the module doc for the guarantees.

    ``on_progress`` hears each stage (parsing file i/n, OCR page i/n, embedding chunk i/n, publishing).
    """
    t0 = time.perf_counter()
    corpus, index_dir = Path(corpus).resolve(), Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with _lock(index_dir):
        prev = store.current_generation(index_dir)
        prev_meta, prev_files = _read_previous(prev)
        spec = resolve_model(model)
        report = BuildReport(str(index_dir), prev.name if prev else "", prev_meta.get("model", ""))

        sources = {str(p.relative_to(corpus)): p for p in iter_document_files(corpus)}
        hashes = {s: source_hash(p) for s, p in sources.items()}
        report.skipped = [s for s in sources if s in prev_files and prev_files[s][0] == hashes[s]]
        todo = [s for s in sources if s not in report.skipped]
        report.removed = [s for s in prev_files if s not in sources]
        schema_ok = prev_meta.get("schema") == store.SCHEMA_VERSION

        same_model = prev is not None and schema_ok and prev_meta.get("model_spec") == spec
        if same_model and Path(prev_meta.get("model", "")).is_dir():
            # same name; also the same weights? (cheap: the fingerprint is cached by file stamps)
            from indexer.embedding.encoder import model_fingerprint

            same_model = model_fingerprint(Path(prev_meta["model"])) == prev_meta.get("fingerprint")
        encoder = None
        if todo or not same_model:
            from indexer.embedding.encoder import Encoder

            encoder = Encoder.load(spec or None)
            same_model = prev is not None and schema_ok and prev_meta.get("fingerprint") == encoder.fingerprint
            report.model = encoder.name
            if prev is not None and not same_model:
                report.notes.append(f"model changed ({prev_meta.get('model') or '?'} → {encoder.name}): "
                                    "re-embedding every chunk")
        if prev is not None and same_model and not todo and not report.removed:
            report.documents, report.chunks = int(prev_meta.get("documents", 0)), int(prev_meta.get("chunks", 0))
            report.seconds = time.perf_counter() - t0
            return report

        # parse what changed (before touching anything on disk: parsing is the slow, fallible part)
        from tqdm import tqdm

        parsed: dict[str, list[Directive]] = {}
        options = ReadOptions(ocr_cache=index_dir / OCR_CACHE, progress=progress, on_progress=on_progress)
        for i, s in enumerate(tqdm(todo, desc="parsing", unit="file", file=sys.stderr,
                                   disable=not progress or len(todo) < PROGRESS_MIN)):
            on_progress(Progress("parsing", i, len(todo), s))
            parsed[s], errs = parse_source(sources[s], corpus, options)
            report.errors += errs
            report.files += [FileReport.of(d) for d in parsed[s]] + [FileReport.failed(e) for e in errs]
        on_progress(Progress("parsing", len(todo), len(todo)))

        # the new generation, private until published
        stamp = f"gen-{time.time_ns()}"
        tmp = index_dir / f".tmp-{stamp}"
        tmp.mkdir()
        db = tmp / store.DB_NAME
        rebuild_vectors = prev is None or not same_model
        if prev is not None and schema_ok:
            shutil.copyfile(prev / store.DB_NAME, db)
            index = faiss.read_index(str(prev / store.FAISS_NAME)) if not rebuild_vectors else None
        else:
            index = None
            if prev is not None:
                report.notes.append("index format changed: rebuilding from scratch")
                for s in report.skipped:  # reparse everything under the new schema
                    parsed[s], errs = parse_source(sources[s], corpus, options)
                    report.errors += errs
                prev_files = {}
                report.skipped, report.removed = [], []
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode = OFF")  # the file is private; durability comes from fsync + rename
        con.execute("PRAGMA synchronous = OFF")
        store.create_schema(con)

        removed_rowids: list[int] = []
        kept_by_source: dict[str, list[list[str]]] = {}
        new_rows: list[tuple[int, str]] = []
        with con:
            for s in report.removed + [s for s in todo if s in prev_files]:
                # a document whose own hash is unchanged (an untouched record of an edited JSONL file) stays;
                # a document file re-indexes whole: its sidecar may be what changed, not its bytes
                records = Path(s).suffix.lower() in RECORD_SUFFIXES
                new_docs = {(d.doc_id, d.content_hash) for d in parsed.get(s, [])} if records else set()
                stale = [d for d, h in prev_files[s][1] if (d, h) not in new_docs]
                removed_rowids += store.delete_documents(con, stale)
                con.execute("DELETE FROM files WHERE source = ?", (s,))
                kept_old = {tuple(x) for x in prev_files[s][1]} & new_docs
                parsed[s] = [d for d in parsed.get(s, []) if (d.doc_id, d.content_hash) not in kept_old]
                kept_by_source[s] = [list(x) for x in sorted(kept_old)]
            for s, docs in parsed.items():
                kept: list[list[str]] = list(kept_by_source.get(s, []))
                for d in docs:
                    dup = con.execute("SELECT source FROM documents WHERE content_hash = ? OR doc_id = ?",
                                      (d.content_hash, d.doc_id)).fetchone()
                    if dup is not None:
                        err = ParseError(s, f"duplicate of {dup[0]} (same content or id {d.doc_id})")
                        report.errors.append(err)
                        report.files = [FileReport.failed(err) if (f.source, f.doc_id) == (s, d.doc_id) else f
                                        for f in report.files]
                        continue
                    new_rows += store.insert_directive(con, d)
                    kept.append([d.doc_id, d.content_hash])
                if kept:
                    con.execute("INSERT INTO files (source, content_hash, docs) VALUES (?,?,?)",
                                (s, hashes[s], json.dumps(kept)))
                    (report.updated if s in prev_files else report.added).append(s)

            if rebuild_vectors:
                rows = [(r, t) for r, t in con.execute("SELECT rowid, text FROM chunks ORDER BY rowid")]
                index = store.new_faiss(encoder.dim)
                report.reencoded_all = prev is not None
            else:
                rows = new_rows
                if removed_rowids:
                    index.remove_ids(np.asarray(removed_rowids, dtype="int64"))
            if rows:
                vecs = _encode(encoder, [t for _, t in rows], progress, on_progress)
                index.add_with_ids(vecs, np.asarray([r for r, _ in rows], dtype="int64"))
                report.encoded = len(rows)

            store.rebuild_vocab(con)
            lexical_index = build_lexical(con)
            report.documents = con.execute("SELECT count(*) FROM documents").fetchone()[0]
            report.chunks = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
            if index.ntotal != report.chunks:
                raise RuntimeError(f"index inconsistent: {index.ntotal} vectors for {report.chunks} chunks")
            meta = dict(prev_meta) if not rebuild_vectors else {}
            if encoder is not None:
                meta.update(model=encoder.name, model_spec=spec, dim=str(encoder.dim),
                            fingerprint=encoder.fingerprint)
            meta.update(schema=store.SCHEMA_VERSION, built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        documents=str(report.documents), chunks=str(report.chunks), generation=stamp)
            con.execute("DELETE FROM meta")
            con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            report.model = meta["model"]
        if report.removed or report.updated:
            con.execute("VACUUM")  # keep copied generations from growing with dead pages
        con.close()
        on_progress(Progress("publishing", 0, 1))
        faiss.write_index(index, str(tmp / store.FAISS_NAME))
        save_lexical(lexical_index, tmp / LEXICAL_NAME)
        for f in (db, tmp / store.FAISS_NAME, tmp / LEXICAL_NAME, tmp):
            _fsync(f)

        # publish: rename the finished directory, then switch CURRENT atomically
        final = index_dir / stamp
        os.rename(tmp, final)
        _fsync(index_dir)
        pointer = index_dir / (store.CURRENT + ".tmp")
        with open(pointer, "w", encoding="utf-8") as f:
            f.write(stamp + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(pointer, index_dir / store.CURRENT)
        _fsync(index_dir)
        _cleanup(index_dir, keep=stamp)
        on_progress(Progress("publishing", 1, 1))

        report.generation, report.changed = stamp, True
        report.seconds = time.perf_counter() - t0
        return report
