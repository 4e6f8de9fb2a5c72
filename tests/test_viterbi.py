"""The diacritic-restoring Viterbi pass: its shortcut (no bigram lookups between two unambiguous syllables)
picks the same sequence as scoring every path, and looks up no bigram where nothing is ambiguous."""

from __future__ import annotations

import itertools
import math
import random

from indexer.textnorm import fold
from search_api.retrieve import _viterbi


class Counts:
    """Bigram counts of a toy corpus, with the lookups recorded."""

    def __init__(self, rng: random.Random, words: list[str]):
        self.table = {f"{a} {b}": rng.choice([0, 0, 1, 5, 40]) for a in words for b in words}
        self.asked: list[str] = []

    def bigrams(self, folded_pair: str) -> dict[str, int]:
        self.asked.append(folded_pair)
        return {k: v for k, v in self.table.items() if " ".join(fold(w) for w in k.split()) == folded_pair}


def brute(cands: list[list[tuple[str, int]]], vocab: Counts) -> list[str]:
    best, best_s = None, -1e18
    for path in itertools.product(*[c[:12] for c in cands]):
        s = sum(0.3 * math.log1p(n) for _, n in path)
        s += sum(2.0 * math.log1p(vocab.table.get(f"{a[0]} {b[0]}", 0)) for a, b in itertools.pairwise(path))
        if s > best_s + 1e-9:
            best, best_s = [w for w, _ in path], s
    return best


def path_score(cands: list[list[tuple[str, int]]], seq: list[str], vocab: Counts) -> float:
    n = [dict(c)[w] for c, w in zip(cands, seq, strict=True)]
    return (sum(0.3 * math.log1p(x) for x in n)
            + sum(2.0 * math.log1p(vocab.table.get(f"{a} {b}", 0)) for a, b in itertools.pairwise(seq)))


def test_viterbi_equals_scoring_every_path_and_skips_unambiguous_pairs():
    rng = random.Random(4)
    forms = {"ca": ["cá", "cà", "ca"], "nuoc": ["nước"], "sau": ["sâu", "sau", "sáu"], "de": ["để"],
             "tre": ["trẻ"], "em": ["em"]}
    vocab = Counts(rng, [w for ws in forms.values() for w in ws])
    for _ in range(200):
        keys = rng.choices(list(forms), k=rng.randint(1, 6))
        cands = [[(w, rng.randint(0, 50)) for w in forms[k]] for k in keys]
        got = _viterbi(cands, vocab)
        want = brute(cands, vocab)
        # equal up to exact ties between paths (both are then valid): compare the paths' scores
        assert abs(path_score(cands, got, vocab) - path_score(cands, want, vocab)) < 1e-9, (keys, got, want)
    vocab.asked.clear()
    assert _viterbi([[("nước", 3)], [("để", 1)], [("trẻ", 9)], [("em", 9)]], vocab) == ["nước", "để", "trẻ", "em"]
    assert vocab.asked == []  # one path: no lookups at all
    _viterbi([[("nước", 3)], [("sâu", 1), ("sau", 2)], [("để", 1)]], vocab)
    assert sorted(vocab.asked) == ["nuoc sau", "nuoc sau", "sau de", "sau de"]  # only around the ambiguous one
