"""The int8 passage export (format 2): smoothing is exact in fp32, the int8 vectors stay close to fp32 on the
seed chunks, and an export or index made by another recipe is never taken for this one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import onnx_passage as op
from indexer.embedding.encoder import DEFAULT_MODEL_DIR, model_fingerprint

pytestmark = pytest.mark.slow  # one fp32 export (~20 s) and two sessions

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def model_dir() -> Path:
    op.export_int8(DEFAULT_MODEL_DIR)  # no-op when `make model` already built it
    return DEFAULT_MODEL_DIR


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from indexer.parsing import parse_corpus

    docs, _ = parse_corpus(CORPUS)
    return [c.text for d in docs for c in d.chunks]


def _run(session, windows: list[list[int]]) -> np.ndarray:
    return np.stack([session.run(None, {"ids": np.asarray([w]), "mask": np.ones((1, len(w)), np.int64)})[0][0]
                     for w in windows])


def test_smoothing_changes_nothing_in_fp32(model_dir: Path, texts: list[str], tmp_path: Path) -> None:
    """Dividing the GELU outputs by s and multiplying the weight rows by s is the same function: the smoothed
    fp32 graph gives the unsmoothed vectors, so all the int8 loss is quantisation's."""
    import onnx
    import onnxruntime as ort

    cal = op.calibration(model_dir)
    assert cal is not None and cal.shape == (12, 1536) and cal.max() > 30 * np.median(cal)  # the outlier channels
    plain = op.export_eager(model_dir, tmp_path / "eager.onnx")
    graph = onnx.load(str(plain))
    op.smooth(graph, cal, op.SMOOTH_ALPHA)
    assert sum(n.op_type == "Mul" and n.name.endswith("/smooth") for n in graph.graph.node) == 12
    onnx.save(graph, str(tmp_path / "smoothed.onnx"))
    enc = op.OnnxPassageEncoder(model_dir, "fp32", threads=1)
    windows = [w for t in texts[::6] for w in enc.token_windows(t)]
    a = _run(ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"]), windows)
    b = _run(ort.InferenceSession(str(tmp_path / "smoothed.onnx"), providers=["CPUExecutionProvider"]), windows)
    assert np.abs(a - b).max() < 1e-4


def test_int8_stays_close_to_fp32_on_the_seed_chunks(model_dir: Path, texts: list[str]) -> None:
    int8, fp32 = op.OnnxPassageEncoder(model_dir, "int8", threads=1), op.OnnxPassageEncoder(model_dir, "fp32", threads=1)
    cos = np.asarray([float(int8.embed(t).vector @ fp32.embed(t).vector) for t in texts])
    assert cos.mean() > 0.9985 and cos.min() > 0.997, (cos.mean(), cos.min())  # measured 0.9988 / 0.9979
    again = op.OnnxPassageEncoder(model_dir, "int8", threads=1)
    assert np.array_equal(again.embed(texts[0]).vector, int8.embed(texts[0]).vector)  # deterministic


def test_the_stamp_names_the_recipe_and_the_calibration_is_tied_to_its_model(model_dir: Path, tmp_path: Path,
                                                                             monkeypatch) -> None:
    assert op.int8_is_current(model_dir)
    assert op.recipe(model_dir)["smooth"]["alpha"] == op.SMOOTH_ALPHA
    assert op.encoder_id(model_dir, "int8").startswith(f"onnx-int8:{op.FORMAT}:")
    # a calibration measured on another model is not used: the recipe falls back, and the export on disk
    # (made with the calibration) no longer counts as current, so `make model` re-exports
    with np.load(op.CALIBRATION) as z:
        np.savez(tmp_path / "other.npz", absmax=z["absmax"], model_fingerprint=np.str_("0" * 64))
    monkeypatch.setattr(op, "CALIBRATION", tmp_path / "other.npz")
    assert op.calibration(model_dir) is None
    assert op.recipe(model_dir) == {"smooth": None, "keep_fp32": list(op.KEEP_FP32)}
    assert not op.int8_is_current(model_dir)


def test_an_index_of_the_format_1_encoder_is_re_embedded(model_dir: Path, tmp_path: Path) -> None:
    """What guards old vectors: the index records the encoder id, and format 1's id is not format 2's."""
    from indexer.build import _same_model, build_index
    from indexer.index.store import IndexStore

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cam-lo-2023.txt").write_text((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8"), encoding="utf-8")
    build_index(corpus, tmp_path / "index", progress=False, passage_encoder="int8", merge="off")
    meta = dict(IndexStore.open(tmp_path / "index").meta)
    assert meta["fingerprint"] == model_fingerprint(model_dir)
    assert _same_model(meta, meta["model_spec"], "int8")
    old = meta | {"passage_encoder": "onnx-int8:1:81dba755585560699"}  # the format-1 export's id
    assert not _same_model(old, meta["model_spec"], "int8")


def test_int8_weights_live_outside_the_graph_and_count_in_its_id(model_dir: Path, tmp_path: Path) -> None:
    """ONNX Runtime maps external weights instead of copying them into each process's heap (a search server loads
    this graph for its queries); the id covers the weights too, and an export whose weights are missing is stale."""
    import json

    from indexer.fileio import sha256_file

    graph, data = op.int8_path(model_dir), op.int8_data_path(model_dir)
    assert graph.stat().st_size < 5_000_000 < 300_000_000 < data.stat().st_size
    stamp = json.loads(op._stamp_path(model_dir).read_text(encoding="utf-8"))
    assert stamp["layout"] == "external-data" and stamp["sha256"] != sha256_file(graph)
    # the same exports seen from another directory, all but the int8 weights
    fake = tmp_path / model_dir.name
    fake.symlink_to(model_dir)
    for f in model_dir.parent.glob(model_dir.name + ".*"):
        if f != data:
            (tmp_path / f.name).symlink_to(f)
    assert not op.int8_is_current(fake)
    (tmp_path / data.name).symlink_to(data)
    assert op.int8_is_current(fake)
