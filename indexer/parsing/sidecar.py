"""Hand corrections of a document's metadata: ``NAME.meta.yaml`` next to ``NAME.ext``.

Header extraction is heuristic and some documents have no header at all, so a curator can state any
metadata field in a sidecar. The sidecar wins, but the parsed value is kept in ``Metadata.parsed`` so the
UI and evaluation can show where text and curator disagree.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from indexer.models import LegalRef, Metadata
from indexer.parsing.metadata import locate, parse_date

FIELDS = {f.name for f in fields(Metadata)} - {"parsed", "overrides"}
ALIASES = {"title": "given_title"}
LEVELS = {"province", "district", "commune", "national", ""}
REF_FIELDS = {f.name for f in fields(LegalRef)}


def sidecar_path(doc_path: Path) -> Path:
    """``corpus/cam-lo-2023.txt`` → ``corpus/cam-lo-2023.meta.yaml``."""
    doc_path = Path(doc_path)
    return doc_path.with_name(doc_path.stem + ".meta.yaml")


def load_sidecar(doc_path: Path) -> dict[str, Any]:
    """The validated overrides for ``doc_path`` ({} when there is no sidecar); ValueError names file and key."""
    path = sidecar_path(doc_path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of metadata fields, got {type(data).__name__}")
    return coerce_overrides(data, source=str(path))


def coerce_overrides(data: dict[Any, Any], source: str = "sidecar") -> dict[str, Any]:
    """Check keys and turn values into the types ``Metadata`` holds (year int, date ISO, refs LegalRef)."""
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = ALIASES.get(str(raw_key), str(raw_key))
        if key not in FIELDS:
            raise ValueError(f"{source}: unknown key {raw_key!r} (allowed: {', '.join(sorted(FIELDS))})")
        try:
            out[key] = _coerce(key, value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: bad value for {raw_key!r}: {e}") from e
    return out


def _coerce(key: str, value: Any) -> Any:
    if key == "year":
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not str(value).strip().isdigit():
            raise ValueError(f"year must be an integer, got {value!r}")
        return int(str(value).strip())
    if key == "date":
        return _date(value)
    if key == "recipients":
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [_scalar(v) for v in items]
    if key == "implements":
        return None if value is None else _ref(value)
    if key == "references":
        if value is None:
            return []
        if not isinstance(value, list):
            raise ValueError("references must be a list")
        return [_ref(v) for v in value]
    s = _scalar(value)
    if key == "level" and s not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {s!r}")
    return s


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ValueError(f"expected a text value, got {type(value).__name__}")
    return str(value).strip()


def _date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    iso = parse_date(str(value))
    if not iso:
        raise ValueError(f"cannot read date {value!r} (use 2023-05-08, 08/05/2023 or 2023)")
    return iso


def _ref(value: Any) -> LegalRef:
    if isinstance(value, LegalRef):
        return value
    if not isinstance(value, dict):
        raise ValueError("a legal reference must be a mapping (kind, number, date, issuer, title)")
    unknown = set(map(str, value)) - REF_FIELDS
    if unknown:
        raise ValueError(f"unknown reference key(s) {sorted(unknown)}")
    kw = {k: (_date(v) if k == "date" else v) for k, v in value.items()}
    if "kind" not in kw:
        raise ValueError("a legal reference needs a kind")
    return LegalRef(**kw)


def apply_overrides(meta: Metadata, overrides: dict[str, Any]) -> Metadata:
    """A copy of ``meta`` with the overrides applied; ``parsed``/``overrides`` record both sides per field.

    A new place re-derives level and provinces from the gazetteer unless the sidecar gives them too; a new
    date re-derives the year unless given.
    """
    out = copy.deepcopy(meta)
    values = coerce_overrides(dict(overrides)) if overrides else {}
    for key, value in values.items():
        out.parsed[key] = copy.deepcopy(getattr(meta, key))
        out.overrides[key] = copy.deepcopy(value)
        setattr(out, key, value)
    if "date" in values and "year" not in values:
        out.year = int(out.date[:4]) if out.date[:4].isdigit() else None
    if "place" in values and out.place != meta.place:
        derived = [k for k in ("level", "province", "province_current") if k not in values]
        for k in derived:
            setattr(out, k, "")
        if derived:
            locate(out, out.level)
    return out


SIDECAR_HEADER = "# Metadata corrections for the file beside this one (written by the web app; edit by hand freely).\n"


def dump_sidecar(overrides: dict[str, Any]) -> str:
    """YAML text of a sidecar holding ``overrides`` (validated first: what is written always loads again).

    Dates are written as quoted ISO strings and every value as a plain scalar, so the file reads back to the
    same overrides with ``load_sidecar`` and a curator can still edit it by hand.
    """
    values = coerce_overrides(dict(overrides))
    plain = {k: (v.to_dict() if isinstance(v, LegalRef) else [r.to_dict() for r in v]
                 if k == "references" else v) for k, v in values.items()}
    return SIDECAR_HEADER + yaml.safe_dump(plain, allow_unicode=True, sort_keys=True, width=1000)
