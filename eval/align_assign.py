"""Other ways to turn the unit similarity into matches, scored on the gold alignments (issue 15, round 10).

The default matches on the CSLS margin (``align.similarity``): a pair must stand out from both units'
neighbourhoods. Each variant here builds another matrix for the same matching (``align.match``: optimal
one-to-one over the split choices, threshold, joins): the raw similarity with a floor (a global assignment),
mutual ranks, Sinkhorn normalisation (one-sided as usually written, and balanced), the parent task's similarity
blended in, agency rules, an order prior, optimal transport with a dustbin, z-scored components, the tasks'
lead sentences. Besides the gold P/R/F1 each row says whether comparing B with A gives the same links as A
with B, and whether Cam Lộ 9 and 11 (statistics, reporting: Trà Cú has neither) stay unmatched, as the real-
text test ``test_cam_lo_vs_tra_cu_expected_pairs`` expects. The choice is checked leave-one-document-pair-out,
with the range over the settings tied on the other five pairs. Figures: eval/RESULTS.md round 10.

    .venv/bin/python -m eval.align_assign --index-dir .index [--out eval/out/align-assign.md]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import logsumexp

from eval.gold import Gold
from eval.harness import alignment_script, evaluate_alignments
from search_api.alignment import align as al
from search_api.alignment.align import AlignConfig, Alignment, DocUnits

Scorer = Callable[[np.ndarray, np.ndarray, DocUnits, DocUnits], np.ndarray]  # (sim, margin, a, b) → matrix


@dataclass
class Variant:
    label: str
    cfg: AlignConfig  # weights, threshold (on the scorer's matrix), joins
    scorer: Scorer | None = None  # None: the default margin


def run(a: DocUnits, b: DocUnits, v: Variant) -> Alignment:
    sim, margin, dense, lex = al.similarity(a, b, v.cfg)
    score = margin if v.scorer is None else v.scorer(sim, margin, a, b).astype("float32")
    return al.match(a, b, v.cfg, sim, score, dense, lex)


# --- scorers -------------------------------------------------------------------------------------------------

def csls(sim: np.ndarray, a: DocUnits, b: DocUnits, k: int = 3) -> np.ndarray:
    r_a = al._neighbourhood(al._group_max(sim, b.groups), k)
    r_b = al._neighbourhood(al._group_max(sim.T, a.groups), k)
    return 2 * sim - r_a[:, None] - r_b[None, :]


def raw(sim, margin, a, b):
    return sim


def mutual_rank(sim, margin, a, b):
    """−(log row rank + log column rank), ranks counted over the other document's groups."""
    ga, gb = al._group_max(sim, b.groups), al._group_max(sim.T, a.groups)
    rr = (ga[:, None, :] > sim[:, :, None]).sum(axis=2) + 1
    cr = (gb[:, None, :] > sim.T[:, :, None]).sum(axis=2).T + 1
    return -(np.log(rr) + np.log(cr))


def sinkhorn(tau: float, balanced: bool = False, iters: int = 100) -> Scorer:
    """log P of exp(sim / tau) scaled until rows and columns sum to their mass over groups. One-sided: every
    unit's mass is 1 on both sides, which two documents of different size cannot satisfy at once, so the side
    normalised last wins (the links depend on which document is A). Balanced: each group of A holds 1/|A|,
    each of B 1/|B|, and the share is P over the smaller of the two masses."""
    def f(sim, margin, a, b):
        logits = sim.astype(np.float64) / tau
        ra = -math.log(len(a.groups)) if balanced else 0.0
        rb = -math.log(len(b.groups)) if balanced else 0.0
        row, col = np.zeros(sim.shape[0]), np.zeros(sim.shape[1])
        for _ in range(iters):
            row = logsumexp(al._group_max(logits - col[None, :], b.groups), axis=1) - ra
            col = logsumexp(al._group_max((logits - row[:, None]).T, a.groups), axis=1) - rb
        return logits - row[:, None] - col[None, :] - min(ra, rb)
    return f


def parents(du: DocUnits) -> np.ndarray:
    out = np.arange(len(du.units))
    for g in du.groups:
        out[g.items] = g.whole
    return out


def with_parent(beta: float, inner: Scorer | None = None, k: int = 3) -> Scorer:
    """The similarity blended with the parent tasks' ((1 − beta)·s + beta·s[parent, parent]), then ``inner``
    (default: the CSLS margin of the blend)."""
    def f(sim, margin, a, b):
        s = (1 - beta) * sim + beta * sim[np.ix_(parents(a), parents(b))]
        return csls(s, a, b, k) if inner is None else inner(s, csls(s, a, b, k), a, b)
    return f


def guarded(inner: Scorer, min_margin: float) -> Scorer:
    """``inner``'s matrix where the CSLS margin reaches ``min_margin``, unmatchable elsewhere."""
    def f(sim, margin, a, b):
        return np.where(margin >= min_margin, inner(sim, margin, a, b), -1e6)
    return f


def unit_agencies(du: DocUnits) -> list[str]:
    return [al.agency_key(du.units[du.groups[u.group].whole].agency) for u in du.units]


def mixed(du: DocUnits) -> bool:
    """The plan has tasks by topic and tasks by agency (its agency tasks restate the topic tasks)."""
    kinds = [bool(du.units[g.whole].agency) for g in du.groups if du.units[g.whole].kind == "task"]
    return any(kinds) and not all(kinds)


def agency_rules(cross: bool, topic: bool) -> Scorer:
    """Exclude (−1 on the similarity, before the margin) two units assigned to different agencies (``cross``),
    and a topic unit with an agency unit of a plan that has topic tasks too (``topic``)."""
    def f(sim, margin, a, b):
        ka, kb = np.array(unit_agencies(a)), np.array(unit_agencies(b))
        ha, hb = (ka != "")[:, None], (kb != "")[None, :]
        out = np.zeros(sim.shape, dtype=bool)
        if cross:
            out |= ha & hb & (ka[:, None] != kb[None, :])
        if topic:
            out |= (hb & ~ha & mixed(b)) | (ha & ~hb & mixed(a))
        return csls(sim - out, a, b)
    return f


def order_prior(lam: float) -> Scorer:
    """The margin less ``lam`` × the share of the default alignment's pairs a candidate pair crosses."""
    def f(sim, margin, a, b):
        anchors = [(a.units[p.a].group, b.units[p.b].group) for p in al.align(a, b).pairs]
        if not anchors:
            return margin
        ga = np.array([u.group for u in a.units])[:, None]
        gb = np.array([u.group for u in b.units])[None, :]
        cross = sum(((ga < x) & (gb > y)) | ((ga > x) & (gb < y)) for x, y in anchors)
        return margin - lam * cross / len(anchors)
    return f


def dustbin_ot(tau: float, alpha: float) -> Scorer:
    """Balanced entropic optimal transport of the margins with one dustbin row and column (score ``alpha``, as
    SuperGlue does), each unit's mass its number of sentences; the matrix is log(P / smaller mass)."""
    def f(sim, margin, a, b):
        ma = np.array([len(s) for s in a.sentences()], dtype=float)
        mb = np.array([len(s) for s in b.sentences()], dtype=float)
        n, m = margin.shape
        logits = np.full((n + 1, m + 1), alpha / tau)
        logits[:n, :m] = margin / tau
        lmu, lnu = np.log(np.r_[ma, mb.sum()]), np.log(np.r_[mb, ma.sum()])
        u, v = np.zeros(n + 1), np.zeros(m + 1)
        for _ in range(200):
            u = lmu - logsumexp(logits + v[None, :], axis=1)
            v = lnu - logsumexp(logits + u[:, None], axis=0)
        logp = (logits + u[:, None] + v[None, :])[:n, :m]
        return logp - np.log(np.minimum(ma[:, None], mb[None, :]))
    return f


def zscored(sim, margin, a, b):
    """The three similarities z-scored over the matrix before the weighted sum (dense cosines sit in a band
    a tenth as wide as the lexical ones), then the margin."""
    cfg = AlignConfig()
    parts = [a.vectors @ b.vectors.T, al._lexical(a, b, cfg), al._sentence_similarity(a, b, "tfidf")]
    w = (cfg.w_dense, cfg.w_lexical, cfg.w_sentence)
    s = sum(wi * (x - x.mean()) / (x.std() + 1e-9) for wi, x in zip(w, parts, strict=True)) / sum(w)
    return csls(s, a, b)


def with_lead(w: float) -> Scorer:
    """The tf-idf cosine of the two units' first sentences mixed in with weight ``w`` (a task's first
    sentence states its topic), then the margin."""
    def f(sim, margin, a, b):
        total = AlignConfig().w_dense + AlignConfig().w_lexical + AlignConfig().w_sentence
        lead = al._tfidf([s[0] for s in a.sentences()], [s[0] for s in b.sentences()])
        return csls((sim * total + w * lead) / (total + w), a, b)
    return f


# --- the grid ------------------------------------------------------------------------------------------------

def variants() -> list[Variant]:
    d = AlignConfig()
    one = replace(d, join_threshold=None)
    lp = {p: round(math.log(p), 4) for p in (0.3, 0.4, 0.5)}
    out = [Variant("default: CSLS margin ≥ 0.06, joins ≥ 0.06", d)]
    out += [Variant(f"global assignment on the similarity, floor {t:g}", replace(one, threshold=t), raw)
            for t in (0.70, 0.74, 0.76, 0.78, 0.80)]
    out += [Variant(f"mutual rank, rank product ≤ {r}", replace(one, threshold=round(-math.log(r + 0.01), 4)),
                    mutual_rank) for r in (2, 4, 6)]
    for tau, p, ag, beta in itertools.product((0.01, 0.015, 0.02, 0.03), (0.3, 0.4, 0.5), (0.0, 0.05), (0.0, 0.3)):
        sk = sinkhorn(tau)
        out.append(Variant(f"Sinkhorn one-sided τ {tau:g}, share ≥ {p:g}" + (f", same agency +{ag:g}" if ag else "")
                           + (f", parent ×{beta:g}" if beta else ""),
                           replace(one, threshold=lp[p], same_agency=ag), with_parent(beta, sk) if beta else sk))
    for tau, p, beta in itertools.product((0.01, 0.015, 0.02, 0.03), (0.3, 0.5), (0.0, 0.3)):
        sk = sinkhorn(tau, balanced=True)
        out.append(Variant(f"Sinkhorn balanced τ {tau:g}, share ≥ {p:g}, same agency +0.05"
                           + (f", parent ×{beta:g}" if beta else ""),
                           replace(one, threshold=lp[p], same_agency=0.05), with_parent(beta, sk) if beta else sk))
    for tau, m0 in itertools.product((0.015, 0.02), (-0.02, 0.0)):
        out.append(Variant(f"Sinkhorn one-sided τ {tau:g}, share ≥ 0.5, margin ≥ {m0:g}, same agency +0.05, parent ×0.3",
                           replace(one, threshold=lp[0.5], same_agency=0.05),
                           with_parent(0.3, guarded(sinkhorn(tau), m0))))
    out += [Variant(f"parent ×{beta:g}, margin ≥ {t:g}", replace(d, threshold=t), with_parent(beta))
            for beta in (0.1, 0.2, 0.3) for t in (0.02, 0.04, 0.06)]
    for cross, topic, t, ag in itertools.product((True, False), (True, False), (0.02, 0.06), (0.0, 0.05)):
        if cross or topic:
            rules = " + ".join(x for x, on in (("different agencies excluded", cross),
                                               ("topic ↮ agency task of a mixed plan", topic)) if on)
            out.append(Variant(f"{rules}, margin ≥ {t:g}" + (f", same agency +{ag:g}" if ag else ""),
                               replace(d, threshold=t, same_agency=ag), agency_rules(cross, topic)))
    out += [Variant(f"order prior ×{lam:g}, margin ≥ {t:g}", replace(d, threshold=t), order_prior(lam))
            for lam in (0.05, 0.1, 0.2) for t in (0.0, 0.02, 0.06)]
    out += [Variant(f"OT with dustbin {alpha:g}, τ {tau:g}, share ≥ 0.5 of the smaller mass",
                    replace(one, threshold=lp[0.5]), dustbin_ot(tau, alpha))
            for alpha in (0.0, 0.03, 0.06) for tau in (0.005, 0.01, 0.02)]
    out += [Variant(f"z-scored similarities, margin ≥ {t:g}", replace(d, threshold=t, join_threshold=t), zscored)
            for t in (0.5, 1.0, 1.5)]
    out += [Variant(f"lead sentences ×{w:g}, margin ≥ 0.06", d, with_lead(w)) for w in (0.1, 0.2, 0.4)]
    return out


def score(svc, gold: Gold, v: Variant) -> dict:
    from search_api.alignment.compare import doc_units

    res = evaluate_alignments(svc, gold, v.cfg, aligner=lambda x, y: run(doc_units(svc, x), doc_units(svc, y), v))
    per = {k: (round(r["recall"] * r["gold"]), int(r["predicted"]), int(r["gold"])) for k, r in res.per_pair.items()}
    # direction: links of A→B against B→A flipped, over the gold document pairs
    differ = total = 0
    for pa, pb in {tuple(k.split(" ↔ ")) for k in per}:
        ida, idb = _doc_id(svc, pa), _doc_id(svc, pb)
        x, y = run(doc_units(svc, ida), doc_units(svc, idb), v), run(doc_units(svc, idb), doc_units(svc, ida), v)
        fwd = {(p.a, p.b) for p in x.links()}
        back = {(p.b, p.a) for p in y.links()}
        differ += len(fwd ^ back)
        total += len(fwd | back)
    cl, tc = doc_units(svc, "cam-lo-2023"), doc_units(svc, "tra-cu-2022")
    used = {p.a for p in run(cl, tc, v).links()}
    wrong_cl = [cl.units[i].path for i in used if cl.units[i].path in ("9", "11")]
    return {"label": v.label, "precision": res.precision, "recall": res.recall, "f1": res.f1,
            "min_recall": min(c[0] / c[2] for c in per.values()), "per": per,
            "direction": f"{differ}/{total}", "cam_lo_9_11_matched": wrong_cl}


def _doc_id(svc, place: str) -> str:
    from eval.gold import normalize_marker

    return next(d.doc_id for d in svc.documents() if normalize_marker(d.place) == normalize_marker(place))


def micro(counts) -> tuple[float, float, float]:
    tp, pred, gold = (sum(c[i] for c in counts) for i in range(3))
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def leave_one_out(rows: list[dict]) -> dict:
    """Choose on five document pairs (precision ≥ 0.895 first, then F1, then precision, as eval/tune.py),
    score the sixth. ``first``: the first-listed of the tied settings (what tune.py reports); ``worst`` and
    ``best``: the held-out pair's worst and best result among the tied settings."""
    keys = list(rows[0]["per"])
    first, worst, best, tied = [], [], [], {}
    for k in keys:
        def key(row, k=k):
            p, _r, f = micro([c for kk, c in row["per"].items() if kk != k])
            return (p >= 0.895, round(f, 4), p)
        top = max(key(r) for r in rows)
        picks = [r for r in rows if key(r) == top]
        tied[k] = len(picks)
        held = [tuple(r["per"][k]) for r in picks]
        first.append(held[0])
        worst.append(min(held, key=lambda c: (2 * c[0] - c[1], c[0])))  # found minus wrong judged
        best.append(max(held, key=lambda c: (2 * c[0] - c[1], c[0])))
    return {"first": micro(first), "worst": micro(worst), "best": micro(best), "tied": tied}


def targets_met(row: dict) -> bool:
    return row["f1"] >= 0.9 and row["min_recall"] >= 0.8 and row["precision"] >= 0.895


def report(rows: list[dict]) -> str:
    loo = leave_one_out(rows)
    fmt = "P {:.3f} R {:.3f} F1 {:.3f}".format
    lines = [f"{len(rows)} settings; meeting every target (F1 ≥ 0.9, each pair's recall ≥ 0.8, P ≥ 0.895): "
             f"{sum(map(targets_met, rows))}",
             f"leave-one-document-pair-out, first of the tied picks: {fmt(*loo['first'])}; worst of ties "
             f"{fmt(*loo['worst'])}; best of ties {fmt(*loo['best'])}",
             "settings tied on the other five pairs: " + ", ".join(f"{k} {n}" for k, n in loo["tied"].items()), "",
             "| setting | P | R | F1 | lowest pair recall | found / judged / gold per pair | links differing "
             "B→A vs A→B | Cam Lộ 9, 11 matched |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per = " ".join(f"{c[0]}/{c[1]}/{c[2]}" for c in r["per"].values())
        lines.append(f"| {r['label']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                     f"{r['min_recall']:.2f} | {per} | {r['direction']} | {', '.join(r['cam_lo_9_11_matched']) or '—'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def run_all(svc, gold: Gold) -> tuple[str, list[dict]]:
        rows = [score(svc, gold, v) for v in variants()]
        return report(rows), rows

    return alignment_script("eval.align_assign", __doc__, "eval/out/align-assign.md", run_all, argv)


if __name__ == "__main__":
    raise SystemExit(main())
