"""``directives compare A B`` and ``directives evolve "đuối nước"``: the compare features in a terminal.

Heavy modules are imported inside the commands so registering the subcommands keeps ``directives`` fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap


def add_parsers(sub, default_index_dir: str) -> None:
    """Register ``compare`` and ``evolve`` on ``directives``' subparsers."""
    sp = sub.add_parser("compare", help="align two documents task by task and show what changed")
    sp.add_argument("a", help="document id or a unique 'place year', e.g. 'Cam Lộ 2023'")
    sp.add_argument("b", help="document id or a unique 'place year', e.g. 'Trà Cú 2022'")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("evolve", help="trace a topic's wording across documents and years")
    sp.add_argument("topic", help='a topic, e.g. "đuối nước"')
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.set_defaults(func=cmd_evolve)


def _open(index_dir: str):
    from search_api.service import SearchService

    return SearchService.open(index_dir)


def _print_json(model) -> int:
    """The command's answer as the API gives it (the same pydantic model), for scripts."""
    json.dump(model.model_dump(mode="json"), sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _short(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrap(text: str, indent: str = "      ") -> str:
    return textwrap.fill(" ".join(text.split()), width=110, initial_indent=indent, subsequent_indent=indent)


def cmd_compare(args: argparse.Namespace) -> int:
    from search_api.alignment.compare import compare, resolve_document
    from search_api.alignment.redline import render_text
    from search_api.service import IndexNotFound, NotFound

    try:
        svc = _open(args.index_dir)
        c = compare(svc, resolve_document(svc, args.a), resolve_document(svc, args.b))
    except (IndexNotFound, NotFound, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        return _print_json(c)
    print(f"A: {c.a.title}\nB: {c.b.title}\n")
    for p in c.pairs:
        mark = "=" if p.status == "shared" else "≈"
        print(f"{mark} A {p.a.path:<10} ↔ B {p.b.path:<10} tương đồng {p.text_similarity:.0%} "
              f"(điểm ghép {p.similarity:.2f})")
        print(_wrap(render_text(p.redline)) if p.status == "changed" else _wrap(_short(p.a.text, 200)))
    for title, other, units in (("Chỉ có trong A", "B", c.only_in_a), ("Chỉ có trong B", "A", c.only_in_b)):
        print(f"\n{title}:")
        for u in units:
            print(f"  {u.path:<10} {_short(u.text)}")
            if u.nearest is not None:
                print(f"  {'':<10} gần nhất ở {other}: {u.nearest.unit.path} “{_short(u.nearest.sentence, 100)}”")
        if not units:
            print("  (không có)")
    s = c.summary
    print(f"\nTóm tắt: giống {s.shared}, thay đổi {s.changed}, mới (chỉ B) {s.new}, bỏ (chỉ A) {s.dropped}")
    return 0


def cmd_evolve(args: argparse.Namespace) -> int:
    from search_api.alignment.evolution import evolution
    from search_api.alignment.redline import render_text
    from search_api.service import IndexNotFound, ModelMismatch, NotFound

    try:
        ev = evolution(_open(args.index_dir), q=args.topic)
    except (IndexNotFound, NotFound, ValueError, ModelMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        return _print_json(ev)
    if not ev.entries:
        print(f"no document mentions {args.topic!r}")
        return 0
    for e in ev.entries:
        d = e.document
        first = f", wording first seen {e.first_seen}" if e.first_seen and e.first_seen != d.year else ""
        print(f"{d.year or '—'} {d.place:<12} {e.unit.path:<10} {d.title}{first}")
        if e.redline is not None and e.previous is not None:
            print(f"      so với {e.previous.doc_id} {e.previous.path} ({e.previous_reason}, "
                  f"tương đồng {e.text_similarity:.0%}):")
            print(_wrap(render_text(e.redline)))
        else:
            print(_wrap(_short(e.unit.text, 300)))
    return 0
