"""`directives index --dask`: a real scheduler and two real workers (separate processes, 127.0.0.1 only) build
the seed corpus into the same index as a local build; dead workers, a file that kills every worker, a worker
with another model and a dying scheduler are each handled as the README says."""

from __future__ import annotations

import contextlib
import json
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
from indexer.distributed import ClusterError, local_identity
from indexer.index.generation import current_generation
from indexer.index.store import IndexStore
from search_api.service import SearchService
from tests.dask_cluster import LocalDaskCluster
from tests.dask_crash_preload import MARKER

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
QUERIES = ["phòng chống đuối nước cho trẻ em", "tong dai 111", "child drowning prevention",
           "Tháng hành động vì trẻ em", "kinh phí thực hiện kế hoạch", "xâm hại trẻ em"]
pytestmark = pytest.mark.slow


def answers(index: Path) -> dict:
    from search_api.retrieve import retrieve

    svc = SearchService.open(index)
    try:
        out = {}
        for q in QUERIES:
            for mode in ("hybrid", "lexical", "dense"):
                r = retrieve(svc.store, svc.vocab, q, allowed=None, encode_query=svc._encode_query, mode=mode,
                             need=20, cfg=svc.fusion)
                out[(q, mode)] = [(h.chunk.chunk.chunk_id, h.score) for h in r.hits[:20]]
        return out
    finally:
        svc.close()


def contents(index: Path) -> dict:
    """chunk id → (document, text, vector, windows) of every live chunk."""
    st = IndexStore.open(index)
    try:
        chunks = list(st.iter_chunks())
        vecs = st.vectors([c.rowid for c in chunks])
        return {c.chunk.chunk_id: (c.chunk.doc_id, c.chunk.text, v) for c, v in zip(chunks, vecs, strict=True)}
    finally:
        st.close()


def assert_same_index(a: Path, b: Path) -> None:
    ca, cb = contents(a), contents(b)
    assert ca.keys() == cb.keys() and len(ca) > 100
    for k in ca:
        assert ca[k][:2] == cb[k][:2], k
        assert np.abs(ca[k][2] - cb[k][2]).max() <= 1e-5, k
    ra, rb = answers(a), answers(b)
    for key in ra:
        assert [c for c, _ in ra[key]] == [c for c, _ in rb[key]], key
        assert np.allclose([s for _, s in ra[key]], [s for _, s in rb[key]], atol=1e-5, rtol=0), key


def only_loopback(cluster: LocalDaskCluster) -> None:
    socks = cluster.listening()
    assert len(socks) >= 3  # scheduler, nannies, workers
    assert all(ip == "127.0.0.1" for _, ip, _ in socks), socks


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalDaskCluster(tmp_path_factory.mktemp("dask"), workers=2, allowed_failures=1,
                         worker_args=["--preload", "tests.dask_crash_preload"])
    client = c.client()
    try:
        c.wait_for_workers(client, 2, local_identity("", "int8").resource)
        yield c, client
    finally:
        client.close()
        c.close()


def copy_corpus(dest: Path) -> Path:
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns(".*"))
    return dest


def test_a_dask_build_equals_a_local_build_and_listens_on_loopback_only(cluster, seed_index, tmp_path):
    c, _ = cluster
    only_loopback(c)
    index = tmp_path / "index"
    p = subprocess.run([sys.executable, "-m", "indexer.cli", "index", "--corpus", str(CORPUS), "--index-dir",
                        str(index), "--dask", c.address, "--json", "--no-merge"], cwd=REPO, capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["errors"] == [] and rep["documents"] == 5 and rep["encoded"] == rep["chunks"] == 123
    assert len(set(rep["cluster"]["worker_of"].values())) == 2  # both workers did files
    assert set(rep["cluster"]["accepted"]) == set(rep["cluster"]["worker_of"].values())
    assert_same_index(seed_index, index)
    only_loopback(c)


def _processing(client) -> dict[str, list[str]]:
    return {w: list(ks) for w, ks in client.processing().items() if ks}


def test_a_worker_killed_mid_build_has_its_files_retried_on_another(cluster, seed_index, tmp_path):
    c, client = cluster
    killed: dict = {}

    def kill_one(p):
        if killed or p.stage != "parsing":
            return
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:  # a worker with a file in its hands
            for addr, keys in _processing(client).items():
                pid = client.run(os.getpid, workers=[addr])[addr]
                os.kill(pid, signal.SIGKILL)
                killed.update(addr=addr, keys=keys)
                break
            time.sleep(0.01)

    rep = build_index(CORPUS, tmp_path / "index", progress=False, merge="off", dask=c.address, on_progress=kill_one)
    assert killed, "no worker was busy"
    assert rep.errors == [] and rep.chunks == 123 and not rep.cluster["crashed"]
    retried = [rep.cluster["tasks"][k] for k in killed["keys"] if k in rep.cluster["tasks"]]
    assert retried and all(rep.cluster["worker_of"][s] != killed["addr"] for s in retried)
    assert_same_index(seed_index, tmp_path / "index")
    c.wait_for_workers(client, 2, local_identity("", "int8").resource)  # the nanny restarted it
    only_loopback(c)


def test_a_file_that_kills_every_worker_is_a_per_file_error(cluster, seed_index, tmp_path):
    c, client = cluster
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "000-bad.txt").write_bytes((CORPUS / "cam-lo-2023.txt").read_bytes().replace(b"364", b"365", 1)
                                         + b"\n" + MARKER + b"\n")
    rep = build_index(corpus, tmp_path / "index", progress=False, merge="off", dask=c.address)
    assert [e.source for e in rep.errors] == ["000-bad.txt"]
    assert "crashed 2 Dask workers" in rep.errors[0].reason and rep.cluster["crashed"] == ["000-bad.txt"]
    assert rep.documents == 5 and rep.chunks == 123
    assert_same_index(seed_index, tmp_path / "index")
    c.wait_for_workers(client, 2, local_identity("", "int8").resource)


def _other_model(tmp_path: Path) -> Path:
    """The same weights with one config changed: another fingerprint (the big files are symlinks)."""
    src = Path(local_identity("", "int8").name)
    dst = tmp_path / "other-model"
    for p in src.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            q = dst / p.relative_to(src)
            q.parent.mkdir(parents=True, exist_ok=True)
            if p.name == "config_sentence_transformers.json":
                q.write_text(json.dumps({**json.loads(p.read_text()), "note": "another model"}))
            else:
                q.symlink_to(p)
    return dst


def test_a_worker_with_another_model_is_refused_and_gets_no_file(cluster, seed_index, tmp_path):
    c, client = cluster
    other = _other_model(tmp_path)
    before = set(client.scheduler_info(n_workers=-1)["workers"])
    w = c.add_worker(["--directives-model", str(other)], name="worker-other")
    try:
        deadline = time.monotonic() + 90
        while len(set(client.scheduler_info(n_workers=-1)["workers"]) - before) < 1:
            assert time.monotonic() < deadline and w.poll() is None, c.log("worker-other")
            time.sleep(0.2)
        (new,) = set(client.scheduler_info(n_workers=-1)["workers"]) - before
        # incremental: only the added file goes to the cluster, on top of a local build
        corpus, index, local = copy_corpus(tmp_path / "corpus"), tmp_path / "index", tmp_path / "local"
        shutil.copytree(seed_index, index)
        shutil.copytree(seed_index, local)
        (corpus / "cam-lo-2024.txt").write_text((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8")
                                                .replace("364", "1364", 1), encoding="utf-8")
        rep = build_index(corpus, index, progress=False, merge="off", dask=c.address)
        assert rep.added == ["cam-lo-2024.txt"] and len(rep.skipped) == 5
        assert list(rep.cluster["worker_of"]) == ["cam-lo-2024.txt"] and rep.encoded == rep.chunks - 123
        assert new in rep.cluster["refused"] and "fingerprint" in rep.cluster["refused"][new]
        assert new not in rep.cluster["worker_of"].values()
        assert any(new in n and "refused" in n for n in rep.notes)
        build_index(corpus, local, progress=False, merge="off")
        assert_same_index(local, index)
        # without that worker, an index of the other model finds no worker at all: a clear error, nothing published
        os.killpg(w.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while new in client.scheduler_info(n_workers=-1)["workers"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.environ["DIRECTIVES_DASK_NO_WORKER_TIMEOUT"] = "2"
        try:
            c_index = tmp_path / "index-other"
            with pytest.raises(ClusterError, match="no Dask worker has the index's model"):
                build_index(CORPUS, c_index, model=str(other), progress=False, merge="off", dask=c.address,
                            passage_encoder="fp32")
            assert current_generation(c_index) is None and not list((c_index / "segments").iterdir())
        finally:
            del os.environ["DIRECTIVES_DASK_NO_WORKER_TIMEOUT"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(w.pid, signal.SIGKILL)


def test_the_scheduler_dying_fails_the_build_and_the_previous_index_keeps_serving(seed_index, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    for i in range(8):  # more files than one worker finishes before the scheduler is killed
        (corpus / f"extra-{i}.txt").write_text((CORPUS / "tra-cu-2022.txt").read_text(encoding="utf-8")
                                               .replace("Trà Cú", f"Trà Cú {i}"), encoding="utf-8")
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    gen0, expected = current_generation(index), answers(index)
    svc = SearchService.open(index)  # a running server
    c = LocalDaskCluster(tmp_path / "dask", workers=1, nanny=False)
    try:
        client = c.client()
        c.wait_for_workers(client, 1, local_identity("", "int8").resource)
        client.close()
        only_loopback(c)

        def kill_scheduler(p):
            if p.stage == "parsing" and p.done == 1:
                c.kill_scheduler()

        t = time.monotonic()
        with pytest.raises(ClusterError, match="lost the Dask scheduler"):
            build_index(corpus, index, progress=False, merge="off", dask=c.address, on_progress=kill_scheduler)
        assert time.monotonic() - t < 60
    finally:
        c.close()
    assert current_generation(index) == gen0
    assert not any(p.name.startswith(".tmp") for p in (index / "segments").iterdir())
    assert answers(index) == expected
    assert not svc.refresh(min_interval=0) and svc.search("đuối nước", k=3).results
    svc.close()


def test_a_resumed_dask_build_embeds_only_what_the_killed_one_had_not(cluster, seed_index, tmp_path):
    """A killed build leaves checkpointed vectors; the next --dask build ships the files again but the
    workers embed only the other texts, and the index is the local build's."""
    from indexer.index.checkpoint import EmbedCheckpoint

    c, _ = cluster
    ident = local_identity("", "int8")
    index = tmp_path / "index"
    index.mkdir()
    ref = contents(seed_index)
    done = sorted(k for k in ref if ref[k][0] == "lang-son-2023")
    st = IndexStore.open(seed_index)
    try:
        ckpt = EmbedCheckpoint(index, ident.fingerprint, ident.encoder_id)
        for sc in st.chunks_of("lang-son-2023"):
            ckpt.add(sc.chunk.text, _embedded(st, sc.rowid))
        ckpt.flush()
    finally:
        st.close()
    rep = build_index(CORPUS, index, progress=False, merge="off", dask=c.address)
    assert rep.resumed == len(done) and rep.encoded == 123 - len(done) and rep.chunks == 123
    assert not (index / "embed-cache").exists()
    assert_same_index(seed_index, index)


def _embedded(st: IndexStore, rowid: int):
    """The Embedded (vector and windows) the seed build stored for a chunk."""
    from indexer.embedding.vectors import Embedded

    for seg in st.segments:
        (pos,) = seg.positions(np.asarray([rowid], dtype=np.int64))
        if pos >= 0:
            rows = np.flatnonzero(seg.window_of == pos)
            return Embedded(np.asarray(seg.vectors[pos]), seg.windows[rows] if len(rows) else None)
    raise KeyError(rowid)


def test_without_dask_a_build_never_touches_dask(seed_index, tmp_path):
    """The local path is the one it was: an update without --dask imports no Dask and reports no cluster."""
    corpus, index = copy_corpus(tmp_path / "corpus"), tmp_path / "index"
    shutil.copytree(seed_index, index)
    (corpus / "cam-lo-2024.txt").write_text((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8")
                                            .replace("364", "1364", 1), encoding="utf-8")
    code = ("import json, sys; from pathlib import Path; from indexer.build import build_index; "
            f"r = build_index(Path({str(corpus)!r}), Path({str(index)!r}), progress=False, merge='off'); "
            "print(json.dumps([r.added, r.encoded, r.cluster, sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('dask', 'distributed'))]))")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 0, p.stderr
    added, encoded, cluster, dask_modules = json.loads(p.stdout.strip().splitlines()[-1])
    assert added == ["cam-lo-2024.txt"] and encoded > 0 and cluster == {} and dask_modules == []
