"""The int8 passage export (format 3): smoothing and the attention rewrite are exact in fp32, the int8 session
runs without the slow fused layer norm, the int8 vectors stay close to fp32 on the seed chunks, and an export or
index made by another recipe is never taken for this one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import onnx_passage as op
from indexer.embedding.encoder import DEFAULT_MODEL_DIR, model_fingerprint
from tests.cpu import has_vnni

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


@pytest.fixture(scope="module")
def eager(model_dir: Path, tmp_path_factory) -> Path:
    return op.export_eager(model_dir, tmp_path_factory.mktemp("eager") / "eager.onnx")


def _run(session, windows: list[list[int]]) -> np.ndarray:
    return np.stack([session.run(None, {"ids": np.asarray([w]), "mask": np.ones((1, len(w)), np.int64)})[0][0]
                     for w in windows])


def test_smoothing_changes_nothing_in_fp32(model_dir: Path, eager: Path, texts: list[str], tmp_path: Path) -> None:
    """Dividing the GELU outputs by s and multiplying the weight rows by s is the same function: the smoothed
    fp32 graph gives the unsmoothed vectors, so all the int8 loss is quantisation's."""
    import onnx
    import onnxruntime as ort

    cal = op.calibration(model_dir)
    assert cal is not None and cal.shape == (12, 1536) and cal.max() > 30 * np.median(cal)  # the outlier channels
    plain = eager
    graph = onnx.load(str(plain))
    op.smooth(graph, cal, op.SMOOTH_ALPHA)
    assert sum(n.op_type == "Mul" and n.name.endswith("/smooth") for n in graph.graph.node) == 12
    onnx.save(graph, str(tmp_path / "smoothed.onnx"))
    enc = op.OnnxPassageEncoder(model_dir, "fp32", threads=1)
    windows = [w for t in texts[::6] for w in enc.token_windows(t)]
    a = _run(ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"]), windows)
    b = _run(ort.InferenceSession(str(tmp_path / "smoothed.onnx"), providers=["CPUExecutionProvider"]), windows)
    assert np.abs(a - b).max() < 1e-4


def test_the_attention_rewrite_is_the_same_function_for_an_unpadded_text(model_dir: Path, eager: Path,
                                                                        texts: list[str], tmp_path: Path) -> None:
    """Twelve MultiHeadAttention nodes replace the eager attention (no Softmax; the mask reaches the pooling only) and give
    the eager graph's vectors for a text run alone, the long windowed ones included."""
    import onnx
    import onnxruntime as ort

    graph = onnx.load(str(eager))
    assert op.fuse_attention(graph, 12) == 12
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("MultiHeadAttention") == 12 and "Softmax" not in ops
    assert [n.name for n in graph.graph.node if "mask" in n.input] == ["/Unsqueeze"]  # only the mean pooling
    onnx.save(graph, str(tmp_path / "mha.onnx"))
    enc = op.OnnxPassageEncoder(model_dir, "fp32", threads=1)
    long = max(texts, key=len)
    windows = [w for t in [*texts[::6], long] for w in enc.token_windows(t)]
    assert max(len(w) for w in windows) == enc.max_length  # a full 512-token window is among them
    a = _run(ort.InferenceSession(str(eager), providers=["CPUExecutionProvider"]), windows)
    b = _run(ort.InferenceSession(str(tmp_path / "mha.onnx"), providers=["CPUExecutionProvider"]), windows)
    assert np.abs(a - b).max() < 1e-4
    with pytest.raises(ValueError, match="no eager BERT self-attention"):
        op.fuse_attention(graph, 12)  # already rewritten: nothing left to fuse is an error, not a silent no-op


def test_the_int8_session_keeps_add_and_layer_norm_apart(model_dir: Path, tmp_path: Path) -> None:
    """ONNX Runtime would fuse them into SkipLayerNormalization, the slow kernel here (it does with the default
    optimisers: format 2 ran so); the fp32 session keeps ONNX Runtime's defaults."""
    import onnx
    import onnxruntime as ort

    def optimised(disabled: list[str] | None) -> list[str]:
        opts, _ = op.session_options("int8", 1)
        opts.optimized_model_filepath = str(tmp_path / f"{bool(disabled)}.onnx")
        ort.InferenceSession(str(op.int8_path(model_dir)), opts, providers=["CPUExecutionProvider"],
                             disabled_optimizers=disabled)
        return [n.op_type for n in onnx.load(opts.optimized_model_filepath, load_external_data=False).graph.node]

    int8 = optimised(op.session_options("int8", 1)[1])
    assert "SkipLayerNormalization" not in int8 and int8.count("LayerNormalization") == 25
    assert int8.count("MultiHeadAttention") == 12 and "DynamicQuantizeMatMul" in int8
    assert optimised(None).count("SkipLayerNormalization") == 24  # what the option prevents
    assert op.session_options("fp32", 1)[1] is None


def test_int8_stays_close_to_fp32_on_the_seed_chunks(model_dir: Path, texts: list[str]) -> None:
    int8, fp32 = op.OnnxPassageEncoder(model_dir, "int8", threads=1), op.OnnxPassageEncoder(model_dir, "fp32", threads=1)
    cos = np.asarray([float(int8.embed(t).vector @ fp32.embed(t).vector) for t in texts])
    # measured 0.9988 / 0.9981 with VNNI, 0.9981 / 0.9965 on an AVX2-only machine (eval/RESULTS.md round 15)
    mean, low = (0.9985, 0.997) if has_vnni() else (0.9975, 0.995)
    assert cos.mean() > mean and cos.min() > low, (cos.mean(), cos.min())
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
    assert op.recipe(model_dir) == {"smooth": None, "keep_fp32": list(op.KEEP_FP32), "attention": op.ATTENTION_OP,
                                    "disabled_optimizers": list(op.DISABLED_OPTIMIZERS)}
    assert not op.int8_is_current(model_dir)


def test_an_index_of_an_older_format_is_re_embedded(model_dir: Path, tmp_path: Path) -> None:
    """What guards old vectors: the index records the encoder id, and neither format 1's nor format 2's id is
    format 3's."""
    from indexer.build import _same_model, build_index
    from indexer.index.store import IndexStore

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cam-lo-2023.txt").write_text((CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8"), encoding="utf-8")
    build_index(corpus, tmp_path / "index", progress=False, passage_encoder="int8", merge="off")
    meta = dict(IndexStore.open(tmp_path / "index").meta)
    assert meta["fingerprint"] == model_fingerprint(model_dir)
    assert _same_model(meta, meta["model_spec"], "int8")
    assert meta["passage_encoder"].startswith("onnx-int8:3:")
    for old_id in ("onnx-int8:1:81dba755585560699", "onnx-int8:2:a1bf5ee78804150a"):  # the older exports' ids
        assert not _same_model(meta | {"passage_encoder": old_id}, meta["model_spec"], "int8")


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
