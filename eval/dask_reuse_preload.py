"""Benchmark only (``eval/dask_bench.py --reuse``): a worker preload that gives synthetic chunks the vector of
the seed chunk they copy plus noise, as ``eval.bench`` does for local builds, so the COORDINATOR of a Dask
build can be timed at 100k chunks in minutes. Parsing on the worker and everything the coordinator does are
the production code; only the encoder's arithmetic is replaced. Never used by a real build."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import indexer.distributed_worker as dw
from indexer.embedding.vectors import Embedded

SEED_INDEX_ENV = "DIRECTIVES_BENCH_SEED_INDEX"


class ReusedVectors:
    def __init__(self, seed_index: Path, real):
        from rapidfuzz import process

        from eval.bench import _TAIL_RE, NOISE
        from indexer.index.store import IndexStore

        st = IndexStore.open(seed_index)
        self.by_text = {" ".join(s.chunk.text.split()): st.vectors([s.rowid])[0] for s in st.iter_chunks()}
        st.close()
        self.keys, self.extract, self.tail, self.noise = list(self.by_text), process.extractOne, _TAIL_RE, NOISE
        self.rng = np.random.default_rng(os.getpid())
        self.encoder_id, self.fingerprint = real.encoder_id, real.fingerprint  # what the worker advertises

    def embed_many(self, texts):
        out = []
        for t in texts:
            key = " ".join(self.tail.sub("", t).split())
            v = self.by_text.get(key)
            if v is None:
                v = self.by_text[self.extract(key, self.keys)[0]]
            v = v + self.rng.normal(0, self.noise, size=v.shape)
            out.append(Embedded((v / np.linalg.norm(v)).astype("float32")))
        return out


def dask_setup(worker):
    real_encoder = dw._encoder
    cache: dict = {}

    def fake(variant):
        if variant not in cache:
            cache[variant] = ReusedVectors(Path(os.environ[SEED_INDEX_ENV]), real_encoder(variant))
        return cache[variant]

    dw._encoder = fake
