"""Word-level redline on real seed pairs: exactly the edits a drafter made, nothing else; normalisation noise
(tone placement, NFD, markdown, line breaks) is never reported as a change."""

from __future__ import annotations

import re
import unicodedata

import pytest
from seedtext import bullet, task

from search_api.alignment.redline import Redline, redline, render_html, render_markdown, render_text


def changes(rl: Redline) -> list[tuple[str, str, str]]:
    return [(o.op, o.a_text, o.b_text) for o in rl.ops if o.op != "equal"]


def assert_tiles(rl: Redline, a: str, b: str) -> None:
    """Ops reproduce both originals exactly and their offsets point at their text."""
    assert "".join(o.a_text for o in rl.ops) == a
    assert "".join(o.b_text for o in rl.ops) == b
    for o in rl.ops:
        assert a[o.a_start:o.a_end] == o.a_text and b[o.b_start:o.b_end] == o.b_text
    assert all(x.a_end == y.a_start and x.b_end == y.b_start for x, y in zip(rl.ops, rl.ops[1:], strict=False))


def test_cam_lo_3_vs_tra_cu_3_exact_edits():
    a, b = task("cam-lo-2023", 3), task("tra-cu-2022", 3)
    assert "quyền trẻ em, phù hợp" in a and "quyền trẻ em, bổn phận của trẻ em phù hợp" in b
    assert "(Tổng đài 111, thông qua Zalo tổng đài 111)" in a and "(Tổng đài 111)" in b
    rl = redline(a, b)
    assert changes(rl) == [
        ("insert", "", "bổn phận của trẻ em "),
        ("delete", ", thông qua Zalo tổng đài 111", ""),
    ]
    assert_tiles(rl, a, b)
    assert rl.changed_words == 5 + 6
    assert 0.9 < rl.similarity < 1.0
    # the long shared stretches fold away in the HTML view
    assert any(o.collapsible for o in rl.ops)
    assert render_text(rl).count("[-") == 1 and "{+bổn phận của trẻ em+} phù hợp" in render_text(rl)
    assert "(Tổng đài 111[-, thông qua Zalo tổng đài 111-])" in render_text(rl)


def test_cam_lo_7_vs_tra_cu_8_thang_hanh_dong():
    a, b = task("cam-lo-2023", 7), task("tra-cu-2022", 8)
    rl = redline(a, b)
    assert changes(rl) == [
        ("replace", "2023",
         "2022 với chủ đề **“Chung tay bảo vệ trẻ em hãy lên tiếng phòng, chống xâm hại, bạo lực trẻ em”**"),
        ("replace",
         "trách nhiệm của mỗi ngành và công tác phối hợp giữa các ngành Lao động - Thương binh và Xã hội; "
         "Văn hóa - Thông tin, TDTT; Giáo dục và Đào tạo; Y tế; các tổ chức chính trị - xã hội và các cơ quan, "
         "tổ chức có liên quan tại địa phương",
         "thực hiện các biện pháp phòng ngừa, ứng phó để bảo vệ trẻ em kịp thời, hiệu quả, nhất là trong gia đình "
         "và cơ sở giáo dục"),
    ]
    # the shared opening and the sentence break ". Tăng cường" stay visible as equal text
    assert [o.a_text for o in rl.ops if o.op == "equal"] == ["Triển khai Tháng hành động vì trẻ em năm ",
                                                             ". Tăng cường ", "."]
    assert_tiles(rl, a, b)
    assert rl.similarity < 0.3


def test_tra_cu_6_vs_lang_son_ngan_sach_bullet():
    a, b = task("tra-cu-2022", 6), bullet("lang-son-2023", "Quan tâm bố trí ngân sách địa phương")
    rl = redline(a, b)
    assert changes(rl) == [
        ("replace", "Bố ", "Quan tâm bố "),  # case counts: "Bố" -> "bố" is part of the edit
        ("replace", "cá nhân, tổ chức ", "tổ chức, cá nhân trong và ngoài nước "),
        ("replace", "do Covid-19 ", ", trẻ em bị ảnh hưởng bởi thiên tai, dịch bệnh "),
        ("replace", "cho trẻ em các xã đặc biệt ", "..., chú trọng trẻ em có hoàn cảnh "),
        ("insert", "", "đồng bào "),
        ("insert", "", "và miền núi"),
    ]
    assert_tiles(rl, a, b)
    assert rl.a_words == 85 and rl.b_words == 104


@pytest.mark.parametrize(("a", "b"), [
    ("Văn hoà - Thông tin", "Văn hòa - Thông tin"),
    ("Ủy ban nhân dân, thuỷ lợi", "Ủy ban nhân dân, thủy lợi"),
    (unicodedata.normalize("NFD", "Tổng đài điện thoại quốc gia bảo vệ trẻ em"),
     "Tổng đài điện thoại quốc gia bảo vệ trẻ em"),
    ("thông tin về **Tổng đài** 111", "thông tin về Tổng đài 111"),
    ("chung tay *bảo vệ* trẻ em", "chung tay bảo vệ trẻ em"),
    ("Ủy\nban nhân dân tỉnh về việc", "Ủy ban   nhân dân tỉnh về việc"),
])
def test_normalisation_noise_is_not_a_change(a, b):
    rl = redline(a, b)
    assert changes(rl) == []
    assert rl.similarity == 1.0 and rl.changed_words == 0
    assert_tiles(rl, a, b)


def test_case_change_is_a_change():
    rl = redline("Luật trẻ em", "Luật Trẻ em")
    assert changes(rl) == [("replace", "trẻ ", "Trẻ ")]


def test_syllables_and_codes_are_never_split():
    rl = redline("theo Nghị định số 56/2017/NĐ-CP ngày 09/5/2017", "theo Nghị định số 56/2016/NĐ-CP ngày 09/5/2017")
    assert changes(rl) == [("replace", "56/2017/NĐ-CP ", "56/2016/NĐ-CP ")]
    rl = redline("trẻ em", "trẻ en")
    assert changes(rl) == [("replace", "em", "en")]


def test_identical_and_totally_different():
    a = task("cam-lo-2023", 3)
    same = redline(a, a)
    assert same.similarity == 1.0 and changes(same) == [] and len(same.ops) == 1 and same.ops[0].collapsible
    other = redline(a, "Báo cáo kết quả gửi về Sở trước ngày 15/12/2023.")
    assert other.similarity < 0.1
    assert redline("", "").similarity == 1.0 and redline("", "").ops == []


def test_reconstruction_on_messy_markdown():
    a = "#### **5. Tổ chức Tháng hành động vì trẻ em (từ ngày 01/6 đến ngày 30/6)**\n\n- Tham mưu *tổ chức*"
    b = "5. Tổ chức  Tháng hành động Vì trẻ em\r\n(từ ngày 01/6 đến ngày 30/6)\n- Tham mưu tổ chức các hoạt động"
    rl = redline(a, b)
    assert_tiles(rl, a, b)
    assert changes(rl) == [("replace", "vì ", "Vì "), ("insert", "", "các hoạt động")]
    assert render_text(rl).endswith("- Tham mưu *tổ chức* {+các hoạt động+}")
    assert redline(" ", "x").ops[0].a_text == " "


def test_html_is_escaped_and_marks_changes():
    a = "Nội dung <script>alert(1)</script> giữ nguyên & cập nhật"
    b = "Nội dung giữ nguyên & cập nhật mới"
    html = str(render_html(redline(a, b)))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;" in html
    assert re.search(r'<del title="[^"]+">&lt;script&gt;alert\(1\)&lt;/script&gt;</del>', html)
    assert re.search(r'<ins title="[^"]+">mới</ins>', html)


def test_html_collapses_long_equal_runs():
    a, b = task("cam-lo-2023", 3), task("tra-cu-2022", 3)
    html = str(render_html(redline(a, b)))
    assert html.count('<details class="collapsed-run">') == 3
    assert "<summary>… 25 từ giống nhau …</summary>" in html  # "Đẩy mạnh … quyền trẻ em," has 25 syllables
    assert str(render_html(redline(a, b, collapse_min=10_000))).count("<details") == 0


def test_markdown_and_text_renderings():
    rl = redline("gọi Tổng đài [111] miễn phí", "gọi Tổng đài [111] ngay")
    md = render_markdown(rl)
    assert md == "gọi Tổng đài \\[111\\] ~~miễn phí~~**ngay**"  # specials in the text are escaped
    rl = redline(task("cam-lo-2023", 3), task("tra-cu-2022", 3))
    md = render_markdown(rl)
    assert "**bổn phận của trẻ em** phù hợp" in md
    assert "111~~, thông qua Zalo tổng đài 111~~)" in md


def test_deletion_slides_to_punctuation_boundary():
    # difflib anchors on the long shared tail and would delete "số 111, "; the readable edit is ", số 111"
    rl = redline("Xem số 111, số 111) và các dịch vụ khác tại địa phương",
                 "Xem số 111) và các dịch vụ khác tại địa phương")
    assert changes(rl) == [("delete", ", số 111", "")]
    assert render_text(rl) == "Xem số 111[-, số 111-]) và các dịch vụ khác tại địa phương"
