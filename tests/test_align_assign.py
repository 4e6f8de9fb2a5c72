"""eval/align_assign.py on the real seeds: what Sinkhorn normalisation gains on the gold set and why it is not
the default (eval/RESULTS.md round 10), and the leave-one-pair-out check that reports ties."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from eval.align_assign import Variant, leave_one_out, run, sinkhorn, with_parent
from search_api.alignment import align as A
from search_api.alignment.align import AlignConfig
from search_api.alignment.compare import doc_units

# the best gold F1 of round 10 (0.930): one-sided Sinkhorn, τ 0.015, share ≥ 0.5, same agency +0.05, parent ×0.3
BEST = Variant("sinkhorn", replace(AlignConfig(), join_threshold=None, threshold=math.log(0.5), same_agency=0.05),
               with_parent(0.3, sinkhorn(0.015)))
DEFAULT = Variant("default", AlignConfig())


def _links(al) -> set[tuple[str, str]]:
    return {(al.a.units[p.a].path, al.b.units[p.b].path) for p in al.links()}


def test_match_on_the_default_matrices_is_align(search_service):
    a, b = doc_units(search_service, "dak-nong-2024"), doc_units(search_service, "lang-son-2023")
    assert _links(run(a, b, DEFAULT)) == _links(A.align(a, b)) and len(A.align(a, b).links()) >= 1


def test_sinkhorn_finds_the_district_funding_pair_the_margin_misses(search_service):
    """Đắk Nông 10.1 (districts: "Quan tâm bố trí kinh phí địa phương") ↔ Lạng Sơn IV.2 (district budget): third
    in 10.1's row, margin +0.001. Sinkhorn passes 10.1's mass on once I.2 and III.1.1 are held by closer units."""
    dn, ls = doc_units(search_service, "dak-nong-2024"), doc_units(search_service, "lang-son-2023")
    assert ("10 • 1", "IV.2") in _links(run(dn, ls, BEST))
    assert not any(x.startswith("10") and y == "IV.2" for x, y in _links(A.align(dn, ls)))


def test_sinkhorn_pairs_a_task_without_counterpart_and_depends_on_the_direction(search_service):
    """Why it is not the default: Cam Lộ 11 (reporting) has no counterpart in Trà Cú but gets its preamble, and
    with Lạng Sơn as A the links change (rows and columns of a 59 × 25 matrix cannot all sum to one: the side
    normalised last wins). The margin gives the same links either way."""
    cl, tc = doc_units(search_service, "cam-lo-2023"), doc_units(search_service, "tra-cu-2022")
    assert ("11", "¶1") in _links(run(cl, tc, BEST))
    assert not any(x in ("9", "11") for x, _ in _links(A.align(cl, tc)))
    dn, ls = doc_units(search_service, "dak-nong-2024"), doc_units(search_service, "lang-son-2023")
    for v, same in ((BEST, False), (DEFAULT, True)):
        forward = _links(run(dn, ls, v))
        back = {(y, x) for x, y in _links(run(ls, dn, v))}
        assert (forward == back) is same


def test_sinkhorn_ignores_constants_added_to_a_row_or_a_column(search_service):
    """Like the margin, a unit that resembles the whole other plan is not favoured as such."""
    cl, kg = doc_units(search_service, "cam-lo-2023"), doc_units(search_service, "kien-giang-2017")
    sim = A.similarity(cl, kg, AlignConfig())[0]
    shifted = sim + 0.05 * np.arange(sim.shape[0])[:, None] - 0.03 * np.arange(sim.shape[1])[None, :]
    f = sinkhorn(0.015, balanced=True)
    assert np.allclose(f(sim, sim, cl, kg), f(shifted, shifted, cl, kg), atol=1e-6)


def test_leave_one_out_reports_the_range_over_tied_settings():
    """Two settings equal on five pairs and different on the sixth: the held-out figure is a range, not the
    first-listed setting's result (which is all eval/tune.py reports)."""
    same = {f"p{i}": (2, 2, 2) for i in range(5)}
    rows = [{"per": {**same, "hard": (1, 1, 5)}}, {"per": {**same, "hard": (3, 3, 5)}}]
    loo = leave_one_out(rows)
    assert loo["tied"]["hard"] == 2
    assert loo["first"] == loo["worst"] and loo["worst"][1] == 11 / 15 and loo["best"][1] == 13 / 15
