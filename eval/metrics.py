"""Ranking and alignment metrics as pure functions, so every benchmark number is reproducible.

Relevance is judged per gold unit, not per result: several chunks can contain the same marker
(a task chunk and its item chunk), and crediting each would let recall exceed 1. ``judge``
assigns each relevant entry to at most one result; metrics take its output as booleans.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from eval.gold import Alignment, Rel, is_relevant, normalize_marker


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _hits(ranked_rel: Sequence[bool], n_relevant: int, k: int) -> int:
    _check_k(k)
    if n_relevant < 1:
        raise ValueError("n_relevant must be >= 1 (a query without relevant units cannot be scored)")
    hits = sum(1 for r in ranked_rel if r)
    if hits > n_relevant:
        raise ValueError(f"{hits} relevant results but only {n_relevant} relevant units: dedup with judge()")
    return sum(1 for r in ranked_rel[:k] if r)


def recall_at_k(ranked_rel: Sequence[bool], n_relevant: int, k: int) -> float:
    """Share of the relevant units found in the first k results."""
    return _hits(ranked_rel, n_relevant, k) / n_relevant


def mrr_at_k(ranked_rel: Sequence[bool], k: int) -> float:
    """1/rank of the first relevant result within the first k, else 0."""
    _check_k(k)
    for i, r in enumerate(ranked_rel[:k]):
        if r:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(ranked_rel: Sequence[bool], n_relevant: int, k: int) -> float:
    """Binary-gain nDCG: DCG = sum rel_i / log2(i + 1) over ranks i = 1..k, ideal = n_relevant hits first."""
    _hits(ranked_rel, n_relevant, k)
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranked_rel[:k]) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, k)))
    return dcg / ideal


def judge(results: Sequence[tuple[str, str]], relevant: Sequence[Rel | Sequence[str]]) -> list[int]:
    """For each (place, text) result, the index of the first not-yet-credited relevant entry it matches, or -1.

    A result matching only already-credited entries gets -1, so a unit found twice counts once.
    """
    credited: set[int] = set()
    out: list[int] = []
    for place, text in results:
        hit = -1
        for j, rel in enumerate(relevant):
            if j not in credited and is_relevant(place, text, rel):
                hit = j
                credited.add(j)
                break
        out.append(hit)
    return out


def ranked_relevance(results: Sequence[tuple[str, str]], relevant: Sequence[Rel | Sequence[str]]) -> list[bool]:
    """``judge`` as the booleans the ranking metrics take."""
    return [j >= 0 for j in judge(results, relevant)]


def _same_pair(p: Any, g: Any) -> bool:
    """Default pair match: equal in either order (alignment is symmetric)."""
    return (p[0] == g[0] and p[1] == g[1]) or (p[0] == g[1] and p[1] == g[0])


def precision_recall_f1(
    predicted_pairs: Sequence[Any],
    gold_pairs: Sequence[Any],
    match: Callable[[Any, Any], bool] = _same_pair,
) -> tuple[float, float, float]:
    """Alignment precision, recall and F1; each gold pair is credited to at most one prediction.

    Pairs are compared in either order by default; pass ``match`` to compare, e.g., a predicted
    pair of unit texts with a gold pair of markers. Nothing predicted gives precision 0 (1 if
    there is also nothing to find); nothing to find gives recall 1.
    """
    credited: set[int] = set()
    tp = 0
    for p in predicted_pairs:
        for j, g in enumerate(gold_pairs):
            if j not in credited and match(p, g):
                credited.add(j)
                tp += 1
                break
    precision = tp / len(predicted_pairs) if predicted_pairs else float(not gold_pairs)
    recall = tp / len(gold_pairs) if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


Unit = tuple[str, str]  # (place, text) of one side of a predicted alignment


def unit_pair_matches(pred: tuple[Unit, Unit], gold: tuple[Rel, Rel]) -> bool:
    """A predicted pair of (place, text) units matches a gold (Rel, Rel) pair, in either order."""
    (pa, ta), (pb, tb) = pred
    a, b = gold
    return (is_relevant(pa, ta, a) and is_relevant(pb, tb, b)) or (
        is_relevant(pa, ta, b) and is_relevant(pb, tb, a)
    )


def alignments_between(gold: Sequence[Alignment], place_a: str, place_b: str) -> list[tuple[Rel, Rel]]:
    """Gold pairs linking the two compared documents (a comparison of A with B is scored on these only)."""
    want = {normalize_marker(place_a), normalize_marker(place_b)}
    return [(al.a, al.b) for al in gold if {normalize_marker(al.a.place), normalize_marker(al.b.place)} == want]


def score_alignments(
    predicted: Sequence[tuple[Unit, Unit]], gold_pairs: Sequence[tuple[Rel, Rel]], anchored: bool = True
) -> tuple[float, float, float]:
    """P/R/F1 of predicted unit pairs against gold (Rel, Rel) pairs.

    The gold set samples alignments rather than listing all of them, so with ``anchored`` a
    prediction counts only when one of its sides is a unit the gold pairs mention; the others
    cannot be judged right or wrong.
    """
    if anchored:
        rels = [r for pair in gold_pairs for r in pair]
        predicted = [
            p for p in predicted if any(is_relevant(pl, tx, r) for pl, tx in p for r in rels)
        ]
    return precision_recall_f1(predicted, gold_pairs, unit_pair_matches)
