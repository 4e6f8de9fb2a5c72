"""Transparent huge pages for a server's heap: glibc is asked at start-up, so ``serve`` restarts itself once.

At a million chunks a query walks five HNSW graphs (FAISS: ~1 GB of 8-bit codes and links on the heap) by
random access, and with 4 KB pages most steps miss the TLB. Debian's kernels give huge pages only to memory
that asks for them (``/sys/kernel/mm/transparent_hugepage/enabled`` = ``madvise``), and glibc's malloc asks
only when started with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``. With it the graph searches of a query took
19–20 instead of 23 ms at 1M (eval/RESULTS.md round 14), with the same RSS. The tunable must be in the
environment when the process starts, hence the one ``execve`` before anything is loaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TUNABLE = "glibc.malloc.hugetlb=1"
THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def wanted(environ: dict[str, str] | os._Environ = os.environ, mode_file: Path = THP_MODE) -> bool:
    """Whether restarting would change anything: Linux in ``madvise`` mode, the tunable not yet set, and not
    turned off with ``DIRECTIVES_HUGE_PAGES=0``."""
    if sys.platform != "linux" or environ.get("DIRECTIVES_HUGE_PAGES", "1") == "0":
        return False
    if "glibc.malloc.hugetlb" in environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        return "[madvise]" in mode_file.read_text()
    except OSError:
        return False


def restart_with_huge_pages() -> None:
    """Re-run this very command line with the tunable set (returns only when it is not wanted)."""
    if not wanted():
        return
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = ":".join(x for x in (env.get("GLIBC_TUNABLES"), TUNABLE) if x)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
