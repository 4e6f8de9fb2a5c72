"""Resolving "Thực hiện Công văn số …" numbers against document numbers: the variants the seeds show."""

from __future__ import annotations

import pytest

from indexer.parsing.metadata import extract_references
from search_api.drafting.guidance_links import codes_agree, dates_agree, number_key


@pytest.mark.parametrize("cited, number", [
    ("530/SLĐT BXH-BTXHTE", "530/SLĐTBXH-BTXHTE"),  # Cam Lộ's stray space (the parser joins it too)
    ("530/SLĐTBXH - BTXHTE", "530/SLĐTBXH-BTXHTE"),
    ("530/SLDTBXH-BTXHTE", "530/SLĐTBXH-BTXHTE"),  # no đ
    ("485/SLĐTĐBXH-BTXHTTEBĐG", "485/SLĐTBXH-BTXHTTEBĐG"),  # Trà Cú's doubled Đ: a typo
    ("636/LĐTBXH-TE", "636/BLĐTBXH-TE"),  # with or without the Ministry's B
    ("0530/SLĐTBXH-BTXHTE", "530/SLĐTBXH-BTXHTE"),
])
def test_variants_of_one_number_agree(cited, number):
    a, b = number_key(cited), number_key(number)
    assert a.serial == b.serial and codes_agree(a.code, b.code)


@pytest.mark.parametrize("cited, number", [
    ("530/SLĐTBXH-BTXHTE", "531/SLĐTBXH-BTXHTE"),  # another serial
    ("530/SLĐTBXH-BTXHTE", "530/UBND-VX"),  # another issuer's code
])
def test_different_numbers_do_not(cited, number):
    a, b = number_key(cited), number_key(number)
    assert a.serial != b.serial or not codes_agree(a.code, b.code)


def test_dates_and_blank_numbers():
    assert dates_agree("2023-03-14", "2023-03-14") and not dates_agree("2023-03-14", "2023-03-15")
    assert dates_agree("2023", "2023-03-14") and not dates_agree("2022", "2023-03-14") and dates_agree("", "2023")
    assert number_key("/KH-SLĐTBXH") is None and number_key("") is None


def test_the_parser_reads_the_seed_citation_as_the_documents_number():
    [ref] = extract_references("Thực hiện Công văn số 530/SLĐT BXH-BTXHTE, ngày 14/3/2023 của Sở Lao động – TB&XH")
    assert ref.number == "530/SLĐTBXH-BTXHTE" and ref.date == "2023-03-14"
