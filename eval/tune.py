"""Grid over the fusion settings retrieve.py exposes (FusionConfig), scored on the gold set.

Query vectors are cached (they do not depend on the fusion), so the grid costs one encoding per query. To
show the choice is not fitted to noise, each setting is also scored on the odd and even halves of the
queries: a setting chosen on one half should hold up on the other.

    .venv/bin/python -m eval.tune --index-dir .index [--out eval/out/tune.md]
    .venv/bin/python -m eval.tune --index-dir .index --grid query --out eval/out/tune-query.md
    .venv/bin/python -m eval.tune --index-dir .index --grid align --out eval/out/tune-align.md
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


def align_grid() -> list:
    """Alignment (compare): lexical similarity × dense weight × margin neighbourhood × threshold × the
    many-to-one join threshold (None = one-to-one); then the sentence level (round 6): the best sentence pair
    ("tfidf") or sentence coverage ("cover") mixed in, with and without a bonus for two units assigned to the
    same agency."""
    from search_api.alignment.align import AlignConfig

    plain = [AlignConfig(lexical=lex, w_dense=wd, w_lexical=round(1 - wd, 2), k=k, threshold=th, join_threshold=tj,
                         sentence=None)
             for lex in ("fuzz", "tfidf", "contain") for wd in (0.45, 0.6, 0.75) for k in (3, 5)
             for th in (0.02, 0.04, 0.06, 0.08) for tj in (None, 0.02, 0.06)]
    # structure: agency-headed tasks split from the start, and a second matching round for mutual best leftovers
    structural = [AlignConfig(lexical=lex, w_dense=wd, w_lexical=round(1 - wd, 2), k=5, threshold=th, join_threshold=tj,
                              split_agency=True, rescue_threshold=rs, sentence=None)
                  for lex in ("fuzz", "contain") for wd in (0.6, 0.75) for th in (0.04, 0.06)
                  for tj in (None, 0.06) for rs in (None, 0.0)]
    sentence = [AlignConfig(sentence=sn, w_sentence=ws, same_agency=ag, k=k, threshold=th)
                for sn in ("tfidf", "cover") for ws in (0.1, 0.15, 0.2, 0.4) for ag in (0.0, 0.05, 0.1)
                for k in (3, 4, 5) for th in (0.04, 0.05, 0.06, 0.08)]
    return plain + structural + sentence


GRIDS = {"fusion": grid, "query": query_grid, "align": align_grid}


def align_label(cfg) -> str:
    join = "one-to-one" if cfg.join_threshold is None else f"join ≥ {cfg.join_threshold:g}"
    extra = (", agency tasks split" if cfg.split_agency else "") + \
        (f", second round ≥ {cfg.rescue_threshold:g}" if cfg.rescue_threshold is not None else "") + \
        (f", sentences {cfg.sentence} ×{cfg.w_sentence:g}" if cfg.sentence and cfg.w_sentence else "") + \
        (f", same agency +{cfg.same_agency:g}" if cfg.same_agency else "")
    return (f"{cfg.lexical}, dense {cfg.w_dense:g} / lexical {cfg.w_lexical:g}, k={cfg.k}, "
            f"threshold {cfg.threshold:g}, {join}{extra}")


def _counts(per: dict) -> dict[str, tuple[int, int, int]]:
    """(true positives, judged predictions, gold pairs) per document pair, from the harness's per-pair rates."""
    return {k: (round(v["recall"] * v["gold"]), int(v["predicted"]), int(v["gold"])) for k, v in per.items()}


def _micro(counts: list[tuple[int, int, int]]) -> tuple[float, float, float]:
    tp, pred, gold = (sum(x[i] for x in counts) for i in range(3))
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _meets(row: dict) -> tuple:
    """Selection key: the issue's targets first (every pair's recall ≥ 0.8, precision ≥ 0.895), then F1."""
    return (row["min_recall"] >= 0.8 and row["precision"] >= 0.895, round(row["f1"], 4), row["precision"])


def tune_align(svc, gold: Gold, out: Path) -> str:
    """Score every alignment setting, pick by ``_meets``, and check the pick by leave-one-pair-out: choose on
    the other document pairs, score on the held-out one (micro over all held-out pairs)."""
    from eval.align_assign import leave_one_out
    from eval.harness import evaluate_alignments
    from search_api.alignment.align import AlignConfig

    rows = []
    for cfg in align_grid():
        res = evaluate_alignments(svc, gold, cfg)
        rows.append({"label": align_label(cfg), "config": asdict(cfg), "precision": res.precision,
                     "recall": res.recall, "f1": res.f1, "per_pair": res.per_pair,
                     "min_recall": min(v["recall"] for v in res.per_pair.values())})
    base = evaluate_alignments(svc, gold, AlignConfig())
    best = max(rows, key=_meets)
    pairs = list(best["per_pair"])
    held = []
    for p in pairs:
        def on_rest(row, p=p):
            c = _counts(row["per_pair"])
            rest = [v for k, v in c.items() if k != p]
            pr, _rc, f = _micro(rest)
            return (pr >= 0.895, round(f, 4), pr)
        pick = max(rows, key=on_rest)
        held.append((p, pick["label"], _counts(pick["per_pair"])[p]))
    hp, hr, hf = _micro([c for _, _, c in held])
    ties = leave_one_out([{"per": _counts(r["per_pair"])} for r in rows])  # the same rule, every tied pick
    r4 = AlignConfig(k=3, threshold=0.02, join_threshold=None, sentence=None)
    r5 = AlignConfig(k=5, sentence=None)
    before, r5_res = evaluate_alignments(svc, gold, r4), evaluate_alignments(svc, gold, r5)
    lines = [f"round 4 default: {align_label(r4)} → P {before.precision:.3f} R {before.recall:.3f} F1 {before.f1:.3f}",
             f"round 5 default: {align_label(r5)} → P {r5_res.precision:.3f} R {r5_res.recall:.3f} "
             f"F1 {r5_res.f1:.3f}",
             f"default: {align_label(AlignConfig())} → P {base.precision:.3f} R {base.recall:.3f} F1 {base.f1:.3f}",
             f"best by the rule (targets, then F1): {best['label']} → P {best['precision']:.3f} "
             f"R {best['recall']:.3f} F1 {best['f1']:.3f}, "
             f"lowest pair recall {best['min_recall']:.2f}",
             f"leave-one-pair-out (choose on 5 pairs, score the 6th): P {hp:.3f} R {hr:.3f} F1 {hf:.3f} "
             "(the first-listed of the tied settings)",
             "over the settings tied on the other pairs: worst P {:.3f} R {:.3f} F1 {:.3f}, best P {:.3f} R {:.3f} "
             "F1 {:.3f}; ties per held-out pair: {}".format(*ties["worst"], *ties["best"], ", ".join(
                 f"{k} {n}" for k, n in ties["tied"].items())), "",
             "| held-out pair | setting chosen on the others | found / judged / gold |", "|---|---|---|"]
    lines += [f"| {p} | {lab} | {c[0]} / {c[1]} / {c[2]} |" for p, lab, c in held]
    lines += ["", "| best setting, per pair | P | R | F1 | gold | judged |", "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | {v['gold']} | {v['predicted']} |"
              for k, v in best["per_pair"].items()]
    lines += ["", "| setting | P | R | F1 | lowest pair recall |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=_meets, reverse=True)[:40]:
        lines.append(f"| {r['label']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['min_recall']:.2f} |")
    text = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1, ensure_ascii=False), encoding="utf-8")
    return text


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
    if args.grid == "align":
        print(tune_align(svc, gold, Path(args.out)))
        svc.close()
        return 0
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
