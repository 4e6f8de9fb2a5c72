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
    sp.add_argument("--index-dir", default=None,
                    help="the index to score (with --records: where to build it; default a temporary one)")
    sp.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    sp.add_argument("--no-align", action="store_true", help="skip the alignment (compare) part")
    sp.add_argument("--json", action="store_true", help="the full report as JSON (per query too)")
    sp.add_argument("--records", help="a labelled set instead of the gold file: records JSONL (see eval/records_eval.py)")
    sp.add_argument("--questions", help="... and its questions JSONL with relevant record ids")
    sp.set_defaults(func=cmd_eval, default_index_dir=default_index_dir)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.records or args.questions:
        return cmd_eval_records(args)
    from eval.gold import GoldError, load_gold
    from eval.harness import MarkerError, evaluate, format_report
    from search_api.service import IndexNotFound, ModelMismatch, SearchService

    try:
        gold = load_gold(Path(args.gold))
    except (OSError, GoldError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        svc = SearchService.open(Path(args.index_dir or args.default_index_dir))
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


def cmd_eval_records(args: argparse.Namespace) -> int:
    """``--records CORPUS.jsonl --questions QUESTIONS.jsonl``: Hit@10, MRR@10, nDCG@10 on a labelled set."""
    from eval.records_eval import QuestionsError, evaluate_records, format_records_report

    if not (args.records and args.questions):
        print("error: --records and --questions go together", file=sys.stderr)
        return 2
    index = args.index_dir  # never the default index: a labelled set is indexed on its own
    try:
        rep = evaluate_records(Path(args.records), Path(args.questions), index_dir=Path(index) if index else None,
                               mode=args.mode)
    except (OSError, QuestionsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(rep.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(format_records_report(rep))
    return 0
