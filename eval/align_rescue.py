"""A second look at the units the matching leaves over, and section roles (issue 15, round 15).

Two ideas rounds 5–10 had not tried, scored on the gold alignments with the default similarity and matching:

- **Mutual nearest neighbours in e5 space.** After the optimal matching, two leftover units that are each
  other's nearest unit in e5 space, over the whole other document, are paired whatever their margin;
  optionally only when each also ranks the other among its ``rank`` most similar groups on the combined
  similarity. In plans written agency by agency beside plans written topic by topic the margins are crowded
  (each unit resembles many), while the embedding alone ranks some real counterparts first.
- **Section roles.** A unit of the purpose or targets section ("Mục đích, yêu cầu", "Mục tiêu") may pair only
  with a unit of the same role, so that a task's neighbourhood is made of tasks.

Besides P/R/F1 each row lists every link the rescue adds over the ten seed document pairs (one direction),
gold or not, to be read: the gold judges only the links that touch a gold unit. Figures: eval/RESULTS.md
round 15.

    .venv/bin/python -m eval.align_rescue --index-dir .index [--out eval/out/align-rescue.md]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eval.harness import alignment_script, evaluate_alignments
from search_api.alignment import align as al
from search_api.alignment.align import AlignConfig, Alignment, DocUnits

NOT_TASK = ("targets", "purpose")


@dataclass
class Setting:
    label: str
    rescue: bool = False
    rank: int | None = None  # None: mutual nearest in e5 space is enough
    roles: bool = False
    added: list[str] = field(default_factory=list)


def _role_mask(svc, a: DocUnits, b: DocUnits) -> np.ndarray:
    """True where one unit is in a purpose/targets section and the other is not."""
    def roles(du: DocUnits) -> np.ndarray:
        return np.array([svc.chunk(u.chunk_id).section_kind in NOT_TASK for u in du.units])
    return roles(a)[:, None] != roles(b)[None, :]


def _similarity(svc, a: DocUnits, b: DocUnits, cfg: AlignConfig, roles: bool) -> tuple[np.ndarray, ...]:
    """``align.similarity``, with units of different roles kept out of each other's neighbourhoods."""
    sim, margin, dense, lex = al.similarity(a, b, cfg)
    if not roles:
        return sim, margin, dense, lex
    bad = _role_mask(svc, a, b)
    sim = np.where(bad, 0.0, sim).astype("float32")
    r_a = al._neighbourhood(al._group_max(sim, b.groups), cfg.k)
    r_b = al._neighbourhood(al._group_max(sim.T, a.groups), cfg.k)
    margin = np.where(bad, -1.0, 2 * sim - r_a[:, None] - r_b[None, :]).astype("float32")
    return sim, margin, dense, lex


def mutual_nearest(a: DocUnits, b: DocUnits, base: Alignment, sim: np.ndarray, dense: np.ndarray,
                   rank: int | None) -> list[tuple[int, int]]:
    """Leftover pairs that are each other's nearest unit in e5 space (over all of the other document) and,
    with ``rank``, each among the other's ``rank`` most similar groups on the combined similarity."""
    if not base.only_a or not base.only_b:
        return []
    best_a = al._group_max(dense, b.groups).max(axis=1)
    best_b = al._group_max(dense.T, a.groups).max(axis=1)
    row, col = al._group_max(sim, b.groups), al._group_max(sim.T, a.groups)
    out = []
    for i in base.only_a:
        j = max(base.only_b, key=lambda y: dense[i, y])
        if dense[i, j] < best_a[i] or dense[i, j] < best_b[j]:
            continue
        if rank is None or ((row[i] > sim[i, j]).sum() < rank and (col[j] > sim[i, j]).sum() < rank):
            out.append((i, j))
    return out


def rescued(svc, a: DocUnits, b: DocUnits, cfg: AlignConfig, s: Setting) -> Alignment:
    """The default matching of ``a`` with ``b``, then the setting's rescue of the leftovers."""
    sim, margin, dense, lex = _similarity(svc, a, b, cfg, s.roles)
    base = al.match(a, b, cfg, sim, margin, dense, lex)
    if s.rescue:
        for i, j in mutual_nearest(a, b, base, sim, dense, s.rank):
            base.pairs.append(al.AlignedPair(i, j, float(sim[i, j]), float(margin[i, j]), float(dense[i, j]),
                                             float(lex[i, j])))
            base.only_a.remove(i)
            base.only_b.remove(j)
    return base


def aligner(svc, cfg: AlignConfig, s: Setting) -> Callable[[str, str], Alignment]:
    from search_api.alignment.compare import doc_units

    return lambda x, y: rescued(svc, doc_units(svc, x), doc_units(svc, y), cfg, s)


def settings() -> list[Setting]:
    out = [Setting("default"), Setting("roles kept apart", roles=True),
           Setting("+ mutual nearest in e5 space", rescue=True)]
    out += [Setting(f"+ mutual nearest in e5 space, combined rank ≤ {r}", rescue=True, rank=r) for r in (3, 4, 5, 8)]
    out += [Setting("roles kept apart + mutual nearest, combined rank ≤ 5", rescue=True, rank=5, roles=True)]
    return out


def score(svc, gold, s: Setting) -> dict:
    cfg = AlignConfig()
    run = aligner(svc, cfg, s)
    res = evaluate_alignments(svc, gold, cfg, aligner=run)
    if s.rescue:
        docs = sorted(d.doc_id for d in svc.documents())
        for x, y in itertools.combinations(docs, 2):
            plain = {(p.a, p.b) for p in aligner(svc, cfg, Setting("", roles=s.roles))(x, y).pairs}
            got = run(x, y)
            for p in got.pairs:
                if (p.a, p.b) not in plain:
                    ua, ub = got.a.units[p.a], got.b.units[p.b]
                    s.added.append(f"{x} {ua.path} ↔ {y} {ub.path}: “{ua.text[:60]}…” / “{ub.text[:60]}…”")
    per = " ".join(f"{round(r['recall'] * r['gold'])}/{r['predicted']}/{r['gold']}" for r in res.per_pair.values())
    return {"label": s.label, "p": res.precision, "r": res.recall, "f1": res.f1, "per": per, "added": s.added,
            "min_recall": min(r["recall"] for r in res.per_pair.values())}


def report(rows: list[dict]) -> str:
    lines = ["| setting | P | R | F1 | lowest pair recall | found / judged / gold per pair | links added |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['p']:.3f} | {r['r']:.3f} | {r['f1']:.3f} | {r['min_recall']:.2f} | {r['per']} | "
              f"{len(r['added'])} |" for r in rows]
    for r in rows:
        if r["added"]:
            lines += ["", f"Links added by “{r['label']}”:", *(f"- {x}" for x in r["added"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def run_all(svc, gold) -> tuple[str, None]:
        return report([score(svc, gold, s) for s in settings()]), None

    return alignment_script("eval.align_rescue", __doc__, "eval/out/align-rescue.md", run_all, argv)


if __name__ == "__main__":
    raise SystemExit(main())
