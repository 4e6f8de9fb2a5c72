"""schemathesis against the site's own OpenAPI spec on a real uvicorn: every operation, read and write, with an
editor's API token (and the admin operations again with an admin's), every check on. It must find no 5xx and
no response that contradicts the spec. The job worker is off: uploads and edits are accepted and queued.

Two cross-parameter rules JSON Schema cannot state are told to it in tests/schemathesis_hooks.py, and the
statuses a schema-valid write may still get (an unknown place, a zip bomb) in tests/schemathesis.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.manage_site import make_site

REPO = Path(__file__).resolve().parents[1]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(seed_index, tmp_path_factory):
    s = make_site(tmp_path_factory.mktemp("schemathesis"), seed_index)
    s.app.state.service.warm()  # the first query loads the encoder: not what a response-time check should time
    yield s
    s.stop()


def _run(site, token: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(SCHEMATHESIS), "--config-file", str(REPO / "tests" / "schemathesis.toml"), "--no-color", "run",
           f"{site.base_url}/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", "all",
           "--workers", "1", "--seed", "13", "--request-timeout", "120", "--max-response-time", "60",
           "--generation-database", "none", *extra]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


def _token(site, name: str) -> str:
    from web.accounts import tokens, users

    return tokens.create(site.db, users.get(site.db, name), "schemathesis")[0]


def test_schemathesis_editor_token_every_operation(site):
    r = _run(site, _token(site, "editor"))
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Tested: 2" in r.stdout and " failures" not in r.stdout.splitlines()[-1], r.stdout[-2000:]
    assert not list((site.corpus / ".incoming").glob("*.part"))  # refused and cut uploads left nothing behind
    queued = site.db.con.execute("SELECT count(*) FROM jobs WHERE kind = 'upload'").fetchone()[0]
    assert queued > 0  # write operations really ran (and queued jobs) with the editor's token


def test_schemathesis_admin_token_admin_operations(site):
    r = _run(site, _token(site, "admin"), "--include-path-regex", "^/api/(audit|users|trash)")
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
