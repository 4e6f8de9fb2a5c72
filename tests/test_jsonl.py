"""JSON Lines records from portals: parsed like files, given metadata wins, bad lines reported by line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.jsonl import read_jsonl
from indexer.parsing.pipeline import parse_corpus

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def seed(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def test_record_parsed_with_given_metadata_winning(tmp_path):
    rec = {"id": "portal-camlo-2023", "text": seed("cam-lo-2023"), "number": "364/UBND-LĐTBXH",
           "date": "2023-05-08", "place": "Cam Lộ", "doc_type": "Công văn", "title": "Hướng dẫn công tác trẻ em 2023",
           "url": "https://example.invalid/vb/364"}
    docs, errors = read_jsonl(write_jsonl(tmp_path / "r.jsonl", [rec]))
    assert errors == []
    (d,) = docs
    assert d.doc_id == "portal-camlo-2023" and d.format == "jsonl"
    assert d.metadata.title == "Hướng dẫn công tác trẻ em 2023"
    assert d.metadata.url == "https://example.invalid/vb/364"
    assert d.metadata.year == 2023
    # fields the record leaves out are parsed from the text
    assert d.metadata.signer == "Nguyễn Thanh Bắc"
    assert d.metadata.province == "Quảng Trị"
    # same structure parser as files
    assert [u.label for u in d.units if u.kind == "task"] == [str(i) for i in range(1, 12)]
    assert all(c.chunk_id.startswith("portal-camlo-2023~") for c in d.chunks)


def test_given_metadata_overrides_parsed_and_keeps_both(tmp_path):
    rec = {"id": "ls", "text": seed("lang-son-2023"), "number": "99/KH-SLĐTBXH", "date": "2023-04-03"}
    (d,), _ = read_jsonl(write_jsonl(tmp_path / "r.jsonl", [rec]))
    assert d.metadata.number == "99/KH-SLĐTBXH"
    assert d.metadata.date == "2023-04-03"
    assert d.metadata.parsed["date"] == "2023"  # what the text said (day left blank)
    assert d.metadata.overrides["number"] == "99/KH-SLĐTBXH"


def test_bad_lines_reported_with_line_numbers_good_lines_kept(tmp_path):
    big = "trẻ em " * 1_800_000  # ~12.6 MB of text
    lines = [
        {"id": "ok-1", "text": seed("tra-cu-2022")},
        "{not json",
        {"text": "no id here"},
        {"id": "no-text"},
        {"id": "ok-1", "text": "duplicate id"},
        {"id": "huge", "text": big},
        {"id": "ok-2", "text": seed("dak-nong-2024"), "year": 2024},
        {"id": "bad/id", "text": "x"},
    ]
    docs, errors = read_jsonl(write_jsonl(tmp_path / "r.jsonl", lines))
    assert [d.doc_id for d in docs] == ["ok-1", "ok-2"]
    by_line = {e.line: e.reason for e in errors}
    assert set(by_line) == {2, 3, 4, 5, 6, 8}
    assert "invalid JSON" in by_line[2]
    assert "'id'" in by_line[3] and "'text'" in by_line[4]
    assert "duplicate id 'ok-1'" in by_line[5] and "line 1" in by_line[5]
    assert "too long" in by_line[6]
    assert all(e.source.endswith("r.jsonl") for e in errors)
    assert str(errors[0]).startswith(str(tmp_path / "r.jsonl") + ":2:")


def test_unstructured_long_record_split_under_model_input(tmp_path):
    # 20,000 words of prose with no numbering: paragraphs, long ones split at sentence boundaries
    text = seed("lang-son-2023")
    body = text[text.index("## I. MỤC ĐÍCH"):text.index("### *Nơi nhận")]
    body = body.replace("#", "").replace("*", "").replace("\n- ", "\n").replace("\n", " ")
    sentences = [s.strip() + "." for s in body.split(".") if len(s.split()) > 4]
    words, paras = 0, []
    while words < 20_000:
        para = " ".join(sentences[len(paras) % 7: len(paras) % 7 + 25])
        paras.append(para)
        words += len(para.split())
    rec = {"id": "long", "text": "\n\n".join(paras)}
    (d,), errors = read_jsonl(write_jsonl(tmp_path / "r.jsonl", [rec]))
    assert not errors
    assert sum(len(c.text.split()) for c in d.chunks) >= 20_000
    from indexer.embedding.encoder import Encoder

    tok = Encoder.load().tokenizer
    longest = max(len(tok(c.text)["input_ids"]) for c in d.chunks)
    assert longest <= 512, longest


def test_corpus_with_records_and_files(tmp_path):
    for name in ("cam-lo-2023", "tra-cu-2022"):
        (tmp_path / f"{name}.txt").write_text(seed(name), encoding="utf-8")
    write_jsonl(tmp_path / "portal.jsonl", [{"id": "kg-2017", "text": seed("kien-giang-2017"), "year": 2017},
                                           {"id": "bad"}])
    docs, errors = parse_corpus(tmp_path)
    assert sorted(d.doc_id for d in docs) == ["cam-lo-2023", "kg-2017", "tra-cu-2022"]
    assert [(e.line, "'text'" in e.reason) for e in errors] == [(2, True)]


@pytest.mark.parametrize("payload", [b"", b"\n\n", "\ufeff".encode() + json.dumps({"id": "a", "text": "Điều 1. Nội dung."}).encode()])
def test_edge_files(tmp_path, payload):
    p = tmp_path / "e.jsonl"
    p.write_bytes(payload)
    docs, errors = read_jsonl(p)
    assert errors == []
    assert len(docs) == (1 if payload.strip() else 0)
    if docs:
        assert [u.label for u in docs[0].units if u.kind == "task"] == ["Điều 1"]
