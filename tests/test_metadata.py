"""Metadata extraction on the five seed directives, sidecar overrides, and odd input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from indexer.models import LegalRef, Metadata
from indexer.parsing.metadata import extract_metadata, extract_references, parse_date
from indexer.parsing.sidecar import apply_overrides, load_sidecar
from indexer.textnorm import normalize_text

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def seed(name: str) -> str:
    return normalize_text((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def metas() -> dict[str, Metadata]:
    return {n: extract_metadata(seed(n))
            for n in ("cam-lo-2023", "kien-giang-2017", "tra-cu-2022", "lang-son-2023", "dak-nong-2024")}


EXPECTED = {
    "cam-lo-2023": dict(
        issuer="UBND huyện Cam Lộ", place="Cam Lộ", level="district", doc_type="Công văn",
        number="364/UBND-LĐTBXH", date="2023-05-08", year=2023,
        subject="hướng dẫn triển khai thực hiện công tác trẻ em năm 2023",
        signer="Nguyễn Thanh Bắc", signer_title="TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        recipients=["Các phòng ban, ngành, tổ chức CT-XH", "UBND các xã, thị trấn"],
    ),
    "kien-giang-2017": dict(
        issuer="UBND tỉnh Kiên Giang", place="Kiên Giang", level="province", doc_type="Công văn",
        number="", date="2017-03-21", year=2017, subject="",
        signer="Mai Văn Huỳnh", signer_title="KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        recipients=["Thủ trưởng các sở, ban ngành cấp tỉnh (Đảng, chính quyền, đoàn thể và DNHH)",
                    "Chủ tịch UBND các huyện, thị xã, thành phố"],
    ),
    "tra-cu-2022": dict(
        issuer="UBND huyện Trà Cú", place="Trà Cú", level="district", doc_type="Kế hoạch",
        number="27/KH-UBND", date="2022-03-16", year=2022,
        subject="Thực hiện công tác trẻ em năm 2022 trên địa bàn huyện Trà Cú",
        signer="", signer_title="", recipients=[],  # the seed is cut before the signature
    ),
    "lang-son-2023": dict(
        issuer="Sở LĐTBXH tỉnh Lạng Sơn", place="Lạng Sơn", level="province", doc_type="Kế hoạch",
        number="", date="2023", year=2023,
        subject="Triển khai thực hiện công tác trẻ em năm 2023 trên địa bàn tỉnh Lạng Sơn",
        signer="Đàm Văn Chính", signer_title="KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC", recipients=[],
    ),
    "dak-nong-2024": dict(
        issuer="UBND tỉnh Đắk Nông", place="Đắk Nông", level="province", doc_type="Công văn",
        number="1434/UBND-KGVX", date="2024-03-14", year=2024,
        subject="triển khai nhiệm vụ trọng tâm công tác trẻ em năm 2024",
        signer="Tôn Thị Ngọc Hạnh", signer_title="KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        recipients=["Sở Lao động - Thương binh và Xã hội", "Sở Giáo dục và Đào tạo", "Sở Y tế",
                    "Sở Thông tin và Truyền thông", "Sở Văn hóa, Thể thao và Du lịch", "Sở Giao thông vận tải",
                    "Sở Tư pháp", "Công an tỉnh", "Ủy ban MTTQ Việt Nam tỉnh",
                    "Các tổ chức chính trị - xã hội tỉnh", "UBND các huyện, thành phố"],
    ),
}

IMPLEMENTS = {
    "cam-lo-2023": ("Công văn", "530/SLĐTBXH-BTXHTE", "2023-03-14", "Sở Lao động"),
    "kien-giang-2017": ("Công văn", "645/LĐTBXH-TE", "2017-02-27", "Bộ Lao động-Thương binh và Xã hội"),
    "tra-cu-2022": ("Công văn", "485/SLĐTĐBXH-BTXHTTEBĐG", "2022-03-11",
                    "Giám đốc Sở Lao động - Thương binh và Xã hội"),
    "lang-son-2023": ("Công văn", "636/LĐTBXH-TE", "2023-02-28", "Bộ Lao động - Thương binh và Xã hội"),
    "dak-nong-2024": ("Công văn", "793/BLĐTBXH-CTE", "2024-02-29", "Bộ Lao động - Thương binh và Xã hội"),
}

# (kind, number or law title, date, issuer) — every instrument each seed cites, in text order
REFERENCES = {
    "cam-lo-2023": [
        ("Công văn", "530/SLĐTBXH-BTXHTE", "2023-03-14", "Sở Lao động – TB&XH"),
        ("Luật", "Luật Trẻ em", "2016", ""),
        ("Nghị quyết", "121/2020/QH14", "2020-06-19", "Quốc hội"),
        ("Kế hoạch", "133/KH-UBND", "2022-07-28", "UBND tỉnh Quảng Trị"),
        ("Nghị định", "56/2017/NĐ-CP", "2017-05-09", "Chính phủ"),
        ("Quyết định", "06/QĐ-TTg", "2019-01-03", "Thủ tướng Chính phủ"),
        ("Thông tư", "13/2021/TT-BLĐTBXH", "2021-09-30", "Bộ trưởng Bộ Lao động - Thương binh và Xã hội"),
    ],
    "kien-giang-2017": [
        ("Công văn", "645/LĐTBXH-TE", "2017-02-27", "Bộ Lao động-Thương binh và Xã hội"),
        ("Luật", "Luật Trẻ em", "", ""),
        ("Chỉ thị", "20-CT/TW", "2012-11-05", "Bộ Chính trị"),
        ("Kế hoạch", "73-KH/TU", "2013-01-28", "Ban Thường vụ Tỉnh ủy"),
        ("Quyết định", "55a/2013/QĐ-TTg", "2013-10-04", "Thủ tướng Chính phủ"),  # date after a page break
        ("Quyết định", "570/QĐ-TTg", "2014-04-22", "Thủ tướng Chính phủ"),
        ("Quyết định", "647/QĐ-TTg", "2013-04-26", "Thủ tướng Chính phủ"),
    ],
    "tra-cu-2022": [
        ("Công văn", "485/SLĐTĐBXH-BTXHTTEBĐG", "2022-03-11", "Giám đốc Sở Lao động - Thương binh và Xã hội"),
        ("Luật", "Luật Trẻ em", "", ""),
        ("Quyết định", "1310/QĐ-UBND", "2019-07-15", "Ủy ban nhân dân tỉnh"),
        ("Quyết định", "1313/QĐ-UBND", "2019-07-15", "Ủy ban nhân dân tỉnh"),
        ("Quyết định", "1305/QĐ-UBND", "2021-07-07", "Ủy ban nhân dân tỉnh"),
        ("Quyết định", "1472/QĐ-TTg", "2020-09-28", "Thủ tướng Chính phủ"),
        ("Nghị quyết", "121/2020/QH14", "2020-06-19", "Quốc hội"),
        ("Quyết định", "2221/QĐ-UBND", "2021-10-07", "Ủy ban nhân dân tỉnh"),
        ("Quyết định", "2983/QĐ-UBND", "2021-12-24", "Ủy ban nhân dân tỉnh"),
        ("Quyết định", "3144/QĐ-UBND", "2021-12-31", "Ủy ban nhân dân tỉnh"),  # "Ủy\n\nban" page break
    ],
    "lang-son-2023": [
        ("Công văn", "636/LĐTBXH-TE", "2023-02-28", "Bộ Lao động - Thương binh và Xã hội"),
        ("Công văn", "1011/VP-KGVX", "2023-03-11", "UBND tỉnh Lạng Sơn"),
        ("Nghị định", "56/2017/NĐ-CP", "", "Chính phủ"),
        ("Luật", "Luật Trẻ em", "", ""),
        ("Công văn", "123/TE-PTTG", "2023-03-21", ""),
        ("Nghị định", "130/2021/NĐ-CP", "2021-12-30", "Chính phủ"),
        ("Thông tư", "13/2021/TT-BLĐTBXH", "2021-09-30", "Bộ trưởng Bộ Lao động - Thương binh và Xã hội"),
        ("Công văn", "2513/LĐTBXH-TTTT", "2022-07-14", ""),
    ],
    "dak-nong-2024": [
        ("Công văn", "793/BLĐTBXH-CTE", "2024-02-29", "Bộ Lao động - Thương binh và Xã hội"),
        ("Quyết định", "06/QĐ-TTg", "2022-01-06", "Thủ tướng Chính phủ"),  # issuer split by a page break
        ("Quyết định", "06/QĐ-TTg", "2019-01-03", "Thủ tướng Chính phủ"),  # same number, other decision
        ("Thông tư", "13/2021/TT-BLĐTBXH", "2021-09-30", "Bộ trưởng Bộ Lao động - Thương binh và Xã hội"),
        ("Kế hoạch", "99/KH-UBND", "2021-03-01", "UBND tỉnh"),
        ("Luật", "Luật Trẻ em", "2016", ""),
        ("Nghị định", "56/2027/NĐ-CP", "", ""),  # the seed's own typo, kept as written
    ],
}

PROVINCES = {  # (province at the time, province after the 2025 merger)
    "cam-lo-2023": ("Quảng Trị", "Quảng Trị"),
    "kien-giang-2017": ("Kiên Giang", "An Giang"),
    "tra-cu-2022": ("Trà Vinh", "Vĩnh Long"),
    "lang-son-2023": ("Lạng Sơn", "Lạng Sơn"),
    "dak-nong-2024": ("Đắk Nông", "Lâm Đồng"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_fields(metas, name):
    m = metas[name]
    got = {k: getattr(m, k) for k in EXPECTED[name]}
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(IMPLEMENTS))
def test_implements(metas, name):
    imp = metas[name].implements
    kind, number, date, issuer = IMPLEMENTS[name]
    assert imp is not None
    assert (imp.kind, imp.number, imp.date) == (kind, number, date)
    assert imp.issuer.startswith(issuer)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_references(metas, name):
    text = seed(name)
    refs = metas[name].references
    got = [(r.kind, r.title if r.kind == "Luật" else r.number, r.date, r.issuer) for r in refs]
    assert got == REFERENCES[name]
    for r in refs:  # offsets point at the citation in the given text
        assert _squash(text[r.start:r.end]) == r.text
        assert r.text.lower().startswith(r.kind.lower())


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


@pytest.mark.parametrize("name", sorted(PROVINCES))
def test_province_via_gazetteer(metas, name):
    m = metas[name]
    assert (m.province, m.province_current) == PROVINCES[name]


def test_title_composes_from_fields(metas):
    assert metas["cam-lo-2023"].title == "Công văn 364/UBND-LĐTBXH — UBND huyện Cam Lộ (2023)"


def test_number_normalisation_variants():
    for header, number in [("Số: 364/UBND-LĐT BXH", "364/UBND-LĐTBXH"), ("Số: 1434 /UBND-KGVX", "1434/UBND-KGVX"),
                           ("Số: /KH-SLĐTBXH", ""), ("Số:   27/KH-UBND", "27/KH-UBND")]:
        assert extract_metadata(f"{header}\n\nHà Nội, ngày 1 tháng 2 năm 2024\n").number == number


def test_reference_variants():
    text = ("theo Quyết định 06/QĐ-TTg ngày 03 tháng 1 năm 2019 của Thủ tướng Chính phủ; Nghị quyết số "
            "121/2020/QH14 ngày\n\n19/6/2020 của Quốc hội; lại Nghị quyết số 121/2020/QH14 của Quốc hội; "
            "Luật Bình đẳng giới năm 2006 và theo luật định; Quyết định số 12/QĐ-UBND ngày 11 tháng 03 năm 2022.")
    got = [(r.kind, r.number, r.date, r.issuer, r.title) for r in extract_references(text)]
    assert got == [
        ("Quyết định", "06/QĐ-TTg", "2019-01-03", "Thủ tướng Chính phủ", ""),
        ("Nghị quyết", "121/2020/QH14", "2020-06-19", "Quốc hội", ""),
        ("Luật", "", "2006", "", "Luật Bình đẳng giới"),
        ("Quyết định", "12/QĐ-UBND", "2022-03-11", "", ""),
    ]
    # a dated citation replaces an earlier undated one of the same instrument
    refs = extract_references("Nghị định số 56/2017/NĐ-CP của Chính phủ; Nghị định số 56/2017/NĐ-CP ngày 09/5/2017.")
    assert [(r.number, r.date) for r in refs] == [("56/2017/NĐ-CP", "2017-05-09")]


def test_parse_date_forms():
    assert parse_date("ngày 28 tháng 7 năm 2022") == "2022-07-28"
    assert parse_date("28/7/2022") == "2022-07-28"
    assert parse_date("2023-05-08") == "2023-05-08"
    assert parse_date("2023") == "2023"
    assert parse_date("sometime") == ""


@pytest.mark.parametrize("odd", ["", "   \n\n", "lorem ipsum dolor sit amet\n" * 5, "Số:\nKính gửi:\n- \n",
                                 "\x00\ufeff###***", "Luật, Quyết định số , ngày 99/99/9999 của"])
def test_odd_input_gives_empty_fields(odd):
    m = extract_metadata(odd)
    assert (m.issuer, m.place, m.level, m.number, m.date, m.year, m.subject, m.signer) == ("", "", "", "", "", None, "", "")
    assert m.references == [] and m.implements is None and m.recipients == []


def test_sidecar_overrides_number_and_date(tmp_path):
    doc = tmp_path / "lang-son-2023.txt"
    shutil.copy(CORPUS / "lang-son-2023.txt", doc)
    (tmp_path / "lang-son-2023.meta.yaml").write_text(
        "number: 512/KH-SLĐTBXH\ndate: 2023-03-20\nrecipients:\n  - Các sở, ban, ngành tỉnh\n", encoding="utf-8")
    overrides = load_sidecar(doc)
    assert overrides == {"number": "512/KH-SLĐTBXH", "date": "2023-03-20", "recipients": ["Các sở, ban, ngành tỉnh"]}
    parsed = extract_metadata(normalize_text(doc.read_text(encoding="utf-8")))
    m = apply_overrides(parsed, overrides)
    assert (m.number, m.date, m.year) == ("512/KH-SLĐTBXH", "2023-03-20", 2023)
    assert m.parsed == {"number": "", "date": "2023", "recipients": []}
    assert m.overrides == overrides
    assert m.issuer == "Sở LĐTBXH tỉnh Lạng Sơn"  # untouched fields stay as parsed
    assert parsed.number == "" and parsed.parsed == {}  # the input is not mutated


def test_sidecar_year_and_date_types(tmp_path):
    doc = tmp_path / "x.txt"
    doc.write_text("x", encoding="utf-8")
    assert load_sidecar(doc) == {}
    (tmp_path / "x.meta.yaml").write_text("year: '2021'\ndate: 08/05/2021\nlevel: district\n", encoding="utf-8")
    assert load_sidecar(doc) == {"year": 2021, "date": "2021-05-08", "level": "district"}


def test_sidecar_unknown_key_names_file_and_key(tmp_path):
    doc = tmp_path / "cam-lo.txt"
    doc.write_text("x", encoding="utf-8")
    (tmp_path / "cam-lo.meta.yaml").write_text("numbr: 1/UBND\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cam-lo\.meta\.yaml.*numbr"):
        load_sidecar(doc)
    (tmp_path / "cam-lo.meta.yaml").write_text("year: soon\n", encoding="utf-8")
    with pytest.raises(ValueError, match="year"):
        load_sidecar(doc)


def test_sidecar_place_recomputes_province(metas):
    m = apply_overrides(metas["cam-lo-2023"], {"place": "Trà Cú"})
    assert (m.place, m.province, m.province_current) == ("Trà Cú", "Trà Vinh", "Vĩnh Long")
    assert m.parsed == {"place": "Cam Lộ"}
    kept = apply_overrides(metas["cam-lo-2023"], {"place": "Trà Cú", "province": "Tỉnh X"})
    assert kept.province == "Tỉnh X"


def test_implements_ref_is_a_legalref(metas):
    imp = metas["lang-son-2023"].implements
    assert isinstance(imp, LegalRef) and imp in metas["lang-son-2023"].references


def test_two_column_header_and_law_with_number():
    """A docx-style header puts issuer and motto, number and date on the same lines."""
    text = ("ỦY BAN NHÂN DÂN\t\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            "XÃ CAM THÀNH\t\tĐộc lập - Tự do - Hạnh phúc\n-------\t\t---------\n"
            "Số: 12/CT-UBND\t\tCam Thành, ngày 3 tháng 4 năm 2020\n\nCHỈ THỊ\nVề việc tăng cường công tác trẻ em\n\n"
            "Căn cứ Luật Trẻ em số 102/2016/QH13 ngày 05/4/2016;\n\nTM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH\n(Đã ký)\n\nNGUYỄN VĂN AN\n")
    m = extract_metadata(text)
    assert (m.issuer, m.place, m.level, m.doc_type, m.number, m.date) == (
        "UBND xã Cam Thành", "Cam Thành", "commune", "Chỉ thị", "12/CT-UBND", "2020-04-03")
    assert (m.subject, m.signer, m.signer_title) == ("tăng cường công tác trẻ em", "Nguyễn Văn An",
                                                       "TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH")
    law = m.references[0]
    assert (law.kind, law.title, law.number, law.date) == ("Luật", "Luật Trẻ em", "102/2016/QH13", "2016-04-05")
