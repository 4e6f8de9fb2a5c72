"""In-process timing of repeated queries (not a test): the 63 gold queries asked once to warm, then timed
twice, on one index with the code found first on ``sys.path`` (set PYTHONPATH to time another checkout).

    PYTHONPATH=/tmp/base-271 .venv/bin/python -m eval.bench_repeated /tmp/q16/base-index-100k   # baseline
    .venv/bin/python -m eval.bench_repeated /tmp/q16/index-100k
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from search_api.service import SearchService

    index = (argv or sys.argv[1:])[0]
    svc = SearchService.open(index, query_only=True)
    svc.warm()
    gold = Path(__file__).resolve().parent / "gold.json"
    qs = [q["q"] for q in json.loads(gold.read_text(encoding="utf-8"))["queries"]]
    for q in qs:
        svc.search(q, k=10)
    time.sleep(2)  # background warm-up
    for r in range(2):
        t = []
        for q in qs:
            a = time.perf_counter()
            svc.search(q, k=10)
            t.append((time.perf_counter() - a) * 1000)
        print(json.dumps({"round": r + 1, "index": index, "repeated_p50_ms": round(float(np.percentile(t, 50)), 1),
                          "repeated_p95_ms": round(float(np.percentile(t, 95)), 1), "load": os.getloadavg()[0]}))
    svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
