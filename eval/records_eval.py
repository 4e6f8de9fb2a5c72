"""Retrieval quality on anyone's labelled set: records (JSONL import) + questions with their relevant record ids.

    directives eval --records CORPUS.jsonl --questions QUESTIONS.jsonl [--index-dir DIR] [--mode …] [--json]

``CORPUS.jsonl`` is read by the same JSONL import as a corpus (one record per line: ``id`` and ``text``
required, metadata optional). ``QUESTIONS.jsonl`` has one question per line::

    {"id": "q1", "question": "phòng chống đuối nước cho trẻ em", "relevant": ["rec-17", "rec-203"]}

(``q`` is accepted for ``question``). A record counts as found at the rank of its first chunk in the
results; Hit@10, MRR@10 and nDCG@10 (binary gains) are macro-averaged over the questions. The index is
built in ``--index-dir`` (kept, and updated incrementally next time) or in a temporary directory.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.metrics import mrr_at_k, ndcg_at_k

K = 10
POOL = 100  # chunks fetched per question before keeping each record's first one


class QuestionsError(ValueError):
    """A malformed questions file or a relevant id that no record has; the message names the line."""


@dataclass
class Question:
    id: str
    question: str
    relevant: list[str]


@dataclass
class RecordsReport:
    mode: str
    n_records: int
    n_questions: int
    overall: dict[str, float]
    questions: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def load_questions(path: Path) -> list[Question]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError as e:
            raise QuestionsError(f"{path}:{n}: not JSON ({e})") from None
        text = q.get("question", q.get("q")) if isinstance(q, dict) else None
        rel = q.get("relevant") if isinstance(q, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise QuestionsError(f"{path}:{n}: missing 'question'")
        if not isinstance(rel, list) or not rel or not all(isinstance(r, str) for r in rel):
            raise QuestionsError(f"{path}:{n}: 'relevant' must be a non-empty list of record ids")
        out.append(Question(str(q.get("id", n)), text.strip(), list(dict.fromkeys(rel))))
    if not out:
        raise QuestionsError(f"{path}: no questions")
    return out


def ranked_records(svc, q: str, mode: str) -> list[str]:
    """Distinct record (document) ids in result order."""
    seen: list[str] = []
    for r in svc.search(q, k=POOL, mode=mode).results:
        if r.doc_id not in seen:
            seen.append(r.doc_id)
    return seen


def evaluate_records(records: Path, questions: Path, *, index_dir: Path | None = None, mode: str = "hybrid",
                     progress: bool = False) -> RecordsReport:
    from indexer.build import build_index
    from search_api.service import SearchService

    qs = load_questions(questions)
    tmp = Path(tempfile.mkdtemp(prefix="directives-eval-"))
    try:
        corpus = tmp / "corpus"
        corpus.mkdir()
        shutil.copyfile(records, corpus / "records.jsonl")
        index = Path(index_dir) if index_dir else tmp / "index"
        rep = build_index(corpus, index, progress=progress, merge="off")
        svc = SearchService.open(index)
        try:
            docs = svc.store.documents()
            known = {d["doc_id"] for d in docs}
            empty = [d["doc_id"] for d in docs if not d["n_chunks"]]  # no numbered body: nothing to search
            missing = sorted({r for q in qs for r in q.relevant} - known)
            if missing:
                raise QuestionsError(f"{questions}: relevant ids not among the indexed records: "
                                     f"{', '.join(missing[:10])}" + (" …" if len(missing) > 10 else ""))
            rows = []
            for q in qs:
                ranked = ranked_records(svc, q.question, mode)[:K]
                rel = [d in q.relevant for d in ranked]
                m = {"hit@10": float(any(rel)), "mrr@10": mrr_at_k(rel, K), "ndcg@10": ndcg_at_k(rel, len(q.relevant), K)}
                rows.append({"id": q.id, "question": q.question, "relevant": q.relevant, "top": ranked, **m})
        finally:
            svc.close()
        overall = {k: round(statistics.fmean(r[k] for r in rows), 4) for k in ("hit@10", "mrr@10", "ndcg@10")}
        errors = [str(e) for e in rep.errors] + [f"{d}: no chunks (no body the parser recognises)" for d in empty]
        return RecordsReport(mode, rep.documents, len(qs), overall, rows, errors)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def format_records_report(r: RecordsReport) -> str:
    lines = [f"{r.n_questions} questions over {r.n_records} records ({r.mode}): "
             + ", ".join(f"{k} {v:.3f}" for k, v in r.overall.items())]
    lines += [f"  record error: {e}" for e in r.errors[:20]]
    misses = [q for q in r.questions if not q["hit@10"]]
    lines += [f"  not found in the top 10: {q['id']} {q['question'][:70]!r}" for q in misses[:10]]
    return "\n".join(lines)
