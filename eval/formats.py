"""Units and metadata recovered per office format, against the typed seed.

Each seed becomes an official-template .docx with Word's automatic numbering (``eval.office_files``), then
LibreOffice makes .doc, .odt and .rtf of it; every file is parsed like a corpus file and compared with the
typed seed: units with the same path and identical text, units with text similarity ≥ 80, and the metadata
fields that agree. Also the seconds each read took (LibreOffice's conversion included).

    .venv/bin/python -m eval.formats            # needs LibreOffice (make office)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz

from eval.office_files import docx_from_text
from indexer.parsing.pipeline import parse_file
from indexer.reading import libreoffice

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = ("cam-lo-2023", "kien-giang-2017", "tra-cu-2022", "lang-son-2023", "dak-nong-2024")
FORMATS = ("docx", "doc", "odt", "rtf")
META = ("issuer", "place", "level", "province", "doc_type", "number", "date", "subject", "signer", "signer_title",
        "recipients")


def compare(typed, got) -> tuple[int, int, int, int, int]:
    """(units, identical, similar ≥ 80, metadata fields, fields equal)."""
    want = {u.path: u.heading + " " + u.text for u in typed.walk()}
    have = {u.path: u.heading + " " + u.text for u in got.walk()}
    same = sum(1 for p, t in want.items() if have.get(p) == t)
    similar = sum(1 for p, t in want.items() if p in have and fuzz.ratio(t, have[p]) >= 80)
    fields = [f for f in META if getattr(typed.metadata, f)]
    equal = sum(1 for f in fields if getattr(typed.metadata, f) == getattr(got.metadata, f))
    return len(want), same, similar, len(fields), equal


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="formats-eval-"))
    rows = []
    totals = {f: [0, 0, 0, 0, 0, 0.0] for f in FORMATS}
    for i, name in enumerate(SEEDS):
        text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
        typed = parse_file(CORPUS / f"{name}.txt")
        data = docx_from_text(text, tmp / f"{name}.docx", one_row_header=bool(i % 2)).read_bytes()
        for ext in FORMATS[1:]:
            (tmp / f"{name}.{ext}").write_bytes(libreoffice.convert(data, ".docx", ext))
        cells = []
        for ext in FORMATS:
            t0 = time.perf_counter()
            got = parse_file(tmp / f"{name}.{ext}")
            secs = time.perf_counter() - t0
            n, same, similar, fields, equal = compare(typed, got)
            cells.append(f"{same}/{n} · {equal}/{fields} · {secs:.1f} s")
            for k, v in enumerate((n, same, similar, fields, equal, secs)):
                totals[ext][k] += v
        rows.append((name, cells))
    print("Units identical · metadata fields equal · seconds to read (LibreOffice included):\n")
    print("| seed | " + " | ".join(f".{f}" for f in FORMATS) + " |")
    print("|---" * (len(FORMATS) + 1) + "|")
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| **all** | " + " | ".join(
        f"**{t[1]}/{t[0]}** · {t[4]}/{t[3]} · {t[5] / len(SEEDS):.1f} s" for t in totals.values()) + " |")


if __name__ == "__main__":
    main()
