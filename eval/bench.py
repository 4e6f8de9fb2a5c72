"""Speed benchmark (not a test): index throughput, HTTP latency p50/p95, peak RSS at 1k/10k/100k chunks.

The scale corpus is SYNTHETIC: copies of the five seed directives whose task and item paragraphs each get a
random tail sentence ("Địa bàn áp dụng: …" from seed vocabulary) so every file and chunk is distinct while the
structure, length and vocabulary stay those of real directives. Embedding is the slow part on 2 CPU cores, so
by default the synthetic chunks get the REAL vector of the seed chunk they copy plus small Gaussian noise
(re-normalised); the embedding throughput is measured separately on real seed chunks and reported. The index,
segments, BM25 postings and query paths are the production ones.

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
import threading
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
    from indexer.parsing.pipeline import parse_corpus

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
    from indexer.index.store import IndexStore

    st = IndexStore.open(seed_index)
    by_text = {}
    for s in st.iter_chunks():
        by_text[" ".join(s.chunk.text.split())] = st.vectors([s.rowid])[0]
    keys = list(by_text)
    st.close()
    rng = np.random.default_rng(0)
    misses = [0]

    def fake_embed(encoder, pending, ckpt, report, progress, on_progress):
        from rapidfuzz import process

        from indexer.embedding.vectors import Embedded

        out = []
        for _, t in pending:
            key = " ".join(_TAIL_RE.sub("", t).split())
            v = by_text.get(key)
            if v is None:
                misses[0] += 1
                v = by_text[process.extractOne(key, keys)[0]]
            v = v + rng.normal(0, NOISE, size=v.shape)
            out.append(Embedded((v / np.linalg.norm(v)).astype("float32")))
        report.encoded += len(pending)
        return out

    build._embed = fake_embed
    build._bench_misses = misses


def _mixed_vectors(seed_index: Path, n_real: int) -> None:
    """The real encoder path for the first ``n_real`` chunks (loaded by the build itself, as in production),
    re-used seed vectors for the rest: the peak RSS of a build that holds the encoder, in minutes not hours."""
    from indexer import build

    real_embed = build._embed
    _reuse_vectors(seed_index)
    reuse = build._embed
    left = [n_real]

    def mixed(encoder, pending, ckpt, report, progress, on_progress):
        k = min(left[0], len(pending))
        left[0] -= k
        out = real_embed(encoder, pending[:k], ckpt, report, progress, on_progress) if k else []
        return out + (reuse(encoder, pending[k:], ckpt, report, progress, on_progress) if k < len(pending) else [])

    build._embed = mixed


def child_build(args: argparse.Namespace) -> int:
    from indexer import build

    if args.vectors == "reuse":
        _reuse_vectors(Path(args.seed_index))
    elif args.vectors == "mixed":
        _mixed_vectors(Path(args.seed_index), args.real_chunks)
    t0 = time.perf_counter()
    rep = build.build_index(Path(args.corpus), Path(args.index_dir), progress=False, merge="off")
    secs = time.perf_counter() - t0
    misses = getattr(build, "_bench_misses", [0])[0]
    print(json.dumps({"seconds": round(secs, 2), "documents": rep.documents, "chunks": rep.chunks,
                      "chunks_per_s": round(rep.chunks / secs, 1), "errors": len(rep.errors),
                      "vectors": args.vectors, "vector_lookup_misses": misses, "encoded": rep.encoded,
                      "segments": rep.segments,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    return 0


def child_serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("DIRECTIVES_THREADS", "1")  # as `directives serve` does
    from search_api.hugepages import restart_with_huge_pages

    restart_with_huge_pages()  # as `directives serve` does
    import uvicorn

    from search_api.app import create_app
    from search_api.service import SearchService

    svc = SearchService.open(args.index_dir, query_only=True)  # as `directives serve` does
    threading.Thread(target=svc.warm, daemon=True).start()  # ... and so does this (GET /api/status: "warm")
    uvicorn.run(create_app(Path(args.index_dir), service=svc), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


# --- measuring ----------------------------------------------------------------------------------------------

def wait_until_serving(client, proc, what: str, timeout: float = 600.0) -> float:
    """Seconds until ``client``'s server answers ``/api/documents`` (RuntimeError if ``proc`` dies first or
    ``timeout`` passes): the start-up wait every benchmark's own server needs."""
    import httpx

    t0 = time.perf_counter()
    while True:
        try:
            if client.get("/api/documents").status_code == 200:
                return time.perf_counter() - t0
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.5)


def wait_until_warm(client, timeout: float = 600.0) -> float:
    """Seconds until ``client``'s server reports its background warm-up done (``GET /api/status``), so that
    timed requests do not share the cores with it; RuntimeError after ``timeout``."""
    t0 = time.perf_counter()
    while True:
        r = client.get("/api/status")
        if r.status_code == 404:  # older code (an A/B baseline) has no status: give it the old fixed wait
            time.sleep(2.0)
            break
        if r.json().get("warm"):
            break
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("server did not finish warming up")
        time.sleep(0.2)
    return time.perf_counter() - t0


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
        startup = wait_until_serving(client, proc, f"server (see {log})")
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

        out = {"startup_s": round(startup, 1), "warmup_s": round(wait_until_warm(client), 1)}
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
    """Same machine, no HTTP: BM25 postings alone, dense alone (encode + dense_top), the three modes."""
    import numpy as np

    from indexer.index.store import segments, terms_of
    from search_api.service import SearchService

    svc = SearchService.open(index_dir)
    qs = [gold_queries()[i % 63] for i in range(n)]
    store = svc.store

    def bm25(q: str) -> None:  # postings alone, no query planning
        store.lexical.top([(f"e:{t}", 2.0) for t in dict.fromkeys(terms_of(segments(q)))], 10)

    def encode(q: str):
        return svc.encoder.encode_queries([q])[0]  # uncached: the cost of a query never seen before

    def dense(q: str) -> None:
        store.dense_top(np.asarray(encode(q), dtype="float32"), 10)

    def cold_search(q: str, m: str) -> None:
        svc._qcache.clear()
        svc.search(q, k=10, mode=m)

    out = {"plain_bm25": _timed(bm25, qs), "dense_alone": _timed(dense, qs), "query_encode": _timed(encode, qs)}
    out["segments"] = len(store.segments)
    for mode in ("lexical", "dense", "hybrid"):
        out[f"service_{mode}"] = _timed(lambda q, m=mode: cold_search(q, m), qs)
    svc.close()
    return out


def embed_throughput(n: int, variants: str = "int8,fp32,torch", texts: list[str] | None = None) -> dict:
    """Real passage embedding speed (chunks/s) of each encoder variant on the same texts, interleaved.

    Default texts: the seed chunks. Every variant embeds exactly what a build embeds (windows included).
    """
    from indexer.embedding.encoder import PassageEncoder
    from indexer.parsing.pipeline import parse_corpus

    if texts is None:
        docs, _ = parse_corpus(CORPUS)
        texts = [c.text for d in docs for c in d.chunks]
    texts = texts[:n]
    out = {"chunks": len(texts), "loadavg_start": os.getloadavg()}
    encs = {v: PassageEncoder.load(None, v) for v in variants.split(",")}
    for e in encs.values():
        e.embed_many(texts[:4])
    for v, e in encs.items():
        t = time.perf_counter()
        e.embed_many(texts)
        secs = time.perf_counter() - t
        out[v] = {"seconds": round(secs, 1), "chunks_per_s": round(len(texts) / secs, 1), "encoder": e.encoder_id}
    out["loadavg_end"] = os.getloadavg()
    return out


def dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6, 1)


UPDATE_SCRIPT = """
import json, resource, sys, time
from pathlib import Path
from indexer.build import build_index
t = time.perf_counter()
r = build_index(Path(sys.argv[1]), Path(sys.argv[2]), progress=False, merge="off")
print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "encoded": r.encoded, "segments": r.segments,
                  "changed": r.changed, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def update_times(corpus: Path, index: Path, repo: Path = REPO) -> dict:
    """Add, edit and remove one seed-sized file in an existing index: end-to-end build time of each (child
    process, real int8 embedding of the file's chunks, peak RSS), what a browser upload costs."""
    out = {}
    f = corpus / "zz-update-bench.txt"
    text = (CORPUS / "cam-lo-2023.txt").read_text(encoding="utf-8")
    steps = [("add", lambda: f.write_text(text.replace("**364**", "**7777**"), encoding="utf-8")),
             ("edit", lambda: f.write_text(text.replace("**364**", "**7778**"), encoding="utf-8")),
             ("remove", lambda: f.unlink())]
    for name, act in steps:
        act()
        done = subprocess.run([sys.executable, "-c", UPDATE_SCRIPT, str(corpus), str(index)], cwd=repo,
                              capture_output=True, text=True, check=True)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print("update", name, out[name], flush=True)
    return out


def replicate(src_corpus: Path, src_index: Path, factor: int, corpus: Path, index: Path,
              vectors=None) -> dict:
    """A SYNTHETIC ``factor``× index without parsing again: each replica of ``src_index``'s segments gets its
    documents renamed ("r3-…", sources "r3/…", new document hashes and chunk rowids), and the corpus gets a
    copy of every file under ``r<i>/``, so ``build_index`` sees an up-to-date index of the bigger corpus.

    It is how the 1M-chunk update time is measured without an hour of parsing; every array of a replica is
    rebuilt by the production code (postings re-sorted by ``merge_postings``, segments sealed by ``seal``).
    ``vectors(replica, segment_number, n_chunks)``, when given, returns new (vectors, windows, window_of) for a
    replica's segment instead of copies of the source's (``eval/bench_million.py``: vectors that are not copies).
    """
    import hashlib
    import sqlite3
    import zlib

    import numpy as np

    from indexer.build import source_stat
    from indexer.index.generation import (
        Manifest,
        SourceEntry,
        current_generation,
        publish,
        read_registry,
        segments_dir,
    )
    from indexer.index.lexical import merge_postings
    from indexer.index.segment import DB, chunk_rowid, new_segment_name, open_segment, seal

    t0 = time.perf_counter()
    gen = current_generation(src_index)
    src = Manifest.read(gen)
    reg = read_registry(gen)
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    segments_dir(index).mkdir(parents=True)
    new_reg: dict[str, SourceEntry] = {}
    names: list[str] = []
    for r in range(factor):
        pre = f"r{r}-"
        seg_map: dict[str, str] = {}
        for name in src.segments:
            seg = open_segment(segments_dir(src_index) / name)
            out = new_segment_name()
            seg_map[name] = out
            folder = segments_dir(index) / out
            folder.mkdir()
            shutil.copyfile(seg.folder / DB, folder / DB)
            con = sqlite3.connect(folder / DB)
            hashes = {}
            for doc_id, h, blob in con.execute("SELECT doc_id, content_hash, json FROM documents").fetchall():
                nh = hashlib.sha256(f"{pre}{h}".encode()).hexdigest()
                hashes[doc_id] = nh
                data = json.loads(zlib.decompress(blob))
                data["doc_id"], data["source"], data["content_hash"] = pre + doc_id, f"r{r}/" + data["source"], nh
                for c in data["chunks"]:
                    c["doc_id"], c["chunk_id"] = pre + doc_id, pre + c["chunk_id"]
                con.execute("UPDATE documents SET doc_id = ?, source = ?, content_hash = ?, json = ? WHERE doc_id = ?",
                            (pre + doc_id, f"r{r}/" + data["source"][len(f"r{r}/"):], nh,
                             zlib.compress(json.dumps(data, ensure_ascii=False).encode(), 6), doc_id))
            rows = con.execute("SELECT rowid, chunk_id, doc_id FROM chunks").fetchall()
            con.execute("CREATE TEMP TABLE m (old INTEGER PRIMARY KEY, new INTEGER)")
            con.executemany("INSERT INTO temp.m VALUES (?,?)",
                            ((old, chunk_rowid(hashes[d], pre + c)) for old, c, d in rows))
            con.execute("UPDATE chunks SET rowid = -rowid")  # free the key space before renumbering
            con.execute("UPDATE chunks SET rowid = (SELECT new FROM temp.m WHERE old = -chunks.rowid), "
                        "chunk_id = ? || chunk_id, doc_id = ? || doc_id", (pre, pre))
            con.commit()
            con.execute("VACUUM")
            con.close()
            old_rowids = np.asarray(seg.rowids)
            new_of_old = dict((old, chunk_rowid(hashes[d], pre + c)) for old, c, d in rows)
            mapped = np.fromiter((new_of_old[int(x)] for x in old_rowids), dtype=np.int64, count=len(old_rowids))
            order = np.argsort(mapped)
            new_pos = np.empty(len(order), dtype=np.int64)
            new_pos[order] = np.arange(len(order))
            np.save(folder / "rowids.npy", mapped[order])
            if vectors is None:
                np.save(folder / "vectors.npy", np.asarray(seg.vectors)[order])
                wo = new_pos[seg.window_of] if len(seg.window_of) else np.zeros(0, np.int64)
                wo_order = np.argsort(wo, kind="stable")
                np.save(folder / "windows.npy", np.asarray(seg.windows)[wo_order])
                np.save(folder / "window_of.npy", wo[wo_order].astype(np.int32))
            else:  # synthetic vectors, already in the new local order
                vec, win, win_of = vectors(r, len(names), len(order))
                np.save(folder / "vectors.npy", vec.astype(np.float32))
                np.save(folder / "windows.npy", win.astype(np.float32))
                np.save(folder / "window_of.npy", win_of.astype(np.int32))
            merge_postings([(seg.postings, new_pos)], len(order)).save(folder)
            seal(folder, **{k: v for k, v in seg.info.items() if k in ("n_chunks", "n_docs", "dim")}, replica_of=name)
            names.append(out)
        for s, e in reg.items():
            dst = corpus / f"r{r}" / s
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_corpus / s, dst)
            new_reg[f"r{r}/{s}"] = SourceEntry(e.content_hash, source_stat(dst),
                                              [[pre + d, hashlib.sha256(f"{pre}{h}".encode()).hexdigest(),
                                                seg_map[g]] for d, h, g in e.docs])
        print(f"replica {r + 1}/{factor} ({time.perf_counter() - t0:.0f}s)", flush=True)
    stamp = f"gen-{time.time_ns()}"
    meta = {**src.meta, "generation": stamp, "documents": str(int(src.meta["documents"]) * factor),
            "chunks": str(int(src.meta["chunks"]) * factor)}
    publish(index, Manifest(stamp, names, {}, meta), new_reg)
    return {"replicas": factor, "seconds": round(time.perf_counter() - t0, 1), "segments": len(names),
            "chunks": int(meta["chunks"]), "index_mb": dir_mb(index)}


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
        info["build"]["index_mb"] = dir_mb(index)
        print(label, "build", info["build"], flush=True)
        if args.updates:
            info["updates"] = update_times(corpus, index)
        info["http"] = http_latency(index, args.n_search, args.n_compare, args.n_evolution, log)
        print(label, "http", info["http"], flush=True)
        info["in_process"] = inprocess_baselines(index, args.n_search)
        print(label, "in-process", info["in_process"], flush=True)
        res["sizes"][label] = info
        if not args.keep:
            shutil.rmtree(corpus, ignore_errors=True)
    if args.replicate:
        replicas(args, res, work)
    res["machine"]["loadavg_end"] = os.getloadavg()
    (out_dir / "bench.json").write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
    (out_dir / "bench.md").write_text(markdown(res), encoding="utf-8")
    return res


def replicas(args: argparse.Namespace, res: dict, work: Path) -> None:
    """``--replicate N``: the largest size's index × N (SYNTHETIC replicas, see :func:`replicate`), update times."""
    size = [parse_size(s) for s in args.sizes.split(",")][-1]
    src = f"{size // 1000}k"
    label = f"{size * args.replicate // 1000}k"
    corpus, index = work / f"corpus-{label}", work / f"index-{label}"
    if not (work / f"corpus-{src}").is_dir():
        raise SystemExit(f"--replicate needs the corpus of {src} (run with --keep)")
    if args.reuse_replica and (index / "CURRENT").is_file():
        info = res["sizes"].get(label, {"replica": True})
    else:
        info = {"replica": True, "build": replicate(work / f"corpus-{src}", work / f"index-{src}", args.replicate,
                                                    corpus, index)}
        print(label, "replicated", info["build"], flush=True)
    info["updates"] = update_times(corpus, index)
    res["sizes"][label] = info


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
        if "http" not in s:
            continue  # a replica measured for updates only
        b, h, ip = s["build"], s["http"], s["in_process"]
        rep = pp(h["search_repeat"]) if "search_repeat" in h else "–"
        lines.append(f"| {b['chunks']:,} | {b['chunks_per_s']:.0f} | {b['peak_rss_mb']:.0f} MB | {pp(h['search'])} | "
                     f"{rep} | {pp(h['compare'])} | {pp(h['evolution'])} | {h['server']['peak_rss_mb']:.0f} MB | "
                     f"{pp(ip['plain_bm25'])} | {pp(ip['dense_alone'])} | {pp(ip['query_encode'])} |")
    if "embedding" in res:
        e = res["embedding"]
        lines += ["", "Real passage embedding on this machine, " + f"{e['chunks']} seed chunks: " + ", ".join(
            f"{v} {e[v]['chunks_per_s']} chunks/s" for v in ("int8", "fp32", "torch") if v in e) + "."]
    rows = [(k, s) for k, s in res["sizes"].items() if "updates" in s]
    if rows:
        lines += ["", "| chunks | index on disk | segments | add one file | edit it | remove it | update peak RSS |",
                  "|---|---|---|---|---|---|---|"]
        for _, s in rows:
            u = s["updates"]
            lines.append(f"| {s['build']['chunks']:,}{' (replicas)' if s.get('replica') else ''} | "
                         f"{s['build'].get('index_mb', 0):.0f} MB | "
                         f"{u['remove']['segments']} | {u['add']['seconds']:.1f} s | {u['edit']['seconds']:.1f} s | "
                         f"{u['remove']['seconds']:.1f} s | {max(x['peak_rss_mb'] for x in u.values())} MB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    b = sub.add_parser("_build")
    b.add_argument("--corpus", required=True)
    b.add_argument("--index-dir", required=True)
    b.add_argument("--vectors", choices=["real", "reuse", "mixed"], default="reuse")
    b.add_argument("--real-chunks", type=int, default=0, help="--vectors mixed: chunks embedded for real")
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
    p.add_argument("--updates", action="store_true", help="time adding, editing, removing one file per size")
    p.add_argument("--replicate", type=int, default=0,
                   help="also time updates on N synthetic replicas of the largest size (10: 100k → 1M)")
    p.add_argument("--reuse-replica", action="store_true", help="keep a replica index from an earlier run")
    p.add_argument("--embed-only", action="store_true", help="only time real embedding (--embed-sample chunks)")
    p.add_argument("--variants", default="int8,fp32,torch", help="passage encoders to time with --embed-only")
    p.add_argument("--measure-only", action="store_true",
                   help="re-time HTTP and in-process queries on the indexes of a previous run in --work")
    args = p.parse_args(argv)
    if args.cmd == "_build":
        return child_build(args)
    if args.cmd == "_serve":
        return child_serve(args)
    if args.embed_only:
        print(json.dumps(embed_throughput(args.embed_sample, args.variants), indent=1))
        return 0
    res = measure_only(args) if args.measure_only else run(args)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
