"""The query path's shortcuts: a new query is encoded and searched densely in a worker thread while BM25 runs,
a repeated one is not encoded (nor handed to a thread) at all, and both give the results of the plain
sequential path."""

from __future__ import annotations

import threading

from search_api.retrieve import retrieve
from search_api.service import SearchService
from tests.spies import thread_names


def test_new_query_encoded_beside_bm25_repeated_query_not_encoded(seed_index):
    svc = SearchService.open(seed_index)
    try:
        real = svc._encode_query
        q = "phòng chống đuối nước cho trẻ em mùa hè"
        with thread_names(svc, "_encode_query") as seen, thread_names(svc.store, "dense_top") as searched:
            first = [(r.chunk_id, r.score) for r in svc.search(q, k=10).results]
            assert len(seen) == 1 and seen[0].startswith("encode-query")
            assert searched == seen  # the dense search followed the encoding in the worker, beside BM25
            again = [(r.chunk_id, r.score) for r in svc.search(q, k=10).results]
        assert again == first and len(seen) == 1  # answered from the cache, no thread, no encoding
        assert len(searched) == 2 and searched[1] == threading.current_thread().name
        # retrieve without the cache probe agrees
        plain = retrieve(svc.store, svc.vocab, q, allowed=None, encode_query=real, cfg=svc.fusion, need=10)
        assert [h.chunk.chunk.chunk_id for h in plain.hits[:10]] == [c for c, _ in first]
    finally:
        svc.close()
