"""Check a draft plan against what it must carry: the guidance it implements, the same place's previous
plan, and the plans of peer units for the same year.

The draft is parsed like any directive (``indexer.parsing.pipeline``) but is never added to the index. Its tasks are
embedded with the index's own model and aligned with each reference document exactly as two corpus
documents are compared. The report has four parts:

1. guidance tasks the draft does not carry ("Chưa có trong dự thảo"), with the guidance wording;
2. tasks most peers include and the draft lacks: peers' missing tasks are linked across peers by the peers'
   own alignments, and a task counts when more than half of the peers have it; the example shown is the
   wording closest to the other peers' (the medoid), with its citation ready to paste;
3. draft tasks that changed from last year's plan, with the redline;
4. draft tasks no reference document has.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from indexer.models import Directive
from indexer.parsing.pipeline import parse_file, parse_text
from indexer.textnorm import fold
from search_api.alignment.align import Alignment, DocUnits, align, build_units
from search_api.alignment.compare import (
    SHARED_SIMILARITY,
    CompareUnit,
    NearestUnit,
    alignment_of,
    doc_units,
    joined,
    nearest_out,
    unit_out,
)
from search_api.alignment.precedents import citation
from search_api.alignment.redline import Redline, redline
from search_api.drafting.guidance_links import downstream_of, guidance_candidates
from search_api.exports.tracked_changes import Block, paragraph_text
from search_api.schemas import ResultDocument
from search_api.service import NotFound, SearchService

MAX_DRAFT_BYTES = 4 * 1024 * 1024  # a plan is tens of kilobytes; a .docx with a scanned seal a few hundred
DRAFT_SUFFIXES = (".docx", ".txt", ".md")
MAX_PEERS = 8
DRAFT_ID = "du-thao"


class DraftTooLarge(ValueError):
    """The upload is over ``MAX_DRAFT_BYTES`` (HTTP 413)."""


class MissingTask(BaseModel):
    unit: CompareUnit  # the guidance's wording
    nearest: NearestUnit | None = None  # the draft's closest unit (not close enough to carry it): to check by eye


class PeerTask(BaseModel):
    peers: int  # how many peers have it
    of: int  # out of how many peers
    example: CompareUnit  # the best-worded example
    document: ResultDocument
    citation: str  # "Công văn số 215/UBND-LĐTBXH ngày 20/3/2024 của UBND huyện Gio Linh"
    others: list[CompareUnit]  # the other peers' wording


class ChangedTask(BaseModel):
    previous: CompareUnit
    draft: CompareUnit
    previous_paths: list[str] = []  # every unit of last year's plan in the group (a merge or split has several)
    draft_paths: list[str] = []
    text_similarity: float
    redline: Redline  # last year's wording (A) → the draft's (B)


class DraftCheck(BaseModel):
    draft: dict  # the draft's metadata (title, number, date, place, implements …) as parsed
    notices: list[str]  # e.g. "no numbered tasks: compared paragraph by paragraph"
    guidance: ResultDocument | None
    guidance_candidates: list[ResultDocument]  # the draft's reference matched several: all offered
    guidance_reference: str  # the "Thực hiện …" citation as written in the draft
    previous: ResultDocument | None
    peers: list[ResultDocument]
    missing_from_guidance: list[MissingTask]
    common_in_peers: list[PeerTask]
    changed_from_previous: list[ChangedTask]
    unchanged_from_previous: int
    only_in_draft: list[CompareUnit]


# --- the draft ------------------------------------------------------------------------------------------

def parse_draft(*, text: str | None = None, data: bytes | None = None, filename: str = "") -> Directive:
    """The draft as a Directive; ValueError (DraftTooLarge for size) with a Vietnamese-readable reason."""
    if data is not None:
        if len(data) > MAX_DRAFT_BYTES:
            raise DraftTooLarge(f"draft too large: {len(data):,} bytes > {MAX_DRAFT_BYTES:,}")
        suffix = Path(filename or "").suffix.lower()
        if suffix not in DRAFT_SUFFIXES:
            raise ValueError(f"unsupported draft file type {suffix or '(none)'!r}: send .docx, .txt or .md")
        if not data.strip():
            raise ValueError("the draft file is empty")
        from indexer.reading import ReadError

        with tempfile.TemporaryDirectory(prefix="draft-") as tmp:
            path = Path(tmp) / f"du-thao{suffix}"  # never the uploaded name: it is not a path we trust
            path.write_bytes(data)
            try:
                d = parse_file(path, doc_id=DRAFT_ID)
            except ReadError as e:
                raise ValueError(f"cannot read the draft: {e.reason}") from None
        d.source = re.sub(r"[^\w .-]+", "_", Path(filename).name)[:120]
        return d
    text = (text or "").strip()
    if not text:
        raise ValueError("empty draft: paste the draft's text or upload a .docx/.txt file")
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise DraftTooLarge(f"draft too large: {len(text.encode('utf-8')):,} bytes > {MAX_DRAFT_BYTES:,}")
    return parse_text(text, doc_id=DRAFT_ID, source="(dán vào)")


def draft_units(svc: SearchService, d: Directive) -> DocUnits:
    """Alignment units of the draft, embedded now with the index's model (passages, like indexing)."""
    chunks = d.chunks
    headings = {u.path: u.heading for u in d.walk()}
    texts = [c.text for c in chunks]
    vecs = svc.encoder.encode_passages(texts) if texts else np.zeros((0, svc.store.dim), dtype="float32")
    return build_units(DRAFT_ID, chunks, headings, {c.chunk_id: v for c, v in zip(chunks, vecs, strict=True)})


# --- the reference documents ------------------------------------------------------------------------------

def _same_place(a: str, b: str) -> bool:
    return bool(a) and fold(a).lower() == fold(b).lower()


def previous_plan(svc: SearchService, d: Directive) -> str | None:
    """The same place's latest document before the draft's year (same level when both are known)."""
    m = d.metadata
    best = None
    for doc in svc.documents():
        if not _same_place(m.place, doc.place) or (m.level and doc.level and m.level != doc.level):
            continue
        if m.year and doc.year and doc.year >= m.year:
            continue
        if best is None or (doc.date or "") > (best.date or ""):
            best = doc
    return best.doc_id if best else None


def peer_plans(svc: SearchService, d: Directive, guidance: str | None, exclude: set[str]) -> list[str]:
    """Documents implementing the same guidance, then the same year and level elsewhere (at most
    ``MAX_PEERS``)."""
    m = d.metadata
    out = [x for x, _, _ in downstream_of(svc, guidance)] if guidance else []
    for doc in svc.documents():
        if m.year and doc.year == m.year and (not m.level or doc.level == m.level):
            out.append(doc.doc_id)
    place = {doc.doc_id: doc.place for doc in svc.documents()}
    seen: list[str] = []
    for x in out:
        if x not in seen and x not in exclude and not _same_place(m.place, place.get(x, "")):
            seen.append(x)
    return seen[:MAX_PEERS]


# --- the report -------------------------------------------------------------------------------------------

def _linked(al: Alignment, side: str) -> set[int]:
    return {getattr(p, side) for p in al.links()}


def _tasks(du: DocUnits, chosen: set[int] | None = None) -> list[int]:
    """Units that are tasks or items (all units when the document has none), optionally within ``chosen``."""
    idx = [i for i, u in enumerate(du.units) if u.kind != "paragraph"] or list(range(len(du.units)))
    return [i for i in idx if chosen is None or i in chosen]


def _chosen(al: Alignment, side: str) -> set[int]:
    return _linked(al, side) | set(al.only_a if side == "a" else al.only_b)


def _common_in_peers(svc: SearchService, peers: list[str], vs_draft: dict[str, Alignment]) -> list[PeerTask]:
    """Peer tasks the draft lacks, linked across peers; those more than half the peers have."""
    missing = {p: set(_tasks(vs_draft[p].a, _chosen(vs_draft[p], "a"))) - _linked(vs_draft[p], "a")
               for p in peers}
    nodes = [(p, i) for p in peers for i in sorted(missing[p])]
    index = {n: k for k, n in enumerate(nodes)}
    parent = list(range(len(nodes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x in range(len(peers)):
        for y in range(x + 1, len(peers)):
            al = alignment_of(svc, peers[x], peers[y])
            for link in al.links():
                a, b = (peers[x], link.a), (peers[y], link.b)
                if a in index and b in index:
                    parent[find(index[a])] = find(index[b])
    clusters: dict[int, list[tuple[str, int]]] = {}
    for n, k in index.items():
        clusters.setdefault(find(k), []).append(n)
    out = []
    for members in clusters.values():
        have = {p for p, _ in members}
        if len(have) * 2 <= len(peers) or len(have) < 2:
            continue
        texts = {(p, i): vs_draft[p].a.units[i].text for p, i in members}

        def closeness(m: tuple[str, int], texts=texts, members=members) -> float:
            return float(np.mean([redline(texts[m], texts[o]).similarity for o in members if o[0] != m[0]]))

        best = max(members, key=closeness)
        doc = svc.document_summary(best[0])
        out.append(PeerTask(peers=len(have), of=len(peers), example=unit_out(vs_draft[best[0]].a.units[best[1]]),
                            document=doc, citation=citation(svc.document(best[0]).metadata),
                            others=[unit_out(vs_draft[p].a.units[i]) for p, i in members if (p, i) != best]))
    out.sort(key=lambda t: -t.peers)
    return out


def check_draft(svc: SearchService, d: Directive, *, guidance: str | None = None,
                previous: str | None = None) -> DraftCheck:
    """The four-part report for a parsed draft; ``guidance``/``previous`` override what is found (NotFound)."""
    notices = []
    units = draft_units(svc, d)
    if not units.units:
        raise ValueError("the draft has no body text to check")
    if all(u.kind == "paragraph" for u in units.units):
        notices.append("Dự thảo không có nhiệm vụ đánh số (1., 2., a) …): đã so sánh từng đoạn văn.")
    ref = d.metadata.implements
    candidates = guidance_candidates(svc, ref)
    if guidance:
        svc.document_summary(guidance)
    elif len(candidates) == 1:
        guidance = candidates[0]
    elif len(candidates) > 1:
        notices.append("Văn bản được dẫn ở câu “Thực hiện …” khớp với nhiều văn bản trong kho; hãy chọn một.")
    elif ref is not None:
        notices.append(f"Chưa có văn bản “{ref.text}” trong kho; có thể chọn văn bản hướng dẫn khác.")
    if previous:
        svc.document_summary(previous)
    else:
        previous = previous_plan(svc, d)
    peers = peer_plans(svc, d, guidance, {x for x in (guidance, previous) if x})
    vs = {x: align(doc_units(svc, x), units) for x in dict.fromkeys(x for x in (guidance, previous, *peers) if x)}
    missing = []
    if guidance:
        al = vs[guidance]
        missing = [MissingTask(unit=unit_out(al.a.units[i]), nearest=nearest_out(al, al.nearest_a.get(i), "b"))
                   for i in _tasks(al.a, _chosen(al, "a")) if i not in _linked(al, "a")]
    changed, unchanged = [], 0
    if previous:
        for g in vs[previous].groups():
            r = redline(joined(vs[previous].a, g.a), joined(units, g.b))
            if r.similarity >= SHARED_SIMILARITY:
                unchanged += 1
                continue
            changed.append(ChangedTask(previous=unit_out(vs[previous].a.units[g.a[0]]),
                                       draft=unit_out(units.units[g.b[0]]), text_similarity=round(r.similarity, 4),
                                       redline=r, previous_paths=[vs[previous].a.units[i].path for i in g.a],
                                       draft_paths=[units.units[j].path for j in g.b]))
    seen = set().union(*(_linked(al, "b") for al in vs.values())) if vs else set()
    only = [unit_out(units.units[j]) for j in _tasks(units) if j not in seen]
    m = d.metadata
    return DraftCheck(
        draft={"title": m.title, "number": m.number, "date": m.date, "year": m.year, "place": m.place,
               "level": m.level, "issuer": m.issuer, "implements": ref.text if ref else "", "source": d.source,
               "tasks": len(_tasks(units))},
        notices=notices, guidance=svc.document_summary(guidance) if guidance else None,
        guidance_candidates=[svc.document_summary(x) for x in candidates] if len(candidates) > 1 and not
        guidance else [], guidance_reference=ref.text if ref else "",
        previous=svc.document_summary(previous) if previous else None,
        peers=[svc.document_summary(p) for p in peers], missing_from_guidance=missing,
        common_in_peers=_common_in_peers(svc, peers, vs) if len(peers) >= 2 else [],
        changed_from_previous=changed, unchanged_from_previous=unchanged, only_in_draft=only)


def revision_blocks_against(svc: SearchService, previous: str | None, d: Directive) -> list[Block]:
    """The draft as tracked revisions of last year's plan (all inserted when there is none)."""
    from search_api.alignment.compare import revision_blocks

    units = draft_units(svc, d)
    if previous is None:
        return [Block([], [paragraph_text(u.path, u.text) for u in units.units if not _split_whole(units, u)])]
    return revision_blocks(align(doc_units(svc, previous), units))


def _split_whole(du: DocUnits, u) -> bool:
    """A task whose items are units of their own (its text would repeat theirs)."""
    g = du.groups[u.group]
    return not u.is_item and bool(g.items)


__all__ = ["MAX_DRAFT_BYTES", "DraftCheck", "DraftTooLarge", "NotFound", "check_draft", "parse_draft"]
