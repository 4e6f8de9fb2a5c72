"""A whole site with accounts and uploads on a real uvicorn (127.0.0.1, free port), for the management tests.

Each site gets a private copy of the seed corpus and seed index (so builds are incremental: only new files
are embedded) and a fresh data directory with three accounts: admin, editor and viewer.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PASSWORDS = {"admin": "quan-tri-vien-1", "editor": "bien-tap-vien-1", "viewer": "nguoi-xem-123"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    base_url: str
    corpus: Path
    index: Path
    data: Path
    app: object
    server: object = None
    thread: threading.Thread | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def db(self):
        return self.app.state.db

    def client(self, **kw) -> httpx.Client:
        c = httpx.Client(base_url=self.base_url, timeout=120, **kw)
        self.clients.append(c)
        return c

    def login(self, name: str, password: str | None = None, headers: dict | None = None) -> httpx.Client:
        """A client logged in as ``name``; ``c.csrf`` is its session's CSRF token."""
        c = self.client(headers=headers or {})
        r = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)[1]
        r = c.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token})
        assert r.status_code == 303, (r.status_code, r.text[:500])
        c.csrf = csrf_of(c.get("/account").text)
        return c

    def wait_job(self, client: httpx.Client, job_id: int, timeout: float = 600) -> dict:
        t0 = time.monotonic()
        while True:
            j = client.get(f"/api/jobs/{job_id}").json()
            if j["state"] in ("published", "failed"):
                return j
            assert time.monotonic() - t0 < timeout, j
            time.sleep(0.5)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.server.should_exit = True
        self.thread.join(30)
        self.app.state.service.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', html)[1]


def make_site(tmp: Path, seed_index: Path, *, worker: bool = False, read: str = "open", limits=None,
              extra_files: dict[str, str] | None = None) -> Site:
    import uvicorn

    from web.accounts import users
    from web.app import create_app
    from web.datadir import DataDB
    from web.ingest.multipart import UploadLimits
    from web.manage import ManageConfig

    corpus, index, data = tmp / "corpus", tmp / "index", tmp / "data"
    shutil.copytree(REPO / "corpus", corpus)
    for name, text in (extra_files or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    shutil.copytree(seed_index, index)
    db = DataDB(data)
    for name, pw in PASSWORDS.items():
        users.add(db, name, pw, name)
    cfg = ManageConfig(data_dir=data, corpus=corpus, index_dir=index, read=read, worker=worker,
                       limits=limits or UploadLimits())
    app = create_app(index, manage=cfg)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.02)
    return Site(f"http://127.0.0.1:{port}", corpus, index, data, app, server, thread)
