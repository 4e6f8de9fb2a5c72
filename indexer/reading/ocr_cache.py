"""OCR results on disk, keyed by what determines them: the file's bytes, the page, the engine and its settings.

OCR is the slowest step of indexing (seconds a page), so a re-index never OCRs the same page of the same file
twice. The index passes ``<index_dir>/ocr-cache``; without one, ``$XDG_CACHE_HOME/directives/ocr`` (or
``~/.cache/directives/ocr``). Entries are small JSON files (the words and their boxes, so a better layout step
needs no new OCR), written atomically; an unreadable entry is simply recomputed. A hit touches its entry's
mtime, and :meth:`OcrCache.prune` (called after every build that publishes) removes the least recently used
entries beyond ``MAX_BYTES``, so an office that re-scans and replaces files does not grow the cache forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_BYTES", "OcrCache", "default_dir"]

MAX_BYTES = int(os.environ.get("DIRECTIVES_OCR_CACHE_MB") or 2048) << 20  # ~40k pages of words and boxes


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "directives" / "ocr"


@dataclass(frozen=True)
class OcrCache:
    root: Path

    @classmethod
    def at(cls, root: Path | None) -> OcrCache:
        return cls(Path(root) if root is not None else default_dir())

    @staticmethod
    def key(data_hash: str, page: int, engine: str) -> str:
        return hashlib.sha256(f"{data_hash}\0{page}\0{engine}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        try:
            got = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept by prune
        return got

    def prune(self, max_bytes: int | None = None) -> int:
        """Remove the least recently used entries until the cache holds at most ``max_bytes`` (default
        ``MAX_BYTES``); returns how many."""
        max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        try:
            entries = [(st.st_mtime, st.st_size, p) for p in self.root.glob("??/*.json")
                       if (st := _stat(p)) is not None]
        except OSError:
            return 0
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, p in sorted(entries):
            if total <= max_bytes:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size
                removed += 1
        return removed

    def put(self, key: str, value: dict) -> None:
        """Write atomically; a cache that cannot be written (read-only disk) only costs speed."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:  # removed meanwhile by another build
        return None
