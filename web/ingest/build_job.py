"""One batch of jobs, run in a child process: ``python -m web.ingest.build_job --batch N …``.

A child process because ``build_index`` loads the torch passage encoder (~1 GB) while the server itself is
query-only ONNX; the memory goes back to the system when the child exits, and a crash in a reader cannot take
the server down. The child dies with its parent (``PR_SET_PDEATHSIG``), so a killed server never leaves a
build running behind it; the interrupted jobs are re-run when the server starts again.

Results are read from the index that the build leaves, not only from its report, so running a batch twice
gives the same answer. A new file that could not be indexed (unreadable, duplicate) is moved to the trash
with the reason, where an admin can see it, instead of being retried by every later build.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PARENT_ENV = "DIRECTIVES_JOB_PARENT"  # the server's pid, set by the worker


def die_with_parent() -> None:
    """Linux: SIGKILL this process when the server that started it dies.

    Called before the heavy imports; a server killed before this line ran is caught by comparing the parent
    pid with the one the worker wrote in the environment (the orphan then has another parent and exits).
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and os.getppid() != int(parent):
        os._exit(3)


if __name__ == "__main__":
    die_with_parent()

import argparse  # noqa: E402 — after die_with_parent: a killed server must not leave this process behind
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from indexer.progress import Progress  # noqa: E402
from web.datadir import DataDB  # noqa: E402
from web.ingest import jobs  # noqa: E402
from web.ingest.corpus_files import CorpusFiles  # noqa: E402
from web.ingest.jobs import Item, Job  # noqa: E402
from web.ingest.trash import Trash  # noqa: E402

PROGRESS_EVERY = 0.3  # seconds between progress writes (stage changes are always written)
NEW_FILE_ACTIONS = ("add", "replace", "restore")


def reason_text(reason: str) -> str:
    """A build error in Vietnamese first (the reader's gloss), the technical reason after."""
    from indexer.reading import ReadError

    if reason.startswith("duplicate of"):
        return f"Trùng với văn bản đã có trong kho ({reason})."
    gloss = str(ReadError("", reason)).removeprefix(reason).strip(" ()")  # "reason (gloss)" → gloss
    return f"{gloss[:1].upper()}{gloss[1:]}: {reason}."


def indexed_sources(index_dir: Path) -> dict[str, list[str]]:
    """source (file, without "#L…" of records) → doc ids, in the live generation."""
    from indexer.index.store import IndexNotFound, IndexStore

    try:
        st = IndexStore.open(index_dir)
    except IndexNotFound:
        return {}
    try:
        out: dict[str, list[str]] = {}
        for r in st.documents():
            out.setdefault(r["source"].split("#", 1)[0], []).append(r["doc_id"])
        return out
    finally:
        st.close()


def settle(job: Job, indexed: dict[str, list[str]], errors: dict[str, list[str]], trash: Trash,
           files: CorpusFiles) -> tuple[str, list[Item]]:
    """The job's final state and per-file results, from the index as it now is."""
    items = []
    for it in job.items:
        it = Item(**it.__dict__)
        if it.status != "pending":  # refused or duplicate at upload: already final
            pass
        elif it.action == "remove":
            gone = it.path not in indexed
            it.status, it.message = ("removed", "") if gone else ("error", "Văn bản vẫn còn trong chỉ mục.")
        elif it.path in indexed:
            it.status, it.doc_ids = "indexed", indexed[it.path]
            it.message = "; ".join(errors.get(it.path, []))  # e.g. bad lines of a .jsonl file
        else:
            why = "; ".join(errors.get(it.path, [])) or "Tệp không được lập chỉ mục."
            it.status, it.message = ("duplicate" if why.startswith("Trùng") else "error"), why
            path = trash.root / it.path
            if it.action in NEW_FILE_ACTIONS and path.is_file():
                with files.locked():
                    entry = trash.put(path, actor=job.user_name, kind="rejected", reason=why, title=it.name)
                it.message += f" Tệp đã được chuyển vào thùng rác (mục {entry.id})."
        items.append(it)
    ok = any(i.status in ("indexed", "removed") for i in items)
    return ("published" if ok else "failed"), items


def run(data_dir: Path, corpus: Path, index_dir: Path, batch: int, model: str | None) -> int:
    from indexer.build import build_index

    db = DataDB(data_dir)
    last = [0.0, ""]

    def on_progress(p: Progress) -> None:
        now = time.monotonic()
        if p.stage != last[1] or now - last[0] >= PROGRESS_EVERY or p.done == p.total:
            last[:] = [now, p.stage]
            jobs.progress(db, batch, p)

    batch_jobs = jobs.in_batch(db, batch)
    if not batch_jobs:
        return 0
    try:
        report = build_index(corpus, index_dir, model=model, progress=False, on_progress=on_progress)
    except Exception as e:
        jobs.fail_batch(db, batch, f"Lập chỉ mục thất bại, chỉ mục cũ vẫn được dùng: {type(e).__name__}: {e}")
        raise
    errors: dict[str, list[str]] = {}
    for e in report.errors:
        where = f"dòng {e.line}: " if e.line else ""
        errors.setdefault(e.source.split("#", 1)[0], []).append(where + reason_text(e.reason))
    indexed = indexed_sources(index_dir)
    trash = Trash(corpus)
    files = CorpusFiles(corpus, db)
    summary = (f"{report.documents} văn bản, {report.chunks} đoạn trong chỉ mục; thêm {len(report.added)}, "
               f"cập nhật {len(report.updated)}, gỡ {len(report.removed)}; tạo {report.encoded} vector "
               f"trong {report.seconds:.1f} giây.")
    for job in batch_jobs:
        state, items = settle(job, indexed, errors, trash, files)
        jobs.finish(db, job.id, state, items,
                    error="" if state == "published" else "Không tệp nào được lập chỉ mục.", summary=summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m web.ingest.build_job")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--index-dir", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--model", default=None)
    a = p.parse_args(argv)
    return run(Path(a.data_dir), Path(a.corpus), Path(a.index_dir), a.batch, a.model or None)


if __name__ == "__main__":
    sys.exit(main())
