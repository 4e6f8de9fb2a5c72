"""Throughput of `directives index --dask` on this machine: a local build against 1 and 2 Dask workers.

Every build embeds for real (int8 ONNX) a synthetic corpus (``eval.bench.make_corpus``: copies of the seeds
with a random tail on every task, so every chunk is new). Runs are interleaved (local, 1 worker, 2 workers,
then again) because the machine is shared; each build runs in its own process so its CPU time is its own:
the coordinator's CPU seconds per chunk is what one coordinator can feed (the cluster's ceiling). Every
process binds 127.0.0.1.

    .venv/bin/python -m eval.dask_bench --chunks 1000 --rounds 2       # → eval/out/dask_bench.json
    .venv/bin/python -m eval.dask_bench --reuse --chunks 100k --rounds 1   # the coordinator at 100k chunks

``--reuse``: the workers give each synthetic chunk its seed chunk's vector plus noise
(``eval/dask_reuse_preload.py``), so a 100k-chunk build measures the coordinator (and parsing on the
workers), not embedding; the local baseline re-uses vectors the same way (``eval.bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> int:
    from indexer.build import build_index

    if args.reuse and not args.dask:
        from eval.bench import _reuse_vectors

        _reuse_vectors(Path(args.seed_index))

    t = time.perf_counter()
    rep = build_index(Path(args.corpus), Path(args.index_dir), progress=False, merge="off", dask=args.dask or None)
    secs = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": round(secs, 2), "chunks": rep.chunks, "encoded": rep.encoded,
                      "errors": len(rep.errors), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                      "peak_rss_mb": round(ru.ru_maxrss / 1024), "cluster": {
                          k: rep.cluster.get(k) for k in ("accepted", "parse_s", "embed_s", "wait_s")}}))
    return 0


def run_build(corpus: Path, index: Path, dask: str = "", seed_index: Path | None = None) -> dict:
    shutil.rmtree(index, ignore_errors=True)
    cmd = [sys.executable, "-m", "eval.dask_bench", "_build", "--corpus", str(corpus), "--index-dir", str(index)]
    if seed_index is not None:
        cmd += ["--reuse", "--seed-index", str(seed_index)]
    if dask:
        cmd += ["--dask", dask]
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["chunks_per_s"] = round(res["chunks"] / res["seconds"], 1)
    res["coordinator_ms_per_chunk"] = round(1000 * res["cpu_s"] / res["chunks"], 2)
    res["load_start"] = round(load, 2)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.dask_bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    b = sub.add_parser("_build")
    b.add_argument("--corpus", required=True)
    b.add_argument("--index-dir", required=True)
    b.add_argument("--dask", default="")
    b.add_argument("--reuse", action="store_true")
    b.add_argument("--seed-index", default="")
    p.add_argument("--chunks", default="1000")
    p.add_argument("--reuse", action="store_true", help="re-used seed vectors instead of real embedding")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", default="/tmp/directives-dask-bench")
    p.add_argument("--out", default=str(REPO / "eval" / "out" / "dask_bench.json"))
    args = p.parse_args(argv)
    if args.cmd == "_build":
        return child(args)

    from eval.bench import CORPUS, make_corpus, parse_size
    from tests.dask_cluster import LocalDaskCluster

    work = Path(args.work)
    corpus = work / "corpus"
    info = make_corpus(parse_size(args.chunks), corpus, seed=7)
    res: dict = {"corpus": info, "runs": [], "reuse": args.reuse}
    seed_index = None
    extra, env = [], {}
    if args.reuse:
        from indexer.build import build_index

        seed_index = work / "seed-index"
        if not seed_index.is_dir():
            build_index(CORPUS, seed_index, progress=False)
        extra, env = ["--preload", "eval.dask_reuse_preload"], {"DIRECTIVES_BENCH_SEED_INDEX": str(seed_index)}
    clusters = {}
    try:
        clusters["1 worker (2 embedding threads)"] = LocalDaskCluster(work / "c1", workers=1, embed_threads=2,
                                                                      worker_args=extra, env=env)
        clusters["2 workers (1 embedding thread each)"] = LocalDaskCluster(work / "c2", workers=2, worker_args=extra,
                                                                           env=env)
        for c in clusters.values():
            cl = c.client()
            c.wait_for_workers(cl, len(c.worker_procs), timeout=120)
            cl.close()
        for r in range(args.rounds):
            for name, dask in [("local", ""), *((n, c.address) for n, c in clusters.items())]:
                got = run_build(corpus, work / "index", dask, seed_index)
                got.update(round=r, config=name)
                res["runs"].append(got)
                print(json.dumps(got), flush=True)
    finally:
        for c in clusters.values():
            c.close()
    if args.reuse and args.out.endswith("dask_bench.json"):
        args.out = args.out.replace("dask_bench.json", "dask_bench_reuse.json")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
