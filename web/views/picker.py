"""The compare page's document picker for large corpora: what a typed name resolves to, the choices when it
does not resolve to one document (the search form that works without JavaScript), and suggested
comparisons for the chosen document."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from search_api.alignment.compare import resolve_document
from search_api.drafting.doc_picker import label, similar_documents, suggest
from search_api.service import NotFound, SearchService

MAX_CHOICES = 20
REASONS = {"same place, earlier": "kế hoạch trước đó của cùng địa phương", "similar content": "nội dung gần giống"}


@dataclass
class Pick:
    query: str  # what was typed
    doc_id: str = ""  # resolved document ("" while choosing)
    label: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)  # (label, url) when the text matched several


def pick(svc: SearchService, side: str, ref: str, other: dict[str, str]) -> Pick:
    """Resolve the text typed for one side; several matches become choices (links keeping the other side).
    NotFound when nothing matches."""
    ref = ref.strip()
    if not ref:
        return Pick("")
    try:
        doc_id = resolve_document(svc, ref)
        return Pick(ref, doc_id, label(svc.document_summary(doc_id)))
    except (NotFound, ValueError) as e:
        hits = suggest(svc, ref, MAX_CHOICES).results
        if not hits:
            raise NotFound(f"no document matches {ref[:80]!r}") from e
        if len(hits) == 1:
            d = hits[0].document
            return Pick(ref, d.doc_id, label(d))
        return Pick(ref, choices=[(h.label, "/compare?" + urlencode({**other, side: h.document.doc_id}))
                                  for h in hits])


def suggestions(svc: SearchService, a: str, b: str) -> list[tuple[str, str, str]]:
    """(label, url, why) of the documents most worth comparing with ``a``."""
    if not a:
        return []
    out = []
    for s in similar_documents(svc, a, 5).results:
        if s.document.doc_id == b:
            continue
        # no percentage: e5 centroids of plans on one subject all sit near 0.99, only their order means much
        out.append((label(s.document), "/compare?" + urlencode({"a": a, "b": s.document.doc_id}),
                    REASONS.get(s.reason, s.reason)))
    return out
