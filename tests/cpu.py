"""What the test machine's CPU can do, for the few bounds that depend on it."""

from __future__ import annotations

from pathlib import Path


def has_vnni() -> bool:
    """Whether this CPU has 8-bit dot products (AVX-512 VNNI or AVX-VNNI). Without them ONNX Runtime's int8
    kernels multiply u8 × s8 pairs into 16 bits, which can saturate, so the same int8 graph is a little less
    exact (eval/RESULTS.md round 15)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return " avx512_vnni" in flags or " avx_vnni" in flags
