"""The coordinating side of ``directives index --dask tcp://HOST:PORT``: changed files go to Dask workers.

The build itself (``indexer/build.py``) stays where it is: it decides what changed, writes the segment and
publishes the generation, so atomicity, incremental updates, checkpoints and resume are those of a local
build. Only the per-file work moves: :meth:`DaskIngest.results` ships each changed file (bytes and sidecar)
to a worker, which parses, OCRs and embeds it (``indexer/distributed_worker.py``), and yields the results
in the order of the files, so duplicates are resolved as a local build resolves them.

- **Which workers.** A task asks for the Dask resource named after the index's model fingerprint and passage
  encoder (:func:`indexer.distributed_worker.resource_name`), which a worker advertises only when its own
  offline model is exactly that one. Other workers never receive a file; they are named in the report.
- **A worker that dies** takes its running task with it; the scheduler gives the task to another worker.
  A file that has killed ``distributed.scheduler.allowed-failures`` + 1 workers (3 + 1 by default) comes
  back as :class:`distributed.KilledWorker` and becomes that file's error; the build goes on.
- **The scheduler dying** (or the connection to it) cancels every future: :class:`ClusterError`, the build
  stops before publishing, and the previous generation keeps serving.
- At most as many tasks are in flight as the accepted workers have threads, so a dying worker takes few
  innocent files with it, and memory holds only the files in flight plus a bounded look-ahead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.distributed_worker import IngestedFile, ShippedFile, identity, ingest, resource_name
from indexer.models import ParseError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_ENV = "DIRECTIVES_DASK_CONNECT_TIMEOUT"  # seconds to reach the scheduler (default 10)
NO_WORKER_ENV = "DIRECTIVES_DASK_NO_WORKER_TIMEOUT"  # seconds without an accepted worker before failing (120)
POLL = 0.5


class ClusterError(RuntimeError):
    """The Dask cluster cannot carry the build (unreachable or lost scheduler, no worker with the model)."""


@dataclass
class ModelIdentity:
    """What the index's vectors are made with: a worker must have exactly this to get a file."""

    name: str
    dim: int
    fingerprint: str
    encoder_id: str
    variant: str

    @property
    def resource(self) -> str:
        return resource_name(self.fingerprint, self.encoder_id)


def local_identity(spec: str, variant: str) -> ModelIdentity:
    """The coordinator's model, read from its files without loading it (the coordinator embeds nothing)."""
    import json

    from indexer.embedding.encoder import _resolve, model_fingerprint

    path = Path(_resolve(spec or None))
    if not (path / "config.json").is_file():
        raise ClusterError(f"--dask needs the model as a local directory on the coordinator ({spec or path})")
    from indexer.embedding.onnx_passage import encoder_id, int8_is_current
    from indexer.embedding.onnx_query import is_current

    available = {"int8": int8_is_current, "fp32": is_current}.get(variant)
    enc = encoder_id(path, variant) if available is not None and available(path) else "torch"
    dim = int(json.loads((path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    return ModelIdentity(str(path), dim, model_fingerprint(path), enc, variant)


@dataclass
class ClusterReport:
    """What the cluster did, for the build report (``BuildReport.cluster``)."""

    scheduler: str = ""
    accepted: dict[str, int] = field(default_factory=dict)  # worker → threads
    refused: dict[str, str] = field(default_factory=dict)  # worker → why
    worker_of: dict[str, str] = field(default_factory=dict)  # source → worker that produced it
    tasks: dict[str, str] = field(default_factory=dict)  # Dask key → source
    crashed: list[str] = field(default_factory=list)  # sources that killed every worker they were given to
    parse_s: float = 0.0  # summed over workers
    embed_s: float = 0.0
    wait_s: float = 0.0  # coordinator time spent waiting for results

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _read_shipped(path: Path, corpus: Path) -> ShippedFile:
    from indexer.parsing.sidecar import sidecar_path

    side = sidecar_path(path)
    return ShippedFile(str(path.relative_to(corpus)), path.read_bytes(),
                       (side.name, side.read_bytes()) if side.is_file() else None)


class DaskIngest:
    """A connection to a running Dask scheduler for one build; see the module doc."""

    def __init__(self, address: str, model: ModelIdentity, *, connect_timeout: float | None = None,
                 no_worker_timeout: float | None = None):
        from distributed import Client

        self.model = model
        self.report = ClusterReport(scheduler=address)
        self.no_worker_timeout = float(no_worker_timeout or os.environ.get(NO_WORKER_ENV) or 120)
        timeout = float(connect_timeout or os.environ.get(CONNECT_TIMEOUT_ENV) or 10)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {e}") from e
        self._skip: frozenset[bytes] | None = None  # checkpoint keys of a resumed build, scattered once
        self._skip_future = None
        self._seen: set[str] = set()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)

    def __enter__(self) -> DaskIngest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- workers -------------------------------------------------------------------------------------------

    def capacity(self) -> int:
        """Threads of the workers that advertise the model; new and restarted workers are checked each time."""
        if self.client.status != "running":
            raise ClusterError(f"lost the Dask scheduler at {self.report.scheduler}")
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except Exception as e:
            raise ClusterError(f"lost the Dask scheduler at {self.report.scheduler}: {e}") from e
        total = 0
        for addr, w in workers.items():
            res = w.get("resources") or {}
            if res.get(self.model.resource, 0) > 0:
                total += int(res[self.model.resource])
                self.report.accepted.setdefault(addr, int(w.get("nthreads", 1)))
            elif addr not in self._seen:
                self.report.refused[addr] = self._why_refused(addr)
            self._seen.add(addr)
        return total

    def _why_refused(self, addr: str) -> str:
        try:
            got = self.client.run(identity, workers=[addr], wait=True)[addr]
        except Exception as e:  # no directives package on that worker, or it just died
            return f"cannot ask it for its model ({type(e).__name__}: {e})"
        if "error" in got:
            return got["error"]
        enc = got["encoders"].get(self.model.variant, "none")
        if got["fingerprint"] != self.model.fingerprint:
            return (f"model fingerprint {got['fingerprint'][:12]} ({got['model']}) differs from the index's "
                    f"{self.model.fingerprint[:12]}")
        if enc != self.model.encoder_id:
            return f"passage encoder {enc} differs from the index's {self.model.encoder_id}"
        return "started without the directives preload (--preload indexer.distributed_worker)"

    def wait_for_capacity(self) -> int:
        deadline = time.monotonic() + self.no_worker_timeout
        while True:
            n = self.capacity()
            if n:
                return n
            if time.monotonic() > deadline:
                refused = "; ".join(f"{a}: {r}" for a, r in self.report.refused.items()) or "no worker at all"
                raise ClusterError(f"no Dask worker has the index's model (fingerprint {self.model.fingerprint[:12]}, "
                                   f"passage encoder {self.model.encoder_id}) after {self.no_worker_timeout:.0f}s: "
                                   f"{refused}")
            time.sleep(POLL)

    # --- work ----------------------------------------------------------------------------------------------

    def set_checkpoint(self, keys: set[bytes]) -> None:
        """Texts a killed build already embedded: workers parse their files but do not embed them again."""
        if keys:
            self._skip = frozenset(keys)

    def _submit(self, f: ShippedFile, i: int):
        key = f"directives-ingest-{i}-{uuid.uuid4().hex}"
        self.report.tasks[key] = f.source
        skip = None
        if self._skip is not None:
            if self._skip_future is None or self._skip_future.status != "finished":  # (again, if lost)
                (self._skip_future,) = self.client.scatter([self._skip], broadcast=True, hash=False)
            skip = self._skip_future
        return self.client.submit(ingest, f, self.model.variant, skip, key=key, resources={self.model.resource: 1},
                                  pure=False, retries=0)

    def results(self, paths: list[Path], corpus: Path) -> Iterator[IngestedFile]:
        """One :class:`IngestedFile` per path, in the order of ``paths``, computed on the workers."""
        from distributed import KilledWorker, wait
        from distributed.client import FuturesCancelledError

        n = len(paths)
        pending = iter(range(n))
        inflight: dict = {}  # future → index
        done: dict[int, IngestedFile] = {}
        nxt = 0
        cap = self.wait_for_capacity()
        lookahead = max(16, 4 * cap)
        upcoming = next(pending, None)
        while nxt < n:
            while upcoming is not None and len(inflight) < cap and upcoming - nxt < lookahead:
                inflight[self._submit(_read_shipped(paths[upcoming], corpus), upcoming)] = upcoming
                upcoming = next(pending, None)
            while nxt in done:
                yield done.pop(nxt)
                nxt += 1
            if nxt >= n:
                break
            t = time.perf_counter()
            try:
                with self.client.as_current():
                    finished, _ = wait(list(inflight), timeout=POLL, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            except FuturesCancelledError as e:  # the client lost the scheduler: every future is gone
                raise ClusterError(f"lost the Dask scheduler at {self.report.scheduler}; nothing was published "
                                   f"({e})") from e
            self.report.wait_s += time.perf_counter() - t
            for fut in finished:
                i = inflight.pop(fut)
                done[i] = self._collect(fut, paths[i], corpus, KilledWorker)
            cap = self.capacity() or self.wait_for_capacity()

    def _collect(self, fut, path: Path, corpus: Path, killed_type) -> IngestedFile:
        source = str(path.relative_to(corpus))
        if fut.status == "cancelled":
            raise ClusterError(f"lost the Dask scheduler at {self.report.scheduler} (the build was not published)")
        if fut.status == "error":
            e = fut.exception()
            if isinstance(e, killed_type):
                self.report.crashed.append(source)
                reason = (f"crashed {e.allowed_failures + 1} Dask workers in a row (last {e.last_worker.address}); "
                          "not indexed")
            else:
                reason = f"failed on a Dask worker: {type(e).__name__}: {e}"
            return IngestedFile(source, errors=[ParseError(source, reason)])
        got: IngestedFile = fut.result()
        if got.docs and (got.fingerprint != self.model.fingerprint or got.encoder_id != self.model.encoder_id):
            raise ClusterError(f"worker {got.worker} embedded {source} with another model "
                               f"({got.fingerprint[:12]}, {got.encoder_id}); refusing its vectors")
        self.report.worker_of[source] = got.worker
        self.report.parse_s += got.parse_s
        self.report.embed_s += got.embed_s
        return got

