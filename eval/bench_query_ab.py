"""A/B timing of search over HTTP: servers of two code checkouts (each on its own index) asked the same
queries in turn, request by request, so both see the same minutes of a shared machine (±30 % between runs).

Each server is ``python -m eval.bench _serve`` started from its code directory (what ``directives serve``
runs: no torch, ONNX query encoding). Every gold query is asked once on each server — a *new* query, whose
vector must be computed — and then again — a *repeated* one, answered from the server's query-vector cache
as paging, facets and JSON twins are. The order of the two servers alternates from one query to the next.
Rounds restart both servers; the load average is recorded with each round.

    git worktree add /tmp/base-271 271ced2 && ln -s $PWD/.models /tmp/base-271/.models
    .venv/bin/python -m eval.bench_query_ab --baseline /tmp/base-271 --baseline-index /tmp/q16/base-index-100k \\
        --index /tmp/q16/index-100k --rounds 3          # → eval/out/bench-query-ab.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from eval.bench import _free_port, _rss_mb, gold_queries, percentile, wait_until_serving, wait_until_warm

REPO = Path(__file__).resolve().parents[1]


def _die_with_parent() -> None:
    """In the child: stop when this benchmark stops, however it stops (PR_SET_PDEATHSIG = 1)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Server:
    """One search server from ``code`` on ``index_dir``, bound to 127.0.0.1, stopped by :meth:`stop`."""

    def __init__(self, name: str, code: Path, index_dir: Path, log: Path, env: dict[str, str] | None = None):
        import httpx

        self.name = name
        port = _free_port()
        full_env = {**os.environ, "PYTHONPATH": str(code), **(env or {})}
        with open(log, "a") as lf:
            self.proc = subprocess.Popen([sys.executable, "-m", "eval.bench", "_serve", "--index-dir",
                                          str(index_dir), "--port", str(port)], cwd=code, env=full_env,
                                         stdout=lf, stderr=lf, preexec_fn=_die_with_parent)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
        self.startup_s = round(wait_until_serving(self.client, self.proc, f"server {name} from {code} (see {log})",
                                                  timeout=900), 1)
        self.warmup_s = round(wait_until_warm(self.client), 1)  # encoder, scans, drafting caches: not timed
        self.search("khởi động máy chủ")  # first request, outside the timed set

    def search(self, q: str) -> tuple[float, list[str]]:
        t = time.perf_counter()
        r = self.client.get("/api/search?" + urllib.parse.urlencode({"q": q, "k": 10}))
        ms = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        return ms, [x["chunk_id"] for x in r.json()["results"]]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def stats(ts: list[float]) -> dict:
    return {"n": len(ts), "p50_ms": round(percentile(ts, 50), 1), "p95_ms": round(percentile(ts, 95), 1)}


def one_round(specs: list[tuple[str, Path, Path]], queries: list[str], log: Path) -> dict:
    servers: list[Server] = []
    try:
        for n, c, i in specs:
            servers.append(Server(n, c, i, log))
        times = {s.name: {"new": [], "repeated": []} for s in servers}
        same_top10 = 0
        load = os.getloadavg()[0]
        for kind in ("new", "repeated"):
            for k, q in enumerate(queries):
                got = set()
                for s in servers if k % 2 == 0 else servers[::-1]:
                    ms, ids = s.search(q)
                    times[s.name][kind].append(ms)
                    got.add(tuple(ids))
                same_top10 += kind == "new" and len(got) == 1
        out: dict = {"loadavg": round(load, 2), "loadavg_end": round(os.getloadavg()[0], 2),
                     "same_top10": same_top10}
        for s in servers:
            out[s.name] = {kind: stats(v) for kind, v in times[s.name].items()}
            out[s.name]["startup_s"] = s.startup_s
            out[s.name]["warmup_s"] = s.warmup_s
            out[s.name]["server"] = _rss_mb(s.proc.pid)
        return out
    finally:
        for s in servers:
            s.stop()


def markdown(res: dict) -> str:
    names = res["names"]
    lines = [f"queries: {res['n_queries']} gold queries, k=10; machine: {os.cpu_count()} CPUs", "",
             "| round | load | code | new p50 / p95 | repeated p50 / p95 | server RSS peak |", "|---|---|---|---|---|---|"]
    for k, row in enumerate(res["rounds"]):
        for n in names:
            x = row[n]
            lines.append(f"| {k + 1} | {row['loadavg']:.1f} | {n} | {x['new']['p50_ms']:.1f} / {x['new']['p95_ms']:.1f} ms | "
                         f"{x['repeated']['p50_ms']:.1f} / {x['repeated']['p95_ms']:.1f} ms | "
                         f"{x.get('server', {}).get('peak_rss_mb', 0):.0f} MB |")
        if len(names) == 2:
            a, b = (row[n] for n in names)
            r = {kind: (b[kind]["p50_ms"] / a[kind]["p50_ms"], b[kind]["p95_ms"] / a[kind]["p95_ms"])
                 for kind in ("new", "repeated")}
            lines.append(f"| {k + 1} | | {names[1]} ÷ {names[0]} | {r['new'][0]:.2f} / {r['new'][1]:.2f} | "
                         f"{r['repeated'][0]:.2f} / {r['repeated'][1]:.2f} | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench_query_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", help="a checkout of the baseline code (with .models); omit to time one server")
    p.add_argument("--baseline-index", help="the index the baseline serves (default: --index)")
    p.add_argument("--current", default=str(REPO))
    p.add_argument("--index", required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "eval" / "out"))
    p.add_argument("--tag", default="", help="suffix of the output files")
    args = p.parse_args(argv)
    specs = []
    if args.baseline:
        specs.append(("baseline", Path(args.baseline), Path(args.baseline_index or args.index)))
    specs.append(("current", Path(args.current), Path(args.index)))
    queries = list(dict.fromkeys(gold_queries()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "bench-query-ab-servers.log"
    res = {"names": [s[0] for s in specs], "specs": [[n, str(c), str(i)] for n, c, i in specs],
           "n_queries": len(queries), "rounds": []}
    for r in range(args.rounds):
        row = one_round(specs if r % 2 == 0 else specs[::-1], queries, log)
        res["rounds"].append(row)
        print(r, json.dumps(row), flush=True)
    stem = f"bench-query-ab{args.tag}"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    md = markdown(res)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
