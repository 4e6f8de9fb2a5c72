"""How one guidance document propagates down the levels: task by task, which downstream documents carried
it word for word, changed it (with the redline) or dropped it, and which added wording was introduced by
one document and then copied by others.

The reuse part follows passim and LID: texts are compared as word n-grams ("shingles", 5 folded syllables,
passim's default n-gram order), n-grams that the guidance itself has are ignored (copying the guidance is
not reuse between the downstream documents), two documents are linked when they share at least
``MIN_SHARED`` n-grams (passim's minimum of matching n-grams), documents are clustered by single link, and
the earliest-dated member of a cluster is where the wording first appears (a province before its districts
on the same day). The passage shown is the first document's own words that the others share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from indexer.textnorm import fold
from search_api.alignment.compare import SHARED_SIMILARITY, CompareUnit, alignment_of, unit_out
from search_api.alignment.redline import Redline, redline
from search_api.drafting.guidance_links import LinkedDoc, document_links
from search_api.schemas import ResultDocument
from search_api.service import SearchService

NGRAM = 5
MIN_SHARED = 5  # n-grams two documents must share (passim's default; 5 five-grams ≈ a run of 9 words)
LEVEL_RANK = {"national": 0, "province": 1, "district": 2, "commune": 3}


class Carried(BaseModel):
    """What one downstream document did with one guidance task."""

    document: ResultDocument
    depth: int
    status: Literal["verbatim", "changed", "dropped"]
    units: list[CompareUnit] = []  # the document's units that carry the task (several when it split it)
    text_similarity: float | None = None
    redline: Redline | None = None  # from the guidance's wording (A) to the document's (B)


class Reuse(BaseModel):
    """Wording not in the guidance that one document introduced and others then used too."""

    text: str  # the first document's words that the others share
    first: ResultDocument
    first_unit: CompareUnit
    copied_by: list[ResultDocument]
    shared_ngrams: int


class TaskPropagation(BaseModel):
    unit: CompareUnit  # the guidance task
    carried: list[Carried]
    verbatim: int
    changed: int
    dropped: int
    reuse: list[Reuse]


class Propagation(BaseModel):
    guidance: ResultDocument
    downstream: list[LinkedDoc]
    tasks: list[TaskPropagation]
    reuse_outside_tasks: list[Reuse]  # shared additions in units that carry no guidance task


# --- n-grams ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


@dataclass
class _Words:
    text: str
    spans: list[tuple[int, int]]
    keys: list[str]

    @classmethod
    def of(cls, text: str) -> _Words:
        ms = list(_WORD.finditer(text))
        return cls(text, [m.span() for m in ms], [fold(m.group(0).lower()) for m in ms])

    def grams(self) -> list[tuple[str, ...]]:
        return [tuple(self.keys[i:i + NGRAM]) for i in range(len(self.keys) - NGRAM + 1)]

    def passage(self, wanted: set[tuple[str, ...]]) -> str:
        """The longest run of this text covered by the ``wanted`` n-grams, in the original words."""
        covered = [False] * len(self.keys)
        for i, g in enumerate(self.grams()):
            if g in wanted:
                for k in range(i, i + NGRAM):
                    covered[k] = True
        best, cur = (0, 0), None
        for i, c in enumerate([*covered, False]):
            if c and cur is None:
                cur = i
            elif not c and cur is not None:
                if i - cur > best[1] - best[0]:
                    best = (cur, i)
                cur = None
        if best[1] <= best[0]:
            return ""
        return self.text[self.spans[best[0]][0]:self.spans[best[1] - 1][1]]


@dataclass
class _Witness:
    doc: ResultDocument
    unit: CompareUnit
    words: _Words
    novel: set[tuple[str, ...]]  # its n-grams that the guidance does not have


def _order(d: ResultDocument) -> tuple:
    """Earliest first; on the same date, the higher level first (it is the one others copy from). A date
    known only to the year sorts after that year's dated documents: it cannot be shown to be first."""
    date = d.date if len(d.date or "") == 10 else f"{d.year or 9999}-99"
    return (date, LEVEL_RANK.get(d.level, 4), d.doc_id)


def reuse_clusters(witnesses: list[_Witness]) -> list[Reuse]:
    """Single-link clusters of documents sharing ≥ ``MIN_SHARED`` novel n-grams; one Reuse per cluster."""
    n = len(witnesses)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(n):
        for j in range(i + 1, n):
            if witnesses[i].doc.doc_id != witnesses[j].doc.doc_id and \
                    len(witnesses[i].novel & witnesses[j].novel) >= MIN_SHARED:
                parent[find(i)] = find(j)
    clusters: dict[int, list[int]] = {}
    for i in range(n):
        clusters.setdefault(find(i), []).append(i)
    out = []
    for members in clusters.values():
        docs = {witnesses[i].doc.doc_id for i in members}
        if len(docs) < 2:
            continue
        members.sort(key=lambda i: _order(witnesses[i].doc))
        first = witnesses[members[0]]
        others = [witnesses[i] for i in members[1:] if witnesses[i].doc.doc_id != first.doc.doc_id]
        shared = set().union(*(first.novel & w.novel for w in others))
        text = first.words.passage(shared)
        if not text:
            continue
        copied = list({w.doc.doc_id: w.doc for w in others}.values())
        out.append(Reuse(text=text, first=first.doc, first_unit=first.unit, copied_by=copied,
                         shared_ngrams=len(shared)))
    out.sort(key=lambda r: -r.shared_ngrams)
    return out


# --- the view --------------------------------------------------------------------------------------------

def _task_groups(du) -> list[int]:
    """Group indices of the guidance's tasks (its paragraphs too when it has no numbered task)."""
    tasks = [gi for gi, g in enumerate(du.groups) if du.units[g.whole].kind == "task"]
    return tasks or list(range(len(du.groups)))


def propagation(svc: SearchService, doc_id: str) -> Propagation:
    """Task-by-task propagation of guidance ``doc_id`` through every document below it (NotFound)."""
    links = document_links(svc, doc_id)
    from search_api.alignment.compare import doc_units

    g_units = doc_units(svc, doc_id)
    rows = _task_groups(g_units)
    carried: dict[int, list[Carried]] = {gi: [] for gi in rows}
    witnesses: dict[int, list[_Witness]] = {gi: [] for gi in rows}
    outside: list[_Witness] = []
    g_grams = {gi: set(_Words.of(g_units.units[g_units.groups[gi].whole].text).grams()) for gi in rows}
    all_g = set().union(*g_grams.values()) if g_grams else set()
    for ld in links.downstream:
        d_id = ld.document.doc_id
        al = alignment_of(svc, doc_id, d_id)
        linked: dict[int, set[int]] = {}
        has_tasks = any(u.kind != "paragraph" for u in al.b.units)
        for p in al.links():
            if has_tasks and al.b.units[p.b].kind == "paragraph":
                continue  # the opening "Thực hiện …" and closing paragraphs carry no task
            linked.setdefault(g_units.units[p.a].group, set()).add(p.b)
        for gi in rows:
            whole = g_units.units[g_units.groups[gi].whole]
            bs = sorted(linked.get(gi, ()))
            if not bs:
                carried[gi].append(Carried(document=ld.document, depth=ld.depth, status="dropped"))
                continue
            text = "\n".join(al.b.units[j].text for j in bs)
            r = redline(whole.text, text)
            status = "verbatim" if r.similarity >= SHARED_SIMILARITY else "changed"
            units = [unit_out(al.b.units[j]) for j in bs]
            carried[gi].append(Carried(document=ld.document, depth=ld.depth, status=status, units=units,
                                       text_similarity=round(r.similarity, 4), redline=r))
            w = _Words.of(text)
            witnesses[gi].append(_Witness(ld.document, units[0], w, set(w.grams()) - g_grams[gi]))
        used = {j for bs in linked.values() for j in bs}
        for j, u in enumerate(al.b.units):
            if j not in used and not u.is_item and u.kind == "task":
                w = _Words.of(u.text)
                outside.append(_Witness(ld.document, unit_out(u), w, set(w.grams()) - all_g))
    tasks = []
    for gi in rows:
        cs = carried[gi]
        tasks.append(TaskPropagation(
            unit=unit_out(g_units.units[g_units.groups[gi].whole]), carried=cs,
            verbatim=_count(cs, "verbatim"), changed=_count(cs, "changed"), dropped=_count(cs, "dropped"),
            reuse=reuse_clusters(witnesses[gi])))
    return Propagation(guidance=svc.document_summary(doc_id), downstream=links.downstream, tasks=tasks,
                       reuse_outside_tasks=reuse_clusters(outside))


def _count(cs: Iterable[Carried], status: str) -> int:
    return sum(1 for c in cs if c.status == status)
