"""The numbered-task tree of the five seed directives: counts, headings, page-break joins, agencies, kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parsing.pipeline import parse_file
from indexer.textnorm import fold

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def docs():
    return {p.stem: parse_file(p, root=CORPUS) for p in sorted(CORPUS.glob("*.txt"))}


def unit(doc, path):
    for u in doc.walk():
        if u.path == path:
            return u
    raise AssertionError(f"no unit {path!r} in {doc.doc_id}: {[u.path for u in doc.walk()]}")


def top_tasks(units):
    return [u.label for u in units if u.kind == "task"]


def test_flat_documents_task_counts(docs):
    assert top_tasks(docs["cam-lo-2023"].units) == [str(i) for i in range(1, 12)]
    assert top_tasks(docs["kien-giang-2017"].units) == [str(i) for i in range(1, 8)]
    assert top_tasks(docs["dak-nong-2024"].units) == [str(i) for i in range(1, 11)]
    assert len(unit(docs["cam-lo-2023"], "4").children) == 3


def test_sections_and_headings_lang_son(docs):
    d = docs["lang-son-2023"]
    sections = [(u.path, u.heading, u.section_kind) for u in d.units if u.kind == "section"]
    assert sections == [
        ("I", "MỤC ĐÍCH, YÊU CẦU", "purpose"),
        ("II", "MỤC TIÊU CỤ THỂ", "targets"),
        ("III", "NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM", "tasks"),
        ("IV", "KINH PHÍ THỰC HIỆN", "funding"),
        ("V", "TỔ CHỨC THỰC HIỆN", "organisation"),
        ("V (2)", "CHẾ ĐỘ BÁO CÁO", "reporting"),  # the seed numbers two sections V
    ]
    iii = unit(d, "III")
    # heading levels jump (####, ###, ##) and task 7 has no heading at all: numbering decides
    assert [c.path for c in iii.children] == [f"III.{i}" for i in range(1, 9)]
    assert unit(d, "III.5").heading.startswith("Tổ chức Tháng hành động vì trẻ em (từ ngày 01/6")
    assert unit(d, "III.7").heading == "" and unit(d, "III.7").text.startswith("Triển khai thu thập chỉ tiêu")
    assert len(unit(d, "II").children) == 12
    assert [c.kind for c in unit(d, "III.8").children] == ["paragraph"]
    assert unit(d, "I.1").heading == "Mục đích" and len(unit(d, "I.1").children) == 2


def test_sections_tra_cu_and_cut_off_end(docs):
    d = docs["tra-cu-2022"]
    assert [(u.path, u.section_kind) for u in d.units if u.kind == "section"] == [("I", "targets"), ("II", "tasks")]
    assert [c.path for c in unit(d, "II").children] == [f"II.{i}" for i in range(1, 10)]
    assert unit(d, "I ¶1").text.startswith("Xây dựng môi trường sống an toàn")
    # the plan's title lines are header, not body
    assert unit(d, "¶1").text.startswith("Thực hiện Công văn số 485/SLĐTĐBXH-BTXHTTEBĐG")
    # the document is cut off mid-sentence: the last task keeps what there is
    assert unit(d, "II.9").text.endswith("đô thị văn")


@pytest.mark.parametrize(
    ("doc", "path", "joined"),
    [
        ("cam-lo-2023", "4 • 2", "trẻ em có nguy cơ bị xâm hại"),
        ("kien-giang-2017", "3 ¶1", "55a/2013/QĐ-TTg ngày 04/10/2013"),
        ("kien-giang-2017", "6", "xét công nhận xã, phường, thị trấn phù hợp với trẻ em"),
        ("dak-nong-2024", "1 • 4", "của Thủ tướng Chính phủ; tổ chức đánh giá"),
        ("dak-nong-2024", "8 • 2", "lừa đảo trên mạng xã hội"),
        ("dak-nong-2024", "10 • 5", "báo cáo kết qua đánh giá"),
        ("tra-cu-2022", "II.1", "của Ủy ban nhân dân tỉnh ban hành"),
        ("lang-son-2023", "III.2 • 2", "công tác phòng, chống đuối nước trẻ em trong mùa hè"),
        ("lang-son-2023", "V.3", "để triển khai"),
    ],
)
def test_page_breaks_repaired(docs, doc, path, joined):
    u = unit(docs[doc], path)
    assert joined in " ".join(u.text.split()), u.text[-300:]


def test_page_break_repair_swallows_no_item_or_heading(docs):
    d = docs["lang-son-2023"]
    # the heading "8. Nâng cao hiệu quả…" is followed by a plain paragraph: it must not be joined into it
    assert unit(d, "III.8").heading == "Nâng cao hiệu quả hoạt động của Quỹ Bảo trợ trẻ em các cấp"
    assert unit(d, "III.8 ¶1").text.startswith("Ban hành quy chế")
    assert len(unit(d, "III.2").children) == 6  # the split bullet is one bullet, the next bullet stays its own
    dn = docs["dak-nong-2024"]
    assert unit(dn, "4").heading == "Sở Thông tin và Truyền thông"
    assert unit(dn, "4 ¶1").text.startswith("Chỉ đạo, hướng dẫn các cơ quan báo chí")


def test_unnumbered_paragraphs_are_kept(docs):
    kg = docs["kien-giang-2017"]
    assert unit(kg, "2 ¶1").text.startswith("Biểu dương, nhân rộng những điển hình tốt")
    closing = [u for u in kg.units if u.kind == "paragraph" and u.path != "¶1"]
    assert closing[0].text.startswith("Nhận được Công văn") and closing[0].section_kind == "reporting"
    assert closing[1].text.startswith("Giao Sở Lao động- Thương binh và Xã hội theo dõi")
    cl = docs["cam-lo-2023"]
    assert unit(cl, "11 ¶2").text.startswith("Báo cáo về công tác trẻ em định kỳ 6 tháng trước ngày 15/5")
    assert docs["dak-nong-2024"].units[-1].text.startswith("Nhận được Công văn này")


def test_header_and_footer_are_not_tasks(docs):
    for d in docs.values():
        body = " ".join(u.text + " " + u.heading for u in d.walk())
        f = fold(body)
        assert "noi nhan" not in f, d.doc_id
        assert "kinh gui" not in f, d.doc_id
        assert "doc lap - tu do" not in f, d.doc_id
        assert "nhu tren" not in f, d.doc_id


def test_agencies_dak_nong(docs):
    d = docs["dak-nong-2024"]
    agencies = {u.label: u.agency for u in d.units if u.kind == "task"}
    assert agencies["1"] == "Sở Lao động - Thương binh và Xã hội"
    assert agencies["2"] == "Sở Giáo dục và Đào tạo"
    assert agencies["8"] == "Công an tỉnh"
    assert agencies["9"].startswith("Ủy ban MTTQ Việt Nam tỉnh")
    assert agencies["10"] == "Ủy ban nhân dân các huyện, thành phố"
    # items inherit their task's agency
    assert {c.agency for c in unit(d, "2").children} == {"Sở Giáo dục và Đào tạo"}


def test_agencies_lang_son_and_kien_giang(docs):
    ls = docs["lang-son-2023"]
    assert unit(ls, "V.1").agency == "Sở Lao động - Thương binh và Xã hội"
    assert unit(ls, "V.1 • 3").agency == "Sở Lao động - Thương binh và Xã hội"
    assert unit(ls, "V.2").agency == "các sở, ban, ngành liên quan"
    assert unit(ls, "V.3").agency == "UBND các huyện, thành phố"
    assert unit(ls, "III.1").agency == ""  # "Xây dựng, tổ chức…" is a task, not an agency
    kg = docs["kien-giang-2017"]
    assert unit(kg, "6").agency == "Sở Lao động - Thương binh và Xã hội"
    assert unit(kg, "7").agency == "Ủy ban nhân dân các huyện, thị xã, thành phố"


def test_offsets_point_into_normalised_and_original_text(docs):
    for d in docs.values():
        for u in d.walk():
            span = " ".join(d.text[u.start:u.end].split())
            own = u.text or u.heading
            assert " ".join(own.split())[:40] in span, (d.doc_id, u.path)
            o_start, o_end = d.to_original(u.start, u.end)
            assert 0 <= o_start < o_end <= len(d.original)


def test_chunks_cover_tasks_and_have_stable_unique_ids(docs):
    for name, d in docs.items():
        ids = [c.chunk_id for c in d.chunks]
        assert len(ids) == len(set(ids)), name
        again = parse_file(CORPUS / f"{name}.txt", root=CORPUS)
        assert [c.chunk_id for c in again.chunks] == ids
        for c in d.chunks:
            assert c.doc_id == d.doc_id and c.text.strip()
            assert all(ch.isalnum() or ch in "._-~" for ch in c.chunk_id), c.chunk_id
    cl = {c.path: c for c in docs["cam-lo-2023"].chunks}
    assert "Tổng đài 111" in cl["3"].text
    assert cl["4"].text.count("\n") == 3  # the task line and its three items
    ls = {c.path: c for c in docs["lang-son-2023"].chunks}
    assert ls["III.1"].headings == ["III. NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM"]
    assert ls["III.1"].text.startswith("Xây dựng, tổ chức thực hiện có hiệu quả")
    # long tasks also get item-level chunks, carrying the heading chain and agency
    item = ls["III.1 • 5"]
    assert item.text.startswith("Quan tâm bố trí ngân sách địa phương")
    assert item.headings[-1].startswith("1. Xây dựng, tổ chức thực hiện")
    assert ls["V.1"].agency == "Sở Lao động - Thương binh và Xã hội" and ls["V.1"].section_kind == "organisation"
