"""The query side of the default model in ONNX Runtime: ~17 ms per query instead of ~46 ms in torch.

A search embeds one short query, where torch's per-operator overhead dominates on 2 CPU cores; ONNX Runtime
runs the same graph (BERT → mean pooling → L2 normalisation, exported from the very weights the index was
built with) about 2.8× faster and gives the same vectors (cosine ≥ 0.9999, tested). Passages stay in torch,
where batching hides that overhead. The export lives beside the model directory, not inside it, so the
model's fingerprint (and every index built with it) is unchanged.

    .venv/bin/python -m indexer.embedding.onnx_query --model .models/multilingual-e5-small   # `make model` does it
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

SUFFIX = ".query.onnx"
STAMP_SUFFIX = ".query.onnx.json"


def onnx_path(model_dir: Path) -> Path:
    return model_dir.parent / (model_dir.name + SUFFIX)


def _stamp(model_dir: Path) -> dict:
    from indexer.embedding.encoder import model_fingerprint

    return {"model_fingerprint": model_fingerprint(model_dir), "format": 1}


def is_current(model_dir: Path) -> bool:
    """An export exists and was made from exactly these weights."""
    path, stamp = onnx_path(model_dir), model_dir.parent / (model_dir.name + STAMP_SUFFIX)
    try:
        return path.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == _stamp(model_dir)
    except (OSError, ValueError):
        return False


def export(model_dir: Path) -> Path:
    """Export the query encoder (idempotent; written to a temp name, then renamed)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir).resolve()
    out = onnx_path(model_dir)
    if is_current(model_dir):
        return out
    st = SentenceTransformer(str(model_dir), device="cpu").eval()
    bert = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)

    enc = st.tokenizer(["query: khởi tạo"], return_tensors="pt")
    tmp = out.with_name(out.name + ".tmp")
    with torch.inference_mode():
        torch.onnx.export(Pooled().eval(), (enc["input_ids"], enc["attention_mask"]), str(tmp),
                          input_names=["ids", "mask"], output_names=["vector"], opset_version=17, dynamo=False,
                          dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                                        "vector": {0: "batch"}})
    os.replace(tmp, out)
    stamp = model_dir.parent / (model_dir.name + STAMP_SUFFIX)
    stamp.write_text(json.dumps(_stamp(model_dir)), encoding="utf-8")
    return out


class OnnxQueryEncoder:
    """Queries → normalised vectors with ONNX Runtime, using the model's own tokenizer and "query: " prompt."""

    def __init__(self, model_dir: Path, tokenizer, prompt: str, max_length: int, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path(model_dir)), opts, providers=["CPUExecutionProvider"])
        self.tokenizer, self.prompt, self.max_length = tokenizer, prompt, max_length

    def encode(self, texts: list[str], prompt: str | None = None) -> np.ndarray:
        """Vectors of ``texts`` with the query prompt, or another one ("passage: " for drafts)."""
        prompt = self.prompt if prompt is None else prompt
        enc = self.tokenizer([prompt + t for t in texts], padding=True, truncation=True,
                             max_length=self.max_length, return_tensors="np")
        out = self.session.run(None, {"ids": enc["input_ids"].astype(np.int64),
                                      "mask": enc["attention_mask"].astype(np.int64)})[0]
        return np.ascontiguousarray(out, dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="indexer.embedding.onnx_query", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a local sentence-transformers BERT model directory")
    args = p.parse_args(argv)
    path = export(Path(args.model))
    print(f"{path}: up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
