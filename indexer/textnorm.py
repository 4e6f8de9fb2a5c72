"""Vietnamese text normalisation shared by every stage (index, search, diff).

Two spellings of the same word must compare equal everywhere, so all text goes through ``normalize``:
NFC, one tone placement, Đ look-alikes fixed, invisible characters and odd spaces cleaned, markdown noise
removed. ``normalize`` also returns an offset map so any span found in the normalised text can be shown in
the original. Lines stay 1:1 with ``original.split("\\n")`` (the structure parser relies on it).

Tone placement follows the spelling used by almost all official documents ("hòa", "thủy", "ủy", "khỏe"):
in an open syllable with the nucleus oa/oe/uy the mark sits on the first vowel; a vowel with a quality mark
(â ê ô ơ ư ă) always carries it; otherwise with a final consonant it sits on the last vowel ("hoàn", "toán").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "Normalized",
    "Token",
    "canonical_tones",
    "fold",
    "normalize",
    "normalize_text",
    "syllables",
    "tokenize",
]


@dataclass
class Normalized:
    """Normalised text plus ``offsets``: ``offsets[i]`` is the index in the original of ``text[i]``.

    ``offsets`` has ``len(text) + 1`` entries, the last being ``len(original)``, so a normalised span
    ``[s, e)`` maps back as ``original[offsets[s]:offsets[e]]``.
    """

    text: str
    offsets: list[int]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return self.offsets[start], self.offsets[end]


# --- offset-preserving substitution -----------------------------------------------------------------------


def _sub(text: str, offs: list[int], pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]
         ) -> tuple[str, list[int]]:
    """``pattern.sub(repl, text)`` that also rewrites the offset map.

    A replacement of equal length maps char to char; any other replacement maps all its chars to the start
    of the match (deletions map nothing).
    """
    parts: list[str] = []
    new_offs: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        s, e = m.span()
        r = repl(m)
        if r == m.group():
            continue
        parts.append(text[pos:s])
        new_offs.extend(offs[pos:s])
        parts.append(r)
        if len(r) == e - s:
            new_offs.extend(offs[s:e])
        elif r:
            new_offs.extend([offs[s]] * len(r))
        pos = e
    if not parts:
        return text, offs
    parts.append(text[pos:])
    new_offs.extend(offs[pos:])  # includes the final sentinel
    return "".join(parts), new_offs


# --- character-level clean-up -----------------------------------------------------------------------------

_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# a starter followed by combining marks, or a lone mark; NFC only ever changes such clusters for Latin text
_RE_CLUSTER = re.compile(f"[^{_COMBINING}]?[{_COMBINING}]+")

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_CHAR_MAP = {c: "" for c in _ZERO_WIDTH}
_CHAR_MAP.update({c: " " for c in _SPACES})
# a lone CR, vertical tab, form feed and Unicode line separators become spaces, not newlines, so the
# normalised lines stay 1:1 with original.split("\n")
_CHAR_MAP.update({"\r\n": "\n", "\r": " ", "\v": " ", "\f": " ", "\u2028": " ", "\u2029": " ", "\x85": " "})
_CHAR_MAP.update({"\u00d0": "\u0110", "\u00f0": "\u0111"})  # Ð/ð (Icelandic eth) typed for Đ/đ
_RE_CHARS = re.compile("\r\n|[" + re.escape("".join(k for k in _CHAR_MAP if len(k) == 1)) + "]")


def _nfc_cluster(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFC", m.group())


# --- tone placement ---------------------------------------------------------------------------------------

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
_QUALITY = set("ăâêôơư")
_RE_SYLLABLE = re.compile(
    r"(qu|gi(?=[aăâeêoôơuưy])|ngh|ng|gh|ch|kh|nh|ph|th|tr|[bcdđghklmnprstvx])?"
    r"([aăâeêioôơuưy]+)(ng|nh|ch|[cmnpt])?"
)
_NUCLEI_LIST = (
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ ue uê ui uô uơ uy "
    "ưa ưi ươ ưu yê iêu yêu oai oay oeo uây uôi ươi ươu uya uyê uyu"
)
_NUCLEI = frozenset(_NUCLEI_LIST.split())  # every vowel nucleus of Vietnamese (after qu/gi onsets)
_VOWEL_CHARS = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
_TONED = frozenset(
    unicodedata.normalize("NFC", v + t) for v in _VOWEL_CHARS for t in _TONE_MARKS
)
_RE_WORD = re.compile(r"[^\W\d_]{2,}")


def _tone_position(nucleus: str, has_final: bool) -> int:
    marked = [i for i, ch in enumerate(nucleus) if ch in _QUALITY]
    if marked:
        return marked[-1]  # ươ → ơ, uyê → ê
    if has_final:
        return len(nucleus) - 1  # hoàn, toán, huỳnh
    if len(nucleus) == 3:
        return 1  # ngoài, xoáy, khuỷu
    return 0  # hòa, khỏe, thủy, mái, múa


@lru_cache(maxsize=200_000)
def _canon_word(word: str) -> str:
    if not any(c in _TONED for c in word):
        return word
    tone = ""
    bases: list[str] = []
    for ch in word:
        d = unicodedata.normalize("NFD", ch)
        marks = [c for c in d if c in _TONE_MARKS]
        if marks:
            if tone or len(marks) > 1:
                return word  # two tones: not a syllable we understand
            tone = marks[0]
            d = "".join(c for c in d if c not in _TONE_MARKS)
        base = unicodedata.normalize("NFC", d)
        if len(base) != 1:
            return word
        bases.append(base)
    if not tone:
        return word
    m = _RE_SYLLABLE.fullmatch("".join(bases).lower())
    if not m or m.group(2) not in _NUCLEI:
        return word
    target = m.start(2) + _tone_position(m.group(2), bool(m.group(3)))
    bases[target] = unicodedata.normalize("NFC", bases[target] + tone)
    return "".join(bases)


def _canon_match(m: re.Match[str]) -> str:
    return _canon_word(m.group())  # cached: a document has a few thousand distinct words at most


def canonical_tones(s: str) -> str:
    """Put every tone mark where the canonical spelling has it: "hoà" → "hòa", "THUỶ" → "THỦY".

    Works syllable by syllable with spelling rules (onset, nucleus, final), not a word list; anything that
    is not a well-formed Vietnamese syllable is left alone. Length-preserving on NFC input.
    """
    return _RE_WORD.sub(_canon_match, s)


# --- markdown noise ---------------------------------------------------------------------------------------

_RE_HEADING = re.compile(r"^[ \t]*#{1,6}(?:[ \t]+|$)", re.M)
_RE_QUOTE = re.compile(r"^[ \t]*>(?:[ \t]*>)*[ \t]?", re.M)
_RE_STAR_BULLET = re.compile(r"^([ \t]*)\*(?=[ \t]+\S)", re.M)
_RE_INLINE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~\"'])|\*{2,}|(?<!_)__(?!_)|\*")
_RE_TRAILING_WS = re.compile(r"[ \t]+$", re.M)


def _is_word_char(c: str) -> bool:
    return c.isalnum()


def _inline(m: re.Match[str]) -> str:
    if m.group(1) is not None:  # backslash escape: keep the escaped char
        return m.group(1)
    tok = m.group()
    if tok.startswith("**"):
        return ""
    s, e = m.span()
    text = m.string
    prev = text[s - 1] if s > 0 else " "
    nxt = text[e] if e < len(text) else " "
    if _is_word_char(prev) and _is_word_char(nxt):
        return tok  # 5*3, a__b: part of the content
    if tok == "*" and prev.isspace() and nxt.isspace():
        return tok  # a free-standing asterisk
    return ""


def _strip_markdown(text: str, offs: list[int]) -> tuple[str, list[int]]:
    text, offs = _sub(text, offs, _RE_HEADING, lambda m: "")
    text, offs = _sub(text, offs, _RE_QUOTE, lambda m: "")
    text, offs = _sub(text, offs, _RE_STAR_BULLET, lambda m: m.group(1) + "-")
    text, offs = _sub(text, offs, _RE_INLINE, _inline)
    return _sub(text, offs, _RE_TRAILING_WS, lambda m: "")


# --- public API -------------------------------------------------------------------------------------------


def normalize(original: str, *, strip_markdown: bool = True) -> Normalized:
    """Normalise ``original`` and keep the map back to it (see module docstring for what changes)."""
    text = original
    offs = list(range(len(original) + 1))
    if not unicodedata.is_normalized("NFC", text):
        text, offs = _sub(text, offs, _RE_CLUSTER, _nfc_cluster)
        if not unicodedata.is_normalized("NFC", text):  # non-Latin compositions: exact text, coarse offsets
            text = unicodedata.normalize("NFC", text)
            offs = [min(offs[min(i, len(offs) - 1)], len(original)) for i in range(len(text))] + [len(original)]
    text, offs = _sub(text, offs, _RE_CHARS, lambda m: _CHAR_MAP[m.group()])
    text = canonical_tones(text)  # length-preserving: offsets unchanged
    if strip_markdown:
        text, offs = _strip_markdown(text, offs)
    return Normalized(text, offs)


def normalize_text(s: str) -> str:
    """``normalize(s).text``: for queries, metadata values and comparisons."""
    return normalize(s).text


def _fold_char(c: str) -> str:
    if c in "đĐðÐ":
        return "d"
    base = "".join(x for x in unicodedata.normalize("NFD", c) if not unicodedata.combining(x)).lower()
    return base if len(base) == 1 else c


_FOLD_TABLE = {
    cp: f for cp in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))
    if (f := _fold_char(chr(cp))) != chr(cp)
}


def fold(s: str) -> str:
    """Lower case without diacritics, đ → d: "Đuối nước" → "duoi nuoc".

    Length-preserving (one char in, one char out), so offsets found in ``fold(normalize(x).text)`` are
    valid in ``normalize(x).text``. Give it NFC text: a stray combining mark is kept as is, not removed.
    """
    low = s.lower()
    if len(low) != len(s):  # "İ".lower() is two chars
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in s)
    return low.translate(_FOLD_TABLE)


# --- tokens -----------------------------------------------------------------------------------------------


class Token(NamedTuple):
    text: str
    start: int
    end: int
    kind: str  # "word" | "number" | "punct"


_W = rf"[\w{_COMBINING}]"  # a letter, digit or underscore, or a combining mark of NFD input
_TOKEN_RE = re.compile(
    # a run with at least one digit is a number or code: 111, 14/3/2023, 56/2017/NĐ-CP, 1.000.000, 17,5, Covid-19
    rf"(?P<code>(?=[\w{_COMBINING}/\-.,:]*\d){_W}+(?:[/\-]{_W}+|(?<=\d)[.,:]\d{_W}*)*)"
    rf"|(?P<word>{_W}+)"
    r"|(?P<punct>\S)"
)
_RE_DIGIT = re.compile(r"\d")
_RE_ALNUM = re.compile(r"[^\W_]")


def tokenize(s: str) -> list[Token]:
    """Syllables (``word``), numbers and codes kept whole (``number``), punctuation one char each (``punct``)."""
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(s):
        t = m.group()
        kind = m.lastgroup
        if kind == "code":
            kind = "number" if _RE_DIGIT.search(t) else "word"
        elif kind == "word" and not _RE_ALNUM.search(t):
            kind = "punct"  # a run of underscores (a form's blank)
        out.append(Token(t, m.start(), m.end(), kind))  # type: ignore[arg-type]
    return out


def syllables(s: str) -> list[str]:
    """Lower-cased word and number tokens of ``s`` (for BM25 and overlap scores)."""
    return [t.text.lower() for t in tokenize(s) if t.kind != "punct"]
