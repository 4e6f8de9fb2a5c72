"""``directives eval --gold FILE [--index-dir DIR] [--json] [--mode lexical|dense|hybrid] [--no-align]``.

Exit codes: 0 scored, 2 unusable input (no index, malformed gold file, a marker missing from the corpus).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub, default_index_dir: str) -> None:
    """Register ``eval`` on ``directives``' subparsers (argparse only: cheap to import)."""
    sp = sub.add_parser("eval", help="score search and alignment against a gold set")
    sp.add_argument("--gold", default="eval/gold.json")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    sp.add_argument("--no-align", action="store_true", help="skip the alignment (compare) part")
    sp.add_argument("--json", action="store_true", help="the full report as JSON (per query too)")
    sp.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.gold import GoldError, load_gold
    from eval.harness import MarkerError, evaluate, format_report
    from search_api.service import IndexNotFound, ModelMismatch, SearchService

    try:
        gold = load_gold(Path(args.gold))
    except (OSError, GoldError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        svc = SearchService.open(Path(args.index_dir))
    except (IndexNotFound, ModelMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        rep = evaluate(svc, gold, mode=args.mode, alignments=not args.no_align)
    except MarkerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        svc.close()
    if args.json:
        json.dump(rep.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(format_report(rep))
    return 0
