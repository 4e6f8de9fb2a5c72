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


def test_query_only_encoder_gives_torch_vectors_without_torch(encoder):
    fast = Encoder.load_query_only()
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
