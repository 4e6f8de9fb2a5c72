"""Which document implements which: "Thực hiện Công văn số 530/SLĐTBXH-BTXHTE ngày 14/3/2023 của Sở …"
resolved against the corpus by number and date.

Numbers are written loosely in the seeds ("530/SLĐT BXH-BTXHTE", "485/SLĐTĐBXH-BTXHTTEBĐG"), so a reference
matches a document when the serial number is the same, the dates agree (the same day when both give one,
else the same year), and the codes after the slash are the same once folded (no diacritics, no spaces or
dashes) or differ by a typo (similarity ≥ ``CODE_SIMILARITY``). A reference that matches several documents
is ambiguous: every candidate is offered, none is chosen.

The graph (upstream refs of every document, resolved) is built once per index generation from the
documents' stored metadata and cached; walking it never loops, even over a cycle of references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel
from rapidfuzz import fuzz

from indexer.models import LegalRef
from indexer.textnorm import fold
from search_api.generation_cache import PerGeneration
from search_api.schemas import ResultDocument
from search_api.service import SearchService

CODE_SIMILARITY = 80  # rapidfuzz ratio (0–100) between folded codes: "SLDTBXHBTXHTE" vs "SLDTDBXHBTXHTTEBDG" ≥ 80
MAX_DEPTH = 6  # Ministry → province → district → commune is 3; deeper chains are data errors


@dataclass(frozen=True)
class NumberKey:
    serial: str  # "530"
    code: str  # "SLDTBXHBTXHTE": folded, upper-case, letters and digits only
    date: str  # ISO date or year, "" when not given


def number_key(number: str, date: str = "") -> NumberKey | None:
    """The comparable form of a document number; None when it has no serial ("/KH-SLĐTBXH")."""
    s = fold(number or "").upper()
    m = re.match(r"\s*(\d+)\s*([A-Z]?)\s*(?:/(.*))?$", s)
    if not m or not m.group(1):
        return None
    return NumberKey(m.group(1).lstrip("0") or "0", re.sub(r"[^A-Z0-9]", "", m.group(3) or ""), date or "")


def dates_agree(a: str, b: str) -> bool:
    """Same day when both are full dates, else the same year; an unknown date agrees with anything."""
    if not a or not b:
        return True
    if len(a) == 10 and len(b) == 10:
        return a == b
    return a[:4] == b[:4]


def codes_agree(a: str, b: str) -> bool:
    if not a or not b:
        return True
    return a == b or fuzz.ratio(a, b) >= CODE_SIMILARITY


class LinkRef(BaseModel):
    """One upstream reference of a document and what it resolves to in the corpus."""

    text: str  # the citation as written
    kind: str
    number: str
    date: str
    issuer: str
    documents: list[ResultDocument]  # 0: not in the corpus; 1: linked; 2+: ambiguous, all offered
    status: str  # "linked" | "missing" | "ambiguous"


class LinkedDoc(BaseModel):
    document: ResultDocument
    depth: int  # 1 = directly, 2 = through one document in between …
    via: str | None = None  # doc_id of the document in between (depth ≥ 2)


class DocumentLinks(BaseModel):
    doc_id: str
    upstream: list[LinkRef]  # this document's own "Thực hiện …" references
    ancestors: list[LinkedDoc]  # every document above it, each once
    downstream: list[LinkedDoc]  # every document that implements it (directly or through others), each once


@dataclass
class LinkGraph:
    """Resolved upstream references of every document (``up``) and the reverse edges (``down``)."""

    refs: dict[str, list[tuple[LegalRef, list[str]]]] = field(default_factory=dict)
    up: dict[str, list[str]] = field(default_factory=dict)
    down: dict[str, list[str]] = field(default_factory=dict)


def upstream_refs(implements: LegalRef | None, references: list[LegalRef], opening: str) -> list[LegalRef]:
    """The "Thực hiện …" reference and the others cited in the same sentence-line ("Công văn số 636/… ;
    Công văn số 1011/… của UBND tỉnh"); laws are context, not guidance."""
    if implements is None:
        return []
    line_end = implements.start + (opening.find("\n") if "\n" in opening else len(opening))
    out = [implements]
    out += [r for r in references if r is not implements and r.kind != "Luật" and r.number
            and implements.start < r.start < line_end and (r.number, r.date) != (implements.number, implements.date)]
    return out


def resolve(svc: SearchService, number: str, date: str = "", exclude: str = "") -> list[str]:
    """Document ids of the corpus whose number (and date) match a cited number."""
    key = number_key(number, date)
    if key is None:
        return []
    out = []
    for d in _targets(svc).get(key.serial, []):
        k, doc_id = d
        if doc_id != exclude and dates_agree(key.date, k.date) and codes_agree(key.code, k.code):
            out.append(doc_id)
    return out


def _build_targets(svc: SearchService) -> dict[str, list[tuple[NumberKey, str]]]:
    """serial → [(key, doc_id)] over the corpus (from the documents table's number and date columns: no JSON
    read)."""
    by: dict[str, list[tuple[NumberKey, str]]] = {}
    for d in svc.store.documents():
        k = number_key(d["number"] or "", d["date"] or "")
        if k is not None:
            by.setdefault(k.serial, []).append((k, d["doc_id"]))
    return by


_targets = PerGeneration(_build_targets).get


def _build_graph(svc: SearchService) -> LinkGraph:
    g = LinkGraph()
    for doc_id, implements, references, opening in svc.store.reference_rows():
        refs = upstream_refs(implements, references, opening)
        resolved = [(r, resolve(svc, r.number, r.date, exclude=doc_id)) for r in refs]
        g.refs[doc_id] = resolved
        ups = list(dict.fromkeys(t for _, ts in resolved if len(ts) == 1 for t in ts))
        g.up[doc_id] = ups
        for u in ups:
            g.down.setdefault(u, []).append(doc_id)
    return g


GRAPH = PerGeneration(_build_graph)  # built by the server's background warm-up (``search_api.warmup``)


def graph(svc: SearchService) -> LinkGraph:
    """The link graph of the service's current generation (2.4 s at 4,066 documents), built once."""
    return GRAPH.get(svc)


def _walk(start: str, edges: dict[str, list[str]]) -> list[tuple[str, int, str | None]]:
    """Breadth-first (doc_id, depth, via) from ``start``; every document once, the start never again."""
    seen = {start}
    out: list[tuple[str, int, str | None]] = []
    frontier: list[tuple[str, str | None]] = [(start, None)]
    for depth in range(1, MAX_DEPTH + 1):
        nxt = []
        for node, _ in frontier:
            for t in edges.get(node, []):
                if t in seen:
                    continue
                seen.add(t)
                via = node if depth > 1 else None
                out.append((t, depth, via))
                nxt.append((t, via))
        frontier = nxt
        if not frontier:
            break
    return out


def document_links(svc: SearchService, doc_id: str) -> DocumentLinks:
    """Upstream references (resolved), ancestors and downstream documents of one document (NotFound)."""
    svc.document_summary(doc_id)
    g = graph(svc)
    ups = []
    for r, ids in g.refs.get(doc_id, []):
        status = "linked" if len(ids) == 1 else "missing" if not ids else "ambiguous"
        ups.append(LinkRef(text=r.text, kind=r.kind, number=r.number, date=r.date, issuer=r.issuer,
                           documents=[svc.document_summary(i) for i in ids], status=status))

    def linked(rows: list[tuple[str, int, str | None]]) -> list[LinkedDoc]:
        return [LinkedDoc(document=svc.document_summary(d), depth=n, via=v) for d, n, v in rows]

    return DocumentLinks(doc_id=doc_id, upstream=ups, ancestors=linked(_walk(doc_id, g.up)),
                         downstream=linked(_walk(doc_id, g.down)))


def downstream_of(svc: SearchService, doc_id: str) -> list[tuple[str, int, str | None]]:
    """(doc_id, depth, via) of every document below ``doc_id``."""
    return _walk(doc_id, graph(svc).down)


def guidance_candidates(svc: SearchService, ref: LegalRef | None, exclude: str = "") -> list[str]:
    """Documents a draft's "Thực hiện …" reference may mean (several when ambiguous)."""
    if ref is None or not ref.number:
        return []
    return resolve(svc, ref.number, ref.date, exclude=exclude)
