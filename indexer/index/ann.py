"""Approximate nearest neighbours for large segments: an HNSW graph over 8-bit codes (FAISS), built at sealing.

The int8 scan (``indexer/index/vectors.py``) reads every code of a segment for every query: 1 ms per 100k rows
here, 12 ms at a million, linear in the index. A segment of at least ``ANN_FROM`` rows therefore gets, when it
is sealed, a graph that finds a query's neighbours in a logarithmic number of steps: FAISS's
``IndexHNSWSQ`` (inner product, vectors stored as trained 8-bit codes, ``HNSW_M`` links per node). Only
merges (and large first-build segments) write such segments, so a one-file update writes no graph; small
segments are scanned as before. The graph's rows are the segment's chunk vectors followed by its window
vectors (chunks longer than the model), so a long chunk is found by its best window, as in the scan.

The graph only *proposes* rows: the store re-scores them with the exact float32 vectors, so every reported
cosine is exact and only the choice of rows is approximate. ``EF_SEARCH`` sets the recall (measured by
``eval/bench_million.py recall``; figures in README, "Serving a million chunks"). HNSW rather than IVF:
it needs no training on the segment's own distribution and no probe count tuned per segment size; IVF was
not measured against it here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

ANN_FROM = 200_000  # rows (chunk + window vectors) from which a sealed segment gets a graph
ANN_FILE = "ann.faiss"
HNSW_M = 32  # links per node (level 0 has twice as many)
EF_CONSTRUCTION = 200
EF_SEARCH = 1280  # candidates kept during a search: recall@100 ≥ 0.98 on the gold queries at 1M (README)
EF_MAX = 4096
TRAIN_ROWS = 262_144  # rows that set the 8-bit ranges (every k-th row)


def _faiss():
    import faiss

    return faiss


def build(parts: list[np.ndarray], path: Path, *, threads: int | None = None) -> dict:
    """Write the graph of the rows of ``parts`` (chunk vectors, then window vectors) to ``path`` (atomic)."""
    faiss = _faiss()
    d = parts[0].shape[1]
    n = sum(len(p) for p in parts)
    rows = np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0])
    index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    try:
        every = max(1, n // TRAIN_ROWS)
        index.train(np.ascontiguousarray(rows[::every], dtype=np.float32))
        for a in range(0, n, 65_536):
            index.add(np.ascontiguousarray(rows[a:a + 65_536], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(before)
    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)
    return {"rows": n, "m": HNSW_M, "ef_construction": EF_CONSTRUCTION}


class Ann:
    """A segment's graph, loaded once per process; searches are thread-safe (FAISS reads only)."""

    def __init__(self, source: Path | BinaryIO):
        """From a path, or from a file opened earlier (a merge may have removed the folder since)."""
        faiss = _faiss()
        if isinstance(source, (str, Path)):
            self.index = faiss.read_index(str(source))
        else:
            source.seek(0)
            self.index = faiss.read_index(faiss.PyCallbackIOReader(source.read))
        self.n = int(self.index.ntotal)

    def top(self, qvec: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, estimated cosines) of about ``k`` best rows, only among ``mask`` (bool per row) when given.

        With a mask the graph is searched with a FAISS ID selector and a wider beam (rows outside the mask
        still route the search but are never returned).
        """
        faiss = _faiss()
        k = min(k, self.n if mask is None else int(np.count_nonzero(mask)))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = faiss.SearchParametersHNSW()
        share = 1.0
        if mask is not None:
            bits = np.packbits(mask.astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(self.n, faiss.swig_ptr(bits))
            params.sel = sel
            share = max(float(np.count_nonzero(mask)) / self.n, 1e-6)
        params.efSearch = int(min(EF_MAX, max(EF_SEARCH / share ** 0.5, k)))
        q = np.ascontiguousarray(np.asarray(qvec, dtype=np.float32).reshape(1, -1))
        d, i = self.index.search(q, k, params=params)
        ok = i[0] >= 0
        return i[0][ok].astype(np.int64), d[0][ok].astype(np.float32)

    @property
    def nbytes(self) -> int:
        """Approximate memory of the graph and codes (for the capacity table)."""
        links = self.index.hnsw.neighbors.size() * 4
        return int(links + self.n * self.index.d)
