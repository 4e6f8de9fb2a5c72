"""Merging segments: in the background, atomic, and invisible to search results.

Every update adds a small segment, and each segment costs a little on every query, so small segments are
merged, the way Lucene's TieredMergePolicy does it: segments are grouped in size tiers (powers of
``MERGE_FACTOR``), and a tier holding ``MERGE_FACTOR`` segments is merged into one of the next tier, so a
chunk is rewritten O(log n) times over the life of the index, not at every update. A segment whose
deleted share reaches ``EXPUNGE_SHARE`` is rewritten without its deleted documents, and there are never
more than ``MAX_SEGMENTS``.

A merge reads the current generation, writes the merged segment into a private ``.tmp-merge-*`` directory
without holding the build lock (builds go on meanwhile), then takes the lock briefly to commit: if its input
segments are all still live, it renames its segment into place, carries over documents deleted while it
ran (rowids are kept, so a deletion mark simply moves to the merged segment), and publishes a generation
that lists the merged segment instead of its inputs. Killed at any moment, it leaves the live generation
untouched; the next build or merge removes its leftovers. Merged or not, a query returns the same results
(tested).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.index.generation import (
    Manifest,
    SourceEntry,
    build_lock,
    cleanup,
    current_generation,
    is_legacy,
    merge_lock,
    new_stamp,
    publish,
    read_registry,
    segments_dir,
)
from indexer.index.lexical import merge_postings
from indexer.index.segment import DB, SCHEMA, new_segment_name, open_segment, seal, segment_texts
from indexer.terms import vocab_counts
from indexer.textnorm import fold

log = logging.getLogger(__name__)
MERGE_FACTOR = 8
MAX_SEGMENTS = 12
EXPUNGE_SHARE = 0.25

_threads: list[threading.Thread] = []


@dataclass
class MergeReport:
    merged: list[str]
    into: str = ""
    chunks: int = 0
    committed: bool = False
    note: str = ""


def _live_sizes(index_dir: Path, m: Manifest) -> dict[str, tuple[int, int]]:
    """(chunks, deleted chunks) of each segment of ``m``."""
    out = {}
    for name in m.segments:
        seg = open_segment(segments_dir(index_dir) / name)
        gone = m.deleted.get(name, [])
        dead = 0
        for i in range(0, len(gone), 500):
            part = gone[i:i + 500]
            dead += seg.con.execute(f"SELECT count(*) FROM chunks WHERE doc_id IN ({','.join('?' * len(part))})",
                                    part).fetchone()[0]
        out[name] = (seg.n, dead)
    return out


def plan(index_dir: Path, m: Manifest) -> list[str]:
    """The segments the policy would merge now (empty: nothing to do)."""
    sizes = _live_sizes(index_dir, m)
    if len(m.segments) < 2 and not any(d >= EXPUNGE_SHARE * max(n, 1) for n, d in sizes.values()):
        return []
    for name, (n, dead) in sizes.items():
        if n and dead >= EXPUNGE_SHARE * n:  # mostly deleted: rewrite it (with its neighbours of the same tier)
            tier = _tier(n - dead)
            return [s for s, (k, d) in sizes.items() if _tier(k - d) <= tier] or [name]
    tiers: dict[int, list[str]] = {}
    for name, (n, dead) in sizes.items():
        tiers.setdefault(_tier(n - dead), []).append(name)
    for t in sorted(tiers):
        if len(tiers[t]) >= MERGE_FACTOR:
            return tiers[t]
    if len(m.segments) > MAX_SEGMENTS:
        by_size = sorted(m.segments, key=lambda s: sizes[s][0] - sizes[s][1])
        return by_size[:len(m.segments) - MAX_SEGMENTS + 1]
    return []


def _tier(n: int) -> int:
    return int(math.log(max(n, 1), MERGE_FACTOR))


def write_merged(index_dir: Path, names: list[str], deleted: dict[str, list[str]], folder: Path) -> dict:
    """Write the live documents of segments ``names`` into one new sealed segment at ``folder``."""
    segs = [open_segment(segments_dir(index_dir) / n) for n in names]
    folder.mkdir(parents=True)
    con = sqlite3.connect(f"file:{folder / DB}", uri=True)  # uri: ATTACH takes read-only URIs
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.executescript(SCHEMA)
    con.execute("CREATE TEMP TABLE gone (doc_id TEXT PRIMARY KEY)")
    uni: Counter[tuple[str, str]] = Counter()
    bi: Counter[tuple[str, str]] = Counter()
    keep_rowids, lives = [], []
    dim = segs[0].vectors.shape[1] if segs else 0
    n_docs = 0
    for seg, name in zip(segs, names, strict=True):
        gone = deleted.get(name, [])
        con.execute("DELETE FROM temp.gone")
        con.executemany("INSERT INTO temp.gone VALUES (?)", ((d,) for d in gone))
        con.execute("ATTACH ? AS src", (f"file:{seg.folder / DB}?mode=ro&immutable=1",))
        con.execute("INSERT INTO documents SELECT * FROM src.documents WHERE doc_id NOT IN temp.gone")
        con.execute("INSERT INTO chunks SELECT * FROM src.chunks WHERE doc_id NOT IN temp.gone")
        n_docs += con.execute("SELECT count(*) FROM src.documents WHERE doc_id NOT IN temp.gone").fetchone()[0]
        for f, a, n in con.execute("SELECT folded, accented, n FROM src.vocab"):
            uni[(f, a)] += n
        for f, a, n in con.execute("SELECT folded, accented, n FROM src.bigrams"):
            bi[(f, a)] += n
        dead = [r for (r,) in con.execute("SELECT rowid FROM src.chunks WHERE doc_id IN temp.gone")]
        con.commit()
        con.execute("DETACH src")
        for text in segment_texts(seg, dead):  # counts of the dropped chunks come off
            u, b = vocab_counts(text)
            for w, n in u.items():
                uni[(fold(w), w)] -= n
            for w, n in b.items():
                bi[(fold(w), w)] -= n
        live = np.ones(seg.n, dtype=bool)
        if dead:
            live[seg.positions(np.asarray(dead, dtype=np.int64))] = False
        lives.append(live)
        keep_rowids.append(seg.rowids[live])
    con.executemany("INSERT INTO vocab VALUES (?,?,?)", ((f, a, n) for (f, a), n in uni.items() if n > 0))
    con.executemany("INSERT INTO bigrams VALUES (?,?,?)", ((f, a, n) for (f, a), n in bi.items() if n > 0))
    con.commit()
    con.close()
    rowids = np.sort(np.concatenate(keep_rowids)) if keep_rowids else np.zeros(0, np.int64)
    n = len(rowids)
    np.save(folder / "rowids.npy", rowids)
    vec = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, dim))
    parts, wins, win_of = [], [], []
    for seg, live in zip(segs, lives, strict=True):
        new_pos = np.full(seg.n, -1, dtype=np.int64)
        new_pos[live] = np.searchsorted(rowids, seg.rowids[live])
        idx = np.flatnonzero(live)
        for a in range(0, len(idx), 16_384):
            vec[new_pos[idx[a:a + 16_384]]] = seg.vectors[idx[a:a + 16_384]]
        if len(seg.window_of):
            ok = live[seg.window_of]
            wins.append(seg.windows[ok])
            win_of.append(new_pos[seg.window_of[ok]])
        parts.append((seg.postings, new_pos))
    vec.flush()
    del vec
    w = np.concatenate(wins) if wins else np.zeros((0, dim), np.float32)
    wo = np.concatenate(win_of) if win_of else np.zeros(0, np.int64)
    order = np.argsort(wo, kind="stable")
    np.save(folder / "windows.npy", w[order].astype(np.float32))
    np.save(folder / "window_of.npy", wo[order].astype(np.int32))
    merge_postings(parts, n).save(folder)
    return seal(folder, n_chunks=n, n_docs=n_docs, dim=dim, merged_from=names)


def merge_segments(index_dir: Path, names: list[str] | None = None, *, wait: bool = True) -> MergeReport:
    """Merge ``names`` (default: what :func:`plan` picks) of the live generation; see the module doc."""
    index_dir = Path(index_dir)
    with merge_lock(index_dir, wait=wait) as got:
        if not got:
            return MergeReport([], note="another merge is running")
        gen = current_generation(index_dir)
        if gen is None or is_legacy(gen):
            return MergeReport([], note="no index")
        snap = Manifest.read(gen)
        names = list(names) if names is not None else plan(index_dir, snap)
        if not names or any(n not in snap.segments for n in names):
            return MergeReport([], note="nothing to merge")
        out = new_segment_name()
        tmp = segments_dir(index_dir) / f".tmp-merge-{out}"
        snap_deleted = {n: set(snap.deleted.get(n, [])) for n in names}
        try:
            info = write_merged(index_dir, names, {n: sorted(v) for n, v in snap_deleted.items()}, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with build_lock(index_dir):
            gen = current_generation(index_dir)
            cur = Manifest.read(gen) if gen is not None and not is_legacy(gen) else None
            if cur is None or any(n not in cur.segments for n in names):
                shutil.rmtree(tmp, ignore_errors=True)
                return MergeReport(names, note="the index changed under the merge (rebuilt); merge dropped")
            carried = sorted(set().union(*(set(cur.deleted.get(n, [])) - snap_deleted[n] for n in names)))
            os.rename(tmp, segments_dir(index_dir) / out)
            first = min(cur.segments.index(n) for n in names)
            segments = [s for s in cur.segments if s not in names]
            segments.insert(first, out)
            deleted = {s: v for s, v in cur.deleted.items() if s not in names}
            if carried:
                deleted[out] = carried
            registry = {s: SourceEntry(e.content_hash, e.stat, [[d, h, out if seg in names else seg]
                                                                for d, h, seg in e.docs])
                        for s, e in read_registry(gen).items()}
            stamp = new_stamp()
            publish(index_dir, Manifest(stamp, segments, deleted, {**cur.meta, "generation": stamp}), registry)
            cleanup(index_dir, holding_merge_lock=True)
        return MergeReport(names, out, int(info["n_chunks"]), True)


def maybe_merge(index_dir: Path, *, background: bool = True) -> bool:
    """Start a merge if the policy asks for one (in a thread when ``background``); True if one ran or started."""
    gen = current_generation(index_dir)
    if gen is None or is_legacy(gen) or not plan(index_dir, Manifest.read(gen)):
        return False
    if not background:
        merge_segments(index_dir)
        return True

    def run() -> None:
        try:
            merge_segments(index_dir, wait=False)
        except Exception:  # a failed merge changes nothing; the next build tries again
            log.exception("background merge of %s failed", index_dir)

    t = threading.Thread(target=run, name=f"merge {index_dir}", daemon=False)
    _threads.append(t)
    t.start()
    return True


def wait_for_merges(timeout: float | None = None) -> None:
    """Join the background merges this process started (tests, and callers about to remove an index)."""
    for t in list(_threads):
        t.join(timeout)
        with contextlib.suppress(ValueError):
            if not t.is_alive():
                _threads.remove(t)


def describe(index_dir: Path) -> dict:
    """Segments of the live generation with their sizes (``directives index --segments``)."""
    gen = current_generation(index_dir)
    if gen is None or is_legacy(gen):
        return {}
    m = Manifest.read(gen)
    sizes = _live_sizes(index_dir, m)
    return {"generation": m.generation, "segments": [{"name": s, "chunks": sizes[s][0], "deleted": sizes[s][1]}
                                                     for s in m.segments], "plan": plan(index_dir, m)}

