"""The one way the project turns text into vectors.

Everything that embeds (indexing, search, evaluation) goes through :class:`Encoder`, so that passages and
queries always get the same model, the same e5 prefixes and the same normalisation, and so that an index
can record :attr:`Encoder.fingerprint` and refuse to be searched with a different model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = REPO_ROOT / ".models" / "multilingual-e5-small"
MODEL_ENV = "DIRECTIVES_MODEL"
THREADS_ENV = "DIRECTIVES_THREADS"
ONNX_ENV = "DIRECTIVES_ONNX"  # "0": encode queries with torch even when an ONNX export exists
QUERY_VARIANT_ENV = "DIRECTIVES_QUERY_ENCODER"  # int8 (default when exported) | fp32: indexer/embedding/onnx_query.py
ONNX_THREADS_ENV = "DIRECTIVES_ONNX_THREADS"  # ONNX Runtime threads (default 2; they sleep when idle)
log = logging.getLogger(__name__)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")
_FP_CACHE = ".directives_fingerprint.json"

_cache: dict[str, Encoder] = {}
_passage_cache: dict[tuple[str, str], PassageEncoder] = {}
_lock = threading.Lock()


def _hash_file(path: Path, h: hashlib._Hash) -> None:
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)


_VERSION_KEYS = {"__version__", "transformers_version"}
_NOT_MODEL = {_FP_CACHE, "README.md", "e5_source.json"}  # docs and build records, not behaviour


def _strip_versions(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _strip_versions(v) for k, v in obj.items() if k not in _VERSION_KEYS}
    if isinstance(obj, list):
        return [_strip_versions(v) for v in obj]
    return obj


def _hash_model_file(path: Path, h: hashlib._Hash) -> None:
    """JSON configs are hashed without library version stamps, so re-saving with a newer library is not a new model."""
    if path.suffix == ".json" and path.stat().st_size < 1 << 20:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            pass
        else:
            h.update(json.dumps(_strip_versions(data), sort_keys=True).encode())
            return
    _hash_file(path, h)


def model_fingerprint(model_dir: Path) -> str:
    """sha256 over the files that define a model (weights, configs, tokenizer), so any change shows.

    Hashing ~500 MB takes a couple of seconds, so the result is cached next to the model, keyed by the files'
    sizes and mtimes; a stale or foreign cache is simply recomputed.
    """
    model_dir = Path(model_dir)
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name not in _NOT_MODEL
                   and not any(part.startswith(".") for part in p.relative_to(model_dir).parts))
    stamp = [[str(p.relative_to(model_dir)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    cache = model_dir / _FP_CACHE
    try:
        saved = json.loads(cache.read_text())
        if saved["stamp"] == stamp:
            return str(saved["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(model_dir)).encode() + b"\0")
        _hash_model_file(p, h)
        h.update(b"\0")
    fp = h.hexdigest()
    with contextlib.suppress(OSError):  # read-only model dir: recompute next time
        cache.write_text(json.dumps({"stamp": stamp, "fingerprint": fp}))
    return fp


def _setup_env() -> None:
    """No hub access on our machines: fail fast instead of retrying the network. A user's explicit value wins."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _limit_threads() -> None:
    """The machines have 2 cores shared with the API server and tests; more torch threads only thrash."""
    import torch

    want = int(os.environ.get(THREADS_ENV, "2"))
    if torch.get_num_threads() != want:
        torch.set_num_threads(want)


def _resolve(name_or_path: str | None) -> str:
    if name_or_path is None:
        name_or_path = os.environ.get(MODEL_ENV) or None
    if name_or_path is None:
        from indexer.embedding.convert_e5 import SOURCE_FILE, convert

        if not (DEFAULT_MODEL_DIR / SOURCE_FILE).is_file():  # written last: its presence means a finished build
            convert(DEFAULT_MODEL_DIR)
        return str(DEFAULT_MODEL_DIR)
    p = Path(name_or_path).expanduser()
    return str(p.resolve()) if p.exists() else name_or_path


class Encoder:
    """A loaded sentence-transformers model with the project's conventions baked in."""

    def __init__(self, model: SentenceTransformer | None, name: str, local_dir: Path | None) -> None:
        self._model = model  # None: a query-only encoder, everything through ONNX Runtime
        self._name = name
        self._local_dir = local_dir
        self._fingerprint: str | None = None
        self._onnx = None  # OnnxQueryEncoder, set by load() / load_query_only()

    @classmethod
    def load(cls, name_or_path: str | None = None) -> Encoder:
        """Load (once per process) a model: None means $DIRECTIVES_MODEL or the default e5 build (built if missing)."""
        _setup_env()
        key = _resolve(name_or_path)
        with _lock:
            enc = _cache.get(key)
            if enc is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # "Loading weights" bars on every load are noise in logs
                _limit_threads()
                model = SentenceTransformer(key, device="cpu")
                model.eval()
                local = Path(key) if Path(key).is_dir() else None
                enc = _cache[key] = cls(model, key, local)
                enc._onnx = enc._load_onnx()
            return enc

    @classmethod
    def load_query_only(cls, name_or_path: str | None = None) -> Encoder | None:
        """An encoder without torch for a process that only searches: tokenizer + ONNX Runtime (~1 GB less RSS).

        None when there is no current ONNX export of this model (`make model` makes it); callers then use
        :meth:`load`. Queries and pasted drafts get the same vectors as from torch (tested).
        """
        _setup_env()
        key = _resolve(name_or_path)
        local = Path(key)
        slot = f"query-only:{os.environ.get(QUERY_VARIANT_ENV, '')}:{key}"  # one per asked query variant
        with _lock:
            enc = _cache.get(slot)
            if enc is None:
                if not local.is_dir():
                    return None
                enc = cls(None, key, local)
                enc._onnx = enc._load_onnx()
                if enc._onnx is None:
                    return None
                _cache[slot] = enc
            return enc

    def _load_onnx(self):
        """The ONNX Runtime encoder, when an export of exactly these weights exists (`make model`)."""
        if self._local_dir is None or os.environ.get(ONNX_ENV, "1") == "0":
            return None
        from indexer.embedding.onnx_query import OnnxQueryEncoder, is_current, query_variant

        if not is_current(self._local_dir):
            return None
        variant = query_variant(self._local_dir)  # a wrong DIRECTIVES_QUERY_ENCODER is an error, not a fallback
        try:
            return OnnxQueryEncoder(self._local_dir, int(os.environ.get(ONNX_THREADS_ENV) or min(2, os.cpu_count() or 1)),
                                    variant)
        except Exception as e:  # onnxruntime missing or a broken export: torch still works, just slower
            log.warning("ONNX query encoder unavailable (%s); using torch", e)
            return None

    @property
    def name(self) -> str:
        return self._name

    @property
    def query_only(self) -> bool:
        return self._model is None

    @property
    def tokenizer(self):
        """The model's (transformers) tokenizer, to check that chunks fit ``max_seq_length``; indexing only."""
        if self._model is None:
            raise RuntimeError(f"{self._name}: a query-only encoder has no transformers tokenizer; use Encoder.load")
        return self._model.tokenizer

    @property
    def max_seq_length(self) -> int:
        return self._onnx.max_length if self._model is None else int(self._model.max_seq_length)

    @property
    def dim(self) -> int:
        if self._model is None:
            return self._onnx.dim
        d = self._model.get_embedding_dimension()
        return int(d) if d else int(self._model.encode(["x"]).shape[1])

    @property
    def fingerprint(self) -> str:
        """Stable id of the exact weights+config; an index built with another model must not be searched."""
        if self._fingerprint is None:
            if self._local_dir is not None:
                self._fingerprint = model_fingerprint(self._local_dir)
            else:
                self._fingerprint = self._tensor_fingerprint()
        return self._fingerprint

    def _tensor_fingerprint(self) -> str:
        """Fallback for models without a directory we can see: hash the loaded parameters and the prompts."""
        h = hashlib.sha256(json.dumps(self._model.prompts, sort_keys=True).encode())
        for k, v in sorted(self._model.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def _prompt(self, kind: str) -> str | None:
        """"query"/"passage" prompt name if the model defines a non-empty one; e.g. plain ST models have none."""
        return kind if self._model.prompts.get(kind) else None

    def _encode(self, texts: list[str], kind: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._model is None:  # query-only (a server): ONNX Runtime with the kind's own prompt
            prompt = self._onnx.prompts.get(kind, "")
            return np.concatenate([self._onnx.encode(list(texts[i:i + batch_size]), prompt)
                                   for i in range(0, len(texts), batch_size)])
        import torch

        with torch.inference_mode():
            out = self._model.encode(list(texts), prompt_name=self._prompt(kind), batch_size=batch_size,
                                     show_progress_bar=show_progress, convert_to_numpy=True,
                                     normalize_embeddings=True)
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """(n, dim) float32, L2-normalised; e5 models get the "passage: " prefix."""
        return self._encode(texts, "passage", batch_size, show_progress)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised; e5 models get the "query: " prefix (ONNX Runtime when exported)."""
        if self._onnx is not None and texts:
            return self._onnx.encode(list(texts))
        return self._encode(texts, "query", 32, False)


class PassageEncoder:
    """What indexing embeds chunks with: one model, one passage-encoder variant, one id for both.

    ``int8`` / ``fp32`` run in ONNX Runtime with no torch (``onnx_passage``); ``torch`` is the
    sentence-transformers model itself, the fallback for models without an export. :attr:`encoder_id`
    goes into the index beside the model fingerprint: a build with another variant re-embeds every chunk,
    so vectors of two variants never share an index. Long texts are cut into windows in every variant.
    """

    def __init__(self, name: str, local_dir: Path | None, fingerprint: str, variant: str, onnx=None,
                 model: Encoder | None = None, workers: int = 1):
        self.name, self.local_dir, self.fingerprint, self.variant = name, local_dir, fingerprint, variant
        self._onnx = onnx
        self._model = model
        self.workers = workers
        if onnx is not None:
            self.dim = onnx.dim
            from indexer.embedding.onnx_passage import encoder_id

            self.encoder_id = encoder_id(local_dir, variant)
        else:
            self.dim = model.dim
            self.encoder_id = "torch"

    @classmethod
    def load(cls, name_or_path: str | None = None, variant: str | None = None) -> PassageEncoder:
        """The passage encoder for ``name_or_path`` (None: $DIRECTIVES_MODEL or the default e5 build).

        ``variant``: int8 (default) | fp32 | torch, or $DIRECTIVES_PASSAGE_ENCODER. Without a current ONNX
        export of the model, torch is used (and named in the index, so the next build notices a change).
        """
        from indexer.embedding.onnx_passage import resolve_variant

        _setup_env()
        variant = resolve_variant(variant)
        key = _resolve(name_or_path)
        with _lock:
            got = _passage_cache.get((key, variant))
        if got is not None and (got.local_dir is None or got.fingerprint == model_fingerprint(got.local_dir)):
            return got  # a long-lived process (the upload queue) loads it once: ~3 s of tokenizer and session
        enc = cls._load(key, variant)
        with _lock:
            _passage_cache[(key, variant)] = enc
        return enc

    @classmethod
    def _load(cls, key: str, variant: str) -> PassageEncoder:
        from indexer.embedding.onnx_passage import OnnxPassageEncoder, int8_is_current
        from indexer.embedding.onnx_query import is_current

        local = Path(key) if Path(key).is_dir() else None
        workers = max(1, int(os.environ.get("DIRECTIVES_EMBED_WORKERS") or min(2, os.cpu_count() or 1)))
        if local is not None and variant != "torch":
            ok = int8_is_current(local) if variant == "int8" else is_current(local)
            if ok:
                # one session, one intra-op thread, ``workers`` callers at once: on 2 cores this embedded
                # ~2x faster than one call on 2 intra-op threads (seed chunks are 150-token matrices)
                onnx = OnnxPassageEncoder(local, variant, threads=1)
                return cls(key, local, model_fingerprint(local), variant, onnx=onnx, workers=workers)
            log.warning("no current %s passage export of %s (make model); embedding with torch", variant, key)
        model = Encoder.load(key)
        return cls(key, local, model.fingerprint, "torch", model=model, workers=1)

    def embed(self, text: str):
        """One chunk → :class:`indexer.embedding.vectors.Embedded` (windows for texts beyond the model's length)."""
        from indexer.embedding.vectors import Embedded

        if self._onnx is not None:
            return self._onnx.embed(text)
        return Embedded.of_windows(self._torch_windows(text))

    def embed_many(self, texts: list[str]):
        """Embed ``texts`` in order, ``workers`` at a time (ONNX Runtime releases the GIL while it runs)."""
        if self.workers <= 1 or len(texts) < 2:
            return [self.embed(t) for t in texts]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(self.embed, texts))

    def _torch_windows(self, text: str) -> np.ndarray:
        import torch

        from indexer.embedding.onnx_passage import windows

        st = self._model._model
        prompt = st.prompts.get("passage", "") or ""
        ids = st.tokenizer(prompt + text, truncation=False)["input_ids"]
        head = len(st.tokenizer(prompt)["input_ids"]) - 1 if prompt else 1
        rows = []
        with torch.inference_mode():
            for w in windows(ids, head, int(st.max_seq_length)):
                t = torch.tensor([w])
                out = st({"input_ids": t, "attention_mask": torch.ones_like(t)})["sentence_embedding"]
                rows.append(torch.nn.functional.normalize(out, dim=-1)[0].numpy())
        return np.asarray(rows, dtype=np.float32)
