"""Which reader gives Word's list labels? Our resolver against docx2python, mammoth and LibreOffice.

Two sets of .docx files with Word's automatic numbering (no typed labels): the five seeds made into
official-template documents by ``eval.office_files.docx_from_text`` (the expected labels are the ones typed in
the seed, in order), and the hand-made package of ``eval.office_files.numbering_docx`` (multi-level "%1.%2.",
restarts, a start override shared through the abstract definition, isLgl, lvlRestart 0, a style bound to a
level, numStyleLink, numId 0, bullets from Symbol and Courier). A label counts as right when the paragraph's
text starts with exactly the expected label.

    .venv/bin/python -m eval.numbering            # needs LibreOffice for its column (make office)
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from eval.office_files import _LABEL, _blocks, docx_from_text, numbering_docx
from indexer.reading import libreoffice
from indexer.reading.docx import read_docx

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = ("cam-lo-2023", "kien-giang-2017", "tra-cu-2022", "lang-son-2023", "dak-nong-2024")
_CLEAN = re.compile(r"[*#]")
BULLETS = {"-", "+", "•", "◦", "▪"}


def seed_expected(text: str) -> list[tuple[str, str]]:
    """(label, first words) of every labelled body paragraph of a typed seed."""
    out = []
    for block in _blocks(text.split("\n")):
        first = _CLEAN.sub("", block[0]).strip()
        m = _LABEL.match(first)
        if m:
            out.append((m.group("label"), m.group("rest")[:30]))
    return out


def _paragraphs(text: str) -> list[str]:
    return [_CLEAN.sub("", ln).strip() for ln in re.split(r"\n", text) if ln.strip()]


def score(expected: list[tuple[str, str]], paragraphs: list[str]) -> tuple[int, int, int, int]:
    """(numbers right, numbers, bullets right, bullets): each expected (label, words) is looked for, in order,
    as a paragraph starting "label words"."""
    tally = [0, 0, 0, 0]
    i = 0
    norm = [re.sub(r"\s+", " ", p) for p in paragraphs]
    for label, words in expected:
        k = 2 if label in BULLETS else 0
        tally[k + 1] += 1
        words = re.sub(r"\s+", " ", words)[:20]
        j = next((n for n in range(i, len(norm)) if words and words in norm[n][:80]), None)
        if j is None:
            continue
        i = j + 1
        if re.match(rf"^{re.escape(label)}\s*{re.escape(words[:5])}", norm[j]):
            tally[k] += 1
    return tally[0], tally[1], tally[2], tally[3]


def ours(path: Path) -> list[str]:
    return _paragraphs(read_docx(path).text)


def docx2python_text(path: Path) -> list[str]:
    from docx2python import docx2python

    with docx2python(str(path)) as r:
        return _paragraphs(r.text.replace("\t", " "))


def mammoth_text(path: Path) -> list[str]:
    import mammoth

    with open(path, "rb") as f:
        return _paragraphs(mammoth.extract_raw_text(f).value)


def libreoffice_text(path: Path) -> list[str]:
    data = libreoffice.convert(path.read_bytes(), ".docx", "txt:Text (encoded):UTF8")
    return _paragraphs(data.decode("utf-8-sig").replace("\t", " "))


CANDIDATES = {"ours (numbering.xml resolved)": ours, "docx2python 3.7": docx2python_text,
              "mammoth 1.13 (raw text)": mammoth_text, "LibreOffice 7.4 (text export)": libreoffice_text}


def main() -> None:
    cases: list[tuple[str, Path, list[tuple[str, str]]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="numbering-eval-"))
    for name in SEEDS:
        text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
        path = docx_from_text(text, tmp / f"{name}.docx", tracked_change=False)
        cases.append((name, path, seed_expected(text)))
    path = tmp / "numbering.docx"
    cases.append(("hand-made cases", path, [(lab, txt[:30]) for lab, txt in numbering_docx(path) if lab]))
    rows = []
    for cand, fn in CANDIDATES.items():
        if "LibreOffice" in cand and not libreoffice.available():
            continue
        cells, tot = [], [0, 0, 0, 0]
        for _, p, exp in cases:
            try:
                got = score(exp, fn(p))
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                got = score(exp, [])
                print(f"{cand} failed on {p.name}: {e}")
            cells.append(f"{got[0]}/{got[1]} · {got[2]}/{got[3]}")
            tot = [a + b for a, b in zip(tot, got, strict=True)]
        rows.append((cand, cells, f"{tot[0]}/{tot[1]} · {tot[2]}/{tot[3]}"))
    print("Labels right (numbers · bullets):\n")
    print("| reader | " + " | ".join(c[0] for c in cases) + " | all |")
    print("|---" * (len(cases) + 2) + "|")
    for cand, cells, total in rows:
        print(f"| {cand} | " + " | ".join(cells) + f" | {total} |")


if __name__ == "__main__":
    main()
