"""The on-disk index: contents, incremental builds, atomicity under SIGKILL, model checks."""

from __future__ import annotations

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
from indexer.index.generation import MANIFEST, read_registry
from indexer.index.store import CURRENT, IndexNotFound, IndexStore, current_generation
from indexer.parsing.pipeline import parse_corpus
from search_api.service import ModelMismatch, SearchService

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SEEDS = sorted(p.name for p in CORPUS.glob("*.txt"))


def _copy_index(seed_index: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of corpus and seed index, so a test can change them without rebuilding from scratch."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(seed_index, index)
    return corpus, index


def test_seed_index_contents(seed_index_build):
    index_dir, report = seed_index_build
    docs, errors = parse_corpus(CORPUS)
    assert not errors and report.errors == []
    n_chunks = sum(len(d.chunks) for d in docs)
    assert (report.documents, report.chunks, report.encoded) == (5, n_chunks, n_chunks)
    assert sorted(report.added) == SEEDS
    st = IndexStore.open(index_dir)
    assert st.counts() == {"documents": 5, "chunks": n_chunks, "vectors": n_chunks}
    assert st.dim == 384 and "multilingual-e5-small" in st.model and len(st.meta["fingerprint"]) == 64
    # postings carry syllables + bigrams, exact and folded
    assert st.lexical.df("e:đuối_nước") >= 5 and st.lexical.df("f:duoi_nuoc") >= st.lexical.df("e:đuối_nước")
    assert st.lexical.df("e:duoi_nuoc") == 0  # folded terms only in the folded space
    # the corpus's own diacritic statistics
    forms = {a: n for f, a, n in st.vocab_rows() if f == "duoi"}
    assert forms.get("đuối", 0) >= 10
    assert st.bigram_counts("duoi nuoc")["đuối nước"] >= 10
    # a document round-trips through its JSON, and vectors are the stored unit vectors
    d = st.document("tra-cu-2022")
    orig = next(x for x in docs if x.doc_id == "tra-cu-2022")
    assert d.to_dict(with_text=True) == orig.to_dict(with_text=True) and d.offsets == orig.offsets
    rows = [s.rowid for s in st.chunks_of("tra-cu-2022")]
    v = st.vectors(rows)
    assert v.shape == (len(orig.chunks), 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)


def test_open_missing_index_is_clear(tmp_path):
    with pytest.raises(IndexNotFound, match="no index at"):
        IndexStore.open(tmp_path / "nowhere")


def test_incremental_skip_change_remove(seed_index, tmp_path):
    corpus, index = _copy_index(seed_index, tmp_path)
    gen0 = current_generation(index)

    r = build_index(corpus, index, progress=False)  # nothing changed: no new generation, no model load
    assert sorted(r.skipped) == SEEDS and not r.changed and r.encoded == 0
    assert current_generation(index) == gen0

    before = IndexStore.open(index)
    old_cam_lo = [s.rowid for s in before.chunks_of("cam-lo-2023")]
    before_first = before.chunks_of("cam-lo-2023")[0].chunk.text
    other_rows = {s.rowid for d in ("tra-cu-2022", "lang-son-2023") for s in before.chunks_of(d)}
    n_before = before.counts()["chunks"]
    before.close()

    svc = SearchService.open(index)  # a running server's view, switched by refresh() below
    f = corpus / "cam-lo-2023.txt"
    f.write_text(f.read_text(encoding="utf-8").replace("đuối nước", "đuối nước (sửa đổi)", 1), encoding="utf-8")
    r = build_index(corpus, index, progress=False)
    assert r.updated == ["cam-lo-2023.txt"] and r.added == [] and r.removed == []
    assert sorted(r.skipped) == sorted(set(SEEDS) - {"cam-lo-2023.txt"})
    st = IndexStore.open(index)
    new_cam_lo = st.chunks_of("cam-lo-2023")
    assert r.encoded == len(new_cam_lo)  # only the changed file was embedded
    assert any("(sửa đổi)" in s.chunk.text for s in new_cam_lo)
    assert not set(old_cam_lo) & {s.rowid for s in new_cam_lo}
    assert other_rows <= {s.rowid for s in st.iter_chunks()}  # others untouched, same ids
    assert st.counts()["vectors"] == st.counts()["chunks"] == n_before
    st.close()
    assert [p.name for p in index.iterdir() if p.name.startswith("gen-")] == [current_generation(index).name]
    assert svc.chunks_of("cam-lo-2023")[0].text == before_first  # still serving the old generation ...
    assert svc.refresh(min_interval=0) and not svc.refresh(min_interval=0)  # ... until refreshed
    assert any("(sửa đổi)" in c.text for c in svc.chunks_of("cam-lo-2023"))

    (corpus / "tra-cu-2022.txt").unlink()
    r = build_index(corpus, index, progress=False)
    assert r.removed == ["tra-cu-2022.txt"] and r.encoded == 0
    st = IndexStore.open(index)
    assert st.document("tra-cu-2022") is None and st.chunks_of("tra-cu-2022") == []
    assert "tra-cu-2022.txt" not in read_registry(current_generation(index))
    c = st.counts()
    assert c["vectors"] == c["chunks"] and c["documents"] == 4
    gone = [s for s in other_rows if s not in {x.rowid for x in st.iter_chunks()}]
    assert gone  # tra-cu's rows were removed from the vectors as well
    assert not st.vectors(gone).any() and set(st.dense_top(st.vectors(list(other_rows - set(gone))[:1])[0], 200)
                                             ).isdisjoint(gone)
    st.close()


def test_parse_errors_reported_rest_indexed(seed_index, tmp_path):
    corpus, index = _copy_index(seed_index, tmp_path)
    (corpus / "broken.docx").write_bytes(b"this is not a zip file at all")
    (corpus / "copy.txt").write_bytes((CORPUS / "tra-cu-2022.txt").read_bytes())  # same bytes: duplicate
    (corpus / "kien-giang-2017.txt").write_text("", encoding="utf-8")  # emptied: no longer a document
    r = build_index(corpus, index, progress=False)
    assert sorted(e.source for e in r.errors) == ["broken.docx", "copy.txt", "kien-giang-2017.txt"], r.errors
    assert any("duplicate" in e.reason for e in r.errors)
    assert r.added == [] and r.encoded == 0
    st = IndexStore.open(index)
    assert st.counts()["documents"] == 4 and st.document("kien-giang-2017") is None
    assert st.counts()["vectors"] == st.counts()["chunks"]


def test_model_mismatch_refused(seed_index, tmp_path):
    with pytest.raises(ModelMismatch) as e:
        SearchService.open(seed_index, model="sentence-transformers/all-MiniLM-L6-v2")
    assert "all-MiniLM-L6-v2" in str(e.value) and "multilingual-e5-small" in str(e.value)

    # same name, other weights: the fingerprint check catches it when the encoder is loaded
    _, index = _copy_index(seed_index, tmp_path)
    manifest = current_generation(index) / MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["meta"]["fingerprint"] = "feedface"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    svc = SearchService.open(index)
    with pytest.raises(ModelMismatch, match="fingerprint"):
        svc.search("đuối nước")


def test_cli_index_and_search(seed_index, tmp_path, capsys):
    from indexer.cli import main

    corpus, index = _copy_index(seed_index, tmp_path)
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(index), "--quiet"]) == 0
    assert "unchanged 5" in capsys.readouterr().out
    assert main(["search", "đuối nước", "--k", "3", "--index-dir", str(index)]) == 0
    out = capsys.readouterr().out
    assert "[đuối nước]" in out
    assert main(["search", "x", "--model", "other/model", "--index-dir", str(index)]) == 2
    assert "other/model" in capsys.readouterr().err


# --- SIGKILL at any moment leaves the previous index usable --------------------------------------------

BUILD_SCRIPT = """
import sys
from pathlib import Path
from indexer.build import build_index
build_index(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
"""


def _answers(index: Path) -> list[tuple[str, float]]:
    svc = SearchService.open(index)
    try:
        r = svc.search("phòng chống đuối nước cho trẻ em", k=10)
        return [(x.chunk_id, round(x.score, 4)) for x in r.results]
    finally:
        svc.close()


@pytest.mark.slow
def test_sigkill_leaves_previous_index_usable(seed_index, tmp_path):
    corpus, index = _copy_index(seed_index, tmp_path)
    for i in range(3):  # a larger corpus: variants of a seed (different bytes, so not duplicates)
        src = CORPUS / "tra-cu-2022.txt"
        (corpus / f"variant-{i}.txt").write_text(src.read_text(encoding="utf-8") + f"\nGhi chú {i}.\n",
                                                 encoding="utf-8")
    gen0 = current_generation(index)
    expected = _answers(index)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def start():
        return subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT, str(corpus), str(index)], env=env,
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def tmp_dirs():
        segs = index / "segments"
        return [p for p in [*index.iterdir(), *(segs.iterdir() if segs.is_dir() else [])]
                if p.name.startswith((".tmp-gen-", ".tmp-seg-"))]

    # kill moments: while importing; as soon as the new segment directory exists; once its vectors are there
    moments = [("early", lambda: False, 1.0), ("tmp dir", lambda: bool(tmp_dirs()), 0.0),
               ("vectors written", lambda: any((p / "vectors.npy").exists() for p in tmp_dirs()), 0.0)]
    for name, ready, delay in moments:
        p = start()
        t0 = time.monotonic()
        while p.poll() is None and not ready() and time.monotonic() - t0 < (delay or 120):
            time.sleep(0.005)
        p.send_signal(signal.SIGKILL)
        p.wait()
        gen = current_generation(index)
        assert gen is not None, name
        if name == "tmp dir":  # killed before anything was embedded: certainly mid-build
            assert gen == gen0 and tmp_dirs(), name
        if gen == gen0:
            assert _answers(index) == expected, name
        else:  # the build had already published: then the new index must be complete
            st = IndexStore.open(index)
            assert st.counts()["documents"] == 8 and st.counts()["vectors"] == st.counts()["chunks"], name
            st.close()
        assert (index / CURRENT).read_text().strip() == gen.name
    # a later build completes, cleans up the killed builds' leftovers, and indexes the variants
    p = start()
    assert p.wait(timeout=300) == 0
    assert not tmp_dirs() and [x.name for x in index.iterdir() if x.name.startswith("gen-")] == [
        current_generation(index).name]
    st = IndexStore.open(index)
    assert st.counts()["documents"] == 8 and st.counts()["vectors"] == st.counts()["chunks"]


def test_long_embedding_runs_show_a_progress_bar(monkeypatch, capsys, tmp_path):
    """A bar on stderr for long runs only (the threshold is lowered here to keep the test short)."""
    from indexer import build
    from indexer.embedding.encoder import PassageEncoder
    from indexer.index.checkpoint import EmbedCheckpoint

    enc = PassageEncoder.load()
    texts = [(i, t) for i, t in enumerate(["Phòng, chống đuối nước cho trẻ em.", "Tổng đài 111.", "Kinh phí."])]
    monkeypatch.setattr(build, "EMBED_STEP", 2)
    monkeypatch.setattr(build, "PROGRESS_MIN", 1)

    def run(progress: bool, where: str):
        rep = build.BuildReport("", "", "")
        return build._embed(enc, texts, EmbedCheckpoint(tmp_path / where, "fp", "x"), rep, progress, build.ignore)

    vecs = run(True, "a")
    err = capsys.readouterr().err
    assert len(vecs) == 3 and vecs[0].vector.shape == (enc.dim,) and "embedding" in err and "3/3" in err
    run(False, "b")
    assert "embedding" not in capsys.readouterr().err
    monkeypatch.setattr(build, "PROGRESS_MIN", 10)  # a short run stays quiet even when asked
    run(True, "c")
    assert "embedding" not in capsys.readouterr().err
