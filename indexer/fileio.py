"""File primitives shared by the stages: a content digest, a durable flush, and the header of a ``.npy`` file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 4 MB blocks (model weights and segment files are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a rename is durable only once its directory is)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def npy_header(f: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, offset of the data) of an open ``.npy`` file: what reading it by ``pread``
    or mapping it from an already open handle needs (``np.load`` maps only by file name)."""
    f.seek(0)
    fmt = np.lib.format
    version = fmt.read_magic(f)
    shape, fortran, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
    return shape, fortran, dtype, f.tell()
