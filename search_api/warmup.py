"""What the drafting and compare pages cache per index generation, built in the server's background warm-up
(``SearchService.add_warmer``) when ``directives serve`` starts and whenever a new generation is picked up, so
no request waits for them: the guidance link graph (2.4 s at 4,066 documents), the document centroids of
"suggested comparisons" (1.5 s at 107k chunks) and the picker's metadata lines.
"""

from __future__ import annotations

from search_api.drafting import doc_picker, guidance_links
from search_api.service import SearchService


def warm_drafting(svc: SearchService) -> None:
    """Build the current generation's drafting caches (each at most once: see ``PerGeneration``)."""
    guidance_links.GRAPH.get(svc)
    doc_picker.CENTROIDS.get(svc)
    doc_picker.LINES.get(svc)
