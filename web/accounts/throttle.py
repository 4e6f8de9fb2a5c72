"""Login rate limiting, per account and per client address, kept in the database (survives restarts).

Failures in the last ``WINDOW`` seconds are counted. Up to ``FREE`` of them cost nothing; after that each key
must wait ``2 ** (n - FREE)`` seconds (capped at ``MAX_WAIT``) since its last failure, and while it waits
even the right password is refused, without spending an argon2 verification. An address gets more free
attempts than one account, because an office shares one address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from web.datadir import DataDB

WINDOW = 15 * 60
MAX_WAIT = 15 * 60
FREE = {"account": 5, "address": 20}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds
    kind: str = ""  # which limit refused: "account" or "address"


def _wait(n: int, free: int) -> float:
    return 0.0 if n < free else float(min(MAX_WAIT, 2 ** (n - free + 1)))


def check(db: DataDB, account: str, address: str, now: float | None = None) -> Verdict:
    now = time.time() if now is None else now
    for kind, key in (("account", account), ("address", address)):
        n, last = db.con.execute("SELECT count(*), max(at) FROM login_failures WHERE kind = ? AND key = ? AND at > ?",
                                 (kind, key, now - WINDOW)).fetchone()
        wait = _wait(n, FREE[kind])
        if wait and last is not None and now - last < wait:
            return Verdict(False, max(1, int(wait - (now - last) + 0.999)), kind)
    return Verdict(True)


def failed(db: DataDB, account: str, address: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    with db.tx() as con:
        con.execute("DELETE FROM login_failures WHERE at < ?", (now - WINDOW,))
        con.executemany("INSERT INTO login_failures (kind, key, at) VALUES (?,?,?)",
                        [("account", account, now), ("address", address, now)])


def succeeded(db: DataDB, account: str) -> None:
    """A right password clears the account's failures (not the address's: an attacker may own one account)."""
    db.con.execute("DELETE FROM login_failures WHERE kind = 'account' AND key = ?", (account,))
