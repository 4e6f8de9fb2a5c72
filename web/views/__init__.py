"""View models for the HTML pages: everything a template shows is computed here, so templates stay dumb.

Templates receive plain dataclasses of strings, numbers and URLs; the only markup they get is ``Markup``
built here from escaped pieces (highlights, redlines), so document text can never inject HTML. One module
per page (``search``, ``document``, ``compare`` with its ``picker``, ``evolution``, ``precedents``,
``drafting``); ``common`` holds the labels, URLs and markup they share.
"""

from web.views.common import (
    FILTER_LABELS,
    LEVEL_LABELS,
    SECTION_LABELS,
    SNIPPET_CHARS,
    BadRequest,
    doc_url,
    format_date,
    highlight,
    level_label,
    redline_sides,
    snippet,
)
from web.views.compare import build_compare_view
from web.views.document import build_document_view
from web.views.evolution import build_evolution_view
from web.views.precedents import build_precedents_view
from web.views.search import build_search_view, parse_search_state

__all__ = ["FILTER_LABELS", "LEVEL_LABELS", "SECTION_LABELS", "SNIPPET_CHARS", "BadRequest", "build_compare_view",
           "build_document_view", "build_evolution_view", "build_precedents_view", "build_search_view", "doc_url",
           "format_date", "highlight", "level_label", "parse_search_state", "redline_sides", "snippet"]
