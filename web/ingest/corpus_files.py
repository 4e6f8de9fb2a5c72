"""The corpus folder as the web app writes it: stored uploads, sidecars, content hashes, replacements.

Only this module and ``trash`` move files in the corpus. Every path it is given is relative to the corpus,
checked to stay inside it and to avoid hidden folders (``.trash``, ``.incoming``), which the indexer skips.
Sidecar edits use optimistic concurrency: a form carries the ``version`` (hash) of the sidecar it was made
from, and a save whose version is no longer current is refused as a ``Conflict`` instead of overwriting.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.fileio import fsync_path, sha256_file
from indexer.parsing.pipeline import iter_document_files
from indexer.parsing.sidecar import dump_sidecar, load_sidecar, sidecar_path
from web.datadir import DataDB
from web.ingest import formats
from web.ingest.multipart import ReceivedFile
from web.ingest.names import stored_name

INCOMING = ".incoming"
_lock = threading.Lock()


class Conflict(Exception):
    """Someone saved the document's metadata since the form was loaded."""

    def __init__(self, current_version: str, current: dict[str, Any]):
        super().__init__("the sidecar changed since the form was loaded")
        self.current_version, self.current = current_version, current


class BadPath(ValueError):
    """A path that is not a document of this corpus."""


@dataclass(frozen=True)
class Stored:
    path: str  # relative to the corpus
    sha256: str


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and ``os.replace``: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


class CorpusFiles:
    def __init__(self, corpus: Path, db: DataDB):
        self.root = Path(corpus).resolve()
        self.db = db
        self.incoming = self.root / INCOMING

    # --- paths -----------------------------------------------------------------------------------------
    def path_of(self, rel: str) -> Path:
        """The file of a corpus-relative path; BadPath if it escapes the corpus or is hidden."""
        rel = (rel or "").split("#", 1)[0]  # JSONL records are "file.jsonl#L3"
        p = (self.root / rel).resolve()
        if not p.is_relative_to(self.root) or p == self.root:
            raise BadPath(f"{rel!r} is not inside the corpus")
        if any(part.startswith(".") for part in p.relative_to(self.root).parts):
            raise BadPath(f"{rel!r} is in a hidden folder")
        return p

    def rel(self, p: Path) -> str:
        return str(Path(p).resolve().relative_to(self.root))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer of the corpus at a time: threads of this server and other processes."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        with _lock, open(self.incoming / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # --- content hashes ----------------------------------------------------------------------------------
    def refresh_hashes(self) -> None:
        """Bring the data directory's table of corpus file hashes up to date (re-hashing only changed files)."""
        known = {r["path"]: (r["size"], r["mtime_ns"]) for r in self.db.con.execute("SELECT * FROM file_hashes")}
        seen = set()
        updates = []
        for p in iter_document_files(self.root):
            rel = self.rel(p)
            seen.add(rel)
            st = p.stat()
            if known.get(rel) != (st.st_size, st.st_mtime_ns):
                updates.append((rel, sha256_file(p), st.st_size, st.st_mtime_ns))
        with self.db.tx() as con:
            con.executemany("INSERT OR REPLACE INTO file_hashes (path, sha256, size, mtime_ns) VALUES (?,?,?,?)", updates)
            con.executemany("DELETE FROM file_hashes WHERE path = ?", [(p,) for p in known if p not in seen])

    def duplicate_of(self, sha256: str) -> str | None:
        """The corpus file with exactly these bytes, if there is one."""
        r = self.db.con.execute("SELECT path FROM file_hashes WHERE sha256 = ? ORDER BY path LIMIT 1", (sha256,)).fetchone()
        return r["path"] if r else None

    # --- uploads -----------------------------------------------------------------------------------------
    def store_upload(self, f: ReceivedFile, suffix: str, overrides: dict[str, Any]) -> Stored:
        """Move a received file into ``uploads/YYYY/<hash>.<ext>`` with its sidecar (caller holds ``locked``).

        ``formats.sniff`` runs first; a refused file is deleted and ``formats.Refused`` propagates.
        """
        self.check(f, suffix)
        rel = stored_name(f.sha256, suffix)
        target = self.root / rel
        if overrides:
            write_atomic(sidecar_path(target), dump_sidecar(overrides).encode("utf-8"))
        return self.place(f, target)

    def check(self, f: ReceivedFile, suffix: str) -> None:
        """``formats.sniff``; a refused file's temporary copy is deleted and ``formats.Refused`` propagates."""
        try:
            formats.sniff(f.temp_path, suffix)
        except formats.Refused:
            f.temp_path.unlink(missing_ok=True)
            raise

    def place(self, f: ReceivedFile, target: Path) -> Stored:
        """Rename a checked temporary file to ``target`` (durably) and record its hash."""
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(f.temp_path, 0o644)
        os.replace(f.temp_path, target)
        fsync_path(target.parent)
        st = target.stat()
        rel = self.rel(target)
        self.db.con.execute("INSERT OR REPLACE INTO file_hashes (path, sha256, size, mtime_ns) VALUES (?,?,?,?)",
                            (rel, f.sha256, st.st_size, st.st_mtime_ns))
        return Stored(rel, f.sha256)

    # --- sidecars ----------------------------------------------------------------------------------------
    def sidecar_version(self, doc_path: Path) -> str:
        """Hash of the sidecar's bytes ("none" without one): what an edit form was made from."""
        side = sidecar_path(doc_path)
        return hashlib.sha256(side.read_bytes()).hexdigest()[:16] if side.is_file() else "none"

    def overrides(self, doc_path: Path) -> dict[str, Any]:
        return load_sidecar(doc_path)

    def save_overrides(self, doc_path: Path, overrides: dict[str, Any], expected_version: str) -> str:
        """Write the sidecar unless it changed since ``expected_version`` (then ``Conflict``); the new version."""
        with self.locked():
            current = self.sidecar_version(doc_path)
            if current != expected_version:
                raise Conflict(current, self.overrides(doc_path))
            side = sidecar_path(doc_path)
            if overrides:
                write_atomic(side, dump_sidecar(overrides).encode("utf-8"))
            else:
                side.unlink(missing_ok=True)
            return self.sidecar_version(doc_path)
