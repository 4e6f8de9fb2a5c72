"""Grid over the fusion settings retrieve.py exposes (FusionConfig), scored on the gold set.

Query vectors are cached (they do not depend on the fusion), so the grid costs one encoding per query. To
show the choice is not fitted to noise, each setting is also scored on the odd and even halves of the
queries: a setting chosen on one half should hold up on the other.

    .venv/bin/python -m eval.tune --index-dir .index [--out eval/out/tune.md]
    .venv/bin/python -m eval.tune --index-dir .index --grid query --out eval/out/tune-query.md
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

from eval.gold import Gold, load_gold
from eval.harness import evaluate_queries, mean_metrics, verify_markers


def grid() -> list:
    """Weighted sums over w_lexical (w_dense = 1 - w_lexical) and RRF over k, each with exact-column weights."""
    from search_api.retrieve import FusionConfig

    out = []
    for ew in (1.0, 2.0, 4.0):
        for wl in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            out.append(FusionConfig(method="weighted", w_lexical=wl, w_dense=round(1 - wl, 2), exact_weight=ew))
        for k, wl in itertools.product((10, 30, 60), (0.5,)):
            out.append(FusionConfig(method="rrf", rrf_k=k, w_lexical=wl, w_dense=1 - wl, exact_weight=ew))
    return out


def query_grid() -> list:
    """At the default fusion: which common terms BM25 may drop (df share) and how far below the best cosine a
    dense-only candidate may sit. Both exist for speed and for honest result counts; this checks quality."""
    from search_api.retrieve import FusionConfig

    return [replace(FusionConfig(), common_df=df, dense_margin=m)
            for df in (1.0, 0.5, 0.3, 0.2) for m in (None, 0.08, 0.05, 0.03, 0.02)]


GRIDS = {"fusion": grid, "query": query_grid}


def label(cfg) -> str:
    if cfg.method == "rrf":
        text = f"rrf k={cfg.rrf_k} exact×{cfg.exact_weight:g}"
    else:
        text = f"weighted lex {cfg.w_lexical:g} / dense {cfg.w_dense:g} exact×{cfg.exact_weight:g}"
    margin = "none" if cfg.dense_margin is None else f"{cfg.dense_margin:g}"
    return f"{text}, common df {cfg.common_df:g}, dense margin {margin}"


def cache_encoder(svc) -> None:
    cache: dict[str, object] = {}
    enc = svc._encode_query

    def cached(text: str):
        if text not in cache:
            cache[text] = enc(text)
        return cache[text]

    svc._encode_query = cached


def score(svc, gold: Gold, cfg) -> dict:
    svc.fusion = cfg
    res = evaluate_queries(svc, gold, "hybrid")
    halves = {h: mean_metrics(r.metrics for i, r in enumerate(res) if i % 2 == n) for n, h in ((0, "even"),
                                                                                             (1, "odd"))}
    return {"label": label(cfg), "config": asdict(cfg), "all": mean_metrics(r.metrics for r in res), **halves}


def table(rows: list[dict], key: str = "ndcg@10") -> str:
    lines = ["| setting | R@5 | R@10 | MRR@10 | nDCG@10 | nDCG even | nDCG odd |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["all"][key]):
        a = r["all"]
        lines.append(f"| {r['label']} | {a['recall@5']:.3f} | {a['recall@10']:.3f} | {a['mrr@10']:.3f} | "
                     f"{a['ndcg@10']:.3f} | {r['even']['ndcg@10']:.3f} | {r['odd']['ndcg@10']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from search_api.retrieve import FusionConfig
    from search_api.service import SearchService

    p = argparse.ArgumentParser(prog="eval.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("--gold", default="eval/gold.json")
    p.add_argument("--index-dir", default=".index")
    p.add_argument("--out", default="eval/out/tune.md")
    p.add_argument("--grid", choices=sorted(GRIDS), default="fusion")
    args = p.parse_args(argv)
    gold = load_gold(args.gold)
    svc = SearchService.open(Path(args.index_dir))
    verify_markers(gold, svc)
    cache_encoder(svc)
    default = FusionConfig()
    rows = [score(svc, gold, replace(cfg)) for cfg in GRIDS[args.grid]()]
    base = score(svc, gold, default)
    best = max(rows, key=lambda r: (r["all"]["ndcg@10"], r["all"]["recall@10"]))
    even_best = max(rows, key=lambda r: r["even"]["ndcg@10"])
    text = (f"default: {base['label']} → nDCG@10 {base['all']['ndcg@10']:.3f}, R@10 {base['all']['recall@10']:.3f}\n"
            f"best: {best['label']} → nDCG@10 {best['all']['ndcg@10']:.3f}, R@10 {best['all']['recall@10']:.3f}\n"
            f"chosen on even half: {even_best['label']} → odd-half nDCG@10 {even_best['odd']['ndcg@10']:.3f} "
            f"(default on odd half {base['odd']['ndcg@10']:.3f})\n\n" + table(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps({"default": base, "rows": rows}, indent=1,
                                                              ensure_ascii=False), encoding="utf-8")
    print(text)
    svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
