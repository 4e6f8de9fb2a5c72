"""The ``directives`` command. Subcommands import their stage lazily so ``directives parse`` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_INDEX_DIR = ".index"


def _print_tree(units, indent: int = 0) -> None:
    for u in units:
        head = u.heading or u.text
        head = head if len(head) <= 90 else head[:89] + "…"
        extra = f"  [{u.section_kind}]" if u.kind == "section" else ""
        if u.agency and (indent == 0 or u.kind == "task"):
            extra += f"  → {u.agency}"
        print(f"{'  ' * indent}{u.path:<12} {head}{extra}")
        _print_tree(u.children, indent + 1)


def _print_metadata(meta) -> None:
    rows = [
        ("Cơ quan ban hành", meta.issuer), ("Địa bàn", meta.place), ("Cấp", meta.level),
        ("Tỉnh (trước 2025)", meta.province), ("Tỉnh (hiện nay)", meta.province_current),
        ("Loại văn bản", meta.doc_type), ("Số", meta.number or "(để trống)"), ("Ngày", meta.date),
        ("Trích yếu", meta.subject), ("Người ký", f"{meta.signer} ({meta.signer_title})" if meta.signer else ""),
        ("Kính gửi", "; ".join(meta.recipients)),
        ("Thực hiện", meta.implements.text if meta.implements else ""),
    ]
    for k, v in rows:
        print(f"{k:<18} {v}")
    if meta.references:
        print("Căn cứ pháp lý:")
        for r in meta.references:
            name = r.title if r.title.startswith(r.kind) else f"{r.kind} {r.number or r.title}"
            print(f"  - {name} {r.date}".rstrip())


def cmd_parse(args: argparse.Namespace) -> int:
    from indexer.models import FileReport, ParseError
    from indexer.parsing.pipeline import parse_file
    from indexer.reading import ReadError, ReadOptions

    options = ReadOptions(progress=not args.json)
    status = 0
    out = []
    for f in args.files:
        try:
            d = parse_file(Path(f), options=options)
        except ReadError as e:
            rep = FileReport.failed(ParseError(f, e.reason))
            print(f"error: {rep.line()}", file=sys.stderr)
            out.append({"source": f, "report": rep.to_dict()})
            status = 1
            continue
        rep = FileReport.of(d)
        if args.json:
            out.append({**d.to_dict(), "report": rep.to_dict()})
            continue
        print(f"== {rep.line()}")
        if args.report:
            continue
        print(f"   ({d.doc_id}, {len(d.chunks)} chunks)")
        _print_metadata(d.metadata)
        print("Nội dung:")
        _print_tree(d.units, 1)
    if args.json:
        json.dump(out[0] if len(out) == 1 else out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    return status


def cmd_summary(args: argparse.Namespace) -> int:
    """Parse a corpus and print one line per document (what `make run` showed before the index existed)."""
    from indexer.parsing.pipeline import parse_corpus

    docs, errors = parse_corpus(Path(args.corpus))
    print(f"{'doc_id':<20} {'loại':<10} {'số':<18} {'ngày':<11} {'địa bàn':<12} {'tỉnh':<12} tasks chunks")
    for d in docs:
        m = d.metadata
        tasks = sum(1 for u in d.walk() if u.kind == "task")
        print(f"{d.doc_id:<20} {m.doc_type:<10} {m.number or '—':<18} {m.date:<11} {m.place:<12} "
              f"{m.province:<12} {tasks:>5} {len(d.chunks):>6}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="directives", description="Tìm kiếm, đối chiếu văn bản chỉ đạo.")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("parse", help="parse files and print metadata and the task tree")
    sp.add_argument("files", nargs="+")
    sp.add_argument("--json", action="store_true", help="metadata, tree and the ingest report as JSON")
    sp.add_argument("--report", action="store_true", help="only the ingest report, one line per file")
    sp.set_defaults(func=cmd_parse)

    sp = sub.add_parser("summary", help="parse a corpus and print a table")
    sp.add_argument("--corpus", default="corpus")
    sp.set_defaults(func=cmd_summary)

    from search_api.cli_commands import add_parsers  # index, search, serve (argparse only: cheap to import)

    add_parsers(sub, DEFAULT_INDEX_DIR)

    from search_api.cli_compare import add_parsers as add_compare_parsers  # compare, evolve (argparse only)

    add_compare_parsers(sub, DEFAULT_INDEX_DIR)

    from eval.cli_eval import add_parser as add_eval_parser  # eval (argparse only)

    add_eval_parser(sub, DEFAULT_INDEX_DIR)

    from web.accounts.cli import (
        add_parser as add_user_parser,  # user add|list|remove|set-role (argparse only)
    )

    add_user_parser(sub)

    from indexer.cli_merge import add_parser as add_merge_parser  # merge (argparse only)

    add_merge_parser(sub, DEFAULT_INDEX_DIR)
    from indexer.cli_replica import add_parser as add_replica_parser  # replicate (argparse only)

    add_replica_parser(sub, DEFAULT_INDEX_DIR)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
