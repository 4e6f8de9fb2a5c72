"""``directives serve --corpus --data-dir``: what ``make run`` starts. With no account it says how to create the
first admin; a data directory inside the index is refused; the server serves the login page and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from search_api import hugepages
from tests.manage_site import free_port

REPO = Path(__file__).resolve().parents[1]


def _serve(*args: str) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "indexer.cli", "serve", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_serve_prints_how_to_create_the_first_admin(seed_index, tmp_path):
    port = free_port()
    data = tmp_path / "data"
    proc = _serve("--index-dir", str(seed_index), "--corpus", str(tmp_path / "corpus"), "--data-dir", str(data),
                  "--host", "127.0.0.1", "--port", str(port), "--read", "login")
    out = []
    try:
        t0 = time.monotonic()
        while not any("Uvicorn running" in line for line in out):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(out)
            out.append(line)
            assert time.monotonic() - t0 < 120, "".join(out)
        text = "".join(out)
        assert "Chưa có tài khoản nào" in text
        assert f"directives user add admin --role admin --data-dir {data}" in text
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/login").status_code == 200
        assert httpx.get(base + "/api/search", params={"q": "x"}).status_code == 401  # --read login
        assert (data / "directives.sqlite").is_file() and (tmp_path / "corpus").is_dir()
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        restarted = any(e.startswith(b"GLIBC_TUNABLES=") and b"glibc.malloc.hugetlb=1" in e for e in environ)
        assert restarted == hugepages.wanted(os.environ)  # the same process, re-executed with huge pages
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM to exit as the signal asked
    assert "Application shutdown complete" in rest and proc.returncode in (0, -signal.SIGTERM)


def test_serve_refuses_a_data_dir_inside_the_index(seed_index, tmp_path):
    proc = _serve("--index-dir", str(seed_index), "--corpus", str(tmp_path / "corpus"), "--data-dir",
                  str(seed_index / "accounts"), "--port", str(free_port()))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "must not be inside --index-dir" in out
    assert not (seed_index / "accounts").exists()
