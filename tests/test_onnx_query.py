"""The ONNX Runtime query encoder gives the torch model's vectors, and is used only for a matching export."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import onnx_query
from indexer.embedding.encoder import DEFAULT_MODEL_DIR, Encoder

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder():
    enc = Encoder.load()
    onnx_query.export(DEFAULT_MODEL_DIR)  # `make model` has done it already; idempotent
    enc._onnx = enc._load_onnx()
    return enc


def seed_sentences(n: int) -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))
    sents = [s.strip(" *#-\n") for s in re.split(r"(?<=[.;:])\s+", text)]
    return [s for s in sents if 20 <= len(s) <= 300][:n]


def test_onnx_vectors_equal_torch_vectors(encoder):
    assert encoder._onnx is not None
    queries = [*seed_sentences(30), "đuối nước", "phong chong duoi nuoc tre em", "child drowning prevention"]
    fast = encoder.encode_queries(queries)
    slow = encoder._encode(queries, "query", 32, False)
    cos = (fast * slow).sum(axis=1)
    assert fast.shape == slow.shape and cos.min() >= 0.9999, cos.min()
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)


def test_export_is_tied_to_the_weights(encoder, tmp_path, monkeypatch):
    assert onnx_query.is_current(DEFAULT_MODEL_DIR)
    other = tmp_path / "model"
    other.mkdir()
    assert not onnx_query.is_current(other)  # no export beside another model: torch is used
    monkeypatch.setenv("DIRECTIVES_ONNX", "0")
    assert encoder._load_onnx() is None


def test_server_can_drop_torch_and_still_embed_queries_and_drafts(encoder):
    from sentence_transformers import SentenceTransformer

    fresh = Encoder(SentenceTransformer(str(DEFAULT_MODEL_DIR), device="cpu"), str(DEFAULT_MODEL_DIR),
                    DEFAULT_MODEL_DIR)
    fresh._onnx = fresh._load_onnx()
    draft = ["Tổ chức các lớp dạy bơi, kỹ năng phòng, chống đuối nước cho trẻ em trong dịp hè."]
    q, p = fresh.encode_queries(["đuối nước"]), fresh.encode_passages(draft)
    assert fresh.release_torch() and fresh._model is None
    assert fresh.dim == 384 and fresh.max_seq_length == 512
    assert float((fresh.encode_queries(["đuối nước"]) * q).sum()) >= 0.9999
    assert float((fresh.encode_passages(draft) * p).sum()) >= 0.9999  # "passage: " prompt, not "query: "
    assert float((fresh.encode_queries(draft) * p).sum()) < 0.999
