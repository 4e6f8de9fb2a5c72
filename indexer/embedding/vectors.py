"""What embedding a passage gives: one vector for the chunk and, for a long one, a vector per window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Embedded:
    """``vector``: the chunk's vector (its first window); ``windows``: every window's, when there are several.

    The chunk vector stays what the model reads from the chunk's start, as before windows existed, so
    similarity, alignment and precedents see the same vectors; search scores a long chunk by its best
    window. Measured on the gold set (``eval/RESULTS.md``, round 5): the mean of the windows as the chunk
    vector lost 0.012 hybrid Recall@10; first window + best window lost 0.003 and gained 0.005 dense R@10.
    """

    vector: np.ndarray  # (dim,)
    windows: np.ndarray | None = None  # (n_windows, dim) for chunks longer than the model, else None

    @classmethod
    def of_windows(cls, rows: np.ndarray) -> Embedded:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        return cls(rows[0]) if len(rows) == 1 else cls(rows[0].copy(), rows)
