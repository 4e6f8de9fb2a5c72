"""Normalisation on the seed directives: NFC, tone placement, offsets back to the original, fold, tokens."""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import pytest

from indexer.textnorm import canonical_tones, fold, normalize, normalize_text, syllables, tokenize

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = sorted(CORPUS.glob("*.txt"))


def _seed(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def test_seeds_present():
    assert len(SEEDS) >= 5


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_nfd_seed_normalises_like_nfc_seed(path: Path):
    text = path.read_text(encoding="utf-8")
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    a, b = normalize(text), normalize(nfd)
    assert a.text == b.text
    assert unicodedata.is_normalized("NFC", b.text)
    assert b.offsets[-1] == len(nfd) and len(b.offsets) == len(b.text) + 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hoà", "hòa"), ("hoá", "hóa"), ("uỷ", "ủy"), ("thuỷ", "thủy"), ("thoả", "thỏa"), ("khoẻ", "khỏe"),
        ("HOÀ", "HÒA"), ("Hoà", "Hòa"), ("Uỷ ban", "Ủy ban"), ("CỘNG HOÀ", "CỘNG HÒA"), ("khoẻ mạnh", "khỏe mạnh"),
        ("gìa", "già"),  # gi onset: the mark belongs on a
    ],
)
def test_canonical_tone_placement(old: str, new: str):
    assert canonical_tones(old) == new
    assert normalize_text(old) == new
    assert canonical_tones(new) == new


@pytest.mark.parametrize(
    "word",
    ["quý", "Quý", "hoàn", "HOÀN", "thuyền", "người", "ngoài", "khuỷu", "xoáy", "quốc", "giữa", "gì", "tuần",
     "thuở", "toán", "hoạch", "mía", "múa", "café", "Covid"],
)
def test_correct_placement_is_left_alone(word: str):
    assert canonical_tones(word) == word


def test_both_spellings_in_seeds_meet():
    cam_lo = normalize_text(_seed("cam-lo-2023.txt"))  # writes "CỘNG HOÀ"
    dak_nong = normalize_text(_seed("dak-nong-2024.txt"))  # writes "CỘNG HÒA"
    assert "CỘNG HÒA" in cam_lo and "CỘNG HOÀ" not in cam_lo
    assert "CỘNG HÒA" in dak_nong


def test_character_fixes_keep_lines():
    s = "Ðắk\u00a0Nông\u202fxã\u200b\r\nđuối\ufeff nước\u2009a"
    n = normalize(s)
    assert n.text == "Đắk Nông xã\nđuối nước a"
    assert n.text.count("\n") == s.count("\n")
    assert "“Chung tay”" in normalize_text("chủ đề **“Chung tay”**")  # smart quotes are content


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_offsets_map_words_back(path: Path):
    original = path.read_text(encoding="utf-8")
    n = normalize(original)
    assert len(n.offsets) == len(n.text) + 1 and n.offsets[-1] == len(original)
    assert n.offsets == sorted(n.offsets)
    assert n.text.count("\n") == original.count("\n")  # lines stay 1:1 for the structure parser
    words = [t for t in tokenize(n.text) if t.kind != "punct"]
    assert len(words) > 500
    for t in words:
        back = original[n.offsets[t.start]:n.offsets[t.end]].replace("**", "").replace("*", "").strip()
        assert canonical_tones(back) == t.text, (t, back)


def test_offsets_on_nfd_input_cover_whole_syllables():
    original = unicodedata.normalize("NFD", "Phòng chống đuối nước cho trẻ em")
    n = normalize(original)
    i = n.text.index("đuối")
    back = original[n.offsets[i]:n.offsets[i + len("đuối")]]
    assert unicodedata.normalize("NFC", back) == "đuối"


@pytest.mark.parametrize(
    ("md", "plain"),
    [
        ("Số: **364**/UBND-LĐT BXH", "Số: 364/UBND-LĐT BXH"),
        ("Số: *1434* /UBND-KGVX", "Số: 1434 /UBND-KGVX"),
        ("### **III. NHIỆM VỤ, GIẢI PHÁP**", "III. NHIỆM VỤ, GIẢI PHÁP"),
        ("#### 4. Sở Thông tin", "4. Sở Thông tin"),
        ("> trích dẫn", "trích dẫn"),
        ("**KT. CHỦ TỊCH  \nPHÓ CHỦ TỊCH**", "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH"),
        (r"1\. Mục đích \*", "1. Mục đích *"),
        ("- item", "- item"),
        ("* mục", "- mục"),
        ("  * mục con", "  - mục con"),
        ("5*3 = 15 và a * b", "5*3 = 15 và a * b"),
        ("#hashtag", "#hashtag"),
    ],
)
def test_markdown_noise(md: str, plain: str):
    assert normalize_text(md) == plain


def test_markdown_kept_when_asked():
    assert normalize("**364**/UBND", strip_markdown=False).text == "**364**/UBND"


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_seed_markdown_gone_bullets_kept(path: Path):
    original = path.read_text(encoding="utf-8")
    text = normalize_text(original)
    assert "**" not in text
    assert not any(line.lstrip().startswith("#") for line in text.split("\n"))
    bullets = sum(1 for line in original.split("\n") if line.startswith("- "))
    assert sum(1 for line in text.split("\n") if line.startswith("- ")) == bullets


def test_fold():
    assert fold("Đuối nước") == "duoi nuoc"
    assert fold("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM") == "cong hoa xa hoi chu nghia viet nam"
    assert fold("ĐẮK NÔNG") == "dak nong"
    assert len(fold("İstanbul")) == len("İstanbul")


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_fold_is_length_preserving(path: Path):
    original = path.read_text(encoding="utf-8")
    text = normalize_text(original)
    folded = fold(text)
    assert len(folded) == len(text) and len(fold(original)) == len(original)
    i = folded.find("tre em")
    assert i >= 0 and fold(text[i:i + 6]) == "tre em" and text[i:i + 6].lower() == "trẻ em"


def test_tokenize_codes_and_syllables():
    s = "Nghị định số 56/2017/NĐ-CP ngày 14/3/2023 (Tổng đài 111), Covid-19; tỷ lệ 17,5%."
    toks = tokenize(s)
    texts = [t.text for t in toks]
    for code in ("56/2017/NĐ-CP", "14/3/2023", "111", "Covid-19", "17,5"):
        assert code in texts
        assert next(t for t in toks if t.text == code).kind == "number"
    assert [t.text for t in toks if t.kind == "word"][:3] == ["Nghị", "định", "số"]
    assert all(s[t.start:t.end] == t.text for t in toks)
    assert {t.text for t in toks if t.kind == "punct"} == {"(", ")", ",", ";", "%", "."}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_tokenize_never_splits_a_syllable(path: Path):
    text = normalize_text(path.read_text(encoding="utf-8"))
    for form in (text, unicodedata.normalize("NFD", text)):
        toks = tokenize(form)
        for a, b in itertools.pairwise(toks):
            if a.end == b.start:  # adjacent tokens: never two letter runs glued together
                assert not (a.text[-1].isalpha() and b.text[0].isalpha()), (a, b)
            assert not unicodedata.combining(b.text[0]), b  # a tone mark never starts a token
    words = syllables(text)
    assert "trẻ" in words and "em" in words and all(w == w.lower() for w in words)


def test_syllables():
    assert syllables("Phòng, chống ĐUỐI NƯỚC 2023") == ["phòng", "chống", "đuối", "nước", "2023"]
