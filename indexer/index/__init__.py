"""The on-disk index that the builder writes and the search service reads.

Immutable segments (``segment``: documents and chunks in SQLite, ``lexical`` BM25 postings, e5 vectors with
their int8 codes in ``vectors`` and, in large sealed segments, an ``ann`` graph) listed by a ``generation``
with its deletion marks; ``store`` opens one generation for queries; ``merge`` folds small segments together
in the background; ``checkpoint`` keeps a first build's embedded batches; ``replica`` copies generations to a
read-only server.
"""
