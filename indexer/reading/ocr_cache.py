"""OCR results on disk, keyed by what determines them: the file's bytes, the page, the engine and its settings.

OCR is the slowest step of indexing (seconds a page), so a re-index never OCRs the same page of the same file
twice. The index passes ``<index_dir>/ocr-cache``; without one, ``$XDG_CACHE_HOME/directives/ocr`` (or
``~/.cache/directives/ocr``). Entries are small JSON files (the words and their boxes, so a better layout step
needs no new OCR), written atomically; an unreadable entry is simply recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OcrCache", "default_dir"]


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
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

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
