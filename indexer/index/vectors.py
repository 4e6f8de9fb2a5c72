"""Dense candidates at 100k+ chunks: the vectors as 7-bit codes, scanned by one integer GEMV.

An exact float32 scan reads 154 MB per query at 100k chunks and is bound by memory bandwidth (~14 ms on
this machine). Quantised to one byte per dimension the matrix is 41 MB, and ONNX Runtime's u8×s8 kernel
scans it in ~5 ms. The scan only *proposes* candidates: :meth:`Int8Scan.candidates` returns several times
more rows than asked for, and the store re-scores them with the exact float32 vectors, so the scores a
search reports are exact cosines and only the choice of rows is approximate (recall measured in
``tests/test_int8_scan.py`` and ``eval/RESULTS.md``).

Codes are 7-bit (−64…63) on purpose: AVX2's u8×s8 multiply-add saturates int16 pairs, and with full 8-bit
codes the sums come out wrong; with 7-bit ones they are exact integers (tested).
"""

from __future__ import annotations

import threading

import numpy as np

LEVELS = 127  # codes −64 … 63


def _ranges(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.min([p.min(axis=0) for p in parts if len(p)], axis=0)
    hi = np.max([p.max(axis=0) for p in parts if len(p)], axis=0)
    step = (hi - lo) / LEVELS
    step[step == 0] = 1.0
    return lo.astype(np.float32), step.astype(np.float32)


def encode(matrix: np.ndarray, *more: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, step): per-dimension affine 7-bit codes, transposed to (d × n) as the kernel's constant operand.

    x_ij ≈ lo_j + step_j·(c_ji + 64); built in slices, so it never holds a float copy of the matrix. Rows of
    ``more`` matrices (a segment's window vectors) follow those of ``matrix``.
    """
    codes, _, step = _encode([matrix, *more])
    return codes, step


def _encode(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, step = _ranges(parts)
    d = parts[0].shape[1]
    codes = np.empty((d, sum(len(p) for p in parts)), dtype=np.int8)
    at = 0
    for p in parts:
        for a in range(0, len(p), 16_384):
            block = np.asarray(p[a:a + 16_384], dtype=np.float32)
            codes[:, at:at + len(block)] = (np.rint((block - lo) / step) - 64).T.astype(np.int8)
            at += len(block)
    return codes, lo, step


def _query_weights(qvec: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, float]:
    w = np.asarray(qvec, dtype=np.float32).reshape(-1) * step
    top = float(np.abs(w).max()) or 1.0
    return (np.rint(w * (127.0 / top)) + 128).astype(np.uint8).reshape(1, -1), top


def query_codes(qvec: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The query's weights q·step as uint8 around zero point 128 (1 × d).

    cos(q, x) = Σ q_j·(lo_j + step_j·(c_j + 64)) = const + Σ (q_j·step_j)·c_j, so ranking by
    Σ (a_j − 128)·c_j ranks by cosine up to the rounding of both sides.
    """
    return _query_weights(qvec, step)[0]


class Int8Scan:
    """Per-dimension affine codes of a matrix of unit vectors, and an ONNX Runtime session that scans them."""

    def __init__(self, matrix: np.ndarray, *more: np.ndarray, threads: int = 1):
        """Codes of the rows of ``matrix`` followed by those of ``more`` (a segment's window vectors)."""
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        d = matrix.shape[1]
        n = len(matrix) + sum(len(m) for m in more)
        if not n:
            raise ValueError("Int8Scan needs at least one vector")
        codes, self.lo, self.step = _encode([matrix, *more])
        self.n = n
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["a", "codes", "a_zero"], ["y"])], "int8_scan",
            [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, d])],
            [helper.make_tensor_value_info("y", TensorProto.INT32, [1, n])],
            [numpy_helper.from_array(codes, "codes"), numpy_helper.from_array(np.array(128, np.uint8), "a_zero")])
        del codes
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # one thread is as fast: the scan is bound by memory, not compute
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def scores(self, qvec: np.ndarray) -> np.ndarray:
        """Σ (a_j − 128)·c_ij for every row i (int32, length n): the cosine's order up to rounding."""
        return self._run(query_codes(qvec, self.step))

    def _run(self, a: np.ndarray) -> np.ndarray:
        with self._lock:  # one session, one caller at a time; a scan takes milliseconds
            return self._session.run(None, {"a": a})[0].reshape(-1)

    def approx(self, qvec: np.ndarray) -> np.ndarray:
        """Estimated cosines of every row (float32): comparable between scans of different segments, so the
        rows to re-score can be chosen over a whole index at once."""
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        a, top = _query_weights(q, self.step)
        const = float(q @ self.lo) + 64.0 * float((q * self.step).sum())
        return self._run(a).astype(np.float32) * np.float32(top / 127.0) + np.float32(const)

    def top(self, qvec: np.ndarray, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, estimated cosines) of the ``n`` best rows (unordered), only among ``mask`` when given."""
        y = self.approx(qvec)
        if mask is not None:
            n = min(n, int(np.count_nonzero(mask)))
            y[~mask] = -np.inf
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.arange(len(y)) if n >= len(y) else np.argpartition(y, len(y) - n)[len(y) - n:]
        return rows, y[rows]

    def candidates(self, qvec: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Positions of the ``n`` best-scoring rows (unordered), only among ``mask`` when given."""
        y = self.scores(qvec)
        if mask is not None:
            y = np.where(mask, y, np.iinfo(np.int32).min)
            n = min(n, int(mask.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        if n >= len(y):
            return np.arange(len(y))
        return np.argpartition(y, len(y) - n)[len(y) - n:]
