"""Fault injection for tests/test_dask_build.py, loaded on workers with ``--preload tests.dask_crash_preload``:
a file whose bytes carry :data:`MARKER` kills the worker process outright (SIGKILL, as a segfaulting reader
or the kernel's OOM killer would), every time, on every worker. Other files are read as usual."""

from __future__ import annotations

import os
import signal

import indexer.distributed_worker as dw

MARKER = b"DIRECTIVES-TEST-KILL-THE-WORKER"
_real = dw.parse_shipped


def _parse_or_die(f):
    if MARKER in f.data:
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(f)


def dask_setup(worker):
    dw.parse_shipped = _parse_or_die
