"""The indexer's first stage as one call: a file (or a text) → a parsed ``Directive``.

read bytes → decode → normalise (keeping offsets) → metadata (+ sidecar overrides) → layout → task tree → chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from indexer.chunks import make_chunks
from indexer.models import Directive, Metadata, ParseError, Unit
from indexer.parsing.layout import find_layout
from indexer.parsing.metadata import extract_metadata
from indexer.parsing.sidecar import apply_overrides, load_sidecar
from indexer.parsing.structure import parse_body, section_kind
from indexer.reading import SUFFIXES, ReadError, ReadOptions, read_document
from indexer.textnorm import fold, normalize

DOCUMENT_SUFFIXES = set(SUFFIXES)
RECORD_SUFFIXES = {".jsonl"}


def slug(s: str) -> str:
    """ASCII, lower-case, dash-separated id part: "Cam Lộ 2023" → "cam-lo-2023"."""
    return re.sub(r"[^a-z0-9]+", "-", fold(s)).strip("-") or "doc"


def doc_id_for(path: Path, root: Path | None = None) -> str:
    rel = path.relative_to(root) if root else Path(path.name)
    return slug(str(rel.with_suffix("")).replace("/", "-"))


def parse_text(original: str, *, doc_id: str, source: str = "", content_hash: str = "", fmt: str = "txt",
               encoding: str = "utf-8", metadata: Metadata | None = None) -> Directive:
    """Parse already-decoded text. ``metadata`` (e.g. from a JSONL record) is used instead of extracting one."""
    norm = normalize(original)
    layout = find_layout(norm.text)
    main_text = norm.text
    if layout.appendix_start is not None:  # the header and the signature are above the appendix
        main_text = "\n".join(norm.text.split("\n")[:layout.appendix_start])
    meta = metadata if metadata is not None else extract_metadata(main_text)
    units = parse_body(original, norm.text, layout.body_start, layout.body_end)
    if layout.appendix_start is not None:
        units += appendix_units(original, norm.text, layout.appendix_start)
    warnings = []
    if not units:
        warnings.append("no body found")
    d = Directive(
        doc_id=doc_id, source=source, format=fmt, encoding=encoding,
        content_hash=content_hash or hashlib.sha256(original.encode("utf-8")).hexdigest(),
        original=original, text=norm.text, offsets=norm.offsets, metadata=meta, units=units, warnings=warnings,
    )
    d.chunks = make_chunks(doc_id, units)
    return d


def appendix_units(original: str, normalised: str, start_line: int) -> list[Unit]:
    """The appendix after the signature ("PHỤ LỤC …", often a table of tasks) as one section "PL"."""
    lines = normalised.split("\n")
    head = lines[start_line].strip().strip("#*_ ")
    children = parse_body(original, normalised, start_line + 1, len(lines))
    offset = sum(len(ln) + 1 for ln in lines[:start_line])
    section = Unit("section", "PL", "PL", head, "", offset, offset + len(lines[start_line]), section_kind(head), "")

    def repath(u: Unit) -> None:
        u.path = f"PL {u.path}" if u.path.startswith(("¶", "§")) else f"PL.{u.path}"
        for c in u.children:
            repath(c)

    for c in children:
        repath(c)
    section.children = children
    section.end = max([section.end, *(c.end for c in children)])
    return [section]


def parse_file(path: Path, *, root: Path | None = None, doc_id: str | None = None,
               options: ReadOptions | None = None) -> Directive:
    """Parse one document file; raises ``ReadError`` for unreadable input (the message names file and reason)."""
    raw = read_document(path, options=options)
    d = parse_text(raw.text, doc_id=doc_id or doc_id_for(path, root),
                   source=str(path.relative_to(root)) if root else str(path),
                   content_hash=raw.content_hash, fmt=raw.format, encoding=raw.encoding)
    d.ingest = raw.ingest
    try:
        overrides = load_sidecar(path)
    except ValueError as e:
        raise ReadError(str(path), f"bad sidecar: {e}") from e
    if overrides:
        d.metadata = apply_overrides(d.metadata, overrides)
    return d


def iter_document_files(corpus: Path) -> Iterator[Path]:
    """Document and record files under ``corpus``. Sidecars are not documents, and nothing under a hidden
    path component is: the web app keeps its trash (``.trash/``) and unfinished uploads there."""
    wanted = DOCUMENT_SUFFIXES | RECORD_SUFFIXES
    for p in sorted(corpus.rglob("*")):
        if (p.is_file() and p.suffix.lower() in wanted
                and not any(part.startswith(".") for part in p.relative_to(corpus).parts)):
            yield p


def parse_source(path: Path, root: Path, options: ReadOptions | None = None
                 ) -> tuple[list[Directive], list[ParseError]]:
    """One source file → its documents (one for a document file, one per record for .jsonl) and errors."""
    rel = str(path.relative_to(root))
    if path.suffix.lower() in RECORD_SUFFIXES:
        from indexer.jsonl import read_jsonl

        return read_jsonl(path, root=root)
    try:
        return [parse_file(path, root=root, options=options)], []
    except ReadError as e:
        return [], [ParseError(rel, e.reason)]
    except Exception as e:  # a parser bug must not sink the batch
        return [], [ParseError(rel, f"cannot parse: {type(e).__name__}: {e}")]


def parse_corpus(corpus: Path) -> tuple[list[Directive], list[ParseError]]:
    """Parse every document under ``corpus``; bad files become errors, duplicates are kept once.

    Duplicates are judged on the normalised text, so the same directive saved as .txt and as UTF-16 or .docx
    is one document; ``content_hash`` (raw bytes) stays the key for incremental re-indexing.
    """
    docs: list[Directive] = []
    errors: list[ParseError] = []
    seen: dict[str, str] = {}
    ids: set[str] = set()
    for p in iter_document_files(corpus):
        found, errs = parse_source(p, corpus)
        errors += errs
        for d in found:
            text_hash = hashlib.sha256(d.text.encode("utf-8")).hexdigest()
            if text_hash in seen:
                errors.append(ParseError(d.source, f"duplicate of {seen[text_hash]} (same content)"))
                continue
            if d.doc_id in ids:
                errors.append(ParseError(d.source, f"document id {d.doc_id!r} is already used by another document"))
                continue
            seen[text_hash] = d.source
            ids.add(d.doc_id)
            docs.append(d)
    return docs, errors
