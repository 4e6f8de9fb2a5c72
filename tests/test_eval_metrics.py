"""Metrics, marker matching and the gold set itself, checked on hand-computed cases and the seed texts."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from eval.gold import (
    KINDS,
    GoldError,
    Rel,
    _fallback_normalize,
    check_markers,
    is_relevant,
    load_gold,
    normalize_marker,
    parse_gold,
    place_of,
    seed_units,
    split_units,
)
from eval.metrics import (
    alignments_between,
    judge,
    mrr_at_k,
    ndcg_at_k,
    precision_recall_f1,
    ranked_relevance,
    recall_at_k,
    score_alignments,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
GOLD = ROOT / "eval" / "gold.json"


def seed(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def task(text: str, n: int) -> str:
    """The paragraph of numbered task ``n`` in a seed (crude: from "n. " to the next blank line)."""
    m = re.search(rf"(?m)^\**{n}\. .*?(?=\n\s*\n|\Z)", text, re.S)
    assert m, f"task {n} not found"
    return m.group()


CAM_LO = seed("cam-lo-2023.txt")
TRA_CU = seed("tra-cu-2022.txt")


# --- ranking metrics, hand-computed ------------------------------------------------------------


def test_recall_at_k():
    rel = [True, False, True, False]
    # 3 relevant units; top-2 holds 1 of them -> 1/3; top-4 holds 2 -> 2/3
    assert recall_at_k(rel, 3, 2) == pytest.approx(1 / 3)
    assert recall_at_k(rel, 3, 4) == pytest.approx(2 / 3)
    # k beyond the list changes nothing
    assert recall_at_k(rel, 3, 10) == pytest.approx(2 / 3)


def test_recall_refuses_undeduplicated_hits_and_bad_args():
    # 3 hits but only 2 relevant units: the caller forgot judge()
    with pytest.raises(ValueError, match="judge"):
        recall_at_k([True, True, True], 2, 3)
    with pytest.raises(ValueError):
        recall_at_k([True], 0, 1)
    with pytest.raises(ValueError):
        recall_at_k([True], 1, 0)


def test_mrr_at_k():
    # first hit at rank 3 -> 1/3; cut at k=2 -> 0
    assert mrr_at_k([False, False, True], 3) == pytest.approx(1 / 3)
    assert mrr_at_k([False, False, True], 2) == 0.0
    assert mrr_at_k([True, True], 5) == 1.0
    assert mrr_at_k([], 5) == 0.0


def test_ndcg_at_k():
    # [F, T, T], 2 relevant, k=3: DCG = 1/log2(3) + 1/log2(4) = 0.630930 + 0.5 = 1.130930
    # IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930 -> 0.693426
    assert ndcg_at_k([False, True, True], 2, 3) == pytest.approx(1.130930 / 1.630930, abs=1e-6)
    assert ndcg_at_k([False, True, True], 2, 3) == pytest.approx(0.693426, abs=1e-6)
    # [T, F, T], 3 relevant, k=2: DCG@2 = 1; IDCG@2 = 1 + 1/log2(3) = 1.630930 -> 0.613147
    assert ndcg_at_k([True, False, True], 3, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([True, False, True], 3, 2) == pytest.approx(0.613147, abs=1e-6)
    # perfect ranking -> 1; nothing found -> 0
    assert ndcg_at_k([True, True, False], 2, 3) == pytest.approx(1.0)
    assert ndcg_at_k([False, False], 1, 2) == 0.0


# --- judge: each relevant unit counts once -------------------------------------------------------


def test_judge_credits_each_relevant_unit_once():
    cl3, tc3, tc2 = task(CAM_LO, 3), task(TRA_CU, 3), task(TRA_CU, 2)
    relevant = [["Cam Lộ", "thông qua Zalo tổng đài 111"], ["Trà Cú", "bổn phận của trẻ em"]]
    results = [
        ("Cam Lộ", cl3),  # matches entry 0
        ("Cam Lộ", "**" + cl3 + "**"),  # same unit again (markdown around it): already credited
        ("Trà Cú", cl3),  # Cam Lộ text under the wrong place: no match
        ("Trà Cú", tc2),  # not the unit
        ("Trà Cú", tc3),  # matches entry 1
    ]
    assert judge(results, relevant) == [0, -1, -1, -1, 1]
    rel = ranked_relevance(results, relevant)
    assert rel == [True, False, False, False, True]
    # recall@5 = 2/2; MRR = 1/1; recall@3 = 1/2
    assert recall_at_k(rel, len(relevant), 5) == 1.0
    assert recall_at_k(rel, len(relevant), 3) == 0.5
    assert mrr_at_k(rel, 5) == 1.0


def test_judge_gives_a_result_the_first_uncredited_entry():
    cl3 = task(CAM_LO, 3)
    # both markers are in Cam Lộ task 3: the first result takes entry 0, a second copy entry 1
    relevant = [Rel("Cam Lộ", "Tổng đài 111"), Rel("Cam Lộ", "Zalo")]
    assert judge([("Cam Lộ", cl3), ("Cam Lộ", cl3), ("Cam Lộ", cl3)], relevant) == [0, 1, -1]


# --- alignment metrics -------------------------------------------------------------------------


def test_precision_recall_f1_hand_computed():
    pred = [("a", "b"), ("c", "d"), ("e", "f"), ("a", "b")]
    gold = [("b", "a"), ("c", "d"), ("g", "h"), ("i", "j")]
    # TP: (a,b) matches (b,a) in either order, (c,d); the repeated (a,b) finds nothing left -> TP = 2
    # P = 2/4 = 0.5, R = 2/4 = 0.5, F1 = 2*0.5*0.5/(0.5+0.5) = 0.5
    assert precision_recall_f1(pred, gold) == pytest.approx((0.5, 0.5, 0.5))
    # without the repeat: P = 2/3, R = 1/2, F1 = 2*(2/3)*(1/2)/(2/3+1/2) = (2/3)/(7/6) = 4/7
    assert precision_recall_f1(pred[:3], gold) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert precision_recall_f1([], gold) == (0.0, 0.0, 0.0)
    assert precision_recall_f1([], []) == (1.0, 1.0, 1.0)


def test_score_alignments_on_seed_tasks():
    gold = [(Rel("Cam Lộ", "thông qua Zalo tổng đài 111"), Rel("Trà Cú", "bổn phận của trẻ em"))]
    pred = [
        (("Trà Cú", task(TRA_CU, 3)), ("Cam Lộ", task(CAM_LO, 3))),  # right, sides swapped
        (("Cam Lộ", task(CAM_LO, 8)), ("Trà Cú", task(TRA_CU, 9))),  # no gold unit on either side
        (("Cam Lộ", task(CAM_LO, 3)), ("Trà Cú", task(TRA_CU, 2))),  # gold unit aligned wrongly
    ]
    # anchored: the middle pair cannot be judged -> P = 1/2, R = 1/1, F1 = 2*(1/2)/(3/2) = 2/3
    assert score_alignments(pred, gold) == pytest.approx((0.5, 1.0, 2 / 3))
    # unanchored: P = 1/3, R = 1, F1 = 2*(1/3)/(4/3) = 1/2
    assert score_alignments(pred, gold, anchored=False) == pytest.approx((1 / 3, 1.0, 0.5))


# --- normalisation and matching ----------------------------------------------------------------


def test_marker_normalisation():
    assert normalize_marker("**Tổng đài** 111") == normalize_marker("tổng đài 111") == "tổng đài 111"
    assert normalize_marker("hoà nhập") == normalize_marker("hòa nhập")
    assert normalize_marker("THUỶ  lợi\n") == normalize_marker("thủy lợi")
    nfd = unicodedata.normalize("NFD", "Đuối nước")
    assert nfd != "Đuối nước" and normalize_marker(nfd) == "đuối nước"
    assert normalize_marker("đuối nước") != normalize_marker("duoi nuoc")  # accents are not folded away
    assert is_relevant("Cam Lộ", task(CAM_LO, 3), ["Cam Lộ", "**Tổng đài** 111"])
    assert is_relevant(unicodedata.normalize("NFD", "Cam Lộ"), task(CAM_LO, 3), ["Cam Lộ", "ZALO tổng đài"])
    assert not is_relevant("Trà Cú", task(TRA_CU, 3), ["Trà Cú", "Zalo"])


def test_fallback_normaliser_matches_the_rules():
    # used when indexer.textnorm is absent; must give the same canonical forms
    f = _fallback_normalize
    assert f("hoà") == f("hòa") == "hòa"
    assert f("khoẻ") == f("khỏe") and f("thuỷ") == f("thủy")
    assert f("hoàn toàn") == "hoàn toàn"  # closed syllable keeps the tone on the second vowel
    assert f("người quốc giữa") == "người quốc giữa"
    assert f("## **Quỹ** *bảo trợ*") == "Quỹ bảo trợ"
    assert f(unicodedata.normalize("NFD", "Việt Nam")) == "Việt Nam"


def test_fallback_agrees_with_textnorm_on_gold_markers():
    textnorm = pytest.importorskip("indexer.textnorm")
    gold = load_gold(GOLD)
    for _, r in gold.rels():
        mine = " ".join(_fallback_normalize(r.marker).lower().split())
        theirs = " ".join(textnorm.normalize_text(r.marker).lower().split())
        assert mine == theirs, r


# --- loading and checking ----------------------------------------------------------------------


def _gold(**over):
    q = {"id": "q1", "q": "đuối nước", "kind": "lexical", "relevant": [["Cam Lộ", "Zalo tổng đài 111"]]}
    q.update(over)
    return {"queries": [q], "alignments": []}


@pytest.mark.parametrize(
    ("over", "msg"),
    [
        ({"kind": "fuzzy"}, "kind 'fuzzy' not one of"),
        ({"relevant": []}, "relevant must be a non-empty list"),
        ({"relevant": [["Cam Lộ"]]}, r"query q1 relevant\[0\]: expected \[PLACE, MARKER\]"),
        ({"relevant": [["Cam Lộ", ""]]}, "two non-empty strings"),
        ({"q": " "}, "q must be a non-empty string"),
        ({"relevant": [["Cam Lộ", "Tổng đài"], ["Cam Lộ", "**tổng đài**"]]}, "duplicate relevant entry"),
    ],
)
def test_parse_gold_rejects_bad_shapes(over, msg):
    with pytest.raises(GoldError, match=msg):
        parse_gold(_gold(**over))


def test_parse_gold_rejects_missing_keys_and_duplicate_ids():
    data = _gold()
    del data["queries"][0]["kind"]
    with pytest.raises(GoldError, match=r"queries\[0\]: missing kind"):
        parse_gold(data)
    data = _gold()
    data["queries"].append(dict(data["queries"][0]))
    with pytest.raises(GoldError, match="unique"):
        parse_gold(data)
    with pytest.raises(GoldError, match="exactly a and b"):
        parse_gold({"queries": [], "alignments": [{"a": ["Cam Lộ", "x y z"]}]})


def test_load_gold_reports_invalid_json(tmp_path):
    p = tmp_path / "g.json"
    p.write_text('{"queries": [', encoding="utf-8")
    with pytest.raises(GoldError, match="not valid JSON"):
        load_gold(p)


def test_check_markers_reports_missing_and_ambiguous():
    units = {"Cam Lộ": split_units(CAM_LO)}
    gold = parse_gold(
        {
            "queries": [
                {
                    "id": "q1",
                    "q": "x",
                    "kind": "lexical",
                    "relevant": [
                        ["Cam Lộ", "thông qua **Zalo** tổng đài 111"],  # exactly one unit: fine
                        ["Cam Lộ", "phòng chống đuối nước bằng drone"],  # nowhere
                        ["Cam Lộ", "Tổng đài 111"],  # task 3 and the second bullet of task 4
                        ["Hội An", "Tổng đài 111"],  # no such document
                    ],
                }
            ]
        }
    )
    problems = check_markers(gold, units)
    assert len(problems) == 3
    assert problems[0].startswith("error: query q1: marker 'phòng chống đuối nước bằng drone' not found")
    assert problems[1].startswith("ambiguous: query q1: marker 'Tổng đài 111' in 2 units of Cam Lộ")
    assert problems[2] == "error: query q1: no document for place 'Hội An'"


def test_crude_splitter_and_places_on_seeds():
    assert place_of(CAM_LO) == "Cam Lộ"
    assert place_of(seed("dak-nong-2024.txt")) == "Đắk Nông"
    units = seed_units(CORPUS)
    assert set(units) == {"Cam Lộ", "Trà Cú", "Kiên Giang", "Lạng Sơn", "Đắk Nông"}
    cl = units["Cam Lộ"]
    # task 8 is one paragraph; the page break splits the second bullet of task 4 in two
    assert sum(u.startswith("8. tiếp tục thực hiện đánh giá xã") for u in cl) == 1
    assert any(u.endswith("trẻ em có") for u in cl)
    assert any(u.startswith("nguy cơ bị xâm hại đến tổng đài 111") for u in cl)


# --- the gold set ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gold():
    return load_gold(GOLD)


def test_gold_set_shape(gold):
    kinds = Counter(q.kind for q in gold.queries)
    assert len(gold.queries) >= 44
    assert set(kinds) == set(KINDS)
    assert kinds["unaccented"] >= 6 and kinds["typo"] >= 4 and kinds["cross-lingual"] >= 5
    assert kinds["semantic"] >= 6
    assert len(gold.alignments) >= 15
    for q in gold.queries:
        if q.kind == "unaccented":
            assert q.q.isascii(), q.id
        if q.kind == "cross-lingual":
            assert q.q.isascii(), q.id
    places = {r.place for _, r in gold.rels()}
    assert places == {"Cam Lộ", "Trà Cú", "Kiên Giang", "Lạng Sơn", "Đắk Nông"}
    for al in gold.alignments:
        assert al.a.place != al.b.place
    # markers are short phrases
    for where, r in gold.rels():
        assert 3 <= len(r.marker.split()) <= 8, (where, r)


def test_gold_file_is_the_documented_json(gold):
    raw = json.loads(GOLD.read_text(encoding="utf-8"))
    assert set(raw) == {"queries", "alignments"}
    assert all(set(q) == {"id", "q", "kind", "relevant"} for q in raw["queries"])


def test_every_gold_marker_is_in_exactly_one_seed_unit(gold):
    units = seed_units(CORPUS)
    assert check_markers(gold, units) == []
    # and, independently of the splitter, in the place's whole document text
    docs = {place_of(seed(f.name)): normalize_marker(seed(f.name)) for f in CORPUS.glob("*.txt")}
    for where, r in gold.rels():
        assert normalize_marker(r.marker) in docs[r.place], (where, r)


def test_gold_alignments_found_between_seed_pairs(gold):
    pairs = alignments_between(gold.alignments, "Trà Cú", "Cam Lộ")
    assert len(pairs) >= 5
    # Cam Lộ task 3 ↔ Trà Cú task 3 is in the gold set and scores as a hit from the raw seed text
    pred = [(("Cam Lộ", task(CAM_LO, 3)), ("Trà Cú", task(TRA_CU, 3)))]
    p, r, _ = score_alignments(pred, pairs)
    assert p == 1.0 and r == pytest.approx(1 / len(pairs))
