"""Task alignment on the real seeds: the expected pairs, one-to-one, unmatched tasks, name resolution."""

from __future__ import annotations

import time

import numpy as np
import pytest

from search_api.alignment.align import (
    AlignConfig,
    AlignUnit,
    DocUnits,
    UnitGroup,
    align,
    closest_sentence,
    fold_key,
    group_chunks,
)
from search_api.alignment.compare import alignment_of, compare, doc_units, resolve_document
from search_api.service import NotFound
from tests.seedtext import task


def _paths(al) -> set[tuple[str, str]]:
    return {(al.a.units[p.a].path, al.b.units[p.b].path) for p in al.pairs}


def test_cam_lo_vs_tra_cu_expected_pairs(search_service):
    al = alignment_of(search_service, "cam-lo-2023", "tra-cu-2022")
    pairs = _paths(al)
    # communication (Tổng đài 111), Tháng hành động, child-friendly communes
    assert {("3", "II.3"), ("7", "II.8"), ("8", "II.9")} <= pairs
    # the rest pairs by topic: programmes, leaders' awareness, training, inspection
    assert {("1", "II.1"), ("2", "II.2"), ("6", "II.5"), ("10", "II.7")} <= pairs
    # Trà Cú has no statistics task and no reporting task: Cam Lộ's stay unmatched
    only_a = {al.a.units[i].path for i in al.only_a}
    assert {"9", "11"} <= only_a


def test_alignment_is_one_to_one_in_document_order(search_service):
    al = alignment_of(search_service, "cam-lo-2023", "lang-son-2023")
    a_ids = [p.a for p in al.pairs]
    b_ids = [p.b for p in al.pairs]
    assert len(set(a_ids)) == len(a_ids) and len(set(b_ids)) == len(b_ids)
    assert a_ids == sorted(a_ids)
    # a unit is either paired or listed as unmatched, never both
    assert not set(a_ids) & set(al.only_a) and not set(b_ids) & set(al.only_b)


def test_multi_topic_task_falls_back_to_items(search_service):
    """Lạng Sơn III.1 bundles five topics that Trà Cú spreads over several tasks: its items align."""
    al = alignment_of(search_service, "tra-cu-2022", "lang-son-2023")
    pairs = _paths(al)
    assert ("II.6", "III.1 • 5") in pairs  # "Quan tâm bố trí ngân sách địa phương…"
    assert ("II.4", "III.1 • 4") in pairs  # supervision by the Fatherland Front
    assert not any(b == "III.1" for _, b in pairs)  # the whole task is not used once split
    b = al.b.units[next(p.b for p in al.pairs if al.b.units[p.b].path == "III.1 • 5")]
    assert b.text.startswith("Quan tâm bố trí ngân sách địa phương")


def test_expected_pairs_hold_in_both_directions(search_service):
    assert {("II.3", "3"), ("II.8", "7"), ("II.9", "8")} <= _paths(
        alignment_of(search_service, "tra-cu-2022", "cam-lo-2023"))
    assert ("III.1 • 5", "II.6") in _paths(alignment_of(search_service, "lang-son-2023", "tra-cu-2022"))


def test_threshold_leaves_weak_pairs_unmatched(search_service):
    default = alignment_of(search_service, "cam-lo-2023", "tra-cu-2022")
    strict = alignment_of(search_service, "cam-lo-2023", "tra-cu-2022", AlignConfig(threshold=0.3))
    assert len(default.pairs) >= 7 and all(p.margin >= AlignConfig().threshold for p in default.pairs)
    assert _paths(strict) == {("3", "II.3")}  # only the near-identical Ministry wording survives


def test_units_group_items_under_their_task(search_service):
    groups = group_chunks(search_service.chunks_of("lang-son-2023"))
    iii1 = next(items for task, items in groups if task.path == "III.1")
    assert [c.path for c in iii1] == [f"III.1 • {i}" for i in range(1, 6)]
    du = doc_units(search_service, "cam-lo-2023")
    assert [du.units[g.whole].path for g in du.groups][:4] == ["¶1", "1", "2", "3"]
    assert du.vectors.shape[0] == len(du.units)


def test_same_document_is_refused(search_service):
    with pytest.raises(ValueError, match="itself"):
        alignment_of(search_service, "cam-lo-2023", "cam-lo-2023")


def test_compare_is_fast_when_warm(search_service):
    compare(search_service, "lang-son-2023", "dak-nong-2024")
    t = time.perf_counter()
    compare(search_service, "lang-son-2023", "dak-nong-2024")
    assert time.perf_counter() - t < 1.0


@pytest.mark.parametrize("ref, doc_id", [
    ("cam-lo-2023", "cam-lo-2023"), ("Cam Lộ 2023", "cam-lo-2023"), ("cam lo 2023", "cam-lo-2023"),
    ("Lạng Sơn", "lang-son-2023"), ("tra cu", "tra-cu-2022"), ("ĐẮK NÔNG 2024", "dak-nong-2024"),
])
def test_resolve_document(search_service, ref, doc_id):
    assert resolve_document(search_service, ref) == doc_id


@pytest.mark.parametrize("ref", ["Cam Lộ 2019", "Hà Nội 2023", "nothing"])
def test_resolve_unknown(search_service, ref):
    with pytest.raises(NotFound, match="no document"):
        resolve_document(search_service, ref)


def test_resolve_ambiguous(search_service):
    class TwoCamLo:
        def document_summary(self, doc_id):
            raise NotFound(doc_id)

        def documents(self):
            d = search_service.documents()[0]  # cam-lo-2023
            return [d, d.model_copy(update={"doc_id": "cam-lo-2023-b"})]

    with pytest.raises(ValueError, match="ambiguous"):
        resolve_document(TwoCamLo(), "cam lo 2023")


def _doc(doc_id: str, texts: list[str], vecs: list) -> DocUnits:
    units = [AlignUnit(f"{doc_id}~{k + 1}", doc_id, str(k + 1), "", t, "task", k) for k, t in enumerate(texts)]
    v = np.stack([x / np.linalg.norm(x) for x in vecs]).astype("float32")
    return DocUnits(doc_id, units, [UnitGroup(k) for k in range(len(units))], v, [fold_key(t) for t in texts])


def test_many_to_one_groups_are_labelled():
    """Cam Lộ's statistics task and inspection task merged into one (A) against the two kept apart (B):
    one "tách" group of A's task with both B tasks, not a pair plus an "only in B"; reversed, a "gộp"."""
    rng = np.random.default_rng(0)
    r = [rng.normal(size=32) for _ in range(4)]
    stats, inspect, hotline, training = task("cam-lo-2023", 9), task("cam-lo-2023", 10), task("cam-lo-2023", 3), \
        task("cam-lo-2023", 6)
    a = _doc("a", [hotline, f"{stats} {inspect}", training], [r[0] + 0.1 * r[3], r[1] + r[2], r[3]])
    b = _doc("b", [task("tra-cu-2022", 3), stats, inspect, training], [r[0], r[1], r[2], r[3]])
    al = align(a, b)
    groups = {g.kind: (g.a, g.b) for g in al.groups()}
    assert groups["tách"] == ([1], [1, 2]) and not al.only_b and not al.only_a
    back = align(b, a)
    assert {g.kind: (g.a, g.b) for g in back.groups()}["gộp"] == ([1, 2], [1])
    strict = align(a, b, AlignConfig(join_threshold=None))
    assert all(g.kind == "pair" for g in strict.groups()) and len(strict.only_b) == 1


@pytest.mark.parametrize("lexical", ["tfidf", "contain"])
def test_other_lexical_similarities_align_the_same_ministry_wording(search_service, lexical):
    al = alignment_of(search_service, "cam-lo-2023", "tra-cu-2022", AlignConfig(lexical=lexical))
    assert {("3", "II.3"), ("8", "II.9")} <= _paths(al)
    assert all(0.0 <= p.lexical <= 1.0001 for p in al.pairs)


def test_closest_sentence_picks_the_sentence_sharing_most_wording():
    text = ("Triển khai thu thập chỉ tiêu thống kê, báo cáo theo Thông tư số 13/2021/TT-BLĐTBXH; "
            "chỉ đạo cấp xã tiếp tục thực hiện chuẩn hóa, làm sạch dữ liệu trẻ em.")
    other = fold_key("Kịp thời đôn đốc các xã, phường đẩy mạnh việc chuẩn hóa làm sạch dữ liệu, cập nhật vào phần mềm.")
    assert closest_sentence(text, other) == "chỉ đạo cấp xã tiếp tục thực hiện chuẩn hóa, làm sạch dữ liệu trẻ em."
    assert closest_sentence("Một  câu   duy nhất, không tách.", other) == "Một câu duy nhất, không tách."
