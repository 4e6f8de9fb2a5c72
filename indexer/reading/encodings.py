"""Bytes of a text file → text. Vietnamese files come in many encodings, most of them unlabelled.

UTF-8 (sometimes double-encoded), UTF-16 from Word's "Unicode text", Windows-1258 (base letter + combining
tone), and the pre-Unicode 8-bit font encodings TCVN3 (ABC, ".VnTime") and VNI-Windows. Legacy bytes carry no
label, so every candidate decoding is scored by how Vietnamese the result looks and the best plausible one
wins. The text returned is *not* normalised: it is the original shown to users.
"""

from __future__ import annotations

import re
import unicodedata

from indexer.reading.errors import ReadError
from indexer.textnorm import canonical_tones

__all__ = ["decode_bytes", "encode_legacy", "repair_mojibake"]


# --- legacy Vietnamese encodings ---------------------------------------------------------------------------

_TONES = "\u0301\u0300\u0309\u0303\u0323"  # sắc, huyền, hỏi, ngã, nặng: the order of the tables below


def _vi(base: str, tone_index: int | None) -> str:
    return unicodedata.normalize("NFC", base + (_TONES[tone_index] if tone_index is not None else ""))


# TCVN3 (TCVN 5712:1993 VN3, the ".VnTime" ABC fonts): one byte per lower-case letter; capitals with tones
# were drawn by separate upper-case fonts using the same bytes, so they decode as lower case here.
# Per base: unmarked, then sắc, huyền, hỏi, ngã, nặng.
_TCVN3_ROWS = {
    "a": (None, 0xB8, 0xB5, 0xB6, 0xB7, 0xB9),
    "ă": (0xA8, 0xBE, 0xBB, 0xBC, 0xBD, 0xC6),
    "â": (0xA9, 0xCA, 0xC7, 0xC8, 0xC9, 0xCB),
    "e": (None, 0xD0, 0xCC, 0xCE, 0xCF, 0xD1),
    "ê": (0xAA, 0xD5, 0xD2, 0xD3, 0xD4, 0xD6),
    "i": (None, 0xDD, 0xD7, 0xD8, 0xDC, 0xDE),
    "o": (None, 0xE3, 0xDF, 0xE1, 0xE2, 0xE4),
    "ô": (0xAB, 0xE8, 0xE5, 0xE6, 0xE7, 0xE9),
    "ơ": (0xAC, 0xED, 0xEA, 0xEB, 0xEC, 0xEE),
    "u": (None, 0xF3, 0xEF, 0xF1, 0xF2, 0xF4),
    "ư": (0xAD, 0xF8, 0xF5, 0xF6, 0xF7, 0xF9),
    "y": (None, 0xFD, 0xFA, 0xFB, 0xFC, 0xFE),
}
_TCVN3_DECODE: dict[int, str] = {0xAE: "đ", 0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ"}
for _base, _row in _TCVN3_ROWS.items():
    for _i, _b in enumerate(_row):
        if _b is not None:
            _TCVN3_DECODE[_b] = _vi(_base, _i - 1 if _i else None)
_TCVN3_ENCODE = {ch: bytes([b]) for b, ch in _TCVN3_DECODE.items()}
for _ch, _bs in list(_TCVN3_ENCODE.items()):
    _TCVN3_ENCODE.setdefault(_ch.upper(), _bs)  # toned capitals share the lower-case bytes
# a toned letter from the shared range: decoded lower case, may have been a capital
_TCVN3_AMBIGUOUS = frozenset(ch for b, ch in _TCVN3_DECODE.items() if ch.islower() and b not in (0xAE,) and
                             ch not in "ăâêôơư")

# VNI-Windows: ASCII base letter followed by a modifier byte (Latin-1 look-alikes), except ơ ư đ and the toned
# i/ỵ, which are single bytes. Lower-case letters use lower-case modifiers, capitals upper-case ones.
_VNI_TONE = {"": ("ù", "ø", "û", "õ", "ï"), "U": ("Ù", "Ø", "Û", "Õ", "Ï")}
_VNI_CIRC = {"": ("â", "á", "à", "å", "ã", "ä"), "U": ("Â", "Á", "À", "Å", "Ã", "Ä")}  # plain, then 5 tones
_VNI_BREVE = {"": ("ê", "é", "è", "ú", "ü", "ë"), "U": ("Ê", "É", "È", "Ú", "Ü", "Ë")}
_VNI_SINGLE = {"": {"ơ": "ô", "ư": "ö", "đ": "ñ"}, "U": {"Ơ": "Ô", "Ư": "Ö", "Đ": "Ñ"}}
_VNI_I = {"": ("í", "ì", "æ", "ó", "ò"), "U": ("Í", "Ì", "Æ", "Ó", "Ò")}
_VNI_Y_DOT = {"": "î", "U": "Î"}


def _build_vni() -> dict[str, str]:
    """Unicode letter → VNI byte string (as Latin-1 chars)."""
    enc: dict[str, str] = {}
    for case in ("", "U"):
        up = str.upper if case else str.lower
        tone, circ, breve = _VNI_TONE[case], _VNI_CIRC[case], _VNI_BREVE[case]
        for v in "aeouy":
            b = up(v)
            for t in range(5):
                enc[_vi(b, t)] = b + tone[t]
        for v in "aeo":
            b = up(v)
            enc[_vi(b + "\u0302", None)] = b + circ[0]
            for t in range(5):
                enc[_vi(b + "\u0302", t)] = b + circ[t + 1]
        b = up("a")
        enc[_vi(b + "\u0306", None)] = b + breve[0]
        for t in range(5):
            enc[_vi(b + "\u0306", t)] = b + breve[t + 1]
        for letter, code in _VNI_SINGLE[case].items():
            enc[letter] = code
            if letter.lower() != "đ":
                for t in range(5):
                    enc[_vi(letter, t)] = code + tone[t]
        for t in range(5):
            enc[_vi(up("i"), t)] = _VNI_I[case][t]
        enc[_vi(up("y"), 4)] = _VNI_Y_DOT[case]
    return enc


_VNI_ENCODE = _build_vni()
_VNI_DECODE = {v: k for k, v in _VNI_ENCODE.items()}
_RE_VNI = re.compile("|".join(re.escape(k) for k in sorted(_VNI_DECODE, key=len, reverse=True)))
_RE_C1 = re.compile("[\x80-\x9f]")


def _c1_to_cp1252(s: str) -> str:
    """Bytes 0x80-0x9F of the legacy 8-bit files are Windows-1252 punctuation (“ ” – …)."""
    return _RE_C1.sub(lambda m: m.group().encode("latin-1").decode("cp1252", errors="replace"), s)


def _decode_tcvn3(data: bytes) -> str:
    text = _c1_to_cp1252("".join(_TCVN3_DECODE.get(b, chr(b)) for b in data))
    text = "\n".join(_tcvn3_capitals(line) for line in text.split("\n"))
    # "Ủy ban (nhân dân)" is a proper name in every directive, capitalised mid-sentence too
    return re.sub(r"\b(?:ủy|uỷ)\s+ban\b", lambda m: m.group()[0].upper() + m.group()[1:], text)


def _tcvn3_capitals(line: str) -> str:
    """Guess the case of toned letters, which TCVN3 stores once for both cases.

    A word whose other letters are capitals is upper case ("CéNG" → "CỘNG"); a one-capital word ("Tù")
    only when the line is in capitals; a word starting with a toned letter is capitalised at a sentence
    start. Mid-sentence title case ("Ủy ban") cannot be recovered.
    """
    words = list(_RE_LETTERS.finditer(line))
    if not any(c in _TCVN3_AMBIGUOUS for c in line):
        return line
    sure = [[c for c in m.group() if c not in _TCVN3_AMBIGUOUS] for m in words]
    # evidence for a line in capitals: words of 2+ sure letters, not codes ("364/UBND-LĐT") or vowel-less acronyms
    long_words = [u for m, u in zip(words, sure, strict=True) if len(u) >= 2 and not _is_code(line, m)]
    line_caps = bool(long_words) and sum(all(c.isupper() for c in u) for u in long_words) >= 0.6 * len(long_words)
    out, pos = [], 0
    for m, unamb in zip(words, sure, strict=True):
        w = m.group()
        if any(c in _TCVN3_AMBIGUOUS for c in w):
            if unamb and all(c.isupper() for c in unamb) and (len(unamb) >= 2 or line_caps):
                w = w.upper()
            elif w[0] in _TCVN3_AMBIGUOUS and all(c.islower() for c in unamb):
                if line_caps:
                    w = w.upper()
                elif _RE_SENTENCE_START.search(line[: m.start()]):
                    w = w[0].upper() + w[1:]
        out.append(line[pos : m.start()])
        out.append(w)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out)


def _is_code(line: str, m: re.Match[str]) -> bool:
    around = line[max(m.start() - 1, 0) : m.start()] + line[m.end() : m.end() + 1]
    return any(c in "/-" or c.isdigit() for c in around) or not any(c in "AEIOUYaeiouy" for c in m.group())


_RE_SENTENCE_START = re.compile(r"(?:^[\s\-+*•#>\d.)]*|[.!?:]\s+)$")


def _decode_vni(data: bytes) -> str:
    return _c1_to_cp1252(_RE_VNI.sub(lambda m: _VNI_DECODE[m.group()], data.decode("latin-1")))


def _encode_8bit(text: str, table: dict[str, str]) -> bytes:
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        if ch in table:
            out += table[ch].encode("latin-1")
        elif ord(ch) < 0x80:
            out.append(ord(ch))
        else:
            out += ch.encode("cp1252", errors="replace")
    return bytes(out)


def _encode_cp1258(text: str) -> bytes:
    """Windows-1258 has no precomposed toned ê/ô/ơ…: write base letter + combining tone byte."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        d = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in d if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in d if c not in _TONES))
        out.append((base + tones).encode("cp1258", errors="replace"))
    return b"".join(out)


def encode_legacy(text: str, encoding: str) -> bytes:
    """Encode ``text`` as "tcvn3", "vni" or "cp1258" the way old Vietnamese files were written (for tests/tools)."""
    if encoding == "tcvn3":
        return _encode_8bit(text, {k: v.decode("latin-1") for k, v in _TCVN3_ENCODE.items()})
    if encoding == "vni":
        return _encode_8bit(text, _VNI_ENCODE)
    if encoding == "cp1258":
        return _encode_cp1258(text)
    raise ValueError(f"unknown legacy encoding: {encoding}")


# --- how Vietnamese does a text look ----------------------------------------------------------------------

_COMMON_WORDS = (
    "của và các trẻ em năm thực hiện trong được có cho với người không những là một về để theo đến tại từ "
    "công tác xã hội tỉnh huyện ban nhân dân việc này đã sẽ cơ quan chức bảo vệ chăm sóc giáo dục gia đình "
    "kế hoạch số ngày tháng quyết định chính phủ nhà nước đơn vị phòng chống triển khai cộng hòa việt nam "
    "độc lập tự do hạnh phúc ủy sở lao động thương binh tổ cấp hoạt động trên địa bàn giai đoạn như khi "
    "còn phải đồng thời tình hình quy kết quả nâng cao tăng cường đảm chủ trì phối hợp"
)
_COMMON = frozenset(_COMMON_WORDS.split())
_VI_LETTERS = frozenset(
    "".join(_TCVN3_DECODE.values()) + "".join(_VNI_DECODE.values())
    + "".join(c.upper() for c in _TCVN3_DECODE.values()) + "ĐđĂăÂâÊêÔôƠơƯư"
)
_OK_PUNCT = frozenset("“”‘’–—…•·°§№«»€")
_RE_LETTERS = re.compile(r"[^\W\d_]+")
_RE_TAGS = re.compile(r"<[^>]{0,500}>")


def _vietnamese_score(text: str) -> float:
    """Share of words that are very common Vietnamese syllables, minus a penalty for implausible characters."""
    sample = _RE_TAGS.sub(" ", text[:200_000])
    words = _RE_LETTERS.findall(canonical_tones(unicodedata.normalize("NFC", sample)).lower())
    if not words:
        return 0.0
    hits = sum(w in _COMMON for w in words) / len(words)
    letters = sum(len(w) for w in words) or 1
    return hits - 3.0 * _odd_chars(sample) / letters


def _odd_chars(text: str) -> int:
    """Characters that do not belong in Vietnamese text: the signature of a wrong decoding."""
    odd = sum(1 for c in text if ord(c) >= 0x80 and c not in _VI_LETTERS and c not in _OK_PUNCT and not c.isspace())
    return odd + sum(1 for c in text if ord(c) < 0x20 and c not in "\t\n\r\f\v")


_MIN_SCORE = 0.05


# --- mojibake (UTF-8 read as Windows-1252 and saved again as UTF-8) ---------------------------------------

def _cp1252_byte(c: str) -> int | None:
    o = ord(c)
    if 0x80 <= o <= 0xFF:
        return o  # Latin-1 range (also the C1 bytes 0x81, 0x8D… that cp1252 leaves undefined)
    try:
        b = c.encode("cp1252")
    except UnicodeEncodeError:
        return None
    return b[0] if len(b) == 1 and b[0] >= 0x80 else None


_CONT = "".join(c for c in map(chr, range(0x80, 0x2200)) if (b := _cp1252_byte(c)) is not None and 0x80 <= b <= 0xBF)
_LEAD2 = "".join(chr(b) for b in range(0xC2, 0xE0))
_LEAD3 = "".join(chr(b) for b in range(0xE0, 0xF0))
_RE_MOJIBAKE = re.compile(f"(?:[{_LEAD2}][{re.escape(_CONT)}]|[{_LEAD3}][{re.escape(_CONT)}]{{2}})+")


def _plausible(c: str) -> bool:
    o = ord(c)
    return 0xA0 <= o < 0x250 or 0x1E00 <= o < 0x1F00 or 0x300 <= o < 0x370 or 0x2000 <= o < 0x2070


def _unmojibake_run(m: re.Match[str]) -> str:
    run = m.group()
    try:
        fixed = bytes(_cp1252_byte(c) or 0 for c in run).decode("utf-8")
    except UnicodeDecodeError:
        return run
    return fixed if all(_plausible(c) for c in fixed) else run


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 → Windows-1252 → UTF-8 double encoding ("Cá»™ng hÃ²a" → "Cộng hòa"), run by run."""
    return _RE_MOJIBAKE.sub(_unmojibake_run, text)


# --- bytes → text -----------------------------------------------------------------------------------------

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text has NULs in every other byte (ASCII chars); binary junk has them anywhere."""
    head = data[:8192]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    ne, no = even.count(0) / len(even), odd.count(0) / len(odd)
    if no > 0.25 and ne < 0.02:
        enc = "utf-16-le"
    elif ne > 0.25 and no < 0.02:
        enc = "utf-16-be"
    else:
        return None
    return enc if len(data) % 2 == 0 else None


def _check_text(text: str) -> None:
    if not text.strip():
        raise ReadError("", "empty file")
    sample = text[:100_000]
    ctrl = sum(1 for c in sample if (ord(c) < 0x20 and c not in "\t\n\r\f\v\x1a") or c == "\x7f")
    if ctrl / len(sample) > 0.02:
        raise ReadError("", "binary file")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes; returns ``(text, encoding)``. Raises ``ReadError`` (source left blank).

    Order: BOMs; UTF-16 without BOM (NUL pattern); strict UTF-8 (with mojibake repair); then the legacy
    candidates Windows-1258, TCVN3 and VNI, the most Vietnamese-looking plausible result winning.
    """
    if not data.strip():
        raise ReadError("", "empty file")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as e:
                raise ReadError("", f"corrupt {enc.removesuffix('-sig')} text: {e.reason}") from e
            text = text.removeprefix("\ufeff")
            _check_text(text)
            return text, enc
    enc16 = _utf16_without_bom(data)
    if enc16:
        try:
            text = data.decode(enc16)
        except UnicodeDecodeError:
            text = ""
        if text:
            _check_text(text)
            return text, enc16
    if b"\x00" in data:
        raise ReadError("", "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        _check_text(text)
        if _RE_MOJIBAKE.search(text):
            fixed = repair_mojibake(text)
            if (fixed != text and 2 * _odd_chars(fixed) <= _odd_chars(text)
                    and _vietnamese_score(fixed) > _vietnamese_score(text)):
                return fixed, "utf-8 (double-encoded, repaired)"
        return text, "utf-8"
    ctrl = sum(1 for b in data[:100_000] if (b < 0x20 and b not in b"\t\n\r\f\v\x1a") or b == 0x7F)
    if ctrl / min(len(data), 100_000) > 0.02:
        raise ReadError("", "binary file")
    candidates: list[tuple[float, str, str]] = []
    try:
        cp = unicodedata.normalize("NFC", data.decode("cp1258"))
        candidates.append((_vietnamese_score(cp), "cp1258", cp))
    except UnicodeDecodeError:
        pass
    for name, dec in (("tcvn3", _decode_tcvn3), ("vni", _decode_vni)):
        t = dec(data)
        candidates.append((_vietnamese_score(t), name, t))
    score, enc, text = max(candidates, key=lambda c: c[0])
    if score < _MIN_SCORE:
        raise ReadError("", "unknown encoding (not UTF-8/16, Windows-1258, TCVN3 or VNI)")
    _check_text(text)
    return text, enc


