"""Segments, deletion marks and merges answer exactly like a full rebuild; merges and first builds survive SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from indexer.index.generation import Manifest, current_generation
from indexer.index.merge import merge_segments, wait_for_merges
from indexer.index.store import IndexStore
from search_api.service import SearchService

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
QUERIES = ["phòng chống đuối nước cho trẻ em", "tong dai 111", "child drowning prevention",
           "Tháng hành động vì trẻ em", "kinh phí thực hiện kế hoạch", "xâm hại trẻ em"]


def answers(index: Path) -> dict:
    """Per query and mode: the size of the result set and the top 20 (chunk id, unrounded score)."""
    from search_api.retrieve import retrieve

    svc = SearchService.open(index)
    try:
        out = {}
        for q in QUERIES:
            for mode in ("hybrid", "lexical", "dense"):
                r = retrieve(svc.store, svc.vocab, q, allowed=None, encode_query=svc._encode_query, mode=mode,
                             need=20, cfg=svc.fusion)
                out[(q, mode)] = (len(r.hits), [(h.chunk.chunk.chunk_id, h.score) for h in r.hits[:20]])
        return out
    finally:
        svc.close()


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        (ta, ra), (tb, rb) = a[key], b[key]
        assert ta == tb, key
        assert [c for c, _ in ra] == [c for c, _ in rb], key  # same order, ties included
        assert np.allclose([s for _, s in ra], [s for _, s in rb], atol=1e-6, rtol=0), key


def seed(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_segments_after_adds_edits_deletions_equal_a_full_rebuild(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("cam-lo-2023", "tra-cu-2022"):
        (corpus / f"{name}.txt").write_text(seed(name), encoding="utf-8")
    assert build_index(corpus, index, progress=False, merge="off").segments == 1
    # add two files, one a near-copy of another (identical chunks in two documents: exact score ties)
    (corpus / "kien-giang-2017.txt").write_text(seed("kien-giang-2017"), encoding="utf-8")
    (corpus / "cam-lo-2024.txt").write_text(seed("cam-lo-2023").replace("**364**", "**412**"), encoding="utf-8")
    r = build_index(corpus, index, progress=False, merge="off")
    assert r.segments == 2 and sorted(r.added) == ["cam-lo-2024.txt", "kien-giang-2017.txt"]
    # edit one, delete one, add one
    f = corpus / "tra-cu-2022.txt"
    f.write_text(f.read_text(encoding="utf-8").replace("đuối nước", "đuối nước, tai nạn thương tích", 2),
                 encoding="utf-8")
    (corpus / "kien-giang-2017.txt").unlink()
    (corpus / "dak-nong-2024.txt").write_text(seed("dak-nong-2024"), encoding="utf-8")
    r = build_index(corpus, index, progress=False, merge="off")
    assert r.updated == ["tra-cu-2022.txt"] and r.removed == ["kien-giang-2017.txt"] and r.segments == 3
    m = Manifest.read(current_generation(index))
    assert sorted(d for v in m.deleted.values() for d in v) == ["kien-giang-2017", "tra-cu-2022"]  # marks only
    segmented = answers(index)

    fresh = tmp_path / "fresh"
    rb = build_index(corpus, fresh, progress=False, merge="off")
    assert rb.segments == 1 and rb.documents == r.documents and rb.chunks == r.chunks
    assert_same(segmented, answers(fresh))

    # merging everything into one segment changes nothing either, and drops the deletion marks
    rep = merge_segments(index, m.segments)
    assert rep.committed and rep.chunks == r.chunks
    merged = Manifest.read(current_generation(index))
    assert merged.segments == [rep.into] and merged.deleted == {}
    assert_same(segmented, answers(index))
    assert sorted(p.name for p in (index / "segments").iterdir()) == [rep.into]  # inputs removed


def test_one_file_update_writes_one_segment_and_reads_one_file(seed_index, tmp_path, monkeypatch):
    from indexer import build

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(seed_index, index)
    before = {p.name for p in (index / "segments").iterdir()}
    read = []
    real = build.source_hash
    monkeypatch.setattr(build, "source_hash", lambda p: read.append(p.name) or real(p))
    f = corpus / "lang-son-2023.txt"
    f.write_text(f.read_text(encoding="utf-8") + "\nGhi chú bổ sung.\n", encoding="utf-8")
    os.utime(corpus / "cam-lo-2023.txt")  # touched, same bytes: hashed once, then known by its stat again
    r = build_index(corpus, index, progress=False, merge="off")
    assert r.updated == ["lang-son-2023.txt"] and sorted(read) == ["cam-lo-2023.txt", "lang-son-2023.txt"]
    after = {p.name for p in (index / "segments").iterdir()}
    assert before < after and len(after - before) == 1  # the base segment was not rewritten
    read.clear()
    assert not build_index(corpus, index, progress=False, merge="off").changed and read == []


def test_document_round_trip_keeps_ingest_and_original_offsets(seed_index):
    from indexer.index.segment import expand_runs, offset_runs
    from indexer.parsing.pipeline import parse_file

    st = IndexStore.open(seed_index)
    d = st.document("cam-lo-2023")
    orig = parse_file(CORPUS / "cam-lo-2023.txt", root=CORPUS)
    assert d.offsets == orig.offsets and d.ingest == orig.ingest and d.ingest.reader
    for c in d.chunks[:5]:  # every chunk's span maps back onto the same words of the original file
        a, b = d.to_original(c.start, c.end)
        assert " ".join(d.original[a:b].split())[:40] == " ".join(orig.original[a:b].split())[:40]
        words = c.text.replace("*", "").split()[:3]
        assert " ".join(words) in " ".join(d.original[a:b].replace("*", "").split()), c.chunk_id
    offsets = [0, 1, 2, 5, 6, 7, 7, 8, 20]
    assert expand_runs(offset_runs(offsets), len(offsets)) == offsets
    blob = st.segments[0].con.execute("SELECT length(json) FROM documents WHERE doc_id='cam-lo-2023'").fetchone()[0]
    assert blob < len(orig.text) * 1.2  # compressed, with run-length offsets: not ~8 bytes per character


def test_long_chunks_are_found_by_a_phrase_from_their_end(seed_index):
    """Chunks longer than 512 tokens are embedded in windows: their tail is searchable on the dense side."""
    svc = SearchService.open(seed_index)
    st = svc.store
    try:
        rows = [s.rowid for s in st.iter_chunks()]
        long_ids = [cid for cid in ("lang-son-2023~V.1", "lang-son-2023~III.2", "dak-nong-2024~1",
                                    "lang-son-2023~III.3", "dak-nong-2024~10")]
        assert sum(len(s.window_of) for s in st.segments) >= 10  # five long chunks, two windows or more each
        for cid in long_ids:
            text = svc.chunk(cid).text
            tail = text[-300:].split(" ", 1)[1]
            q = svc.encoder.encode_queries([tail])[0]
            r = st.rowids_of([cid])[0]
            sims = st.dense_scores(rows, q)
            best, first = float(st.dense_scores([r], q)[0]), float(st.vectors([r])[0] @ q)
            assert best > first, cid
            # found near the top by its tail … (chunks above it, worst of the five: fp32 3, int8 format 2 3, format 3
            # 4 — lang-son-2023~III.2; its first window alone has 29-31 above it)
            assert int((sims > best).sum()) <= 4, cid
            assert int((sims > first).sum()) > 5, cid  # … which its first window alone would not do
            assert r in st.dense_top(q, 5)
    finally:
        svc.close()


MERGE_SCRIPT = """
import sys, time
from pathlib import Path
import indexer.index.merge as m
from indexer.index.generation import Manifest, current_generation
real = m.write_merged
def slow(*a, **k):
    info = real(*a, **k)
    print("written", flush=True)
    time.sleep(60)  # the merged segment is on disk, not yet committed: killed here
    return info
m.write_merged = slow
index = Path(sys.argv[1])
m.merge_segments(index, Manifest.read(current_generation(index)).segments)
"""


@pytest.mark.slow
def test_a_merge_killed_midway_leaves_the_index_serving(seed_index, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(seed_index, index)
    (corpus / "extra.txt").write_text(seed("cam-lo-2023").replace("**364**", "**999**"), encoding="utf-8")
    (corpus / "tra-cu-2022.txt").unlink()
    build_index(corpus, index, progress=False, merge="off")
    gen0 = current_generation(index)
    expected = answers(index)
    svc = SearchService.open(index)  # a running server
    p = subprocess.Popen([sys.executable, "-c", MERGE_SCRIPT, str(index)], cwd=REPO, stdout=subprocess.PIPE,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert p.stdout.readline().strip() == b"written"
        assert any(x.name.startswith(".tmp-merge-") for x in (index / "segments").iterdir())
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert current_generation(index) == gen0
    assert_same(expected, answers(index))
    assert not svc.refresh(min_interval=0) and svc.search("đuối nước", k=3).results
    # the next merge cleans the killed one's leftovers and commits; the server switches without a restart
    rep = merge_segments(index)
    if not rep.committed:
        rep = merge_segments(index, Manifest.read(current_generation(index)).segments)
    assert rep.committed and not any(x.name.startswith(".tmp-") for x in (index / "segments").iterdir())
    assert svc.refresh(min_interval=0)
    assert_same(expected, answers(index))
    svc.close()


BUILD_SCRIPT = """
import sys
from pathlib import Path
import indexer.index.checkpoint as c
c.EVERY = 8
from indexer.build import build_index
build_index(Path(sys.argv[1]), Path(sys.argv[2]), progress=False, merge="off")
"""


@pytest.mark.slow
def test_a_killed_first_build_resumes_embedding_only_what_was_missing(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("cam-lo-2023", "lang-son-2023"):
        (corpus / f"{name}.txt").write_text(seed(name), encoding="utf-8")
    p = subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT, str(corpus), str(index)], cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    parts: list[Path] = []
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < 300:
        parts = list((index / "embed-cache").glob("*/part-*.npz")) if (index / "embed-cache").is_dir() else []
        if len(parts) >= 2:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert len(parts) >= 2 and current_generation(index) is None  # killed mid-embedding, nothing published
    r = build_index(corpus, index, progress=False, merge="off")
    total = r.chunks
    assert r.resumed >= 16 and r.encoded == total - r.resumed and r.encoded < total
    assert not (index / "embed-cache").exists()  # published: checkpoints are gone
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, progress=False, merge="off")
    assert_same(answers(fresh), answers(index))  # resumed vectors are the ones a clean build computes


def test_passage_encoder_variants_never_share_an_index(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "cam-lo-2023.txt").write_text(seed("cam-lo-2023"), encoding="utf-8")
    a = build_index(corpus, index, progress=False, passage_encoder="int8", merge="off")
    ida = IndexStore.open(index).meta["passage_encoder"]
    assert ida.startswith("onnx-int8:") and a.encoded == a.chunks
    same = build_index(corpus, index, progress=False, passage_encoder="int8", merge="off")
    assert not same.changed and same.encoded == 0
    b = build_index(corpus, index, progress=False, passage_encoder="fp32", merge="off")
    assert b.reencoded_all and b.encoded == b.chunks and IndexStore.open(index).meta["passage_encoder"] == "fp32"
    assert any("re-embedding every chunk" in n for n in b.notes)
    wait_for_merges()


def test_a_reader_keeps_answering_after_a_merge_removed_the_segments_it_opened(seed_index, tmp_path):
    """Postings are parsed on first use, from files opened with the segment: a merge (or a build's cleanup)
    that deletes the folders between opening a generation and its first query changes nothing for that reader."""
    from search_api.retrieve import retrieve

    want = answers(seed_index)
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    store = IndexStore.open(index)  # a fresh copy: its segments are opened here, postings not parsed yet
    assert all(s._postings is None for s in store.segments)
    shutil.rmtree(index / "segments")  # what cleanup does once a merged generation no longer lists them
    svc = SearchService(store)
    try:
        for q in QUERIES[:2]:
            r = retrieve(svc.store, svc.vocab, q, allowed=None, encode_query=svc._encode_query, mode="hybrid",
                         need=20, cfg=svc.fusion)
            assert [h.chunk.chunk.chunk_id for h in r.hits[:20]] == [c for c, _ in want[(q, "hybrid")][1]]
    finally:
        svc.close()


# --- the row reader --------------------------------------------------------------------------------------------

def _matrix(tmp_path, rows: int = 50, dim: int = 8) -> tuple[Path, np.ndarray]:
    m = np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) / 7
    np.save(tmp_path / "m.npy", m)
    return tmp_path / "m.npy", m


def test_row_reader_reads_the_rows_asked_for(tmp_path):
    from indexer.index.segment import RowReader

    path, m = _matrix(tmp_path)
    r = RowReader(path)
    pos = np.array([49, 0, 7, 7, 23])
    assert np.array_equal(r.rows(pos), m[pos]) and r.rows(np.array([], dtype=np.int64)).shape == (0, 8)
    with pytest.raises(IndexError):
        r.rows(np.array([50]))
    r.close()


def test_row_reader_finishes_after_a_short_read(tmp_path, monkeypatch):
    """The compiled loop stops at a pread that returns less than a row (a signal, say); the row is read again
    through os.pread and the loop resumes after it, so the caller gets every row right."""
    from indexer.index import segment

    path, m = _matrix(tmp_path)
    real, calls = segment._read_rows, []

    def flaky(fd, at, row_bytes, pos, out):
        calls.append(len(pos))
        if len(calls) == 1:  # the first call gives up after two rows
            return real(fd, at, row_bytes, pos[:2], out[:2])
        return real(fd, at, row_bytes, pos, out)

    monkeypatch.setattr(segment, "_read_rows", flaky)
    r = segment.RowReader(path)
    pos = np.array([3, 9, 11, 40, 2, 5])
    assert np.array_equal(r.rows(pos), m[pos]) and calls == [6, 3]  # rows 0–1 fast, row 2 slow, rows 3–5 fast
    r.close()


def test_row_reader_reports_a_truncated_matrix(tmp_path):
    from indexer.index.segment import RowReader

    path, _ = _matrix(tmp_path)
    r = RowReader(path)
    os.truncate(path, path.stat().st_size - 20)  # the last row loses 5 of its 8 floats
    assert np.array_equal(r.rows(np.array([48]))[0], np.arange(48 * 8, 49 * 8, dtype=np.float32) / 7)
    with pytest.raises(OSError, match="short read of row 49"):
        r.rows(np.array([1, 49]))
    r.close()
