"""Numba compilation for the index's few hot loops (BM25's sum, row reads), cached on disk when it can be."""

from __future__ import annotations

import numba


def compiled(cache: bool = True, **options):
    """``numba.njit(nogil=True)`` with the machine code cached on disk (beside the module, or in the user's
    cache); without a writable place for it (a read-only install), or with ``cache=False`` (a function calling
    C through ctypes cannot be cached), compiled anew in each process, in the warm-up."""
    def wrap(fn):
        if cache:
            try:
                return numba.njit(nogil=True, cache=True, **options)(fn)
            except RuntimeError:  # "cannot cache function …: no locator available"
                pass
        return numba.njit(nogil=True, **options)(fn)
    return wrap
