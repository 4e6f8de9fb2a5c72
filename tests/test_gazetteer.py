"""Gazetteer: pre-2025 units, tolerant lookup, and the 63 -> 34 province mapping."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from indexer.parsing import places as g

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _corpus_place(stem: str, pattern: str) -> str:
    """The place name as the real document writes it (header or place-and-date line)."""
    text = unicodedata.normalize("NFC", (CORPUS / f"{stem}.txt").read_text(encoding="utf-8"))
    m = re.search(pattern, text)
    assert m, f"{stem}: {pattern!r} not found"
    return m.group(1).strip()


def test_cam_lo_district_from_corpus_header():
    written = _corpus_place("cam-lo-2023", r"(HUYỆN CAM LỘ)")
    u = g.resolve(written)
    assert u is not None
    assert (u.name, u.kind, u.level, u.province, u.province_current) == (
        "Cam Lộ", "huyện", "district", "Quảng Trị", "Quảng Trị")


def test_tra_cu_from_corpus_maps_to_vinh_long():
    written = _corpus_place("tra-cu-2022", r"(?m)^(.+?), ngày \d+")
    assert written == "Trà Cú"
    u = g.resolve(written)
    assert u and u.level == "district" and u.province == "Trà Vinh" and u.province_current == "Vĩnh Long"
    assert g.current_province("Trà Vinh") == "Vĩnh Long"
    assert "Trà Vinh" in g.old_provinces("Vĩnh Long")


def test_dak_nong_province_from_corpus_header():
    written = _corpus_place("dak-nong-2024", r"(TỈNH ĐẮK NÔNG)")
    u = g.resolve(written)
    assert u and u.level == "province" and u.kind == "tỉnh" and u.name == "Đắk Nông"
    assert u.province_current == "Lâm Đồng"
    assert g.old_provinces("Lâm Đồng") == ["Bình Thuận", "Lâm Đồng", "Đắk Nông"]
    assert g.old_provinces("Đắk Nông") == ["Đắk Nông"]


def test_kien_giang_into_an_giang():
    written = _corpus_place("kien-giang-2017", r"(?m)^(.+?), ngày \d+")
    u = g.resolve(written)
    assert u and u.name == "Kiên Giang" and u.province_current == "An Giang"
    assert g.old_provinces("An Giang") == ["An Giang", "Kiên Giang"]


def test_lang_son_unchanged_and_city_vs_province():
    assert g.current_province("Lạng Sơn") == "Lạng Sơn"
    assert g.old_provinces("Lạng Sơn") == ["Lạng Sơn"]
    assert g.resolve("Lạng Sơn").level == "province"
    city = g.resolve("Thành phố Lạng Sơn")
    assert city and (city.level, city.kind, city.province) == ("district", "thành phố thuộc tỉnh", "Lạng Sơn")
    assert g.resolve("Lạng Sơn", level="district") == city
    levels = [u.level for u in g.lookup("Lạng Sơn")]
    assert levels == sorted(levels, key=g.LEVELS.index) and levels[0] == "province"


@pytest.mark.parametrize("q", ["Cam Lo", "cam lo", "huyen Cam Lo", "UBND huyện Cam Lộ",
                               unicodedata.normalize("NFD", "Cam Lộ")])
def test_tolerant_spellings(q):
    u = g.resolve(q)
    assert u and u.name == "Cam Lộ" and u.level == "district"


def test_tone_placement_and_prefixes():
    assert g.resolve("Hoà Bình") == g.resolve("Hòa Bình") == g.resolve("tỉnh Hoà Bình")
    assert g.resolve("Hoà Bình").province_current == "Phú Thọ"
    assert g.resolve("TP. Hồ Chí Minh").name == "Hồ Chí Minh"
    assert g.resolve("TP.HCM").name == "Hồ Chí Minh"
    assert g.resolve("Thành phố Cần Thơ").kind == "thành phố trực thuộc trung ương"
    assert g.resolve("Đắc Nông").name == "Đắk Nông"  # common misspelling
    assert g.resolve("Thừa Thiên Huế").name == "Huế"  # name used until 2025


def test_counts_and_mapping_is_a_partition():
    provinces = [u for u in g._index().units if u.level == "province"]
    assert len(provinces) == 63
    assert len(g.current_province_names()) == 34
    assert len(g.province_names()) == 63
    cur = set(g.current_province_names())
    assert all(u.province_current in cur for u in provinces)
    covered = Counter(p for c in cur for p in g.old_provinces(c))
    assert set(covered) == {u.name for u in provinces} and set(covered.values()) == {1}
    assert len([u for u in g._index().units if u.level == "district"]) == 696


def test_district_and_commune_details():
    commune = g.resolve("Cam Lộ", level="commune")
    assert commune and (commune.kind, commune.district, commune.province) == ("thị trấn", "Cam Lộ", "Quảng Trị")
    # Trà Vinh has both a huyện and a thị xã Duyên Hải: both kept, bare name ambiguous
    kinds = {u.kind for u in g.lookup("Duyên Hải", level="district")}
    assert kinds == {"huyện", "thị xã"}
    assert g.resolve("Duyên Hải") is None
    assert g.resolve("Thị xã Duyên Hải").kind == "thị xã"


def test_ambiguous_name_needs_hint():
    assert g.resolve("Châu Thành") is None
    u = g.resolve("Châu Thành", province_hint="Trà Vinh")
    assert u and u.province == "Trà Vinh"
    assert all(u.province_current == "Vĩnh Long" for u in g.lookup("Châu Thành", province="Vĩnh Long"))
    assert g.lookup("Cam Lộ", province="Lạng Sơn") == []


def test_unknown_names():
    assert g.resolve("Atlantis") is None
    assert g.resolve("") is None
    assert g.lookup("xyz qwe") == []
    assert g.current_province("Atlantis") == ""
    assert g.old_provinces("Atlantis") == []


def test_data_file_cites_its_source():
    doc = json.loads(g.DATA.read_text(encoding="utf-8"))
    src = doc["source"]
    assert src["package"] == "vietnamadminunits" and src["license"] == "MIT" and src["version"]
    assert "202/2025/QH15" in src["mapping"]
