"""The passage side of indexing in ONNX Runtime, without torch: int8 by default, fp32 on request.

Measured on this 2-core machine (AVX-512 VNNI) over the 123 seed chunks, interleaved runs in the same
minutes (``eval/RESULTS.md``, round 5): torch fp32 9 chunks/s, ONNX fp32 29–34/s, format-1 int8 ~1.6× fp32.

- **int8** (default, export format 3): the e5 graph exported with eager attention (the SDPA export adds
  Where/IsNaN mask ops that took 17–25 % of the time), then dynamically quantised per channel (weights int8,
  activations per tensor at run time) on every MatMul except the feed-forward output projections of layers 0
  and 4. The feed-forward outputs carry most of the loss: a few GELU channels reach 30–60 where the median
  is ~1.4 (channel abs max over 323 real chunks, ``eval/smooth_calibration.py``, stored in
  ``indexer/data``), so a per-tensor activation scale crushes the rest. Each of those projections is
  therefore smoothed first (SmoothQuant, :func:`smooth`, α = 0.8: inputs divided per channel by fixed
  scales, weight rows multiplied by them, the same function in fp32). Format 3 adds two things for speed
  (they move only the last bits; RESULTS.md, round 12): each layer's attention becomes one ``MultiHeadAttention`` on the
  quantised Q, K, V projections (:func:`fuse_attention`; no mask, since every text runs unpadded), and the
  session keeps Add and LayerNormalization apart (ONNX Runtime 1.32's fused SkipLayerNormalization kernel
  took 6.5× their time here). Seeds 1.21–1.26× format 2 (50.2 against 39.8 chunks/s in the same rounds); cosine
  to fp32 over the seed chunks 0.9988 mean / 0.9981 min (format 2: 0.9988 / 0.9978); hybrid Recall@10 /
  MRR@10 and the external set within 0.005 of format 2. Quantising layers 0 and 4 too (1.07× more) lost
  0.007–0.014 Recall@10 on the gold set, so they stay fp32. The smoothing scales are fixed and texts still
  run alone, so a vector depends on its text only. A model without a calibration measured for it (another
  fingerprint) gets format 1's exclusions: all twelve in fp32. The weights are saved outside the graph
  (``int8_data_path``) so every process maps them; a search server encodes its queries with this same graph
  (``onnx_query``, in a session with the same options).
- **fp32**: the query export (``onnx_query``) with the "passage: " prompt: the same vectors as torch to
  cosine ≥ 0.9999.

Every text is run on its own (batch of one): no padding is computed, and a text's vector never depends on
which other texts share its batch. Dynamic quantisation scales activations per tensor, so in a batch a
chunk's vector would change with its neighbours; batches of 8 or 32 were also slower here (25 and 10/s for
fp32, against 29/s alone), and format 3's attention reads no mask, so padded rows would be wrong. Static quantisation (fixed activation scales, so batches become sound) and the
fused graph of ``onnxruntime.transformers`` (QAttention) were measured and not kept (RESULTS.md, round 9),
nor ``MatMulNBits`` block quantisation (round 12: 8-bit blocks kept cosine 0.9999 but ran at 0.6–0.75×). Texts
longer than the model's 512 tokens are cut into overlapping windows (:func:`windows`), each embedded on
its own.

    .venv/bin/python -m indexer.embedding.onnx_passage --model .models/multilingual-e5-small   # `make model`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from indexer.embedding.vectors import Embedded
from indexer.fileio import sha256_file

VARIANTS = ("int8", "fp32")
DEFAULT_VARIANT = "int8"
VARIANT_ENV = "DIRECTIVES_PASSAGE_ENCODER"  # int8 | fp32 | torch
# each format is a new file beside the others (format 1 ".passage-int8.onnx", format 2 ".v2.onnx"), so a worktree
# or worker still on an older format keeps its own export and never reads another's
INT8_SUFFIX = ".passage-int8.v3.onnx"
INT8_STAMP = ".passage-int8.v3.onnx.json"
FORMAT = 3
# ONNX Runtime 1.32 fuses Add + LayerNormalization into SkipLayerNormalization at session load; that kernel took
# 330 us where the two ops take 51 us on (1, 155, 384) here (eval/RESULTS.md, round 12), so the int8 session keeps
# them apart. It changes the last bits, so it is part of the recipe (and of the encoder id through FORMAT).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
ATTENTION_OP = "MultiHeadAttention"  # com.microsoft, on the Q, K, V projections; no mask (texts run alone)
FFN_OUT = "/bert/encoder/layer.{}/output/dense/MatMul"
# the feed-forward output projections kept in fp32 when the model has no smoothing calibration (see the module doc)
KEEP_FP32 = tuple(FFN_OUT.format(i) for i in range(12))
# with the calibration: every projection int8, the feed-forward outputs smoothed first (see the module doc)
SMOOTH_ALPHA = 0.8
SMOOTH_KEEP_FP32 = (FFN_OUT.format(0), FFN_OUT.format(4))
CALIBRATION = Path(__file__).resolve().parents[1] / "data" / "e5-small-ffn-absmax.npz"
WINDOW_OVERLAP = 128  # tokens shared by consecutive windows of a long text


def resolve_variant(variant: str | None) -> str:
    v = (variant or os.environ.get(VARIANT_ENV) or DEFAULT_VARIANT).strip().lower()
    if v not in (*VARIANTS, "torch"):
        raise ValueError(f"unknown passage encoder {v!r}: choose int8, fp32 or torch")
    return v


def int8_path(model_dir: Path) -> Path:
    return model_dir.parent / (model_dir.name + INT8_SUFFIX)


def int8_data_path(model_dir: Path) -> Path:
    """The int8 graph's weights, outside it: ONNX Runtime maps this file instead of copying ~400 MB into the heap of
    every process that loads it (a search server encodes its queries with this graph too, ``onnx_query``)."""
    return model_dir.parent / (model_dir.name + INT8_SUFFIX + ".data")


def _stamp_path(model_dir: Path) -> Path:
    return model_dir.parent / (model_dir.name + INT8_STAMP)


def calibration(model_dir: Path) -> np.ndarray | None:
    """(layers, intermediate) abs max of each feed-forward output projection's input, measured on real chunks
    (``eval/smooth_calibration.py``), when it was measured for this very model; else None."""
    from indexer.embedding.encoder import model_fingerprint

    try:
        with np.load(CALIBRATION) as z:
            if str(z["model_fingerprint"]) != model_fingerprint(model_dir):
                return None
            return np.asarray(z["absmax"], dtype=np.float32)
    except (OSError, KeyError, ValueError):
        return None


def recipe(model_dir: Path) -> dict:
    """How the int8 export is made for ``model_dir``: recorded in its stamp, so a change of recipe re-exports."""
    cal = calibration(model_dir)
    run = {"attention": ATTENTION_OP, "disabled_optimizers": list(DISABLED_OPTIMIZERS)}
    if cal is None:
        return {"smooth": None, "keep_fp32": list(KEEP_FP32)} | run
    return {"smooth": {"alpha": SMOOTH_ALPHA, "calibration_sha": hashlib.sha256(cal.tobytes()).hexdigest()[:16]},
            "keep_fp32": list(SMOOTH_KEEP_FP32)} | run


def smooth(model, absmax: np.ndarray, alpha: float) -> None:
    """SmoothQuant on each feed-forward output projection of an fp32 BERT graph, in place: its input channels
    are divided by s and the weight's rows multiplied by s (the product is unchanged in exact arithmetic), with
    s = absmax^alpha / max|W row|^(1-alpha). A few GELU channels reach 30-60 where the median is ~1.4, so a
    per-tensor int8 scale loses the rest; divided by s they are as easy to quantise as the other projections."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    for layer, amax in enumerate(absmax):
        node = next(n for n in nodes if n.name == FFN_OUT.format(layer))
        w = numpy_helper.to_array(inits[node.input[1]])  # (intermediate, hidden)
        s = (np.maximum(amax, 1e-5) ** alpha / np.maximum(np.abs(w).max(1), 1e-5) ** (1 - alpha)).astype(np.float32)
        inits[node.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), node.input[1]))
        inv = f"{node.name}/smooth_inv"
        model.graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), inv))
        out = f"{node.name}/smoothed_input"
        mul = helper.make_node("Mul", [node.input[0], inv], [out], name=f"{node.name}/smooth")
        node.input[0] = out
        model.graph.node.insert(list(model.graph.node).index(node), mul)


def _prune(graph) -> None:
    """Drop the nodes and initializers no graph output depends on any more."""
    need = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(o in need for o in node.output):
            keep.append(node)
            need.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    used = {i for n in graph.node for i in n.input}
    inits = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def fuse_attention(model, heads: int) -> int:
    """Each layer's eager self-attention (reshape/transpose Q, K, V, QK^T, scale, + mask, softmax, AV, transpose
    back) becomes one com.microsoft MultiHeadAttention on the three projections' outputs, in place; returns the
    number of layers rewritten. Its CPU kernel (flash attention, no mask) took less time than the twelve
    unfused ops did. The attention mask is dropped: valid only for an unpadded text, which is how every text
    runs here (batch of one, mask all ones); the mask still weights the mean pooling."""
    from onnx import helper

    graph = model.graph
    done = 0
    while True:
        pre = f"/bert/encoder/layer.{done}/attention/self/"
        by_name = {n.name: n for n in graph.node}
        if pre + "Reshape_3" not in by_name:
            break
        out = by_name[pre + "Reshape_3"]  # (batch, tokens, hidden): the heads put back together
        qkv = [by_name[pre + f"{k}/Add"].output[0] for k in ("query", "key", "value")]
        graph.node.remove(out)
        at = max(i for i, n in enumerate(graph.node) if set(n.output) & set(qkv))
        graph.node.insert(at + 1, helper.make_node(ATTENTION_OP, qkv, [out.output[0]], name=pre + ATTENTION_OP,
                                                   domain="com.microsoft", num_heads=heads))
        done += 1
    if not done:
        raise ValueError("no eager BERT self-attention found to fuse (export naming changed?)")
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    _prune(graph)
    return done


def session_options(variant: str, threads: int):
    """(SessionOptions, disabled optimizers) for a passage session: int8 runs without SkipLayerNormFusion."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts, list(DISABLED_OPTIMIZERS) if variant == "int8" else None


def int8_is_current(model_dir: Path) -> bool:
    from indexer.embedding.onnx_query import is_current

    model_dir = Path(model_dir)
    try:
        stamp = json.loads(_stamp_path(model_dir).read_text(encoding="utf-8"))
        from indexer.embedding.encoder import model_fingerprint

        return (int8_path(model_dir).is_file() and int8_data_path(model_dir).is_file() and is_current(model_dir)
                and stamp.get("format") == FORMAT and stamp.get("layout") == "external-data"
                and stamp.get("model_fingerprint") == model_fingerprint(model_dir)
                and stamp.get("recipe") == recipe(model_dir))
    except (OSError, ValueError):
        return False


def export_eager(model_dir: Path, path: Path) -> Path:
    """The fp32 e5 graph with eager attention (plain MatMul/Softmax: no SDPA mask ops), what int8 starts from."""
    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.embedding.onnx_query import pooled_module

    st = SentenceTransformer(str(model_dir), device="cpu").eval()
    bert = st[0].auto_model.eval()
    bert.set_attn_implementation("eager")
    enc = st.tokenizer(["passage: khởi tạo"], return_tensors="pt")
    with torch.inference_mode():
        torch.onnx.export(pooled_module(bert), (enc["input_ids"], enc["attention_mask"]), str(path),
                          input_names=["ids", "mask"], output_names=["vector"], opset_version=17,
                          dynamo=False, dynamic_axes={"ids": {0: "batch", 1: "tokens"},
                                                      "mask": {0: "batch", 1: "tokens"}, "vector": {0: "batch"}})
    return path


def export_int8(model_dir: Path) -> Path:
    """Export (eager attention) and quantise the passage encoder; idempotent, stamp written last."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from indexer.embedding.encoder import model_fingerprint

    model_dir = Path(model_dir).resolve()
    out = int8_path(model_dir)
    if int8_is_current(model_dir):
        return out
    stamp = _stamp_path(model_dir)
    stamp.unlink(missing_ok=True)
    how, cal = recipe(model_dir), calibration(model_dir)
    with tempfile.TemporaryDirectory(dir=model_dir.parent) as tmp:
        fp32 = export_eager(model_dir, Path(tmp) / "eager.onnx")
        graph = onnx.load(str(fp32))
        if cal is not None:
            smooth(graph, cal, SMOOTH_ALPHA)
        fuse_attention(graph, _heads(model_dir))
        onnx.save(graph, str(fp32))
        part = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=how["keep_fp32"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        data = int8_data_path(model_dir)
        staged = Path(tmp) / "final" / out.name
        staged.parent.mkdir()
        onnx.save_model(onnx.load(str(part)), str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
        for f in (staged.with_name(data.name), staged):  # the weights first: the graph names them
            f.chmod(0o644)
            os.replace(f, data if f.name == data.name else out)
    digest = hashlib.sha256((sha256_file(out) + sha256_file(data)).encode()).hexdigest()
    stamp.write_text(json.dumps({"format": FORMAT, "layout": "external-data", "model_fingerprint": model_fingerprint(model_dir),
                                 "recipe": how, "sha256": digest}), encoding="utf-8")
    return out


def _heads(model_dir: Path) -> int:
    return int(json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))["num_attention_heads"])


def encoder_id(model_dir: Path, variant: str) -> str:
    """What the index records beside the model fingerprint, so vectors of two passage encoders never mix."""
    if variant == "int8":
        stamp = json.loads(_stamp_path(Path(model_dir)).read_text(encoding="utf-8"))
        return f"onnx-int8:{FORMAT}:{stamp['sha256'][:16]}"
    return variant  # "fp32" (ONNX) and "torch" give the same vectors to cosine ≥ 0.9999


def windows(ids: list[int], head: int, max_len: int, overlap: int = WINDOW_OVERLAP) -> list[list[int]]:
    """Token windows of one encoded text: ``ids`` = [CLS] + prompt + body + [SEP], ``head`` = 1 + prompt length.

    A text that fits is one window. A longer one becomes windows of at most ``max_len`` tokens, each with the
    same head (so every window reads "passage: …") and end token, consecutive bodies overlapping by
    ``overlap`` tokens: nothing past the 512th token is lost any more.
    """
    if len(ids) <= max_len:
        return [ids]
    start, body, end = ids[:head], ids[head:-1], ids[-1:]
    width = max_len - head - 1
    step = max(1, width - overlap)
    out = []
    for a in range(0, len(body), step):
        out.append(start + body[a:a + width] + end)
        if a + width >= len(body):
            break
    return out


class OnnxPassageEncoder:
    """Passages → vectors with ONNX Runtime and the model's fast tokenizer; no torch is imported."""

    def __init__(self, model_dir: Path, variant: str = DEFAULT_VARIANT, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from indexer.embedding.onnx_query import _read_stamp, onnx_path

        model_dir = Path(model_dir)
        stamp = _read_stamp(model_dir)
        self.variant = variant
        self.prompt = dict(stamp["prompts"]).get("passage", "")
        self.max_length, self.dim = int(stamp["max_seq_length"]), int(stamp["dim"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._head = len(self.tokenizer.encode(self.prompt).ids) - 1 if self.prompt else 1  # [CLS] + prompt
        path = int8_path(model_dir) if variant == "int8" else onnx_path(model_dir)
        opts, disabled = session_options(variant, threads or int(os.environ.get("DIRECTIVES_ONNX_THREADS")
                                                                  or min(2, os.cpu_count() or 1)))
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=disabled)

    def token_windows(self, text: str) -> list[list[int]]:
        return windows(self.tokenizer.encode(self.prompt + text).ids, self._head, self.max_length)

    def embed(self, text: str) -> Embedded:
        rows = []
        for w in self.token_windows(text):
            ids = np.asarray([w], dtype=np.int64)
            rows.append(self.session.run(None, {"ids": ids, "mask": np.ones_like(ids)})[0][0])
        return Embedded.of_windows(np.asarray(rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="indexer.embedding.onnx_passage", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a local sentence-transformers BERT model directory")
    args = p.parse_args(argv)
    print(f"{export_int8(Path(args.model))}: up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
