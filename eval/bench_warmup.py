"""What the first drafting requests cost with and without the background warm-up (in process, one index).

    .venv/bin/python -m eval.bench_warmup --index-dir /tmp/wt15bench/index-100k

Each mode opens the index in a fresh process (so no cache is shared), as ``directives serve`` does
(``query_only``). "warm" runs ``warm_generation()`` — what ``svc.warm()`` and ``svc.refresh()`` start in a
thread — before the first request; "cold" does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def child(index_dir: Path, warm: bool) -> dict:
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.service import SearchService

    svc = SearchService.open(index_dir, query_only=True)
    client = TestClient(create_app(index_dir, service=svc))
    docs = [d["doc_id"] for d in svc.store.documents()]
    out: dict = {"documents": len(docs)}
    if warm:
        t = time.perf_counter()
        th = threading.Thread(target=svc.warm_generation)
        th.start()
        th.join()
        out["warm_up_s"] = round(time.perf_counter() - t, 2)

    def ms(path: str) -> float:
        t = time.perf_counter()
        client.get(path).raise_for_status()
        return round((time.perf_counter() - t) * 1000, 1)

    out["first_links_ms"] = ms(f"/api/documents/{docs[len(docs) // 3]}/links")
    out["first_suggestions_ms"] = ms(f"/api/compare/suggestions?a={docs[len(docs) // 2]}")
    out["next_links_ms"] = ms(f"/api/documents/{docs[-1]}/links")
    out["next_suggestions_ms"] = ms(f"/api/compare/suggestions?a={docs[0]}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.bench_warmup", description=__doc__.split("\n\n")[0])
    p.add_argument("--index-dir", required=True)
    p.add_argument("--_child", choices=["cold", "warm"])
    args = p.parse_args(argv)
    if args._child:
        print(json.dumps(child(Path(args.index_dir), args._child == "warm")))
        return 0
    res = {"loadavg_start": os.getloadavg()}
    for mode in ("cold", "warm"):
        done = subprocess.run([sys.executable, "-m", "eval.bench_warmup", "--index-dir", args.index_dir,
                               "--_child", mode], capture_output=True, text=True, check=True)
        res[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    res["loadavg_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
