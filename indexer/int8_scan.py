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


def encode(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, step): per-dimension affine 7-bit codes, transposed to (d × n) as the kernel's constant operand.

    x_ij ≈ lo_j + step_j·(c_ji + 64); built in slices, so it never holds a float copy of the matrix.
    """
    n, d = matrix.shape
    lo, hi = matrix.min(axis=0), matrix.max(axis=0)
    step = (hi - lo) / LEVELS
    step[step == 0] = 1.0
    codes = np.empty((d, n), dtype=np.int8)
    for a in range(0, n, 16_384):
        codes[:, a:a + 16_384] = (np.rint((matrix[a:a + 16_384] - lo) / step) - 64).T.astype(np.int8)
    return codes, step.astype(np.float32)


def query_codes(qvec: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The query's weights q·step as uint8 around zero point 128 (1 × d).

    cos(q, x) = Σ q_j·(lo_j + step_j·(c_j + 64)) = const + Σ (q_j·step_j)·c_j, so ranking by
    Σ (a_j − 128)·c_j ranks by cosine up to the rounding of both sides.
    """
    w = np.asarray(qvec, dtype=np.float32).reshape(-1) * step
    top = float(np.abs(w).max()) or 1.0
    return (np.rint(w * (127.0 / top)) + 128).astype(np.uint8).reshape(1, -1)


class Int8Scan:
    """Per-dimension affine codes of a matrix of unit vectors, and an ONNX Runtime session that scans them."""

    def __init__(self, matrix: np.ndarray, threads: int = 1):
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        n, d = matrix.shape
        if not n:
            raise ValueError("Int8Scan needs at least one vector")
        codes, self.step = encode(matrix)
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
        a = query_codes(qvec, self.step)
        with self._lock:  # one session, one caller at a time; a scan takes milliseconds
            return self._session.run(None, {"a": a})[0].reshape(-1)

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
