"""Structured records (JSON Lines) exported from portals and databases: one JSON object → one document.

Each record's text goes through the same parser as files; metadata given with the record wins over what the
parser finds, and fields the record leaves out are parsed from the text. A bad line is reported with its file
and line number and never stops the good lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from pathlib import Path

from indexer.models import Directive, Metadata, ParseError
from indexer.parsing.metadata import extract_metadata
from indexer.parsing.pipeline import parse_text
from indexer.textnorm import normalize_text

MAX_RECORD_TEXT = 5_000_000  # characters; a 10 MB text is refused, not indexed
MAX_LINE_BYTES = 12_000_000
RE_ID = re.compile(r"^[\w.:~-]{1,200}$")
META_FIELDS = ("place", "province", "level", "doc_type", "number", "date", "year", "issuer", "url")
ALLOWED = {"id", "text", "title", *META_FIELDS}
_META_NAMES = {f.name for f in fields(Metadata)}


def record_hash(rec: dict) -> str:
    """Hash of text and metadata, so an unchanged record is skipped and a changed one re-indexed."""
    canon = json.dumps({k: rec.get(k) for k in sorted(ALLOWED)}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _validate(rec: object) -> str | None:
    if not isinstance(rec, dict):
        return "a line must be a JSON object"
    rid, text = rec.get("id"), rec.get("text")
    if not isinstance(rid, str) or not rid.strip():
        return "missing or empty 'id' (a string)"
    if not RE_ID.match(rid):
        return f"id {rid[:60]!r} has characters other than letters, digits and . : ~ - _"
    if not isinstance(text, str) or not text.strip():
        return "missing or empty 'text'"
    if len(text) > MAX_RECORD_TEXT:
        return f"text too long: {len(text):,} characters > {MAX_RECORD_TEXT:,}"
    for k in (*META_FIELDS, "title"):
        v = rec.get(k)
        if v is not None and not isinstance(v, str | int):
            return f"field {k!r} must be a string"
    if rec.get("year") is not None:
        try:
            int(rec["year"])
        except (TypeError, ValueError):
            return "field 'year' must be a number"
    return None


def record_metadata(rec: dict) -> Metadata:
    """Parsed metadata, completed and corrected by the record's own fields (the record wins)."""
    meta = extract_metadata(normalize_text(rec["text"]))
    for k in META_FIELDS:
        v = rec.get(k)
        if v in (None, ""):
            continue
        v = int(v) if k == "year" else normalize_text(str(v)).strip()
        if k in _META_NAMES:
            old = getattr(meta, k)
            if old not in ("", None) and old != v:
                meta.parsed[k] = old
            meta.overrides[k] = v
            setattr(meta, k, v)
    if rec.get("date") and not rec.get("year"):
        m = re.match(r"^(\d{4})", str(rec["date"]))
        if m:
            meta.year = int(m.group(1))
    if rec.get("title"):
        meta.given_title = normalize_text(str(rec["title"])).strip()
        meta.subject = meta.subject or meta.given_title
    if rec.get("province") and not meta.province_current:
        from indexer.parsing.places import current_province

        meta.province_current = current_province(meta.province) or meta.province
    return meta


def read_jsonl(path: Path, *, root: Path | None = None) -> tuple[list[Directive], list[ParseError]]:
    """Every good record of a .jsonl file as a Directive; every bad line as a ParseError with its line number."""
    source = str(path.relative_to(root)) if root else str(path)
    docs: list[Directive] = []
    errors: list[ParseError] = []
    seen: dict[str, int] = {}
    try:
        fh = path.open("rb")
    except OSError as e:
        return [], [ParseError(source, f"cannot open: {e.strerror}")]
    with fh:
        for lineno, raw in enumerate(fh, 1):
            if len(raw) > MAX_LINE_BYTES:
                errors.append(ParseError(source, f"line too long: {len(raw):,} bytes", lineno))
                continue
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError:
                errors.append(ParseError(source, "not UTF-8", lineno))
                continue
            except json.JSONDecodeError as e:
                errors.append(ParseError(source, f"invalid JSON: {e.msg} at column {e.colno}", lineno))
                continue
            problem = _validate(rec)
            if problem:
                errors.append(ParseError(source, problem, lineno))
                continue
            rid = rec["id"]
            if rid in seen:
                errors.append(ParseError(source, f"duplicate id {rid!r} (first on line {seen[rid]})", lineno))
                continue
            seen[rid] = lineno
            try:
                d = parse_text(rec["text"], doc_id=rid, source=f"{source}#L{lineno}", content_hash=record_hash(rec),
                               fmt="jsonl", encoding="utf-8", metadata=record_metadata(rec))
            except Exception as e:  # a parser bug must not sink the file
                errors.append(ParseError(source, f"cannot parse: {type(e).__name__}: {e}", lineno))
                continue
            docs.append(d)
    return docs, errors
