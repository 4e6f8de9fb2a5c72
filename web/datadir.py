"""The data directory: ONE SQLite database for accounts, sessions, API tokens, login failures, jobs and the audit log.

It lives in ``--data-dir`` (default ``.data/``), never inside an index generation (those are replaced whole by
every build) nor inside the corpus (which is what gets indexed). WAL mode lets the web server, the build job's
child process and ``directives user …`` use it at the same time; every connection waits up to 10 s for a lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

DB_FILE = "directives.sqlite"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL CHECK (role IN ('viewer','editor','admin')),
    password_hash TEXT NOT NULL, created_at REAL NOT NULL, password_changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL, created_at REAL NOT NULL, last_seen REAL NOT NULL, address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created_at REAL NOT NULL, last_used REAL
);
CREATE TABLE IF NOT EXISTS login_failures (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(kind, key, at);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, user_name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, batch INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '', items TEXT NOT NULL DEFAULT '[]', error TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '', old TEXT, new TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS file_hashes_sha ON file_hashes(sha256);
"""


class DataDirError(RuntimeError):
    """The data directory is unusable (inside an index or the corpus, or written by a newer version)."""


def check_location(data_dir: Path, *, index_dir: Path | None = None, corpus: Path | None = None) -> None:
    """Refuse a data directory inside the index (rebuilt wholesale) or inside the corpus (it would be indexed)."""
    d = Path(data_dir).resolve()
    for name, other in (("--index-dir", index_dir), ("--corpus", corpus)):
        if other is not None and d.is_relative_to(Path(other).resolve()):
            raise DataDirError(f"--data-dir {data_dir} must not be inside {name} {other}")


class DataDB:
    """Connections to the data directory's database (one per thread, created on first use)."""

    def __init__(self, data_dir: Path | str):
        self.dir = Path(data_dir)
        self.path = self.dir / DB_FILE
        self._local = threading.local()
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)  # password hashes and session ids: not for other local users
        con = self._connect()
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataDirError(f"{self.path} was written by a newer version (schema {version} > {SCHEMA_VERSION})")
        with con:
            con.executescript(SCHEMA)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        os.chmod(self.path, 0o600)
        self._local.con = con

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @property
    def con(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``with db.tx():`` for a transaction)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    def tx(self) -> _Tx:
        """``with db.tx() as con:`` — BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): one writer at a time."""
        return _Tx(self.con)


class _Tx:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
