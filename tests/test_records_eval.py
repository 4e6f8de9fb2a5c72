"""``directives eval --records --questions``: Hit@10, MRR@10, nDCG@10 on a labelled set the test writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from indexer.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

def record(rid: str, task: str) -> dict:
    """A short record in the shape of a directive (plain prose without numbered tasks has no body to chunk)."""
    return {"id": rid, "text": f"KẾ HOẠCH\n\nI. NHIỆM VỤ\n\n1. {task}\n"}


RECORDS = [
    record("boi-an-toan", "Tổ chức dạy bơi an toàn cho học sinh tiểu học trong dịp hè, phòng chống đuối nước."),
    record("tong-dai", "Tuyên truyền Tổng đài điện thoại quốc gia bảo vệ trẻ em 111 tới các thôn, bản."),
    record("kinh-phi", "Kinh phí thực hiện kế hoạch được bố trí từ ngân sách huyện năm 2024."),
    record("xa-phuong", "Xây dựng xã, phường phù hợp với trẻ em theo tiêu chí của Thủ tướng Chính phủ."),
    {"id": "tra-cu", "text": (CORPUS / "tra-cu-2022.txt").read_text(encoding="utf-8")},
]
QUESTIONS = [
    {"id": "q1", "question": "dạy bơi an toàn cho học sinh tiểu học", "relevant": ["boi-an-toan"]},
    {"id": "q2", "q": "tong dai 111", "relevant": ["tong-dai", "tra-cu"]},
    {"id": "q3", "question": "ngân sách bố trí cho kế hoạch", "relevant": ["kinh-phi"]},
    {"id": "q4", "question": "commune fit for children", "relevant": ["xa-phuong"]},
    {"id": "q5", "question": "quả bóng đá màu xanh", "relevant": ["xa-phuong"]},  # nothing relevant says this
]


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_eval_records_reports_hit_mrr_ndcg(tmp_path, capsys):
    rec, qs = write(tmp_path / "records.jsonl", RECORDS), write(tmp_path / "questions.jsonl", QUESTIONS)
    assert main(["eval", "--records", str(rec), "--questions", str(qs), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_records"] == 5 and out["n_questions"] == 5
    by = {q["id"]: q for q in out["questions"]}
    for q in out["questions"]:  # the reported metrics are those of the ranking shown
        rel = [d in q["relevant"] for d in q["top"]]
        first = rel.index(True) + 1 if any(rel) else None
        assert q["hit@10"] == float(first is not None) and q["mrr@10"] == pytest.approx(1 / first if first else 0)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(q["relevant"]), 10)))
        dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(rel) if r)
        assert q["ndcg@10"] == pytest.approx(dcg / ideal)
    assert by["q1"]["top"][0] == "boi-an-toan" and by["q3"]["top"][0] == "kinh-phi"
    assert {"tong-dai", "tra-cu"} <= set(by["q2"]["top"][:3])
    assert by["q5"]["mrr@10"] < 1.0  # nothing relevant says this
    for k in ("hit@10", "mrr@10", "ndcg@10"):
        assert out["overall"][k] == pytest.approx(sum(q[k] for q in out["questions"]) / 5, abs=1e-4)
    assert main(["eval", "--records", str(rec), "--questions", str(qs)]) == 0
    assert "questions over 5 records" in capsys.readouterr().out


def test_eval_records_refuses_bad_questions(tmp_path, capsys):
    rec = write(tmp_path / "records.jsonl", RECORDS[:2])
    bad = write(tmp_path / "q.jsonl", [{"id": "q1", "question": "bơi", "relevant": ["no-such-record"]}])
    assert main(["eval", "--records", str(rec), "--questions", str(bad)]) == 2
    assert "no-such-record" in capsys.readouterr().err
    broken = write(tmp_path / "q2.jsonl", ["not json", {"question": "x", "relevant": []}])
    assert main(["eval", "--records", str(rec), "--questions", str(broken)]) == 2
    assert "q2.jsonl:1" in capsys.readouterr().err
    assert main(["eval", "--records", str(rec)]) == 2
