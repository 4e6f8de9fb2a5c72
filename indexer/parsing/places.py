"""Gazetteer of Vietnamese administrative units as they were before the 2025 reorganisation.

Documents name places as they stood when written ("huyện Cam Lộ", "tỉnh Đắk Nông"), while users filter
by today's 34 provinces. This module resolves a written name to a pre-2025 unit, knows which current
province every old one became (Resolution 202/2025/QH15), and expands a filter value to the old names
it must match. Data: ``indexer/data/gazetteer.json``, built by ``indexer/data/build_gazetteer.py``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "gazetteer.json"
LEVELS = ("province", "district", "commune")

# Kind word as written before a name, per level (folded, spaced). "thành phố" exists at two levels.
_KIND_WORDS = {
    "tỉnh": "tinh", "thành phố trực thuộc trung ương": "thanh pho",
    "huyện": "huyen", "quận": "quan", "thị xã": "thi xa", "thành phố thuộc tỉnh": "thanh pho",
    "thành phố thuộc thành phố trực thuộc trung ương": "thanh pho",
    "xã": "xa", "phường": "phuong", "thị trấn": "thi tran",
}
# Leading words dropped from a query: the council that speaks for the unit is not part of its name.
_NOISE = re.compile(r"^(?:uy ban nhan dan|ubnd|hoi dong nhan dan|hdnd|thu do)\s+")
_ABBREV = [  # written abbreviations of kind words (applied to the folded query)
    (re.compile(r"^t\.?\s?p\b\.?\s*"), "thanh pho "),
    (re.compile(r"^t\.?x\b\.?\s*"), "thi xa "),
    (re.compile(r"^t\.?t\b\.?\s*"), "thi tran "),
    (re.compile(r"^q\.\s*"), "quan "),
    (re.compile(r"^p\.\s*"), "phuong "),
    (re.compile(r"^h\.\s*"), "huyen "),
]
_PREFIX_LEVELS = [  # kind word at the start of a query -> levels it may denote
    ("thanh pho ", ("province", "district")), ("tinh ", ("province",)),
    ("huyen ", ("district",)), ("quan ", ("district",)), ("thi xa ", ("district",)),
    ("thi tran ", ("commune",)), ("phuong ", ("commune",)), ("xa ", ("commune",)),
]


@dataclass(frozen=True)
class AdminUnit:
    name: str  # "Cam Lộ" (without the kind word; "Quận 1" keeps it, a bare number is no name)
    kind: str  # "huyện", "tỉnh", "thành phố trực thuộc trung ương", "xã", …
    level: str  # "province" | "district" | "commune"
    province: str  # pre-2025 province ("Quảng Trị"); a province's own name for a province
    province_current: str  # province after 1 July 2025 ("Quảng Trị")
    district: str = ""  # for communes: the pre-2025 district

    @property
    def full_name(self) -> str:
        """'huyện Cam Lộ', as a document would write it."""
        word = self.kind.split(" thuộc ")[0].split(" trực ")[0]
        return self.name if self.name.lower().startswith(word) else f"{word} {self.name}"


def fold(text: str) -> str:
    """NFC, drop diacritics, đ->d, lowercase, squeeze spaces: 'Hoà Bình' == 'Hòa Bình' == 'hoa binh'."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.lower()).strip()


def key(text: str) -> str:
    """Lookup key: folded, letters and digits only ('Bà Rịa - Vũng Tàu' -> 'bariavungtau')."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _sound(k: str) -> str:
    """Looser key for common misspellings: 'Đắc Nông' ~ 'Đắk Nông', 'Qui Nhơn' ~ 'Quy Nhơn'."""
    return k.replace("k", "c").replace("y", "i")


def _old_tones(text: str) -> str:
    """Move new-style tone marks to the old place (hoà -> hòa, thuý -> thúy), lowercase NFC."""
    text = unicodedata.normalize("NFC", text.lower())
    out = unicodedata.normalize("NFD", text)
    # In NFD a toned 'oa' is o a <tone>; old style puts it as o <tone> a: swap when syllable-final.
    out = re.sub(r"(o(?=[ae])|(?<!q)u(?=y))([aey])([\u0300\u0301\u0303\u0309\u0323])(?![a-z])", r"\1\3\2", out)
    return unicodedata.normalize("NFC", out)


@dataclass
class _Index:
    units: list[AdminUnit]
    by_key: dict[str, list[int]]
    by_sound: dict[str, list[int]]
    current: dict[str, str]  # current province -> kind
    groups: dict[str, list[str]]  # current province -> old provinces (sorted)
    source: dict


@lru_cache(maxsize=1)
def _index() -> _Index:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    units: list[AdminUnit] = []
    keys: list[list[str]] = []

    def add(unit: AdminUnit, aka: list[str]) -> None:
        word = key(_KIND_WORDS[unit.kind])
        own = [key(unit.name), *aka]
        keys.append(sorted({*own, *(word + k for k in own)}))
        units.append(unit)

    for pname, p in doc["provinces"].items():
        add(AdminUnit(pname, p["kind"], "province", pname, p["current"]), p["aka"])
    for pname, dists in doc["districts"].items():
        cur = doc["provinces"][pname]["current"]
        for d in dists:
            dname = d["name"]
            add(AdminUnit(dname, d["kind"], "district", pname, cur), d["aka"])
            for ckind, names in d.get("communes", {}).items():
                for entry in names:
                    cname, *aka = [entry] if isinstance(entry, str) else entry
                    add(AdminUnit(cname, ckind, "commune", pname, cur, dname), aka)
    by_key: dict[str, list[int]] = defaultdict(list)
    by_sound: dict[str, list[int]] = defaultdict(list)
    for i, ks in enumerate(keys):
        for k in ks:
            by_key[k].append(i)
        for s in {_sound(k) for k in ks}:
            by_sound[s].append(i)
    groups: dict[str, list[str]] = defaultdict(list)
    for pname, p in doc["provinces"].items():
        groups[p["current"]].append(pname)
    return _Index(units, dict(by_key), dict(by_sound), doc["current"],
                  {c: sorted(v) for c, v in groups.items()}, doc["source"])


def _query_forms(name: str) -> tuple[str, str, tuple[str, ...]]:
    """(full key, key without a leading kind word, levels that kind word allows)."""
    q = _NOISE.sub("", fold(name))
    for pat, rep in _ABBREV:
        q = pat.sub(rep, q, count=1)
    for word, levels in _PREFIX_LEVELS:
        if q.startswith(word):
            return key(q), key(q[len(word):]), levels
    return key(q), "", LEVELS


def _candidates(name: str) -> list[int]:
    idx = _index()
    full, bare, levels = _query_forms(name)
    if not full:
        return []
    hits = idx.by_key.get(full, [])
    if not hits and bare:  # "tỉnh Hồ Chí Minh": wrong kind word, keep the level it implies
        hits = [i for i in idx.by_key.get(bare, []) if idx.units[i].level in levels]
    if not hits:
        hits = idx.by_sound.get(_sound(full), [])
    if not hits and bare:
        hits = [i for i in idx.by_sound.get(_sound(bare), []) if idx.units[i].level in levels]
    return list(dict.fromkeys(hits))


def _rank(name: str, unit: AdminUnit) -> tuple[int, int]:
    """Level first (province < district < commune), then exact spelling before folded matches."""
    exact = _old_tones(unicodedata.normalize("NFC", name).strip()).endswith(_old_tones(unit.name))
    return LEVELS.index(unit.level), 0 if exact else 1


def lookup(name: str, level: str | None = None, province: str | None = None) -> list[AdminUnit]:
    """All units a written name may denote, provinces before districts before communes.

    Tolerates case, NFC/NFD, old/new tone placement, missing diacritics, a kind word or
    abbreviation in front ("huyện Cam Lộ", "TP. Hồ Chí Minh") and k/c, y/i misspellings.
    ``province`` (old or current name) keeps units inside it; a current name covers its merged provinces.
    """
    idx = _index()
    units = [idx.units[i] for i in _candidates(name)]
    if level:
        units = [u for u in units if u.level == level]
    if province:
        allowed = set(old_provinces(province))
        units = [u for u in units if u.province in allowed]
    return sorted(units, key=lambda u: _rank(name, u))


def resolve(name: str, level: str | None = None, province_hint: str | None = None) -> AdminUnit | None:
    """The one unit a name most likely denotes, or None when unknown or ambiguous.

    A name that is both a province and a district ("Lạng Sơn") gives the level asked, else the
    province. Many districts share names ("Châu Thành"): without a hint that singles one out we
    return None rather than guess. A hint with no match is ignored (it is only a hint).
    """
    units = lookup(name, level)
    if province_hint and units:
        hinted = _province_unit(province_hint)
        if hinted:
            own = [u for u in units if u.province == hinted.name]
            group = [u for u in units if u.province_current == hinted.province_current]
            units = own or group or units
    if not units:
        return None
    best = _rank(name, units[0])
    top = [u for u in units if _rank(name, u) == best]
    return top[0] if len(top) == 1 else None


@lru_cache(maxsize=512)
def _province_unit(name: str) -> AdminUnit | None:
    units = lookup(name, "province")
    return units[0] if units else None


def current_province(old_province: str) -> str:
    """Province after 1 July 2025 for a pre-2025 province name ("Trà Vinh" -> "Vĩnh Long"); "" if unknown."""
    unit = _province_unit(old_province)
    return unit.province_current if unit else ""


def old_provinces(current_or_old: str) -> list[str]:
    """Pre-2025 province names a filter value should match.

    A current name covers every province merged into it ("Lâm Đồng" -> Bình Thuận, Lâm Đồng, Đắk Nông);
    an old name that did not survive matches only itself; unknown -> [].
    """
    unit = _province_unit(current_or_old)
    if unit is None:
        return []
    return list(_index().groups.get(unit.name, [unit.name]))


def province_names() -> list[str]:
    """Facet values: the 63 old provinces, then any current name not among them."""
    idx = _index()
    old = sorted(u.name for u in idx.units if u.level == "province")
    return old + [c for c in sorted(idx.current) if c not in old]


def current_province_names() -> list[str]:
    """The 34 provinces in force from 1 July 2025."""
    return sorted(_index().current)


def source() -> dict:
    """Where the data came from (package, version, licence, law) — for an about page."""
    return dict(_index().source)


@lru_cache(maxsize=1)
def _name_keys() -> tuple[list[str], list[int]]:
    idx = _index()
    return [key(u.name) for u in idx.units], [LEVELS.index(u.level) for u in idx.units]


def nearest(name: str, limit: int = 5) -> list[AdminUnit]:
    """The units whose names are closest to an unknown ``name`` (for "did you mean …?"), best first.

    Edit distance on folded keys (diacritics, case and kind words ignored); ties go to higher levels.
    """
    from rapidfuzz import fuzz, process

    full, bare, _ = _query_forms(name)
    q = bare or full
    if not q:
        return []
    keys, levels = _name_keys()
    hits = process.extract(q, keys, scorer=fuzz.ratio, limit=limit * 8, score_cutoff=60)
    hits.sort(key=lambda h: (-h[1], levels[h[2]]))
    out: list[AdminUnit] = []
    for _, _, i in hits:
        u = _index().units[i]
        if all((u.name, u.province) != (o.name, o.province) for o in out):
            out.append(u)
        if len(out) == limit:
            break
    return out
