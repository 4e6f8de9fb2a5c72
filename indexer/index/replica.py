"""Read-only replicas: copy a primary's published index so that a replica never names a half-copied generation.

Segments and generations are immutable once published (``indexer/index/generation.py``), so a replica is a plain
copy made in dependency order: every segment the live generation lists (each copied into a private
``.tmp-copy-*`` directory and renamed into place, so a segment directory appears whole), then the generation
directory (the same way), and only then ``CURRENT`` (``os.replace``, atomic). A server on the replica
(``directives serve --replica``) switches by itself when ``CURRENT`` changes, exactly as on the primary, and
checks every segment's sizes against its ``segment.json`` when it opens a generation (``indexer/index/segment.py``),
so even a copy made by another tool in the wrong order leaves the previous generation serving. Segments and
generations the replica's ``CURRENT`` no longer lists are removed afterwards; a server still using them
keeps its open files (POSIX unlink), as on the primary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.fileio import fsync_path
from indexer.index.generation import (
    CURRENT,
    MANIFEST,
    Manifest,
    current_generation,
    current_name,
    segments_dir,
)
from indexer.index.segment import check_complete

TMP = ".tmp-copy-"


@dataclass
class SyncReport:
    generation: str | None
    copied_segments: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    switched: bool = False
    seconds: float = 0.0


def _copy_dir(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` through a private directory and one rename: ``dst`` never exists half-written."""
    tmp = dst.with_name(TMP + dst.name)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            fsync_path(p)
    fsync_path(tmp)
    os.rename(tmp, dst)
    fsync_path(dst.parent)


def sync(primary: Path | str, replica: Path | str, *, clean: bool = True, attempts: int = 5) -> SyncReport:
    """Make ``replica`` serve the primary's live generation (copying only what it lacks); see the module doc.

    If the primary publishes a newer generation and removes files of the one being copied meanwhile (a
    merge), the copy starts again from the newer one; the replica's ``CURRENT`` never moved in between.
    """
    for attempt in range(attempts):
        before = current_name(Path(primary))
        try:
            return _sync(Path(primary), Path(replica), clean)
        except FileNotFoundError:
            if attempt == attempts - 1 or current_name(Path(primary)) == before:
                raise
    raise AssertionError("unreachable")


def _sync(primary: Path, replica: Path, clean: bool) -> SyncReport:
    t0 = time.perf_counter()
    gen = current_generation(primary)
    if gen is None:
        raise FileNotFoundError(f"no published index at {primary}")
    manifest = Manifest.read(gen)  # the generation to copy is fixed now, whatever the primary does meanwhile
    rep = SyncReport(gen.name)
    segments_dir(replica).mkdir(parents=True, exist_ok=True)
    for name in manifest.segments:
        dst = segments_dir(replica) / name
        try:
            check_complete(dst)
        except FileNotFoundError:  # missing, or left half-copied by another tool
            shutil.rmtree(dst, ignore_errors=True)
            _copy_dir(segments_dir(primary) / name, dst)
            rep.copied_segments.append(name)
    if not (replica / gen.name / MANIFEST).is_file():
        shutil.rmtree(replica / gen.name, ignore_errors=True)
        _copy_dir(gen, replica / gen.name)
    if current_name(replica) != gen.name:
        pointer = replica / (CURRENT + ".tmp")
        with open(pointer, "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(pointer, replica / CURRENT)
        fsync_path(replica)
        rep.switched = True
    if clean:
        rep.removed = _clean(replica, gen.name, set(manifest.segments))
    rep.seconds = round(time.perf_counter() - t0, 2)
    return rep


def _clean(replica: Path, live: str, keep: set[str]) -> list[str]:
    removed = []
    for p in replica.iterdir():
        if p.is_dir() and p.name != live and (p.name.startswith("gen-") or p.name.startswith(TMP)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    for p in segments_dir(replica).iterdir():
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(f"segments/{p.name}")
    with contextlib.suppress(FileNotFoundError):
        (replica / (CURRENT + ".tmp")).unlink()
    return removed
