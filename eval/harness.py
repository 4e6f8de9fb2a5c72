"""Run the gold set against a live SearchService: ranking metrics per query and kind, alignment P/R/F1.

Markers are checked against the indexed documents' own units before anything is scored: a marker that
occurs nowhere would score zero forever without anyone noticing, so it stops the run (``MarkerError``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eval.gold import KINDS, Gold, Rel, check_markers, normalize_marker, parser_units
from eval.metrics import (
    Unit,
    alignments_between,
    mrr_at_k,
    ndcg_at_k,
    precision_recall_f1,
    ranked_relevance,
    recall_at_k,
    unit_pair_matches,
)

K = 10
METRICS = ("recall@5", "recall@10", "mrr@10", "ndcg@10")


class MarkerError(ValueError):
    """Some gold markers (or places) are not in the indexed corpus; the message lists them all."""


@dataclass
class QueryResult:
    id: str
    kind: str
    q: str
    n_relevant: int
    ranks: list[int]  # 1-based ranks (within the top K) of results credited to a relevant unit
    metrics: dict[str, float]


@dataclass
class AlignmentResult:
    precision: float
    recall: float
    f1: float
    gold: int  # gold pairs scored
    predicted: int  # predicted pairs that could be judged (one side is a gold unit)
    correct: int
    per_pair: dict[str, dict[str, float]] = field(default_factory=dict)  # "A ↔ B" → p/r/f1


@dataclass
class EvalReport:
    mode: str
    n_queries: int
    overall: dict[str, float]
    per_kind: dict[str, dict[str, float]]  # kind → metrics + "n"
    alignment: AlignmentResult | None
    queries: list[QueryResult]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def query_metrics(ranked_rel: Sequence[bool], n_relevant: int) -> dict[str, float]:
    """The four reported ranking metrics of one query."""
    return {
        "recall@5": recall_at_k(ranked_rel, n_relevant, 5),
        "recall@10": recall_at_k(ranked_rel, n_relevant, 10),
        "mrr@10": mrr_at_k(ranked_rel, 10),
        "ndcg@10": ndcg_at_k(ranked_rel, n_relevant, 10),
    }


def mean_metrics(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    rows = list(rows)
    return {m: round(statistics.fmean(r[m] for r in rows), 4) if rows else 0.0 for m in METRICS}


# --- marker check --------------------------------------------------------------------------------------------

def index_units(svc: Any) -> dict[str, list[str]]:
    """Own texts of every parsed unit of every indexed document, keyed by place."""
    return parser_units(svc.document(d.doc_id) for d in svc.documents())


def verify_markers(gold: Gold, svc: Any) -> list[str]:
    """Raise MarkerError when any marker or place is missing from the index; return the "ambiguous" notes."""
    problems = check_markers(gold, index_units(svc))
    errors = [p for p in problems if p.startswith("error")]
    if errors:
        raise MarkerError(f"{len(errors)} gold marker(s) not in the indexed corpus:\n  " + "\n  ".join(errors))
    return problems


# --- ranking -------------------------------------------------------------------------------------------------

def run_query(svc: Any, q: str, relevant: Sequence[Rel], mode: str = "hybrid", k: int = K) -> list[bool]:
    """Top-k results of ``q`` judged against the relevant units (each unit credited once)."""
    resp = svc.search(q, k=k, mode=mode)
    results = [(r.document.place, "\n".join([*r.headings, r.text])) for r in resp.results]
    return ranked_relevance(results, relevant)


def evaluate_queries(svc: Any, gold: Gold, mode: str = "hybrid") -> list[QueryResult]:
    out = []
    for q in gold.queries:
        rel = run_query(svc, q.q, q.relevant, mode)
        out.append(QueryResult(q.id, q.kind, q.q, len(q.relevant), [i + 1 for i, r in enumerate(rel) if r],
                               query_metrics(rel, len(q.relevant))))
    return out


def summarise(results: Sequence[QueryResult]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Macro-averaged metrics overall and per kind (kinds in the gold-format order)."""
    overall = mean_metrics(r.metrics for r in results)
    per_kind: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        rows = [r.metrics for r in results if r.kind == kind]
        if rows:
            per_kind[kind] = {**mean_metrics(rows), "n": len(rows)}
    return overall, per_kind


# --- alignment -----------------------------------------------------------------------------------------------

def _docs_by_place(svc: Any) -> dict[str, str]:
    return {normalize_marker(d.place): d.doc_id for d in svc.documents()}


def predicted_pairs(svc: Any, doc_a: str, doc_b: str, align_cfg: Any = None,
                    aligner: Callable[[str, str], Any] | None = None) -> list[tuple[Unit, Unit]]:
    """The comparison's aligned pairs as ((place, text), (place, text)), unit heading included; the units a
    many-to-one group ("tách"/"gộp") joins count as pairs with the group's other side. ``aligner(doc_a, doc_b)``
    replaces the comparison's own alignment (eval/align_assign.py scores other matchings this way)."""
    from search_api.alignment.compare import alignment_of

    place = {d.doc_id: d.place for d in svc.documents()}
    al = aligner(doc_a, doc_b) if aligner else alignment_of(svc, doc_a, doc_b, align_cfg)
    out = []
    for p in al.links():
        ua, ub = al.a.units[p.a], al.b.units[p.b]
        out.append(((place[doc_a], f"{ua.heading}\n{ua.text}"), (place[doc_b], f"{ub.heading}\n{ub.text}")))
    return out


def evaluate_alignments(svc: Any, gold: Gold, align_cfg: Any = None,
                        aligner: Callable[[str, str], Any] | None = None) -> AlignmentResult | None:
    """Micro P/R/F1 over every document pair the gold alignments mention (predictions anchored on gold units)."""
    if not gold.alignments:
        return None
    places = _docs_by_place(svc)
    doc_pairs: dict[frozenset[str], tuple[str, str]] = {}
    for al in gold.alignments:
        key = frozenset((normalize_marker(al.a.place), normalize_marker(al.b.place)))
        doc_pairs.setdefault(key, (al.a.place, al.b.place))
    all_pred: list[tuple[Unit, Unit]] = []
    all_gold: list[tuple[Rel, Rel]] = []
    per_pair: dict[str, dict[str, float]] = {}
    for pa, pb in doc_pairs.values():
        for p in (pa, pb):
            if normalize_marker(p) not in places:
                raise MarkerError(f"alignment place {p!r} is not an indexed document's place")
        gold_pairs = alignments_between(gold.alignments, pa, pb)
        rels = [r for pair in gold_pairs for r in pair]
        pred = predicted_pairs(svc, places[normalize_marker(pa)], places[normalize_marker(pb)], align_cfg, aligner)
        pred = [p for p in pred if any(_rel(u, r) for u in p for r in rels)]  # others cannot be judged
        p_, r_, f_ = precision_recall_f1(pred, gold_pairs, unit_pair_matches)
        per_pair[f"{pa} ↔ {pb}"] = {"precision": round(p_, 4), "recall": round(r_, 4), "f1": round(f_, 4),
                                    "gold": len(gold_pairs), "predicted": len(pred)}
        all_pred += pred
        all_gold += gold_pairs
    p, r, f = precision_recall_f1(all_pred, all_gold, unit_pair_matches)
    correct = round(r * len(all_gold))
    return AlignmentResult(round(p, 4), round(r, 4), round(f, 4), len(all_gold), len(all_pred), correct, per_pair)


def _rel(unit: Unit, rel: Rel) -> bool:
    from eval.gold import is_relevant

    return is_relevant(unit[0], unit[1], rel)


# --- the whole run -------------------------------------------------------------------------------------------

def evaluate(svc: Any, gold: Gold, mode: str = "hybrid", alignments: bool = True,
             align_cfg: Any = None) -> EvalReport:
    """Check markers, run every query in ``mode``, and score the alignments (mode-independent)."""
    warnings = verify_markers(gold, svc)
    results = evaluate_queries(svc, gold, mode)
    overall, per_kind = summarise(results)
    al = evaluate_alignments(svc, gold, align_cfg) if alignments else None
    return EvalReport(mode, len(results), overall, per_kind, al, results, warnings)


def format_report(rep: EvalReport) -> str:
    """Markdown tables: overall and per kind, then alignment."""
    head = "| kind | n | " + " | ".join(METRICS) + " |"
    lines = [f"mode: {rep.mode} — {rep.n_queries} queries", "", head, "|" + "---|" * (len(METRICS) + 2)]
    for kind, m in rep.per_kind.items():
        lines.append(f"| {kind} | {int(m['n'])} | " + " | ".join(f"{m[x]:.3f}" for x in METRICS) + " |")
    lines.append(f"| **all** | {rep.n_queries} | " + " | ".join(f"**{rep.overall[x]:.3f}**" for x in METRICS)
                 + " |")
    if rep.alignment is not None:
        a = rep.alignment
        lines += ["", f"alignment: precision {a.precision:.3f}, recall {a.recall:.3f}, F1 {a.f1:.3f} "
                  f"({a.correct}/{a.gold} gold pairs found, {a.predicted} judgeable predictions)"]
    for w in rep.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


# --- the alignment scripts' command line ---------------------------------------------------------------------

def alignment_script(prog: str, doc: str, default_out: str, run: Callable[[Any, Gold], tuple[str, Any]],
                     argv: list[str] | None = None) -> int:
    """``--gold``, ``--index-dir``, ``--out`` for an eval script that scores alignment settings: open the index,
    check the markers, ``run(svc, gold)`` → (Markdown report, rows or None), write the report (and the rows as
    JSON beside it), print it."""
    import argparse
    import json
    from pathlib import Path

    from eval.gold import load_gold
    from search_api.service import SearchService

    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    p.add_argument("--gold", default="eval/gold.json")
    p.add_argument("--index-dir", default=".index")
    p.add_argument("--out", default=default_out)
    args = p.parse_args(argv)
    gold = load_gold(args.gold)
    svc = SearchService.open(Path(args.index_dir))
    try:
        verify_markers(gold, svc)
        text, rows = run(svc, gold)
    finally:
        svc.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    if rows is not None:
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    print(text)
    return 0
