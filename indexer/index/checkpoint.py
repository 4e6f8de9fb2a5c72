"""Embedded batches survive a killed build: vectors are checkpointed by text until the build publishes.

Embedding is most of a first build's time (an hour for 100k chunks on 2 cores). Every ``EVERY`` chunks the
vectors computed so far are written to ``embed-cache/<encoder>/part-<n>.npz`` (temporary file, fsync,
rename: a part is whole or absent), keyed by a hash of the chunk text. A build started again after a
SIGKILL re-parses its files (seconds) and embeds only the texts no part holds. The directory is keyed by
the model fingerprint and passage-encoder id, so vectors of another model are never reused, and it is
removed once a generation is published.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from indexer.embedding.vectors import Embedded

CACHE = "embed-cache"
EVERY = 256  # chunks between checkpoints
EVERY_SECONDS = 30.0  # ... or this long, whichever comes first


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbedCheckpoint:
    def __init__(self, index_dir: Path, fingerprint: str, encoder_id: str):
        tag = hashlib.sha256(f"{fingerprint}\0{encoder_id}".encode()).hexdigest()[:16]
        self.root = Path(index_dir) / CACHE
        self.dir = self.root / tag
        self._pending: list[tuple[bytes, Embedded]] = []
        self._last = time.monotonic()
        self.saved: dict[bytes, Embedded] = {}
        self._parts = 0
        if self.dir.is_dir():
            for p in sorted(self.dir.glob("part-*.npz")):
                self._parts += 1
                with np.load(p) as z:
                    keys, vecs, win, win_n = z["keys"], z["vectors"], z["windows"], z["win_n"]
                offs = np.concatenate([[0], np.cumsum(win_n)])
                for i in range(len(keys)):
                    w = win[offs[i]:offs[i + 1]] if win_n[i] > 1 else None
                    self.saved[keys[i].tobytes()] = Embedded(vecs[i], w)

    def get(self, text: str) -> Embedded | None:
        return self.saved.get(text_key(text))

    def add(self, text: str, e: Embedded) -> None:
        self._pending.append((text_key(text), e))
        if len(self._pending) >= EVERY or time.monotonic() - self._last > EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(k for k, _ in self._pending), dtype="S16")
        vecs = np.stack([e.vector for _, e in self._pending]).astype(np.float32)
        win_n = np.asarray([0 if e.windows is None else len(e.windows) for _, e in self._pending], dtype=np.int32)
        wins = [e.windows for _, e in self._pending if e.windows is not None]
        win = np.concatenate(wins).astype(np.float32) if wins else np.zeros((0, vecs.shape[1]), np.float32)
        final = self.dir / f"part-{self._parts:06d}.npz"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, keys=keys, vectors=vecs, windows=win, win_n=win_n)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._parts += 1
        for k, e in self._pending:
            self.saved[k] = e
        self._pending = []
        self._last = time.monotonic()

    def clear(self) -> None:
        """The build published: its vectors live in segments now."""
        shutil.rmtree(self.root, ignore_errors=True)
