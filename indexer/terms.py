"""The terms of a chunk: lower-cased syllables and adjacent-syllable bigrams, exact and folded.

Shared by indexing (postings, vocabulary counts) and search (query terms), so both cut text the same way.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable

from indexer.textnorm import fold

# letters/digits (no underscore: "_" joins bigrams); segments break at punctuation so bigrams never span "; ".
_WORD = re.compile(r"[^\W_]+")
_SEGMENT = re.compile(r"[^\W_]+(?:[ \t\u00a0]+[^\W_]+)*")


def fold_lower(s: str) -> str:
    """Lower-case and strip diacritics (đ→d); length-preserving, so offsets carry over."""
    return fold(s.lower())


def segments(text: str) -> list[list[str]]:
    """Lower-cased syllables, grouped in runs not broken by punctuation."""
    return [_WORD.findall(m.group(0).lower()) for m in _SEGMENT.finditer(text)]


def terms_of(segs: Iterable[list[str]]) -> list[str]:
    """Syllables plus adjacent-syllable bigrams ("đuối nước" → đuối, nước, đuối_nước)."""
    out: list[str] = []
    for seg in segs:
        out += seg
        out += [f"{a}_{b}" for a, b in itertools.pairwise(seg)]
    return out


def fts_columns(text: str) -> tuple[str, str]:
    """A chunk's two term columns: exact terms and folded terms (space-separated)."""
    exact = " ".join(terms_of(segments(text)))
    return exact, fold(exact)


def vocab_counts(text: str) -> tuple[Counter[str], Counter[str]]:
    """Syllable and bigram ("đuối nước") counts of one text: the corpus's own diacritic statistics."""
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    for seg in segments(text):
        uni.update(seg)
        bi.update(f"{a} {b}" for a, b in itertools.pairwise(seg))
    return uni, bi
