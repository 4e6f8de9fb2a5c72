"""``directives merge --index-dir DIR [--all] [--json]``: merge segments now (what builds do in the background)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub, default_index_dir: str) -> None:
    sp = sub.add_parser("merge", help="merge the index's small segments now (atomic; search results unchanged)")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.add_argument("--all", action="store_true", help="merge every segment into one, dropping deleted documents")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    from indexer.index.generation import Manifest, current_generation, is_legacy
    from indexer.index.merge import describe, merge_segments

    index = Path(args.index_dir)
    gen = current_generation(index)
    if gen is None or is_legacy(gen):
        print(f"error: no index at {index}", file=sys.stderr)
        return 2
    names = Manifest.read(gen).segments if args.all else None
    rep = merge_segments(index, names)
    out = {"merged": rep.merged, "into": rep.into, "chunks": rep.chunks, "committed": rep.committed,
           "note": rep.note, "now": describe(index)}
    if args.json:
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(f"merged {len(rep.merged)} segments into {rep.into} ({rep.chunks} chunks)" if rep.committed
              else f"nothing merged: {rep.note}")
        print(f"now {len(out['now'].get('segments', []))} segments")
    return 0
