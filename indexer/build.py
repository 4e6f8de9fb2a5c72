"""Build (or update) the index: changed files become one new segment, removed ones deletion marks.

A build writes only what changed: the documents of new and edited files go into a fresh immutable segment
(``indexer/index/segment.py``), the previous versions of edited and removed files are marked deleted in the new
generation's manifest, and the generation is published atomically (``indexer/index/generation.py``): a SIGKILL at
any moment leaves the previous generation live and whole. Unchanged files are recognised by size and mtime
(then by content hash), so a one-file update reads one file. Small segments are merged later, in the
background and atomically too (``indexer/index/merge.py``); queries give the same results either way.

Embedded vectors are checkpointed while a build runs (``indexer/index/checkpoint.py``): a killed first build
started again embeds only what it had not embedded yet.

Sources map to *lists* of documents (a JSONL record file holds many); an untouched record of an edited
JSONL file keeps its place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.index.checkpoint import EmbedCheckpoint
from indexer.index.generation import (
    Manifest,
    SourceEntry,
    build_lock,
    cleanup,
    current_generation,
    is_legacy,
    new_stamp,
    publish,
    read_registry,
    segments_dir,
)
from indexer.index.segment import SegmentWriter, new_segment_name
from indexer.index.store import SCHEMA_VERSION
from indexer.models import FileReport, ParseError
from indexer.parsing.pipeline import RECORD_SUFFIXES, iter_document_files, parse_source
from indexer.parsing.sidecar import sidecar_path
from indexer.progress import Progress, ProgressFn, ignore
from indexer.reading import ReadOptions
from indexer.reading.ocr_cache import OcrCache

PROGRESS_MIN = 8  # show bars only when there is real work
EMBED_STEP = 64  # chunks per progress report
SEGMENT_MAX_CHUNKS = 30_000  # a build larger than this writes several segments: sorting postings stays < 1 GB
OCR_CACHE = "ocr-cache"  # beside the generations: OCR results by content hash survive every build


@dataclass
class BuildReport:
    index_dir: str
    generation: str
    model: str
    added: list[str] = field(default_factory=list)  # sources
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)  # the ingest report of every file read in this run
    documents: int = 0
    chunks: int = 0
    encoded: int = 0  # chunks embedded in this run
    resumed: int = 0  # chunks whose vectors came from a killed build's checkpoints
    reencoded_all: bool = False  # the model (or passage encoder) changed: every vector rebuilt
    changed: bool = False  # a new generation was published
    segments: int = 0  # live segments after this build
    merge: str = ""  # "started" when a background merge was started
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    cluster: dict = field(default_factory=dict)  # with --dask: workers accepted and refused, who did each file

    def summary(self) -> str:
        lines = [f"index {self.index_dir} ({self.generation}), model {self.model}: "
                 f"{self.documents} documents, {self.chunks} chunks, {self.segments} segments",
                 f"  added {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
                 f"unchanged {len(self.skipped)}, errors {len(self.errors)}; embedded {self.encoded} chunks "
                 f"in {self.seconds:.1f}s" + (f" ({self.resumed} resumed from checkpoints)" if self.resumed else "")]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  {f.line()}".replace("\n", "\n  ") for f in self.files if f.status == "ok"]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _sidecars(path: Path) -> list[Path]:
    """Files next to a document that override its metadata: they are part of its content hash."""
    side = sidecar_path(path)
    return [side] if side.is_file() else []


def source_hash(path: Path) -> str:
    h = hashlib.sha256(path.read_bytes())
    for s in _sidecars(path):
        h.update(b"\0" + s.name.encode() + b"\0" + s.read_bytes())
    return h.hexdigest()


def source_stat(path: Path) -> str:
    """Size and mtime of a file and its sidecar: equal to the registry's, the file is not read again."""
    parts = []
    for p in [path, *_sidecars(path)]:
        st = p.stat()
        parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def resolve_model(model: str | None) -> str:
    """The model spec asked for: explicit argument, then $DIRECTIVES_MODEL, then "" (the built-in default)."""
    return model or os.environ.get("DIRECTIVES_MODEL", "") or ""


def _same_model(meta: dict[str, str], spec: str, variant: str) -> bool:
    """Whether the previous generation's vectors came from this model and passage encoder (cheap checks)."""
    if meta.get("schema") != SCHEMA_VERSION or meta.get("model_spec") != spec:
        return False
    model_dir = Path(meta.get("model", ""))
    if not model_dir.is_dir():
        return False
    from indexer.embedding.encoder import model_fingerprint
    from indexer.embedding.onnx_passage import encoder_id, int8_is_current
    from indexer.embedding.onnx_query import is_current

    if model_fingerprint(model_dir) != meta.get("fingerprint"):
        return False
    available = {"int8": int8_is_current, "fp32": is_current}.get(variant)
    want = encoder_id(model_dir, variant) if available is not None and available(model_dir) else "torch"
    return meta.get("passage_encoder") == want


def _embed(encoder, pending: list[tuple[int, str]], ckpt: EmbedCheckpoint, report: BuildReport, progress: bool,
           on_progress: ProgressFn):
    """Vectors for ``pending`` texts in order: from the checkpoint when a killed build made them, else embedded."""
    from tqdm import tqdm

    out = [ckpt.get(t) for _, t in pending]
    todo = [i for i, e in enumerate(out) if e is None]
    report.resumed += len(pending) - len(todo)
    bar = tqdm(total=len(todo), desc="embedding", unit="chunk", file=sys.stderr,
               disable=not progress or len(todo) < PROGRESS_MIN * EMBED_STEP)
    for a in range(0, len(todo), EMBED_STEP):
        idx = todo[a:a + EMBED_STEP]
        for i, e in zip(idx, encoder.embed_many([pending[i][1] for i in idx]), strict=True):
            out[i] = e
            ckpt.add(pending[i][1], e)
        bar.update(len(idx))
        on_progress(Progress("embedding", a + len(idx), len(todo)))
    bar.close()
    ckpt.flush()
    report.encoded += len(todo)
    return out


def build_index(corpus: Path, index_dir: Path, *, model: str | None = None, progress: bool = True,
                on_progress: ProgressFn = ignore, passage_encoder: str | None = None,
                merge: str = "background", dask: str | None = None) -> BuildReport:
    """Index every document under ``corpus`` into ``index_dir``; see the module doc for the guarantees.

    ``on_progress`` hears each stage (parsing file i/n, OCR page i/n, embedding chunk i/n, publishing).
    ``passage_encoder``: int8 (default) | fp32 | torch. ``merge``: "background" (merge small segments in a
    thread once the generation is published, when the policy asks for it), "wait" (the same, then wait),
    or "off". ``dask``: the address of a running Dask scheduler (tcp://HOST:PORT); the changed files are parsed,
    OCR'd and embedded on its workers, and this process writes and publishes as always.
    """
    from indexer.embedding.onnx_passage import resolve_variant

    t0 = time.perf_counter()
    corpus, index_dir = Path(corpus).resolve(), Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    spec, variant = resolve_model(model), resolve_variant(passage_encoder)
    with build_lock(index_dir):
        prev = current_generation(index_dir)
        legacy = prev is not None and is_legacy(prev)
        manifest = Manifest.read(prev) if prev is not None and not legacy else None
        meta = manifest.meta if manifest else {}
        registry = read_registry(prev) if manifest else {}
        report = BuildReport(str(index_dir), prev.name if prev else "", meta.get("model", ""))

        sources = {str(p.relative_to(corpus)): p for p in iter_document_files(corpus)}
        stats = {s: source_stat(p) for s, p in sources.items()}
        hashes = {s: registry[s].content_hash if s in registry and registry[s].stat == stats[s]
                  else source_hash(p) for s, p in sources.items()}
        same_model = manifest is not None and _same_model(meta, spec, variant)
        if not same_model:
            if legacy:
                report.notes.append("index format changed: rebuilding from scratch")
            elif manifest is not None:
                report.notes.append(f"model or passage encoder changed ({meta.get('model') or '?'}, "
                                    f"{meta.get('passage_encoder', '?')}): re-embedding every chunk")
                report.reencoded_all = True
            registry = {}
        report.skipped = [s for s in sources if s in registry and registry[s].content_hash == hashes[s]]
        todo = [s for s in sources if s not in report.skipped]
        report.removed = [s for s in registry if s not in sources]
        if manifest is not None and same_model and not todo and not report.removed:
            if any(registry[s].stat != stats[s] for s in report.skipped):  # touched, same bytes: remember the stat
                registry = {s: SourceEntry(e.content_hash, stats.get(s, e.stat), e.docs) for s, e in registry.items()}
                manifest = Manifest(new_stamp(), manifest.segments, manifest.deleted, meta)
                publish(index_dir, manifest, registry)
                cleanup(index_dir)
                report.generation, report.changed = manifest.generation, True
            report.documents, report.chunks = int(meta.get("documents", 0)), int(meta.get("chunks", 0))
            report.segments = len(manifest.segments)
            report.seconds = time.perf_counter() - t0
            return report

        from indexer.embedding.encoder import PassageEncoder

        class Lazy:
            """The passage encoder, loaded only when files are to be parsed (~3 s cold; a removal needs none)."""

            enc: PassageEncoder | None = None

            def get(self) -> PassageEncoder:
                if self.enc is None:
                    self.enc = PassageEncoder.load(spec or None, variant)
                return self.enc

            def embed_many(self, texts):
                return self.get().embed_many(texts)

        lazy = Lazy()
        cluster = None
        if dask and todo:  # the workers parse and embed; this process never loads the encoder
            from indexer.distributed import DaskIngest, ModelIdentity, local_identity

            ident = (ModelIdentity(meta["model"], int(meta["dim"]), meta["fingerprint"], meta["passage_encoder"],
                                   variant) if same_model else local_identity(spec, variant))
            cluster = DaskIngest(dask, ident)
        elif todo:  # load it now, while the build holds little: its load peaks at ~0.8 GB for a moment
            lazy.get()
        if same_model:
            dim, fingerprint, encoder_id, model_name = (int(meta["dim"]), meta["fingerprint"],
                                                        meta["passage_encoder"], meta["model"])
        elif cluster is not None:
            dim, fingerprint, encoder_id, model_name = ident.dim, ident.fingerprint, ident.encoder_id, ident.name
        else:
            e = lazy.get()
            dim, fingerprint, encoder_id, model_name = e.dim, e.fingerprint, e.encoder_id, e.name
        report.model = model_name
        ckpt = EmbedCheckpoint(index_dir, fingerprint, encoder_id)
        segs_dir = segments_dir(index_dir)
        segs_dir.mkdir(exist_ok=True)

        # what stays: documents of unchanged files, and untouched records of edited JSONL files
        replaced = set(todo) | set(report.removed)
        live_ids = {d for s, e in registry.items() if s not in replaced for d, _, _ in e.docs}
        live_hashes = {h for s, e in registry.items() if s not in replaced for _, h, _ in e.docs}
        new_registry = {s: SourceEntry(e.content_hash, stats[s], e.docs) for s, e in registry.items() if s not in replaced}
        deleted = {k: list(v) for k, v in manifest.deleted.items()} if manifest and same_model else {}
        old_segments = list(manifest.segments) if manifest and same_model else []

        writers: list[tuple[str, SegmentWriter]] = []
        try:
            options = ReadOptions(ocr_cache=index_dir / OCR_CACHE, progress=progress, on_progress=on_progress)
            from tqdm import tqdm

            pending: list[tuple[int, str]] = []
            if cluster is not None:
                cluster.set_checkpoint(set(ckpt.saved))
            for i, (s, docs, errs, vectors) in enumerate(tqdm(
                    _sources(todo, sources, corpus, options, cluster, on_progress), total=len(todo), desc="parsing",
                    unit="file", file=sys.stderr, disable=not progress or len(todo) < PROGRESS_MIN)):
                if cluster is not None:
                    on_progress(Progress("parsing", i + 1, len(todo), s))
                report.errors += errs
                report.files += [FileReport.of(d) for d in docs] + [FileReport.failed(e) for e in errs]
                prev_docs = {(d, h): seg for d, h, seg in registry[s].docs} if s in registry else {}
                # only a record file keeps its untouched records; a document file re-indexes whole, because
                # its sidecar may be what changed, not its bytes
                records = Path(s).suffix.lower() in RECORD_SUFFIXES
                kept: list[list[str]] = []
                for k, d in enumerate(docs):
                    if records and (d.doc_id, d.content_hash) in prev_docs:  # an untouched record stays
                        kept.append([d.doc_id, d.content_hash, prev_docs.pop((d.doc_id, d.content_hash))])
                        live_ids.add(d.doc_id)
                        live_hashes.add(d.content_hash)
                        continue
                    if d.doc_id in live_ids or d.content_hash in live_hashes:
                        err = ParseError(s, f"duplicate of an indexed document (same content or id {d.doc_id})")
                        report.errors.append(err)
                        report.files = [FileReport.failed(err) if (f.source, f.doc_id) == (s, d.doc_id) else f
                                        for f in report.files]
                        continue
                    if not writers or writers[-1][1].n_chunks >= SEGMENT_MAX_CHUNKS:
                        if writers:  # a very large first build: seal this part before starting the next
                            writers[-1][1].add_vectors(_embed(lazy, pending, ckpt, report, progress, on_progress))
                            pending = []
                        name = new_segment_name()
                        writers.append((name, SegmentWriter(segs_dir / f".tmp-{name}", dim)))
                    name, w = writers[-1]
                    if vectors is None:
                        pending += w.add(d)
                    else:  # embedded on a worker; texts a killed build embedded come from its checkpoint
                        w.add(d, _checkpointed(d, vectors[k], ckpt, report))
                        on_progress(Progress("embedding", report.encoded + report.resumed, 0))
                    kept.append([d.doc_id, d.content_hash, name])
                    live_ids.add(d.doc_id)
                    live_hashes.add(d.content_hash)
                for (doc_id, _), seg in prev_docs.items():  # previous versions: marked deleted
                    deleted.setdefault(seg, []).append(doc_id)
                if kept:
                    new_registry[s] = SourceEntry(hashes[s], stats[s], kept)
                    (report.updated if s in registry else report.added).append(s)
            on_progress(Progress("parsing", len(todo), len(todo)))
            for s in report.removed:
                for doc_id, _, seg in registry[s].docs:
                    deleted.setdefault(seg, []).append(doc_id)
            if writers:
                writers[-1][1].add_vectors(_embed(lazy, pending, ckpt, report, progress, on_progress))

            on_progress(Progress("publishing", 0, 1))
            new_segments = []
            for name, w in writers:
                info = w.finish()
                if info["n_chunks"]:
                    os.rename(w.folder, segs_dir / name)
                    new_segments.append(name)
                else:
                    shutil.rmtree(w.folder, ignore_errors=True)
            writers = []
            segments = [s for s in old_segments if s not in deleted or _has_live(index_dir, s, deleted[s])]
            deleted = {s: sorted(set(v)) for s, v in deleted.items() if s in segments}
            stamp = new_stamp()
            meta = dict(meta) if same_model else {}
            meta.update(model=model_name, model_spec=spec, dim=str(dim), fingerprint=fingerprint,
                        passage_encoder=encoder_id, schema=SCHEMA_VERSION,
                        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), generation=stamp)
            new_manifest = Manifest(stamp, segments + new_segments, deleted, meta)
            from indexer.index.store import IndexStore

            counts = IndexStore(index_dir / stamp, new_manifest, _open_all(index_dir, new_manifest)).counts()
            meta.update(documents=str(counts["documents"]), chunks=str(counts["chunks"]))
            publish(index_dir, new_manifest, new_registry)
            cleanup(index_dir)
            ckpt.clear()
            OcrCache.at(index_dir / OCR_CACHE).prune()
            on_progress(Progress("publishing", 1, 1))
        finally:
            if cluster is not None:
                cluster.close()
                report.cluster = cluster.report.to_dict()
                report.notes += [f"Dask worker {a} refused: {why}" for a, why in cluster.report.refused.items()]
            for _, w in writers:  # a failed build: its private segments go, the previous generation stays
                w.abort()
                shutil.rmtree(w.folder, ignore_errors=True)
        report.generation, report.changed = stamp, True
        report.documents, report.chunks = counts["documents"], counts["chunks"]
        report.segments = len(new_manifest.segments)
    if merge != "off":
        from indexer.index.merge import maybe_merge

        if maybe_merge(index_dir, background=(merge == "background")):
            report.merge = "started"
    report.seconds = time.perf_counter() - t0
    return report


def _sources(todo: list[str], sources: dict[str, Path], corpus: Path, options: ReadOptions, cluster,
             on_progress: ProgressFn):
    """(source, documents, errors, vectors) per changed file in ``todo`` order: parsed here (vectors None,
    embedded later) or, with a cluster, parsed and embedded on its workers (``indexer/distributed.py``)."""
    if cluster is None:
        for i, s in enumerate(todo):
            on_progress(Progress("parsing", i, len(todo), s))
            docs, errs = parse_source(sources[s], corpus, options)
            yield s, docs, errs, None
        return
    for r in cluster.results([sources[s] for s in todo], corpus):
        yield r.source, r.docs, r.errors, r.vectors


def _checkpointed(d, vectors: list, ckpt: EmbedCheckpoint, report: BuildReport) -> list:
    """A worker's vectors for ``d``'s chunks, checkpointed; None where the checkpoint already had the text."""
    out = []
    for c, e in zip(d.chunks, vectors, strict=True):
        if e is None:
            e = ckpt.get(c.text)
            if e is None:
                raise RuntimeError(f"{d.doc_id}: a worker skipped a chunk the checkpoint does not hold")
            report.resumed += 1
        else:
            ckpt.add(c.text, e)
            report.encoded += 1
        out.append(e)
    return out


def _open_all(index_dir: Path, manifest: Manifest):
    from indexer.index.segment import open_segment

    return [open_segment(segments_dir(index_dir) / s) for s in manifest.segments]


def _has_live(index_dir: Path, seg: str, deleted_docs: list[str]) -> bool:
    """Whether a segment still has a document not marked deleted (else the generation drops it)."""
    from indexer.index.segment import open_segment

    s = open_segment(segments_dir(index_dir) / seg)
    gone = set(deleted_docs)
    with contextlib.closing(s.con.execute("SELECT doc_id FROM documents")) as cur:
        return any(d not in gone for (d,) in cur)
