"""Replicas: servers on one index follow new generations by themselves; a copied replica (``directives
replicate``) switches only once a generation is whole, and a half-copied one is never served."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from indexer.build import build_index
from indexer.index.generation import CURRENT, Manifest, current_generation, segments_dir
from indexer.index.replica import sync
from search_api.service import SearchService
from tests.manage_site import free_port

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


def _primary(seed_index: Path, tmp_path: Path) -> tuple[Path, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "primary"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(seed_index, index)
    return corpus, index


def _add_file(corpus: Path, index: Path, number: str) -> None:
    text = (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8").replace("**364**", f"**{number}**")
    (corpus / f"cam-lo-copy-{number}.txt").write_text(text, encoding="utf-8")
    r = build_index(corpus, index, progress=False, merge="off")
    assert r.added == [f"cam-lo-copy-{number}.txt"]


def _serve(index: Path, port: int) -> subprocess.Popen:
    """A ``directives serve --replica`` on 127.0.0.1 that stops by itself after 5 minutes (``timeout``), even if
    this test dies before :func:`_stop`."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.Popen(["timeout", "300", sys.executable, "-m", "indexer.cli", "serve", "--replica",
                             "--index-dir", str(index), "--host", "127.0.0.1", "--port", str(port)], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _n_docs(base: str) -> int | None:
    try:
        r = httpx.get(base + "/api/documents", timeout=10)
    except httpx.TransportError:
        return None
    return len(r.json()) if r.status_code == 200 else None


def _wait(pred, timeout: float = 120.0, what: str = "") -> None:
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.25)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.slow
def test_two_servers_on_one_index_switch_to_a_new_generation_by_themselves(seed_index, tmp_path):
    corpus, index = _primary(seed_index, tmp_path)
    ports = [free_port(), free_port()]
    procs = [_serve(index, p) for p in ports]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for b in bases:
            _wait(lambda b=b: _n_docs(b) == 5, what=f"{b} to serve the seed index")
        # --replica: read-only, no upload or account pages
        assert httpx.get(bases[0] + "/documents/new").status_code == 404
        before = [httpx.get(b + "/api/search", params={"q": "đuối nước"}).json()["results"][0] for b in bases]
        assert before[0] == before[1]
        _add_file(corpus, index, "9101")
        for b in bases:
            _wait(lambda b=b: _n_docs(b) == 6, timeout=60, what=f"{b} to switch to the new generation")
            assert any("9101" in (d["number"] or "") for d in httpx.get(b + "/api/documents").json())
        # both answer the same, and the same as a fresh open of the index
        answers = [httpx.get(b + "/api/search", params={"q": "đuối nước", "k": 20}).json()["results"] for b in bases]
        assert [r["chunk_id"] for r in answers[0]] == [r["chunk_id"] for r in answers[1]]
        svc = SearchService.open(index)
        try:
            assert [r.chunk_id for r in svc.search("đuối nước", k=20).results] == [r["chunk_id"] for r in answers[0]]
        finally:
            svc.close()
        # a generation copied into the served directory in the wrong order (generation and CURRENT first, its
        # new segment torn): both servers keep answering from the previous one
        other = tmp_path / "other"
        shutil.copytree(index, other)
        _add_file(corpus, other, "9104")
        gen = current_generation(other)
        new_seg = [s for s in Manifest.read(gen).segments if not (segments_dir(index) / s).exists()]
        assert len(new_seg) == 1
        src, dst = segments_dir(other) / new_seg[0], segments_dir(index) / new_seg[0]
        shutil.copytree(src, dst)
        vec = (dst / "vectors.npy").read_bytes()
        (dst / "vectors.npy").write_bytes(vec[: len(vec) // 2])
        shutil.copytree(gen, index / gen.name)
        shutil.copy2(other / CURRENT, index / CURRENT)
        for b in bases:
            for _ in range(3):  # every request re-reads CURRENT (at most once a second) and refuses the torn copy
                time.sleep(1.1)
                assert _n_docs(b) == 6
                got = httpx.get(b + "/api/search", params={"q": "đuối nước", "k": 20}).json()["results"]
                assert [r["chunk_id"] for r in got] == [r["chunk_id"] for r in answers[0]]
        shutil.copy2(src / "vectors.npy", dst / "vectors.npy")  # the copy completes: both switch by themselves
        for b in bases:
            _wait(lambda b=b: _n_docs(b) == 7, timeout=60, what=f"{b} to switch once the copy is whole")
    finally:
        _stop(procs)


def test_a_half_copied_generation_is_never_served(seed_index, tmp_path):
    corpus, primary = _primary(seed_index, tmp_path)
    replica = tmp_path / "replica"
    first = sync(primary, replica)
    assert first.switched and (replica / CURRENT).read_text() == (primary / CURRENT).read_text()
    svc = SearchService.open(replica)
    try:
        old = svc.store.gen_dir.name
        q = [r.chunk_id for r in svc.search("tổng đài 111", k=10).results]
        _add_file(corpus, primary, "9102")
        gen = current_generation(primary)
        new_seg = [s for s in Manifest.read(gen).segments if not (segments_dir(replica) / s).exists()]
        assert len(new_seg) == 1
        # a copy made in the wrong order by some other tool: generation and CURRENT first, the segment torn
        shutil.copytree(gen, replica / gen.name)
        src, dst = segments_dir(primary) / new_seg[0], segments_dir(replica) / new_seg[0]
        shutil.copytree(src, dst)
        vec = (dst / "vectors.npy").read_bytes()
        (dst / "vectors.npy").write_bytes(vec[: len(vec) // 2])
        shutil.copy2(primary / CURRENT, replica / CURRENT)
        assert not svc.refresh(min_interval=0)  # keeps serving the previous generation, no error
        assert svc.store.gen_dir.name == old and len(svc.documents()) == 5
        assert [r.chunk_id for r in svc.search("tổng đài 111", k=10).results] == q
        (dst / "segment.json").unlink()  # not even sealed yet
        assert not svc.refresh(min_interval=0) and svc.store.gen_dir.name == old
        # the sync repairs the torn segment and the service switches on its own
        rep = sync(primary, replica)
        assert rep.copied_segments == new_seg
        assert svc.refresh(min_interval=0) and svc.store.gen_dir.name == gen.name and len(svc.documents()) == 6
        got = np.load(dst / "vectors.npy")
        assert np.array_equal(got, np.load(src / "vectors.npy"))
    finally:
        svc.close()


def test_sync_removes_what_the_replica_no_longer_lists_while_a_reader_keeps_its_files(seed_index, tmp_path):
    from indexer.index.merge import merge_segments

    corpus, primary = _primary(seed_index, tmp_path)
    replica = tmp_path / "replica"
    _add_file(corpus, primary, "9103")
    sync(primary, replica)
    svc = SearchService.open(replica)
    try:
        before = [(r.chunk_id, r.score) for r in svc.search("kinh phí thực hiện", k=10).results]
        rep = merge_segments(primary, Manifest.read(current_generation(primary)).segments)
        assert rep.committed
        s = sync(primary, replica)
        assert s.copied_segments == [rep.into] and len([r for r in s.removed if r.startswith("segments/")]) == 2
        assert sorted(p.name for p in segments_dir(replica).iterdir()) == [rep.into]
        # the open generation still answers from its open files, then switches to the merged one, same results
        assert [(r.chunk_id, r.score) for r in svc.search("kinh phí thực hiện", k=10).results] == before
        assert svc.refresh(min_interval=0)
        after = [(r.chunk_id, r.score) for r in svc.search("kinh phí thực hiện", k=10).results]
        assert [c for c, _ in after] == [c for c, _ in before]
    finally:
        svc.close()


def test_replicate_command(seed_index, tmp_path):
    replica = tmp_path / "replica"
    out = subprocess.run([sys.executable, "-m", "indexer.cli", "replicate", "--from", str(seed_index), "--to",
                          str(replica), "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["switched"] and rep["generation"] == current_generation(seed_index).name
    assert (replica / CURRENT).read_text() == (seed_index / CURRENT).read_text()
    again = subprocess.run([sys.executable, "-m", "indexer.cli", "replicate", "--from", str(seed_index), "--to",
                            str(replica), "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["copied_segments"] == [] and not json.loads(again.stdout)["switched"]
    same = subprocess.run([sys.executable, "-m", "indexer.cli", "replicate", "--from", str(seed_index), "--to",
                           str(seed_index)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert same.returncode == 2 and "same directory" in same.stderr
