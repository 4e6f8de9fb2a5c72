"""Sentence-level alignment on the real seeds, and the speed paths that must not change a single alignment."""

from __future__ import annotations

import itertools

import numpy as np
from rapidfuzz import fuzz, process

from search_api.alignment import align as A
from search_api.alignment.align import AlignConfig, agency_key, split_sentences
from search_api.alignment.compare import alignment_of, doc_units


def _unit(du, path):
    return next(i for i, u in enumerate(du.units) if u.path == path)


def _paths(al) -> set[tuple[str, str]]:
    return {(al.a.units[p.a].path, al.b.units[p.b].path) for p in al.links()}


def test_sentences_split_at_duties_and_drop_the_agency_line(search_service):
    dn = doc_units(search_service, "dak-nong-2024")
    # 1.4 gives the Sở two duties separated by ";": data clean-up, then assessing child-friendly communes
    s = dn.sentences()[_unit(dn, "1 • 4")]
    assert len(s) == 2 and s[0].startswith("huong dan don doc uy ban nhan dan") and "lam sach du lieu" in s[0]
    assert s[1].startswith("to chuc danh gia xet duyet va cong nhan xa phuong thi tran phu hop voi tre em")
    # the Sở Thông tin và Truyền thông task: its agency line is not a sentence of its own
    tt = dn.sentences()[_unit(dn, "4")]
    assert tt[0].startswith("chi dao huong dan cac co quan bao chi truyen thong") and len(tt) == 2
    # a piece under MIN_SENTENCE tokens is glued to its neighbour, nothing is lost
    assert split_sentences("Sở Y tế. Thực hiện các giải pháp chăm sóc sức khỏe cho trẻ em; đúng quy định.") == [
        "so y te thuc hien cac giai phap cham soc suc khoe cho tre em dung quy dinh"]


def test_a_task_whose_two_sentences_are_two_items_elsewhere_aligns_whole(search_service):
    """Trà Cú II.8 = Tháng hành động (Lạng Sơn III.5's first item) + "các biện pháp phòng ngừa, ứng phó…"
    (the first sentence of its second item): only the sentence level sees both halves."""
    with_sentences = _paths(alignment_of(search_service, "tra-cu-2022", "lang-son-2023"))
    without = _paths(alignment_of(search_service, "tra-cu-2022", "lang-son-2023", AlignConfig(sentence=None)))
    assert ("II.8", "III.5") in with_sentences
    assert not any(a == "II.8" for a, _ in without)
    # what held before still holds: the budget and Fatherland-Front items of III.1
    assert {("II.6", "III.1 • 5"), ("II.4", "III.1 • 4"), ("II.7", "III.6 • 1")} <= with_sentences


def test_same_agency_bonus_marks_units_of_the_same_agency(search_service):
    assert agency_key("Đề nghị UBND các huyện, thành phố") == agency_key("Ủy ban nhân dân các huyện, thành phố")
    dn, ls = doc_units(search_service, "dak-nong-2024"), doc_units(search_service, "lang-son-2023")
    same = A._same_agency(dn, ls)
    assert same[_unit(dn, "1 • 7"), _unit(ls, "V.1 • 4")] == 1.0  # both the Sở Lao động's duties
    assert same[_unit(dn, "10 • 1"), _unit(ls, "V.3")] == 1.0  # both the districts'
    assert same[_unit(dn, "1 • 7"), _unit(ls, "III.8")] == 0.0  # a topic task has no agency
    # with the bonus, the two plans' bundles for the same agency align whole (none of them does without)
    bonus = _paths(alignment_of(search_service, "dak-nong-2024", "lang-son-2023", AlignConfig(same_agency=0.1)))
    plain = _paths(alignment_of(search_service, "dak-nong-2024", "lang-son-2023"))
    assert {("1", "V.1"), ("10", "V.3")} <= bonus and not {("1", "V.1"), ("10", "V.3")} & plain


# --- the speed paths ---------------------------------------------------------------------------------------

def _reference_lexical(a, b, cfg):
    """Token-set and token-sort ratios of the units' first FUZZ_TOKENS words as written (round 4)."""
    heads_a = [" ".join(f.split()[:A.FUZZ_TOKENS]) for f in a.folded]
    heads_b = [" ".join(f.split()[:A.FUZZ_TOKENS]) for f in b.folded]
    ts = process.cdist(heads_a, heads_b, scorer=fuzz.token_set_ratio, dtype=np.float32) / 100.0
    so = process.cdist(heads_a, heads_b, scorer=fuzz.token_sort_ratio, dtype=np.float32) / 100.0
    return ts * (1 - cfg.w_token_sort) + so * cfg.w_token_sort


def _reference_sentences(a, b, how):
    sa, ra = A._sentence_index(a)
    sb, rb = A._sentence_index(b)
    return A._fold_max(A._tfidf(sa, sb), ra, rb)


def test_cached_token_sets_and_term_rows_give_the_same_similarities(search_service):
    for x, y in (("lang-son-2023", "dak-nong-2024"), ("cam-lo-2023", "tra-cu-2022")):
        a, b = doc_units(search_service, x), doc_units(search_service, y)
        assert np.allclose(A._lexical(a, b, AlignConfig()), _reference_lexical(a, b, AlignConfig()), atol=1e-6)
        assert np.allclose(A._sentence_similarity(a, b, "tfidf"), _reference_sentences(a, b, "tfidf"), atol=1e-6)


def test_alignments_are_identical_to_the_reference_path(search_service, monkeypatch):
    ids = [d.doc_id for d in search_service.documents()]
    units = {d: doc_units(search_service, d) for d in ids}
    fast = {(x, y): A.align(units[x], units[y]) for x, y in itertools.permutations(ids, 2)}
    monkeypatch.setattr(A, "_lexical", _reference_lexical)
    monkeypatch.setattr(A, "_sentence_similarity", _reference_sentences)
    for (x, y), al in fast.items():
        ref = A.align(units[x], units[y])
        assert [(p.a, p.b) for p in al.pairs] == [(p.a, p.b) for p in ref.pairs], (x, y)
        assert [(p.a, p.b) for p in al.joins] == [(p.a, p.b) for p in ref.joins], (x, y)
        assert (al.only_a, al.only_b) == (ref.only_a, ref.only_b), (x, y)
        assert np.allclose([p.margin for p in al.pairs], [p.margin for p in ref.pairs], atol=1e-5)
    assert sum(len(al.pairs) for al in fast.values()) >= 60  # a real workload, not empty alignments
