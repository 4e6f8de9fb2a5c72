"""Speed benchmark (not a test): index throughput, HTTP latency p50/p95, peak RSS at 1k/10k/100k chunks.

The scale corpus is SYNTHETIC: copies of the five seed directives whose task and item paragraphs each get a
random tail sentence ("Địa bàn áp dụng: …" from seed vocabulary) so every file and chunk is distinct while the
structure, length and vocabulary stay those of real directives. Embedding is the slow part on 2 CPU cores, so
by default the synthetic chunks get the REAL vector of the seed chunk they copy plus small Gaussian noise
(re-normalised); the embedding throughput is measured separately on real seed chunks and reported. The index,
FTS5, FAISS and query paths are the production ones.

    .venv/bin/python -m eval.bench --sizes 1k,10k,100k          # writes eval/out/bench.json and bench.md
    .venv/bin/python -m eval.bench --sizes 1k --real-embed-max 1000   # also embed the 1k corpus for real
    .venv/bin/python -m eval.bench --measure-only --work DIR    # re-time queries on a previous run's indexes
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
TAIL = "Địa bàn áp dụng:"
_TAIL_RE = re.compile(r"\s*Địa bàn áp dụng:[^.\n]*\.")
_BLOCK_START = re.compile(r"^\s*(?:\*\*)?(?:\d+(?:\.\d+)*\.|[a-zđ]\)|[-+•])\s")
NOISE = 0.02


def parse_size(s: str) -> int:
    s = s.strip().lower()
    return int(float(s[:-1]) * 1000) if s.endswith("k") else int(s)


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[i]


# --- the synthetic corpus -----------------------------------------------------------------------------------

def _vocab(texts: list[str]) -> list[str]:
    words = {w for t in texts for w in re.findall(r"[^\W\d_]+", t.lower()) if len(w) > 1}
    return sorted(words)


def perturb(text: str, rng: random.Random, vocab: list[str], n: int) -> str:
    """A seed file with a unique tail sentence on every task/item paragraph and a new document number."""
    text = re.sub(r"Số:\s*\**\d+\**", f"Số: {n}", text, count=1)
    blocks = re.split(r"(\n[ \t]*\n)", text)
    out = []
    for b in blocks:
        if _BLOCK_START.match(b) and len(b) > 40:
            b = b.rstrip() + f" {TAIL} " + " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 8))) + "."
        out.append(b)
    return "".join(out)


def make_corpus(n_chunks: int, out: Path, seed: int = 0) -> dict:
    """Write synthetic files until their seed chunk count reaches ``n_chunks``; return a summary."""
    from indexer.parse import parse_corpus

    docs, _ = parse_corpus(CORPUS)
    seeds = [(CORPUS / d.source, len(d.chunks)) for d in docs]
    texts = [p.read_text(encoding="utf-8") for p, _ in seeds]
    vocab = _vocab(texts)
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    total, i = 0, 0
    while total < n_chunks:
        s = i % len(seeds)
        (out / f"synthetic-{i:06d}-{seeds[s][0].stem}.txt").write_text(perturb(texts[s], rng, vocab, 1000 + i),
                                                                         encoding="utf-8")
        total += seeds[s][1]
        i += 1
    return {"files": i, "expected_chunks": total}


# --- build (runs in a child process so its peak RSS is its own) --------------------------------------------

def _reuse_vectors(seed_index: Path) -> None:
    """Patch the build's encoder call: seed chunk's real vector + noise, keyed by the text minus its tail."""
    import numpy as np

    from indexer import build
    from indexer.store import IndexStore

    st = IndexStore.open(seed_index)
    by_text = {}
    for s in st.iter_chunks():
        by_text[" ".join(s.chunk.text.split())] = st.vectors([s.rowid])[0]
    keys = list(by_text)
    st.close()
    rng = np.random.default_rng(0)
    misses = [0]

    def fake_encode(encoder, texts, progress, *_):  # build._encode also takes on_progress now
        from rapidfuzz import process

        out = np.zeros((len(texts), encoder.dim), dtype="float32")
        for i, t in enumerate(texts):
            key = " ".join(_TAIL_RE.sub("", t).split())
            v = by_text.get(key)
            if v is None:
                misses[0] += 1
                v = by_text[process.extractOne(key, keys)[0]]
            v = v + rng.normal(0, NOISE, size=v.shape)
            out[i] = v / np.linalg.norm(v)
        return out

    build._encode = fake_encode
    build._bench_misses = misses


def child_build(args: argparse.Namespace) -> int:
    from indexer import build

    if args.vectors == "reuse":
        _reuse_vectors(Path(args.seed_index))
    t0 = time.perf_counter()
    rep = build.build_index(Path(args.corpus), Path(args.index_dir), progress=False)
    secs = time.perf_counter() - t0
    misses = getattr(build, "_bench_misses", [0])[0]
    print(json.dumps({"seconds": round(secs, 2), "documents": rep.documents, "chunks": rep.chunks,
                      "chunks_per_s": round(rep.chunks / secs, 1), "errors": len(rep.errors),
                      "vectors": args.vectors, "vector_lookup_misses": misses,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    return 0


def child_serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("DIRECTIVES_THREADS", "1")  # as `directives serve` does
    import uvicorn

    from search_api.app import create_app
    from search_api.service import SearchService

    svc = SearchService.open(args.index_dir, query_only=True)  # as `directives serve` does
    uvicorn.run(create_app(Path(args.index_dir), service=svc), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


# --- measuring ----------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> dict[str, float]:
    got = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            k, v = line.split(":")
            got[k] = round(int(v.split()[0]) / 1024, 1)
    return {"peak_rss_mb": got.get("VmHWM", 0.0), "rss_mb": got.get("VmRSS", 0.0)}


def _timed(fn, items, warm: int = 3) -> dict[str, float]:
    for it in items[:warm]:
        fn(it)
    ts = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        ts.append((time.perf_counter() - t) * 1000)
    return {"n": len(ts), "p50_ms": round(percentile(ts, 50), 1), "p95_ms": round(percentile(ts, 95), 1),
            "mean_ms": round(statistics.fmean(ts), 1)}


def gold_queries() -> list[str]:
    data = json.loads((REPO / "eval" / "gold.json").read_text(encoding="utf-8"))
    return [q["q"] for q in data["queries"]]


def http_latency(index_dir: Path, n_search: int, n_compare: int, n_evolution: int, log: Path) -> dict:
    """Start a server on 127.0.0.1, warm it, time search / compare / evolution requests, read its RSS."""
    import httpx

    port = _free_port()
    with open(log, "a") as lf:
        proc = subprocess.Popen([sys.executable, "-m", "eval.bench", "_serve", "--index-dir", str(index_dir),
                                 "--port", str(port)], cwd=REPO, stdout=lf, stderr=lf)
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, timeout=300)
        t0 = time.perf_counter()
        while True:
            try:
                if client.get("/api/documents").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > 600:
                raise RuntimeError(f"server did not start (see {log})")
            time.sleep(0.5)
        startup = time.perf_counter() - t0
        docs = [d["doc_id"] for d in client.get("/api/documents").json()]
        qs = gold_queries()
        rng = random.Random(1)
        # every query once (cold: its vector is not cached yet), then the same again (repeat: the server's query
        # cache answers the encoding, as for paging, facets or a colleague opening the same permalink)
        cold = list(dict.fromkeys(qs))[:n_search]
        pairs = [tuple(rng.sample(docs, 2)) for _ in range(n_compare)]
        topics = [qs[i * 7 % len(qs)] for i in range(n_evolution)]

        def get(path: str):
            r = client.get(path)
            r.raise_for_status()

        out = {"startup_s": round(startup, 1)}
        search = lambda q: get("/api/search?" + urllib.parse.urlencode({"q": q, "k": 10}))  # noqa: E731
        search("khởi động máy chủ")  # warm the server (model load) with a query outside the timed set
        out["search"] = _timed(search, cold, warm=0)
        out["search_repeat"] = _timed(search, cold, warm=0)
        out["compare"] = _timed(lambda p: get(f"/api/compare?a={p[0]}&b={p[1]}"), pairs, warm=1)
        out["evolution"] = _timed(lambda q: get("/api/evolution?" + urllib.parse.urlencode({"q": q})), topics,
                                  warm=1)
        out["server"] = _rss_mb(proc.pid)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def inprocess_baselines(index_dir: Path, n: int) -> dict:
    """Same machine, no HTTP: plain BM25 (one FTS5 query), dense alone (encode + FAISS), the three modes."""
    import numpy as np

    from indexer.store import segments, terms_of
    from search_api.service import SearchService

    svc = SearchService.open(index_dir)
    qs = [gold_queries()[i % 63] for i in range(n)]
    con = svc.store.con

    def bm25(q: str) -> None:
        terms = " OR ".join('"' + t + '"' for t in dict.fromkeys(terms_of(segments(q))))
        con.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT 10",
                    (f"exact : ({terms})",)).fetchall()

    def encode(q: str):
        return svc.encoder.encode_queries([q])[0]  # uncached: the cost of a query never seen before

    def dense(q: str) -> None:
        svc.store.faiss.search(np.asarray(encode(q), dtype="float32").reshape(1, -1), 10)

    def cold_search(q: str, m: str) -> None:
        svc._qcache.clear()
        svc.search(q, k=10, mode=m)

    out = {"plain_bm25": _timed(bm25, qs), "dense_alone": _timed(dense, qs), "query_encode": _timed(encode, qs)}
    for mode in ("lexical", "dense", "hybrid"):
        out[f"service_{mode}"] = _timed(lambda q, m=mode: cold_search(q, m), qs)
    svc.close()
    return out


def embed_throughput(n: int) -> dict:
    """Real e5 embedding speed on seed chunk texts (what a real 100k build would spend most of its time on)."""
    from indexer.embedding.encoder import Encoder
    from indexer.parse import parse_corpus

    docs, _ = parse_corpus(CORPUS)
    texts = [c.text for d in docs for c in d.chunks][:n]
    enc = Encoder.load(None)
    enc.encode_passages(texts[:4])
    t = time.perf_counter()
    enc.encode_passages(texts, batch_size=32)
    secs = time.perf_counter() - t
    return {"chunks": len(texts), "seconds": round(secs, 1), "chunks_per_s": round(len(texts) / secs, 2)}


# --- the run ------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = work / "bench-children.log"
    res: dict = {"synthetic": True, "note": __doc__.split("\n\n")[1].replace("\n", " "),
                 "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}, "sizes": {}}
    seed_index = work / "seed-index"
    t = time.perf_counter()
    from indexer.build import build_index

    build_index(CORPUS, seed_index, progress=False)
    print(f"seed index ready ({time.perf_counter() - t:.0f}s)", flush=True)
    if args.embed_sample:
        res["embedding"] = embed_throughput(args.embed_sample)
        print("embedding", res["embedding"], flush=True)
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
        corpus, index = work / f"corpus-{label}", work / f"index-{label}"
        t = time.perf_counter()
        info = make_corpus(size, corpus)
        info["generate_s"] = round(time.perf_counter() - t, 1)
        if index.exists():
            shutil.rmtree(index)
        vectors = "real" if size <= args.real_embed_max else "reuse"
        cmd = [sys.executable, "-m", "eval.bench", "_build", "--corpus", str(corpus), "--index-dir", str(index),
               "--vectors", vectors, "--seed-index", str(seed_index)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
        info["build"] = json.loads(done.stdout.strip().splitlines()[-1])
        print(label, "build", info["build"], flush=True)
        info["http"] = http_latency(index, args.n_search, args.n_compare, args.n_evolution, log)
        print(label, "http", info["http"], flush=True)
        info["in_process"] = inprocess_baselines(index, args.n_search)
        print(label, "in-process", info["in_process"], flush=True)
        res["sizes"][label] = info
        if not args.keep:
            shutil.rmtree(corpus, ignore_errors=True)
    res["machine"]["loadavg_end"] = os.getloadavg()
    (out_dir / "bench.json").write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
    (out_dir / "bench.md").write_text(markdown(res), encoding="utf-8")
    return res


def measure_only(args: argparse.Namespace) -> dict:
    """Re-time the query paths on the indexes a previous run left in ``--work`` (build figures are kept):
    for a change to the query side, a 10-minute 100k rebuild measures nothing new."""
    work, out_dir = Path(args.work), Path(args.out)
    res = json.loads((out_dir / "bench.json").read_text(encoding="utf-8"))
    log = work / "bench-children.log"
    res["machine"]["loadavg_start"] = os.getloadavg()
    for label in [x.strip() for x in args.sizes.split(",") if x.strip()]:
        index = work / f"index-{label}"
        if label not in res["sizes"] or not index.exists():
            print(label, "skipped: no index from a previous run in", work, flush=True)
            continue
        info = res["sizes"][label]
        info["http"] = http_latency(index, args.n_search, args.n_compare, args.n_evolution, log)
        print(label, "http", info["http"], flush=True)
        info["in_process"] = inprocess_baselines(index, args.n_search)
        print(label, "in-process", info["in_process"], flush=True)
    res["machine"]["loadavg_end"] = os.getloadavg()
    (out_dir / "bench.json").write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
    (out_dir / "bench.md").write_text(markdown(res), encoding="utf-8")
    return res


def markdown(res: dict) -> str:
    """The README table: one row per size (SYNTHETIC corpus)."""
    lines = ["Synthetic scale corpus (recombined seed tasks; vectors "
             + ("re-used from seed chunks + noise" if any(s["build"]["vectors"] == "reuse"
                                                          for s in res["sizes"].values()) else "embedded")
             + f"); {res['machine']['cpus']} CPUs, load average at start "
             + ", ".join(f"{x:.1f}" for x in res["machine"]["loadavg_start"]) + ".", "",
             "| chunks | build chunks/s | build peak RSS | search p50/p95 (HTTP, new query) | "
             "search p50/p95 (HTTP, repeated query) | compare p50/p95 | evolution p50/p95 | server RSS peak | "
             "plain BM25 p50/p95 | dense alone p50/p95 | query encoding p50/p95 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def pp(d: dict) -> str:
        return f"{d['p50_ms']:.0f} / {d['p95_ms']:.0f} ms"

    for s in res["sizes"].values():
        b, h, ip = s["build"], s["http"], s["in_process"]
        rep = pp(h["search_repeat"]) if "search_repeat" in h else "–"
        lines.append(f"| {b['chunks']:,} | {b['chunks_per_s']:.0f} | {b['peak_rss_mb']:.0f} MB | {pp(h['search'])} | "
                     f"{rep} | {pp(h['compare'])} | {pp(h['evolution'])} | {h['server']['peak_rss_mb']:.0f} MB | "
                     f"{pp(ip['plain_bm25'])} | {pp(ip['dense_alone'])} | {pp(ip['query_encode'])} |")
    if "embedding" in res:
        e = res["embedding"]
        lines += ["", f"Real e5-small embedding on this machine: {e['chunks_per_s']} chunks/s "
                  f"({e['chunks']} seed chunks in {e['seconds']} s) — a real 100k build would spend "
                  f"≈{100_000 / e['chunks_per_s'] / 60:.0f} min embedding."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    b = sub.add_parser("_build")
    b.add_argument("--corpus", required=True)
    b.add_argument("--index-dir", required=True)
    b.add_argument("--vectors", choices=["real", "reuse"], default="reuse")
    b.add_argument("--seed-index", required=True)
    s = sub.add_parser("_serve")
    s.add_argument("--index-dir", required=True)
    s.add_argument("--port", type=int, required=True)
    p.add_argument("--sizes", default="1k,10k,100k", help="comma list: 1k,10k,100k or plain numbers")
    p.add_argument("--work", default="/tmp/directives-bench", help="scratch dir for corpora and indexes")
    p.add_argument("--out", default=str(REPO / "eval" / "out"))
    p.add_argument("--real-embed-max", type=int, default=0, help="embed for real up to this many chunks")
    p.add_argument("--embed-sample", type=int, default=123, help="seed chunks to time real embedding on (0: skip)")
    p.add_argument("--n-search", type=int, default=100)
    p.add_argument("--n-compare", type=int, default=10)
    p.add_argument("--n-evolution", type=int, default=10)
    p.add_argument("--keep", action="store_true", help="keep the synthetic corpora")
    p.add_argument("--measure-only", action="store_true",
                   help="re-time HTTP and in-process queries on the indexes of a previous run in --work")
    args = p.parse_args(argv)
    if args.cmd == "_build":
        return child_build(args)
    if args.cmd == "_serve":
        return child_serve(args)
    res = measure_only(args) if args.measure_only else run(args)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
