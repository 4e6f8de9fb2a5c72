"""Parsing: decoded text → a ``Directive`` (metadata, layout, the numbered-task tree, places, sidecar overrides).

One module per concern: ``pipeline`` (a file or text → ``Directive``), ``metadata`` (the header and its legal
references), ``layout`` (where header, body, signature and appendix are), ``structure`` (the task tree),
``places`` (the gazetteer), ``sidecar`` (hand-corrected values kept beside a file).
"""

from indexer.parsing.pipeline import (
    DOCUMENT_SUFFIXES,
    RECORD_SUFFIXES,
    doc_id_for,
    iter_document_files,
    parse_corpus,
    parse_file,
    parse_source,
    parse_text,
    slug,
)

__all__ = ["DOCUMENT_SUFFIXES", "RECORD_SUFFIXES", "doc_id_for", "iter_document_files", "parse_corpus",
           "parse_file", "parse_source", "parse_text", "slug"]
