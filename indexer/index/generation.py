"""Generations: which segments are live, which of their documents are deleted, and the atomic switch.

Layout of an index directory::

    CURRENT                      name of the live generation (replaced with os.replace: atomic)
    gen-<stamp>/manifest.json    segments, deleted documents per segment, model and counts
    gen-<stamp>/registry.sqlite  source file → content hash, size + mtime, its documents (for the builder)
    segments/seg-<id>/           immutable segments (indexer/index/segment.py), shared by generations
    embed-cache/                 checkpointed vectors of a build that has not published yet (resume)

A generation is written into ``.tmp-gen-<stamp>``, fsynced, renamed and only then named by ``CURRENT``, so
a SIGKILL at any moment leaves the previous generation live and whole; segments are fsynced and renamed into
``segments/`` before any generation lists them. Deletion marks live in the manifest (per segment, the ids of
deleted documents), so marking a document deleted rewrites no segment — the role of Lucene's ``.liv``
files. Nothing in a published generation or segment is ever modified, so a read-only replica can copy
``segments/`` first, then the ``gen-*`` directory, then ``CURRENT``, and serve it with no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.fileio import fsync_path

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
REGISTRY = "registry.sqlite"
SEGMENTS = "segments"
FORMAT = 2  # 1: one SQLite + FAISS per generation (before segments)
LEGACY_DB = "index.sqlite"

REGISTRY_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, content_hash TEXT NOT NULL,
    stat TEXT NOT NULL,  -- size and mtime of the file (and its sidecar): unchanged means not re-read
    docs TEXT NOT NULL  -- JSON [[doc_id, content_hash, segment]]
);
"""


class IndexNotFound(FileNotFoundError):
    """No usable index at the given directory (never built, or built elsewhere)."""


@dataclass
class Manifest:
    generation: str
    segments: list[str]
    deleted: dict[str, list[str]] = field(default_factory=dict)  # segment → deleted doc ids
    meta: dict[str, str] = field(default_factory=dict)  # model, fingerprint, passage_encoder, counts …

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "generation": self.generation, "segments": self.segments,
                           "deleted": {s: sorted(v) for s, v in self.deleted.items() if v}, "meta": self.meta},
                          ensure_ascii=False, indent=1)

    @classmethod
    def read(cls, gen_dir: Path) -> Manifest:
        data = json.loads((gen_dir / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown index format {data.get('format')!r}")
        return cls(data["generation"], list(data["segments"]), {k: list(v) for k, v in data["deleted"].items()},
                   dict(data["meta"]))


def current_name(index_dir: Path) -> str | None:
    try:
        name = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name if name and "/" not in name else None


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no complete index exists."""
    name = current_name(index_dir)
    if name is None:
        return None
    gen = Path(index_dir) / name
    return gen if (gen / MANIFEST).is_file() or (gen / LEGACY_DB).is_file() else None


def is_legacy(gen: Path) -> bool:
    return not (gen / MANIFEST).is_file() and (gen / LEGACY_DB).is_file()


def segments_dir(index_dir: Path) -> Path:
    return Path(index_dir) / SEGMENTS


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One writer (build or merge commit) per index directory; released by the kernel if the holder dies."""
    with open(Path(index_dir) / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def merge_lock(index_dir: Path, wait: bool = True) -> Iterator[bool]:
    """At most one merge at a time; yields False (without waiting) when another merge holds it."""
    with open(Path(index_dir) / ".merge-lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


# --- the registry of source files (builder only) ------------------------------------------------------------

@dataclass
class SourceEntry:
    content_hash: str
    stat: str
    docs: list[list[str]]  # [[doc_id, content_hash, segment]]


def read_registry(gen: Path | None) -> dict[str, SourceEntry]:
    if gen is None or not (gen / REGISTRY).is_file():
        return {}
    con = sqlite3.connect(f"file:{gen / REGISTRY}?mode=ro&immutable=1", uri=True)
    try:
        return {s: SourceEntry(h, st, json.loads(d))
                for s, h, st, d in con.execute("SELECT source, content_hash, stat, docs FROM files")}
    finally:
        con.close()


def write_registry(path: Path, entries: dict[str, SourceEntry]) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.executescript(REGISTRY_SCHEMA)
    con.executemany("INSERT INTO files VALUES (?,?,?,?)",
                    ((s, e.content_hash, e.stat, json.dumps(e.docs, ensure_ascii=False))
                     for s, e in sorted(entries.items())))
    con.commit()
    con.close()


# --- publication --------------------------------------------------------------------------------------------

def new_stamp() -> str:
    return f"gen-{time.time_ns()}"


def publish(index_dir: Path, manifest: Manifest, registry: dict[str, SourceEntry]) -> Path:
    """Write ``manifest`` and ``registry`` as a new generation and switch ``CURRENT`` to it (atomic, durable).

    The caller holds :func:`build_lock`; every segment the manifest lists is already sealed in ``segments/``.
    """
    index_dir = Path(index_dir)
    for s in manifest.segments:
        if not (segments_dir(index_dir) / s / "segment.json").is_file():
            raise RuntimeError(f"segment {s} is not sealed; refusing to publish")
    tmp = index_dir / f".tmp-{manifest.generation}"
    tmp.mkdir()
    write_registry(tmp / REGISTRY, registry)
    with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
        f.write(manifest.to_json())
        f.flush()
        os.fsync(f.fileno())
    fsync_path(tmp / REGISTRY)
    fsync_path(tmp)
    final = index_dir / manifest.generation
    os.rename(tmp, final)
    fsync_path(index_dir)
    pointer = index_dir / (CURRENT + ".tmp")
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(manifest.generation + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, index_dir / CURRENT)
    fsync_path(index_dir)
    return final


def cleanup(index_dir: Path, *, holding_merge_lock: bool = False) -> None:
    """Remove generations other than the live one, segments it does not list, and leftovers of killed builds.

    The caller holds :func:`build_lock`. A running merge's private output survives; a killed merge's is
    removed once no merge holds the merge lock. Readers that still serve an older generation keep their
    open files (POSIX unlink semantics), so they finish their requests and switch on their next refresh.
    """
    index_dir = Path(index_dir)
    live = current_name(index_dir)
    gen = current_generation(index_dir)
    keep: set[str] = set()
    if gen is not None and not is_legacy(gen):
        keep = set(Manifest.read(gen).segments)
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != live and (p.name.startswith("gen-") or p.name.startswith(".tmp-gen-")):
            shutil.rmtree(p, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (index_dir / (CURRENT + ".tmp")).unlink()
    segs = segments_dir(index_dir)
    if not segs.is_dir():
        return
    for p in segs.iterdir():
        if p.name not in keep and not p.name.startswith(".tmp-merge-"):
            shutil.rmtree(p, ignore_errors=True)
    if holding_merge_lock:  # a merge committing: no other merge runs, so every other merge directory is a leftover
        _remove_merge_leftovers(segs)
        return
    with merge_lock(index_dir, wait=False) as free:
        if free:  # no merge is running: what a killed one left behind can go
            _remove_merge_leftovers(segs)


def _remove_merge_leftovers(segs: Path) -> None:
    for p in segs.iterdir():
        if p.name.startswith(".tmp-merge-"):
            shutil.rmtree(p, ignore_errors=True)
