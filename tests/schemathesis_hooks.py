"""Two rules of the read API that JSON Schema cannot state, told to schemathesis so that it tests the rest.

* ``/api/search``: ``year_from`` ≤ ``year_to`` (a reversed range is a 400, documented on both parameters);
* ``/api/evolution``: exactly one of ``q`` and ``chunk_id`` (both or neither is a 400, documented on ``q``).

Only cases breaking these rules are dropped; everything else schemathesis generates is sent.
"""

from __future__ import annotations

import schemathesis


def _given(v) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _year(v) -> int | None:
    """The coverage phase sends numbers as strings."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, str) and v.strip().isdigit() else None


@schemathesis.hook
def filter_case(context, case):
    """(``filter_case`` rather than ``filter_query``: the coverage phase applies only case hooks.)"""
    query = case.query or {}
    path = case.operation.path
    if path == "/api/search":
        lo, hi = _year(query.get("year_from")), _year(query.get("year_to"))
        return lo is None or hi is None or lo <= hi
    if path == "/api/evolution":
        return _given(query.get("q")) != _given(query.get("chunk_id"))
    return True
