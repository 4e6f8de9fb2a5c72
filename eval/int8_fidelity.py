"""How close the int8 graphs come to fp32 on this machine's CPU, and what the int8 query graph saves.

Without 8-bit dot products (AVX-512 VNNI or AVX-VNNI) ONNX Runtime's int8 kernels multiply u8 × s8 pairs into
16 bits, which can saturate, so the same graph is a little less exact on such a CPU. This prints the CPU's
flag, the cosine of int8 to fp32 vectors (the 123 seed chunks as passages, the 63 gold queries as queries),
and the latency of one query through each graph, the two interleaved over ``--rounds``. Figures:
eval/RESULTS.md round 15.

    .venv/bin/python -m eval.int8_fidelity --index-dir .index
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np


def vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return " avx512_vnni" in flags or " avx_vnni" in flags


def _cosines(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    c = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(c.mean()), float(c.min())


def main(argv: list[str] | None = None) -> int:
    from eval.gold import load_gold
    from indexer.embedding.encoder import DEFAULT_MODEL_DIR
    from indexer.embedding.onnx_passage import OnnxPassageEncoder
    from indexer.embedding.onnx_query import OnnxQueryEncoder
    from search_api.service import SearchService

    p = argparse.ArgumentParser(prog="eval.int8_fidelity", description=__doc__.split("\n\n")[0])
    p.add_argument("--index-dir", default=".index")
    p.add_argument("--gold", default="eval/gold.json")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    svc = SearchService.open(Path(args.index_dir))
    texts = [c.text for d in svc.documents() for c in svc.chunks_of(d.doc_id)]
    svc.close()
    queries = [q.q for q in load_gold(args.gold).queries]
    model = Path(DEFAULT_MODEL_DIR)
    print(f"CPU with VNNI: {vnni()}")
    pas = {v: OnnxPassageEncoder(model, v, threads=1) for v in ("int8", "fp32")}
    vec = {v: np.stack([e.embed(t).vector for t in texts]) for v, e in pas.items()}
    print("passages ({} seed chunks): cosine int8 / fp32 mean {:.4f}, min {:.4f}".format(
        len(texts), *_cosines(vec["int8"], vec["fp32"])))
    qry = {v: OnnxQueryEncoder(model, 2, v) for v in ("int8", "fp32")}
    print("queries ({} gold queries): cosine int8 / fp32 mean {:.4f}, min {:.4f}".format(
        len(queries), *_cosines(qry["int8"].encode(queries), qry["fp32"].encode(queries))))
    for r in range(args.rounds):
        for v in (("int8", "fp32") if r % 2 == 0 else ("fp32", "int8")):
            ms = []
            for q in queries:
                t = time.perf_counter()
                qry[v].encode([q])
                ms.append((time.perf_counter() - t) * 1000)
            ms.sort()
            print(f"round {r + 1}, {v} query: p50 {statistics.median(ms):.2f} ms, p95 {ms[int(0.95 * len(ms))]:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
