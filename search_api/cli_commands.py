"""``directives index | search | serve``: thin wrappers over build_index, SearchService and the FastAPI app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FILTERS = ("province", "place", "level", "doc_type", "year_from", "year_to", "section", "agency")


def add_parsers(sub, default_index_dir: str) -> None:
    """Register the three subcommands on ``directives``' subparsers."""
    sp = sub.add_parser("index", help="build or update the search index (incremental, atomic)")
    sp.add_argument("--corpus", default="corpus")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.add_argument("--model", help="sentence-transformers name or path (default: $DIRECTIVES_MODEL or e5-small)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    sp.add_argument("--json", action="store_true", help="the build report, with each file's ingest report, as JSON")
    sp.add_argument("--passage-encoder", choices=["int8", "fp32", "torch"],
                    help="how chunks are embedded (default: int8 ONNX, or $DIRECTIVES_PASSAGE_ENCODER)")
    sp.add_argument("--no-merge", action="store_true", help="do not merge small segments after publishing")
    sp.add_argument("--dask", metavar="tcp://HOST:PORT",
                    help="parse, OCR and embed the changed files on this running Dask cluster's workers")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("search", help="search the index")
    sp.add_argument("query")
    sp.add_argument("--k", type=int, default=10)
    sp.add_argument("--offset", type=int, default=0)
    for f in FILTERS:
        sp.add_argument("--" + f.replace("_", "-"), dest=f, type=int if f.startswith("year") else str)
    sp.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.add_argument("--model", help="refuse to search unless the index was built with this model")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("serve", help="serve the web pages and the JSON API")
    sp.add_argument("--index-dir", default=default_index_dir)
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--model", help="refuse to serve unless the index was built with this model")
    sp.add_argument("--corpus", default="corpus", help="where uploads go and what jobs index (default corpus/)")
    sp.add_argument("--data-dir", default=".data", help="accounts, sessions, tokens, jobs, audit (default .data/)")
    sp.add_argument("--read", choices=["open", "login"], default="open",
                    help="open: anyone may read (default); login: every page and API needs an account")
    sp.add_argument("--max-upload-mb", type=int, default=50, help="largest file accepted by an upload (MB)")
    sp.add_argument("--replica", action="store_true",
                    help="read-only: no accounts, uploads or jobs; follows the index that `directives replicate` "
                         "(or a build elsewhere) publishes")
    sp.set_defaults(func=cmd_serve)


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.build import build_index

    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"error: corpus {corpus} is not a directory", file=sys.stderr)
        return 2
    try:
        report = build_index(corpus, Path(args.index_dir), model=args.model, progress=not (args.quiet or args.json),
                             passage_encoder=args.passage_encoder, merge="off" if args.no_merge else "background",
                             dask=args.dask)
    except RuntimeError as e:
        from indexer.distributed import ClusterError

        if not isinstance(e, ClusterError):
            raise
        print(f"error: {e}; the previous index (if any) is still served", file=sys.stderr)
        return 1
    if args.json:
        json.dump(report.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(report.summary())
    return 0


def _open(args: argparse.Namespace, *, query_only: bool = False):
    import os

    # one short query at a time: a single torch thread is fastest, and 2 threads spin badly on a busy machine
    # (measured: ~40 ms vs ~1 s per query under load)
    os.environ.setdefault("DIRECTIVES_THREADS", "1")
    from search_api.service import IndexNotFound, ModelMismatch, SearchService

    try:
        return SearchService.open(Path(args.index_dir), model=args.model, query_only=query_only)
    except (IndexNotFound, ModelMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def cmd_search(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from search_api.schemas import SearchFilters
    from search_api.service import ModelMismatch

    svc = _open(args)
    if svc is None:
        return 2
    try:
        filters = SearchFilters(**{f: getattr(args, f) for f in FILTERS})
        resp = svc.search(args.query, k=args.k, offset=args.offset, filters=filters, mode=args.mode)
    except ValidationError as e:
        print(f"error: {'; '.join(err['msg'] for err in e.errors())}", file=sys.stderr)
        return 2
    except (ValueError, ModelMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(resp.model_dump(), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"{resp.total} kết quả cho «{resp.query}»")
    for i, r in enumerate(resp.results, start=args.offset + 1):
        d = r.document
        print(f"\n{i:>3}. [{r.score:.3f}] {d.title}  ·  {r.path}  ({r.chunk_id})")
        if r.headings:
            print("     " + " › ".join(r.headings))
        print("     " + _marked(r.text, r.highlights, 400).replace("\n", "\n     "))
    return 0


def _marked(text: str, spans: list[list[int]], limit: int) -> str:
    """Text with highlights in [brackets], cut to about ``limit`` characters around the first hit."""
    out, pos = [], 0
    for s, e in spans:
        out += [text[pos:s], "[", text[s:e], "]"]
        pos = e
    out.append(text[pos:])
    t = "".join(out)
    if len(t) <= limit:
        return t
    first = t.find("[")
    start = max(0, first - limit // 3) if first >= 0 else 0
    return ("…" if start else "") + t[start:start + limit] + "…"


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    from search_api.hugepages import restart_with_huge_pages

    restart_with_huge_pages()
    import uvicorn

    from web.app import create_app

    svc = _open(args, query_only=True)  # a server process only embeds queries and drafts: ONNX, no torch weights
    if svc is None:
        return 2
    from web.datadir import DataDirError

    try:
        app = create_app(Path(args.index_dir), service=svc, manage=None if args.replica else _manage_config(args))
    except DataDirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    threading.Thread(target=svc.warm, daemon=True).start()  # pages answer at once; the first search is warm
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _manage_config(args: argparse.Namespace):
    """Accounts, uploads and jobs for ``serve`` (web.manage); prints how to create the first admin."""
    from web.accounts import users
    from web.accounts.cli import first_admin_hint
    from web.datadir import DataDB, check_location
    from web.ingest.multipart import UploadLimits
    from web.manage import ManageConfig

    corpus = Path(args.corpus)
    check_location(Path(args.data_dir), index_dir=Path(args.index_dir), corpus=corpus)  # before creating anything
    corpus.mkdir(parents=True, exist_ok=True)
    if users.count(DataDB(args.data_dir)) == 0:
        print(first_admin_hint(args.data_dir), file=sys.stderr, flush=True)
    mb = max(1, args.max_upload_mb) * 1_000_000
    return ManageConfig(data_dir=Path(args.data_dir), corpus=corpus, index_dir=Path(args.index_dir), read=args.read,
                        limits=UploadLimits(max_file_bytes=mb, max_request_bytes=max(4 * mb, 200_000_000)),
                        model=args.model)
