"""A real Dask cluster for tests: `dask scheduler` and `dask worker` processes bound to 127.0.0.1 only.

Every process runs in its own process group, dies with the test process (PR_SET_PDEATHSIG), has
idle / death timeouts so it stops by itself, and is killed group-wide by :meth:`LocalDaskCluster.close`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))


def _die_with_parent() -> None:
    os.setpgrp()  # its own process group (killed as one), but the caller's session: the same CPU share
    # (with autogroup, a new session would get a CPU share of its own on a shared machine)
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LocalDaskCluster:
    def __init__(self, work: Path, *, workers: int = 2, allowed_failures: int = 1, nanny: bool = True,
                 worker_args: list[str] | None = None, env: dict | None = None, embed_threads: int = 1):
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES":
                    str(allowed_failures), **(env or {})}
        sched_file = self.work / "scheduler.json"
        sched_file.unlink(missing_ok=True)  # a previous run's address is not this scheduler's
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                                   "--idle-timeout", "300", "--scheduler-file", str(sched_file)])
        deadline = time.monotonic() + 60
        while not sched_file.is_file():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start: " + self.log("scheduler"))
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        self.nanny = nanny
        self.embed_threads = embed_threads
        self.worker_procs = [self.add_worker(worker_args) for _ in range(workers)]

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")  # noqa: SIM115 (kept open by the child)
        p = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)
        self.procs.append(p)
        return p

    def add_worker(self, extra: list[str] | None = None, name: str | None = None) -> subprocess.Popen:
        name = name or f"worker-{len(self.procs)}"
        return self._start(name, [DASK, "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                                  "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--death-timeout", "60",
                                  *([] if self.nanny else ["--no-nanny"]),
                                  "--preload", "indexer.distributed_worker", "--embed-threads", str(self.embed_threads),
                                  *(extra or [])])

    def log(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.work / f"{name}.log").read_text(errors="replace")[-3000:]
        return ""

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, client, n: int, resource: str | None = None, timeout: float = 90) -> dict:
        """Workers (address → info) once ``n`` are registered (with ``resource`` when given)."""
        deadline = time.monotonic() + timeout
        while True:
            ws = client.scheduler_info(n_workers=-1)["workers"]
            ok = {a: w for a, w in ws.items() if resource is None or (w.get("resources") or {}).get(resource)}
            if len(ok) >= n:
                return ok
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(ok)}/{n} workers after {timeout}s: " + self.log("worker-1"))
            time.sleep(0.2)

    def all_pids(self) -> list[int]:
        pids = []
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    pr = psutil.Process(p.pid)
                    pids += [pr.pid, *(c.pid for c in pr.children(recursive=True))]
        return pids

    def listening(self) -> list[tuple[int, str, int]]:
        """(pid, ip, port) of every listening TCP socket of the cluster's processes."""
        out = []
        for pid in self.all_pids():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                for c in psutil.Process(pid).net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        out.append((pid, c.laddr.ip, c.laddr.port))
        return out

    def kill_scheduler(self) -> None:
        os.killpg(self.scheduler.pid, signal.SIGKILL)

    def close(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=10)
