"""A/B timing of compare and evolution over HTTP: a baseline checkout against the current code, on the same
index, alternating rounds in the same minutes (the shared machine varies ±30 % between runs, so only ratios
measured side by side mean anything).

Each round starts ``python -m eval.bench _serve`` from each code directory (the server ``directives serve``
runs: no torch, ONNX queries), warms it, then times the same compare pairs (random documents, seed 1, as
``eval.bench``) and the same evolution topics (gold queries). Pairs are cold for both: their documents'
units are not cached yet, as when staff compare two documents of a large corpus.

    git archive <baseline-commit> | tar -x -C /tmp/base && ln -s $PWD/.models /tmp/base/.models
    .venv/bin/python -m eval.bench_ab --index-dir /tmp/bench/index-100k --baseline /tmp/base --rounds 2
    # → eval/out/bench-ab.json and bench-ab.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

from eval.bench import _free_port, _rss_mb, _timed, gold_queries, wait_until_serving

REPO = Path(__file__).resolve().parents[1]


def serve(code: Path, index_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(code)}
    with open(log, "a") as lf:
        proc = subprocess.Popen([sys.executable, "-m", "eval.bench", "_serve", "--index-dir", str(index_dir),
                                 "--port", str(port)], cwd=code, env=env, stdout=lf, stderr=lf)
    return proc, f"http://127.0.0.1:{port}"


def measure(code: Path, index_dir: Path, pairs: list, topics: list[str], log: Path) -> dict:
    import httpx

    proc, base = serve(code, index_dir, log)
    try:
        client = httpx.Client(base_url=base, timeout=300)
        wait_until_serving(client, proc, f"server from {code} (see {log})")

        def get(path: str) -> None:
            client.get(path).raise_for_status()

        get("/api/search?q=kh%E1%BB%9Fi+%C4%91%E1%BB%99ng")  # model load, outside the timed set
        get(f"/api/compare?a={pairs[-1][0]}&b={pairs[-1][1]}")
        out = {"compare": _timed(lambda p: get(f"/api/compare?a={p[0]}&b={p[1]}"), pairs[:-1], warm=0),
               "evolution": _timed(lambda q: get("/api/evolution?" + urllib.parse.urlencode({"q": q})), topics,
                                   warm=1)}
        out["server"] = _rss_mb(proc.pid)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--index-dir", required=True)
    p.add_argument("--baseline", required=True, help="a checkout of the baseline code (with .models)")
    p.add_argument("--current", default=str(REPO))
    p.add_argument("--n-compare", type=int, default=30)
    p.add_argument("--n-evolution", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "eval" / "out"))
    args = p.parse_args(argv)
    index = Path(args.index_dir)
    docs = _doc_ids(index)
    rng = random.Random(1)
    pairs = [tuple(rng.sample(docs, 2)) for _ in range(args.n_compare + 1)]
    qs = gold_queries()
    topics = [qs[i * 7 % len(qs)] for i in range(args.n_evolution)]
    log = Path(args.out) / "bench-ab-servers.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    res = {"index": str(index), "loadavg_start": os.getloadavg(), "rounds": []}
    for r in range(args.rounds):
        row = {}
        for name, code in (("baseline", Path(args.baseline)), ("current", Path(args.current))):
            row[name] = measure(code, index, pairs, topics, log)
            print(r, name, row[name], flush=True)
        row["ratio"] = {k: {s: round(row["current"][k][s] / row["baseline"][k][s], 3) for s in ("p50_ms", "p95_ms")}
                        for k in ("compare", "evolution")}
        res["rounds"].append(row)
    res["loadavg_end"] = os.getloadavg()
    out = Path(args.out)
    (out / "bench-ab.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    lines = [f"index {index}; load average at start {res['loadavg_start'][0]:.1f}, end {res['loadavg_end'][0]:.1f}", "",
             "| round | code | compare p50 / p95 | evolution p50 / p95 | server RSS peak |", "|---|---|---|---|---|"]
    for k, row in enumerate(res["rounds"]):
        for name in ("baseline", "current"):
            x = row[name]
            lines.append(f"| {k + 1} | {name} | {x['compare']['p50_ms']:.0f} / {x['compare']['p95_ms']:.0f} ms | "
                         f"{x['evolution']['p50_ms']:.0f} / {x['evolution']['p95_ms']:.0f} ms | "
                         f"{x['server']['peak_rss_mb']:.0f} MB |")
        ra = row["ratio"]
        lines.append(f"| {k + 1} | current ÷ baseline | {ra['compare']['p50_ms']:.2f} / {ra['compare']['p95_ms']:.2f} | "
                     f"{ra['evolution']['p50_ms']:.2f} / {ra['evolution']['p95_ms']:.2f} | |")
    (out / "bench-ab.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def _doc_ids(index: Path) -> list[str]:
    from indexer.index.store import IndexStore

    st = IndexStore.open(index)
    try:
        return [r["doc_id"] for r in st.documents()]
    finally:
        st.close()


if __name__ == "__main__":
    raise SystemExit(main())
