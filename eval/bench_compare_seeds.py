"""In-process compare timings on the seed index: a small before/after check for changes to ``compare``.

Two figures: the first comparison of each ordered pair of documents (the alignment is computed; every
document's units already cached, as on a warm server), and a repeated comparison (the page, its JSON twin and
its exports ask for the same one: the alignment comes from the cache). Run it from two checkouts in turn,
alternating, and compare ratios. The 100k-chunk figures over HTTP are ``eval.bench_ab``'s.

    .venv/bin/python -m eval.bench_compare_seeds --index-dir .index [--label after]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from search_api.alignment import compare as C
    from search_api.service import SearchService

    p = argparse.ArgumentParser(prog="eval.bench_compare_seeds", description=__doc__.split("\n\n")[0])
    p.add_argument("--index-dir", default=".index")
    p.add_argument("--label", default="")
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    svc = SearchService.open(Path(args.index_dir))
    ids = [d.doc_id for d in svc.documents()]
    for d in ids:
        C.doc_units(svc, d)
    pairs = list(itertools.permutations(ids, 2))
    first = []
    for a, b in pairs:
        t = time.perf_counter()
        C.compare(svc, a, b)
        first.append((time.perf_counter() - t) * 1000)
    again = []
    for _ in range(args.repeats):
        for a, b in pairs:
            t = time.perf_counter()
            C.compare(svc, a, b)
            again.append((time.perf_counter() - t) * 1000)
    again.sort()
    print(f"{args.label} first compare of {len(pairs)} pairs: {sum(first):.1f} ms in all, max {max(first):.1f} ms; "
          f"repeated: median {statistics.median(again):.2f} ms, p95 {again[int(0.95 * len(again))]:.2f} ms")
    svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
