"""Gold set: loading, marker matching and marker sanity checks.

A relevant unit is named by (place, marker) rather than by chunk id so the gold set survives
re-parsing and chunking changes; the price is that every marker must be checked to occur in
exactly one unit of its document, which ``check_markers`` does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("lexical", "semantic", "unaccented", "typo", "cross-lingual", "mixed")

# --- normalisation ---------------------------------------------------------------------------

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
_MARKED = set("âăêôơư")  # vowels that carry a quality diacritic and so attract the tone
_VOWELS = set("aăâeêioôơuưy")
_WORD = re.compile(r"[^\W\d_]+")


def _place_tone(word: str) -> str:
    """Move a syllable's tone mark to one canonical vowel (the "old style": hòa, thủy, khỏe)."""
    d = unicodedata.normalize("NFD", word)
    tones = [c for c in d if c in _TONES]
    if len(tones) != 1:
        return word
    base = unicodedata.normalize("NFC", "".join(c for c in d if c not in _TONES))
    low = base.lower()
    i = 0
    while i < len(low) and low[i] not in _VOWELS:
        i += 1
    if low[:2] == "qu" or (low[:2] == "gi" and len(low) > 2 and low[2] in _VOWELS):
        i = max(i, 2)
    j = i
    while j < len(low) and low[j] in _VOWELS:
        j += 1
    if i == j:
        return word
    cluster = low[i:j]
    marked = [k for k, c in enumerate(cluster) if c in _MARKED]
    if marked:
        pos = marked[-1] if cluster.startswith("ươ") else marked[0]
    elif len(cluster) >= 3:
        pos = 1
    elif len(cluster) == 2:
        pos = 1 if j < len(low) else 0  # closed syllable: hoàn, toán; open: hòa, mía
    else:
        pos = 0
    k = i + pos
    out = unicodedata.normalize("NFD", base[k]) + tones[0]
    return unicodedata.normalize("NFC", base[:k] + out + base[k + 1 :])


def _fallback_normalize(s: str) -> str:
    """NFC, canonical tones, markdown emphasis/headings removed (used until indexer.textnorm exists)."""
    s = unicodedata.normalize("NFC", s)
    s = re.sub(r"(?m)^[ \t]*#{1,6}[ \t]+", "", s)
    s = s.replace("*", "").replace("__", "").replace("`", "").replace("\\", "")
    return _WORD.sub(lambda m: _place_tone(m.group()), s)


def _text_normalizer() -> Callable[[str], str]:
    try:
        from indexer.textnorm import normalize_text  # type: ignore[import-not-found]
    except ImportError:
        return _fallback_normalize
    return normalize_text


def normalize_marker(s: str) -> str:
    """Form in which markers and result texts are compared: normalised text, lower case, one space."""
    s = _text_normalizer()(s)
    s = unicodedata.normalize("NFC", s).lower()
    return " ".join(s.split())


# --- gold set --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rel:
    """A relevant unit: the document's place and a verbatim phrase occurring in that unit only."""

    place: str
    marker: str


@dataclass
class Query:
    id: str
    q: str
    kind: str
    relevant: list[Rel]


@dataclass
class Alignment:
    a: Rel
    b: Rel


@dataclass
class Gold:
    queries: list[Query]
    alignments: list[Alignment] = field(default_factory=list)

    def rels(self) -> Iterable[tuple[str, Rel]]:
        """Every (where, rel) in the gold set, for checks and error messages."""
        for q in self.queries:
            for r in q.relevant:
                yield f"query {q.id}", r
        for n, al in enumerate(self.alignments):
            yield f"alignment {n}.a", al.a
            yield f"alignment {n}.b", al.b


class GoldError(ValueError):
    """The gold file is malformed; the message says where."""


def _rel(x: Any, where: str) -> Rel:
    ok = isinstance(x, list | tuple) and len(x) == 2 and all(isinstance(v, str) and v.strip() for v in x)
    if not ok:
        raise GoldError(f"{where}: expected [PLACE, MARKER] (two non-empty strings), got {x!r}")
    return Rel(x[0], x[1])


def parse_gold(data: Any) -> Gold:
    """Validate the decoded JSON and build a ``Gold``."""
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise GoldError('top level must be an object with a "queries" list')
    queries: list[Query] = []
    seen: set[str] = set()
    for n, q in enumerate(data["queries"]):
        where = f"queries[{n}]"
        if not isinstance(q, dict):
            raise GoldError(f"{where}: expected an object")
        missing = [k for k in ("id", "q", "kind", "relevant") if k not in q]
        if missing:
            raise GoldError(f"{where}: missing {', '.join(missing)}")
        qid = q["id"]
        if not isinstance(qid, str) or not qid or qid in seen:
            raise GoldError(f"{where}: id must be a unique non-empty string, got {qid!r}")
        seen.add(qid)
        where = f"query {qid}"
        if not isinstance(q["q"], str) or not q["q"].strip():
            raise GoldError(f"{where}: q must be a non-empty string")
        if q["kind"] not in KINDS:
            raise GoldError(f"{where}: kind {q['kind']!r} not one of {', '.join(KINDS)}")
        if not isinstance(q["relevant"], list) or not q["relevant"]:
            raise GoldError(f"{where}: relevant must be a non-empty list")
        rels = [_rel(r, f"{where} relevant[{i}]") for i, r in enumerate(q["relevant"])]
        if len({(r.place, normalize_marker(r.marker)) for r in rels}) != len(rels):
            raise GoldError(f"{where}: duplicate relevant entry")
        queries.append(Query(qid, q["q"], q["kind"], rels))
    aligns = data.get("alignments", [])
    if not isinstance(aligns, list):
        raise GoldError("alignments must be a list")
    alignments: list[Alignment] = []
    for n, al in enumerate(aligns):
        if not isinstance(al, dict) or set(al) != {"a", "b"}:
            raise GoldError(f"alignments[{n}]: expected an object with exactly a and b")
        alignments.append(Alignment(_rel(al["a"], f"alignments[{n}].a"), _rel(al["b"], f"alignments[{n}].b")))
    return Gold(queries, alignments)


def load_gold(path: str | Path) -> Gold:
    """Read and validate a gold file (see eval/gold.json for the format)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise GoldError(f"{path}: not valid JSON: {e}") from e
    return parse_gold(data)


# --- matching ---------------------------------------------------------------------------------


def is_relevant(place: str, text: str, rel: Rel | Sequence[str]) -> bool:
    """True when a result from ``place`` with ``text`` is the unit ``rel`` names."""
    r = rel if isinstance(rel, Rel) else Rel(rel[0], rel[1])
    return normalize_marker(place) == normalize_marker(r.place) and normalize_marker(
        r.marker
    ) in normalize_marker(text)


def check_markers(gold: Gold, units_by_place: dict[str, list[str]]) -> list[str]:
    """Problems with markers against the units of each place: "error: …" or "ambiguous: …".

    A marker found nowhere would silently score zero forever, so it is an error; one found in
    several units would credit the wrong unit, so it is reported as ambiguous.
    """
    units = {normalize_marker(p): [normalize_marker(u) for u in us] for p, us in units_by_place.items()}
    problems: list[str] = []
    done: set[tuple[str, str]] = set()
    for where, r in gold.rels():
        key = (normalize_marker(r.place), normalize_marker(r.marker))
        if key in done:
            continue
        done.add(key)
        if key[0] not in units:
            problems.append(f"error: {where}: no document for place {r.place!r}")
            continue
        hits = [i for i, u in enumerate(units[key[0]]) if key[1] in u]
        if not hits:
            problems.append(f"error: {where}: marker {r.marker!r} not found in {r.place}")
        elif len(hits) > 1:
            problems.append(f"ambiguous: {where}: marker {r.marker!r} in {len(hits)} units of {r.place}")
    return problems


# --- crude seed units (until the parser's chunks are used) --------------------------------------

_PLACE_LINE = re.compile(r"^[\s*_]*([^\W\d_]+(?: [^\W\d_]+){0,4}), ngày", re.MULTILINE)


def split_units(text: str) -> list[str]:
    """Paragraphs and bullets separated by blank lines, normalised; a stand-in for parser chunks."""
    parts = re.split(r"\n[ \t\u00a0]*\n", text)
    return [u for u in (normalize_marker(p) for p in parts) if u]


def place_of(text: str) -> str:
    """The place from the "Cam Lộ, ngày 08 tháng 5 năm 2023" line, or ""."""
    m = _PLACE_LINE.search(text)
    return m.group(1).strip() if m else ""


def seed_units(corpus: str | Path) -> dict[str, list[str]]:
    """Crude units of every .txt in ``corpus``, keyed by place."""
    out: dict[str, list[str]] = {}
    for f in sorted(Path(corpus).glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        out.setdefault(place_of(text) or f.stem, []).extend(split_units(text))
    return out


def parser_units(directives: Iterable[Any]) -> dict[str, list[str]]:
    """Own text (heading + text) of every parsed unit, keyed by place: the real marker check.

    Chunks nest (a task chunk contains its items), so checking markers against chunks would
    report every item marker as ambiguous; units' own texts do not overlap.
    """
    out: dict[str, list[str]] = {}
    for d in directives:
        out.setdefault(d.metadata.place, []).extend(f"{u.heading}\n{u.text}" for u in d.walk())
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.gold [gold.json] [corpus]``: print marker problems, exit 1 if any error."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    gold = load_gold(args[0] if args else Path(__file__).with_name("gold.json"))
    problems = check_markers(gold, seed_units(args[1] if len(args) > 1 else "corpus"))
    for p in problems:
        print(p)
    n = sum(len(q.relevant) for q in gold.queries)
    print(f"{len(gold.queries)} queries, {n} relevant entries, {len(gold.alignments)} alignments, "
          f"{len(problems)} problems")
    return 1 if any(p.startswith("error") for p in problems) else 0


if __name__ == "__main__":
    raise SystemExit(main())
