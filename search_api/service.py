"""The one Python API over the index. Web pages and compare features call this, never SQLite or FAISS."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np

from indexer.index.store import IndexNotFound, IndexStore, StoredChunk, current_generation
from indexer.models import Chunk, Directive
from search_api.retrieve import FusionConfig, Mode, Vocabulary, allowed_rowids, highlight_spans, retrieve
from search_api.schemas import (
    DocumentSummary,
    ResultDocument,
    SearchFilters,
    SearchResponse,
    SearchResult,
)

__all__ = ["IndexNotFound", "ModelMismatch", "NotFound", "SearchService"]

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 1000
QUERY_CACHE_SIZE = 2048
MAX_K = 100
FACETS = ("province", "year", "level", "doc_type", "section", "agency")


class NotFound(KeyError):
    """Unknown document or chunk id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class ModelMismatch(RuntimeError):
    """The index was embedded with another model than the one asked for; searching it would be silently wrong."""


class SearchService:
    def __init__(self, store: IndexStore, *, model: str | None = None, fusion: FusionConfig | None = None,
                 query_only: bool = False):
        """``query_only``: this process only searches (a server), so torch need not be loaded at all."""
        self.fusion = fusion or FusionConfig()
        self._query_only = query_only
        self._encoder = None
        self._encoder_error = ""  # why the warm-up could not load the encoder ("" when it did, or has not tried)
        self._encoder_lock = threading.Lock()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qcache_lock = threading.Lock()
        self._requested_model = model or os.environ.get("DIRECTIVES_MODEL") or None
        self._warmers: list = []  # per-generation caches of later stages, built off the request path
        self._warmed: Path | None = None  # the generation whose background warm-up has finished
        self._use(store)
        self._checked_at = time.monotonic()

    def _use(self, store: IndexStore) -> None:
        self.store = store
        self.vocab = Vocabulary(store)
        self._docs = store.documents()
        self._doc_by_id = {d["doc_id"]: d for d in self._docs}
        self._check_model_name()

    def refresh(self, min_interval: float = 1.0) -> bool:
        """Switch to a newer generation if ``directives index`` published one (a server needs no restart).

        Chunk rowids are never reused across generations, so a request straddling the switch stays coherent.
        """
        now = time.monotonic()
        if now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        gen = current_generation(self.store.gen_dir.parent)
        if gen is None or gen == self.store.gen_dir:
            return False
        try:
            new = IndexStore.open(self.store.gen_dir.parent)
        except (OSError, ValueError, sqlite3.Error) as e:  # e.g. a replica whose copy is not complete yet
            log.warning("keeping generation %s: cannot open %s yet (%s)", self.store.gen_dir.name, gen.name, e)
            return False
        old_fp = self.store.meta.get("fingerprint")
        self._use(new)
        if new.meta.get("fingerprint") != old_fp:
            self._encoder = None  # re-checked against the new index on next use
            self._encoder_error = ""
        threading.Thread(target=self.warm_generation, daemon=True).start()  # not in the next request's time
        return True

    def add_warmer(self, fn) -> None:
        """``fn(self)`` runs in the background whenever a generation is opened (``warm``, ``refresh``): what a
        later stage caches per generation (the link graph, document centroids) is then ready before requests."""
        if fn not in self._warmers:  # several apps may share one service
            self._warmers.append(fn)

    def warm_generation(self) -> None:
        """The current generation's graphs and int8 scans, BM25's kernel and common rows, then every registered
        warmer (errors logged, not raised)."""
        store = self.store
        store.warm_dense()
        store.lexical.warm()
        for fn in list(self._warmers):
            try:
                fn(self)
            except Exception:  # a warm-up failing must not take the server down; the request will retry
                log.exception("warming %s failed", getattr(fn, "__name__", fn))
        self._warmed = store.gen_dir

    @property
    def warmed(self) -> bool:
        """Whether the live generation's warm-up has finished (``GET /api/status``): until then the first
        requests share the cores with it, which a load balancer or a benchmark should wait out."""
        return self._warmed == self.store.gen_dir and (self._encoder is not None or bool(self._encoder_error))

    @property
    def encoder_error(self) -> str:
        """Why the warm-up could not load the encoder ("" if it did): ``GET /api/status`` shows it, so a
        server that is warm but cannot search says so instead of staying "not warm" for ever."""
        return self._encoder_error

    def warm(self) -> None:
        """Load what the first search would otherwise wait for: the encoder (~0.5 s), the int8 scan (~1 s
        at 100k chunks) and the graphs of large segments. An encoder that cannot load (a model mismatch, a
        missing or broken model) is only logged and recorded here; searches report it as before."""
        try:
            self._encode_query("khởi động")
            self._encoder_error = ""
        except Exception as e:  # whatever it is, the rest of the warm-up still runs
            log.warning("the encoder could not be loaded: %s", e)
            self._encoder_error = str(e) or type(e).__name__
        self.warm_generation()

    @classmethod
    def open(cls, index_dir: Path | str, *, model: str | None = None, fusion: FusionConfig | None = None,
             query_only: bool = False) -> SearchService:
        """Open the live generation of ``index_dir``; raises IndexNotFound / ModelMismatch with a clear message."""
        return cls(IndexStore.open(index_dir), model=model, fusion=fusion, query_only=query_only)

    # --- model ------------------------------------------------------------------------------------------
    def _check_model_name(self) -> None:
        req = self._requested_model
        if req is None:
            return
        meta = self.store.meta
        known = {meta.get("model", ""), meta.get("model_spec", "")} - {""}
        p = Path(req).expanduser()
        names = {req, str(p.resolve())} if p.exists() else {req}
        if not names & known:
            raise ModelMismatch(f"index {self.store.gen_dir.parent} was built with model "
                                f"{meta.get('model')!r}, but model {req!r} was requested; rebuild the index "
                                f"with --model {req!r} or search without --model / DIRECTIVES_MODEL")

    @property
    def encoder(self):
        """The index's own model, loaded on first use and checked against the index's fingerprint."""
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None:
                    from indexer.embedding.encoder import Encoder

                    meta = self.store.meta
                    name = self._requested_model or meta.get("model") or None
                    if name and not self._requested_model and not Path(name).exists():
                        name = meta.get("model_spec") or None  # index moved: the same spec resolves here
                    # a server only embeds queries and drafts: ONNX Runtime without torch when exported
                    enc = (self._query_only and Encoder.load_query_only(name)) or Encoder.load(name)
                    if enc.fingerprint != meta.get("fingerprint") or enc.dim != self.store.dim:
                        raise ModelMismatch(
                            f"index {self.store.gen_dir.parent} was built with model {meta.get('model')!r} "
                            f"(fingerprint {meta.get('fingerprint', '')[:12]}, dim {self.store.dim}) but "
                            f"{enc.name!r} (fingerprint {enc.fingerprint[:12]}, dim {enc.dim}) was loaded; "
                            "rebuild the index with this model")
                    self._encoder = enc
        return self._encoder

    def _cached_query(self, text: str) -> np.ndarray | None:
        """The cached vector of ``text``, or None (never encodes)."""
        with self._qcache_lock:
            return self._qcache.get(text)

    def _encode_query(self, text: str) -> np.ndarray:
        """Query vectors are cached: paging, facets and the JSON twin of a page re-ask the same query,
        and encoding (~40 ms on 2 CPU cores) is most of a search's time."""
        with self._qcache_lock:
            v = self._qcache.get(text)
            if v is not None:
                self._qcache.move_to_end(text)
                return v
        v = self.encoder.encode_queries([text])[0]
        v.setflags(write=False)
        with self._qcache_lock:
            self._qcache[text] = v
            if len(self._qcache) > QUERY_CACHE_SIZE:
                self._qcache.popitem(last=False)
        return v

    # --- search -----------------------------------------------------------------------------------------
    def _result_document(self, doc_id: str) -> ResultDocument:
        d = self._doc_by_id[doc_id]
        return ResultDocument(doc_id=doc_id, title=d["title"] or "", place=d["place"] or "",
                              province=d["province"] or "", level=d["level"] or "",
                              doc_type=d["doc_type"] or "", number=d["number"] or "", date=d["date"] or "",
                              year=d["year"], issuer=d["issuer"] or "")

    def search(self, q: str, k: int = 10, offset: int = 0, filters: SearchFilters | None = None,
               mode: Mode = "hybrid") -> SearchResponse:
        """Ranked results ``offset .. offset+k`` and the size of the matching set; ValueError on bad input."""
        q = (q or "").strip()
        if not q:
            raise ValueError("empty query")
        if len(q) > MAX_QUERY_CHARS:
            raise ValueError(f"query too long: {len(q)} characters > {MAX_QUERY_CHARS}")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        if offset < 0:
            raise ValueError("offset must be ≥ 0")
        allowed = allowed_rowids(self.store, filters, self._docs)
        r = retrieve(self.store, self.vocab, q, allowed=allowed, encode_query=self._encode_query, mode=mode,
                     need=offset + k, cfg=self.fusion, cached_query=self._cached_query)
        page = r.hits[offset:offset + k]
        results = []
        for h in page:
            c = h.chunk.chunk
            results.append(SearchResult(
                chunk_id=c.chunk_id, doc_id=c.doc_id, text=c.text, path=c.path, headings=c.headings,
                score=round(h.score, 6), highlights=highlight_spans(c.text, r.plan),
                document=self._result_document(c.doc_id)))
        return SearchResponse(query=q, total=len(r.hits), results=results)

    def facets(self, q: str | None = None, filters: SearchFilters | None = None) -> dict[str, list[tuple[str, int]]]:
        """Counts of matching chunks per facet value (most frequent first), for the web's filter sidebar."""
        allowed = allowed_rowids(self.store, filters, self._docs)
        if q and q.strip():
            r = retrieve(self.store, self.vocab, q.strip()[:MAX_QUERY_CHARS], allowed=allowed,
                         encode_query=self._encode_query, cfg=self.fusion, cached_query=self._cached_query)
            rows = self.store.facet_rows(h.rowid for h in r.hits)
        else:
            rows = self.store.facet_rows(allowed)
        counts: dict[str, Counter[str]] = {f: Counter() for f in FACETS}
        for doc_id, section_kind, agency in rows:
            d = self._doc_by_id[doc_id]
            for f, v in (("province", d["province"]), ("year", d["year"]), ("level", d["level"]),
                         ("doc_type", d["doc_type"]), ("section", section_kind), ("agency", agency)):
                if v not in (None, ""):
                    counts[f][str(v)] += 1
        return {f: sorted(cnt.items(), key=lambda x: (-x[1], x[0])) for f, cnt in counts.items()}

    # --- documents and chunks ---------------------------------------------------------------------------
    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(**self._result_document(d["doc_id"]).model_dump(), source=d["source"],
                                province_current=d["province_current"] or "", subject=d["subject"] or "",
                                n_chunks=d["n_chunks"]) for d in self._docs]

    def document(self, doc_id: str) -> Directive:
        d = self.store.document(doc_id)
        if d is None:
            raise NotFound(f"no document {doc_id!r}")
        return d

    def document_summary(self, doc_id: str) -> ResultDocument:
        if doc_id not in self._doc_by_id:
            raise NotFound(f"no document {doc_id!r}")
        return self._result_document(doc_id)

    def chunk(self, chunk_id: str) -> Chunk:
        s = self.store.chunk(chunk_id)
        if s is None:
            raise NotFound(f"no chunk {chunk_id!r}")
        return s.chunk

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        if doc_id not in self._doc_by_id:
            raise NotFound(f"no document {doc_id!r}")
        return [s.chunk for s in self.store.chunks_of(doc_id)]

    def chunk_vectors(self, chunk_ids: list[str]) -> np.ndarray:
        """Stored (n, dim) vectors of the chunks, in the given order; NotFound for an unknown id."""
        rowids = self.store.rowids_of(chunk_ids)
        for c, r in zip(chunk_ids, rowids, strict=True):
            if r is None:
                raise NotFound(f"no chunk {c!r}")
        return self.store.vectors([r for r in rowids if r is not None])

    def similar_chunks(self, vector: np.ndarray, k: int = 10,
                       exclude_doc: str | None = None) -> list[tuple[Chunk, float]]:
        """Nearest stored chunks to a vector by cosine (optionally outside one document), best first."""
        want = k + (len(self.chunks_of(exclude_doc)) if exclude_doc and exclude_doc in self._doc_by_id else 0)
        want = min(want, self.store.counts()["chunks"])
        if want <= 0:
            return []
        top = self.store.dense_top(np.asarray(vector, dtype="float32"), want)
        found = self.store.chunks_by_rowid(top)
        out = []
        for i, d in top.items():
            s: StoredChunk | None = found.get(i)
            if s is None or (exclude_doc and s.chunk.doc_id == exclude_doc):
                continue
            out.append((s.chunk, d))
        return out[:k]

    def close(self) -> None:
        self.store.close()
