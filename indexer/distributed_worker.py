"""What a Dask worker does for a distributed build: read, parse, OCR and embed one shipped source file.

A worker is started with this module as its preload, which loads the project's own offline model (from the
installed package, ``$DIRECTIVES_MODEL``, or ``--directives-model PATH``) and advertises it as a Dask
*resource* named after the model's fingerprint and the passage encoder's id (:func:`resource_name`)
before the worker registers::

    dask worker tcp://10.0.0.5:8786 --host 10.0.0.6 --nthreads 1 --no-dashboard \\
        --preload indexer.distributed_worker [--directives-model DIR] [--embed-threads 2] [--ocr-cache DIR]

The coordinator (``indexer/distributed.py``) asks for the resource of the index's model, so the scheduler
itself never sends a file to a worker with other weights, another int8 export, or no model at all: such a
worker is refused, and named in the build report.

Files travel as bytes (with their sidecar) and are parsed under a private folder at the same relative path,
so document ids, sources and content hashes are those of a local build and workers need no shared disk. The
task returns the parsed documents with one :class:`~indexer.embedding.vectors.Embedded` per chunk (None for
a text the coordinator's checkpoint already holds): parsing and embedding of a file fail or succeed together,
so a file that kills every worker is one per-file error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from indexer.models import Directive, ParseError

log = logging.getLogger(__name__)
RESOURCE_PREFIX = "directives-model-"
_config: dict[str, str | None] = {"model": None, "ocr_cache": None}


@dataclass
class ShippedFile:
    """One source file as the coordinator read it: its path relative to the corpus, bytes and sidecar."""

    source: str
    data: bytes
    sidecar: tuple[str, bytes] | None = None  # (name, bytes) of NAME.meta.yaml beside it


@dataclass
class IngestedFile:
    source: str
    docs: list[Directive] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    vectors: list[list] = field(default_factory=list)  # per document, per chunk: Embedded | None (checkpointed)
    encoder_id: str = ""
    fingerprint: str = ""
    worker: str = ""
    parse_s: float = 0.0
    embed_s: float = 0.0


def resource_name(fingerprint: str, encoder_id: str) -> str:
    """The Dask resource a worker with this model and passage encoder advertises (and tasks ask for)."""
    return RESOURCE_PREFIX + fingerprint[:16] + "-" + hashlib.sha256(encoder_id.encode()).hexdigest()[:8]


def model_dir() -> Path:
    """The model this worker embeds with: ``--directives-model``, else $DIRECTIVES_MODEL, else the package's."""
    from indexer.embedding.encoder import DEFAULT_MODEL_DIR, MODEL_ENV

    return Path(_config["model"] or os.environ.get(MODEL_ENV) or DEFAULT_MODEL_DIR).expanduser().resolve()


def identity(variant: str | None = None) -> dict:
    """What this worker would embed with, without loading it: fingerprint and passage-encoder id per variant."""
    from indexer.embedding.encoder import model_fingerprint
    from indexer.embedding.onnx_passage import encoder_id, int8_is_current
    from indexer.embedding.onnx_query import is_current

    path = model_dir()
    if not (path / "config.json").is_file():
        return {"model": str(path), "error": f"no model at {path}"}
    fp = model_fingerprint(path)
    encoders = {"torch": "torch"}
    if is_current(path):
        encoders["fp32"] = encoder_id(path, "fp32")
    if int8_is_current(path):
        encoders["int8"] = encoder_id(path, "int8")
    return {"model": str(path), "fingerprint": fp, "encoders": encoders, "pid": os.getpid()}


def _encoder(variant: str):
    from indexer.embedding.encoder import PassageEncoder

    return PassageEncoder.load(str(model_dir()), variant)  # cached per process


@click.command()
@click.option("--directives-model", default=None, help="model directory (default: the installed package's)")
@click.option("--embed-threads", type=int, default=None, help="chunks embedded at once per task (default 2)")
@click.option("--ocr-cache", default=None, help="OCR results cache of this worker (default ~/.cache/directives)")
@click.option("--passage-encoder", default=None, help="variant to load at start: int8 (default) | fp32 | torch")
def dask_setup(worker, directives_model, embed_threads, ocr_cache, passage_encoder):
    """Dask preload: configure the model, advertise it as resources (before registering), warm the encoder."""
    from indexer.embedding.onnx_passage import resolve_variant

    _config["model"] = directives_model
    _config["ocr_cache"] = ocr_cache
    if embed_threads:
        os.environ["DIRECTIVES_EMBED_WORKERS"] = str(embed_threads)
    ident = identity()
    if "error" in ident:
        log.error("directives: %s; this worker will get no build tasks", ident["error"])
        return
    n = float(worker.state.nthreads)
    for enc in ident["encoders"].values():
        name = resource_name(ident["fingerprint"], enc)
        worker.state.total_resources[name] = n
        worker.state.available_resources[name] = n
    variant = resolve_variant(passage_encoder)
    if variant in ident["encoders"]:
        _encoder(variant)  # ~3 s now rather than in the first task
    log.info("directives: model %s (%s), encoders %s", ident["model"], ident["fingerprint"][:12],
             sorted(ident["encoders"]))


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # called outside a worker (tests, a local run)
        return f"local:{os.getpid()}"


def parse_shipped(f: ShippedFile) -> tuple[list[Directive], list[ParseError]]:
    """Parse ``f`` exactly as a local build parses it from the corpus (same relative path, same sidecar)."""
    from indexer.parsing import parse_source
    from indexer.reading import ReadOptions

    tmp = Path(tempfile.mkdtemp(prefix="directives-ingest-"))
    try:
        path = tmp / f.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        if f.sidecar is not None:
            (path.parent / f.sidecar[0]).write_bytes(f.sidecar[1])
        opts = ReadOptions(ocr_cache=Path(_config["ocr_cache"]) if _config["ocr_cache"] else None)
        return parse_source(path, tmp, opts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ingest(f: ShippedFile, variant: str, skip: frozenset[bytes] | None = None) -> IngestedFile:
    """The Dask task: parse one file, then embed every chunk whose text is not in ``skip`` (checkpoint keys)."""
    from indexer.index.checkpoint import text_key

    t0 = time.perf_counter()
    docs, errors = parse_shipped(f)
    out = IngestedFile(f.source, docs, errors, worker=_worker_address(), parse_s=time.perf_counter() - t0)
    texts = [c.text for d in docs for c in d.chunks]
    todo = list(dict.fromkeys(t for t in texts if skip is None or text_key(t) not in skip))
    t1 = time.perf_counter()
    enc = _encoder(variant)
    got = dict(zip(todo, enc.embed_many(todo), strict=True)) if todo else {}
    out.encoder_id, out.fingerprint = enc.encoder_id, enc.fingerprint
    out.vectors = [[got.get(c.text) for c in d.chunks] for d in docs]
    out.embed_s = time.perf_counter() - t1
    return out
