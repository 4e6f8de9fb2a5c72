"""The one job worker of a server: a thread that runs each batch of queued jobs in a child process.

One batch at a time (builds take the index lock anyway, and the machine has few cores). The worker owns the
queue only while it holds ``worker.lock`` in the data directory, so a second server on the same data
directory serves pages but leaves the jobs alone. On start it re-queues jobs a killed server left running;
on stop it ends the child (the index keeps its previous generation) and leaves those jobs to the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from web.datadir import DataDB
from web.ingest import jobs

log = logging.getLogger(__name__)
LOG_TAIL = 1500  # characters of a crashed child's stderr shown on the job page


class Worker:
    def __init__(self, db: DataDB, corpus: Path, index_dir: Path, model: str | None = None):
        self.db, self.corpus, self.index_dir, self.model = db, Path(corpus), Path(index_dir), model
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = None
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Take the queue (False when another process holds it) and start the thread."""
        f = open(self.db.dir / "worker.lock", "w")  # noqa: SIM115 — held open for the worker's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            log.warning("another server runs the job queue of %s; this one only serves pages", self.db.dir)
            return False
        self._lock_file = f
        n = jobs.requeue_running(self.db)
        if n:
            log.warning("re-running %d job(s) interrupted by a stop", n)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ingest-worker", daemon=True)
        self._thread.start()
        return True

    def notify(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 15) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = jobs.claim_batch(self.db)
            except Exception:
                log.exception("cannot read the job queue")
                batch = None
            if batch is None:
                self._wake.wait(2.0)
                self._wake.clear()
                continue
            self._run(batch)

    def _command(self, batch: int) -> list[str]:
        cmd = [sys.executable, "-m", "web.ingest.build_job", "--data-dir", str(self.db.dir), "--corpus",
               str(self.corpus), "--index-dir", str(self.index_dir), "--batch", str(batch)]
        return cmd + (["--model", self.model] if self.model else [])

    def _run(self, batch: int) -> None:
        logs = self.db.dir / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"batch-{batch}.log"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DIRECTIVES_JOB_PARENT=str(os.getpid()))
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(self._command(batch), stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env, cwd=os.getcwd())
            while self.proc.poll() is None:
                if self._stop.wait(0.2):
                    self.proc.terminate()
                    try:
                        self.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait()
                    return  # the batch stays "running": re-queued at the next start
        rc = self.proc.returncode
        if rc != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
            n = jobs.fail_batch(self.db, batch, f"Tiến trình lập chỉ mục dừng bất thường (mã {rc}); chỉ mục cũ "
                                                f"vẫn được dùng.\n{tail}")
            log.error("build of batch %d exited with %d (%d job(s) failed); log: %s", batch, rc, n, log_path)
        else:
            log_path.unlink(missing_ok=True)
