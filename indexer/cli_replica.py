"""``directives replicate --from PRIMARY --to REPLICA [--every S]``: keep a read-only copy of a published index."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_parser(sub, default_index_dir: str) -> None:
    sp = sub.add_parser("replicate", help="copy the primary's live generation to a replica (segments, then the "
                                          "generation, then CURRENT); serve it with `directives serve --replica`")
    sp.add_argument("--from", dest="primary", default=default_index_dir, help="the primary's index directory")
    sp.add_argument("--to", dest="replica", required=True, help="the replica's index directory")
    sp.add_argument("--every", type=float, default=0.0, help="keep syncing, every this many seconds (0: once)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_replicate)


def cmd_replicate(args: argparse.Namespace) -> int:
    from indexer.index.replica import sync

    if Path(args.primary).resolve() == Path(args.replica).resolve():
        print("error: --from and --to are the same directory", file=sys.stderr)
        return 2
    while True:
        try:
            rep = sync(args.primary, args.replica)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            if not args.every:
                return 2
            time.sleep(args.every)
            continue
        if args.json:
            print(json.dumps(rep.__dict__, ensure_ascii=False), flush=True)
        elif rep.switched or not args.every:
            print(f"{args.replica}: {rep.generation} ({len(rep.copied_segments)} segments copied, "
                  f"{len(rep.removed)} removed, {rep.seconds} s)", flush=True)
        if not args.every:
            return 0
        time.sleep(args.every)
