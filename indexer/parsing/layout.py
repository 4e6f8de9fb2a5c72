"""Where the body of a directive starts and ends.

Header (issuing body, national motto, number, "V/v", place and date, "Kính gửi" list, the plan's title) and
footer ("Nơi nhận", signature) are metadata, not tasks; everything between them is body and is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.textnorm import fold

HEADER_STARTS = (
    "uy ban nhan dan", "ubnd", "so ", "so:", "cong hoa xa hoi", "doc lap", "v/v", "kinh gui", "ke hoach",
    "chi thi", "quyet dinh", "huong dan", "thong bao", "cong van", "bo ", "hoi dong nhan dan", "tinh uy",
    "huyen uy", "dang cong san", "----", "___",
)
RE_PLACE_DATE = re.compile(r"^[^,]{2,40},\s*ngay\b")
RE_TITLE_WORD = re.compile(r"^(ke hoach|chi thi|quyet dinh|huong dan|thong bao|bao cao)$")


@dataclass
class Layout:
    body_start: int  # first body line index
    body_end: int  # one past the last body line
    appendix_start: int | None = None  # the "PHỤ LỤC" line after the signature, when the document has one


def _folded_lines(normalised: str) -> list[str]:
    return [fold(ln).strip().lstrip("#*_ ").strip() for ln in normalised.split("\n")]


RE_BREAK = re.compile(r"^(?:[-+•*]\s|\d{1,2}[.)]\s|[ivx]{1,4}\.\s|thuc hien\b|can cu\b|kinh gui\b|noi nhan\b|so:|v/v\b)")


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last+1) line ranges of logical blocks: split at blank lines, and at lines that open a new unit
    (a PDF text layer or a .docx export often has no blank lines between paragraphs)."""
    out, i, n = [], 0, len(lines)
    while i < n:
        if not lines[i]:
            i += 1
            continue
        j = i + 1
        while j < n and lines[j] and not RE_BREAK.match(lines[j]) and not RE_PLACE_DATE.match(lines[j]) \
                and not RE_TITLE_WORD.match(lines[j]):
            j += 1
        out.append((i, j))
        i = j
    return out


def find_layout(normalised: str) -> Layout:
    lines = _folded_lines(normalised)
    n = len(lines)
    blocks = _blocks(lines)
    body_start = 0
    k = 0
    while k < len(blocks):
        a, b = blocks[k]
        s = lines[a]
        if s.startswith(("thuc hien", "can cu")) or re.match(r"^(\d|[ivx]+\.)", s):
            break
        if s.startswith("kinh gui"):
            body_start = b
            k += 1
            # recipients: following blocks made of list lines (or a single short line)
            while k < len(blocks):
                a2, b2 = blocks[k]
                if lines[a2].startswith(("-", "+", "•", "*")):
                    body_start = b2
                    k += 1
                    continue
                break
            continue
        if RE_TITLE_WORD.match(s):
            body_start = b
            k += 1
            if b - a == 1 and k < len(blocks):  # the title stands alone: the next block is its subject
                a2, b2 = blocks[k]
                s2 = lines[a2]
                cites = re.match(r"^(thuc hien|can cu)\b.{0,40}\bso\b", s2)  # "Thực hiện Công văn số …" is body
                if not cites and b2 - a2 <= 3:
                    body_start = b2
                    k += 1
            continue
        if s.startswith(HEADER_STARTS) or RE_PLACE_DATE.match(s):
            body_start = b
            k += 1
            continue
        break
    body_end = n
    for j in range(body_start, n):
        s = lines[j]
        if s.startswith("noi nhan") or re.match(r"^(tm|kt|tl|q)\.\s", s):
            body_end = j
            break
    appendix = next((j for j in range(body_end, n) if RE_APPENDIX.match(lines[j])), None)
    return Layout(body_start, body_end, appendix)


# "PHỤ LỤC", "Phụ lục I", "PHỤ LỤC 02: DANH MỤC NHIỆM VỤ…" opening a line of its own after the signature
RE_APPENDIX = re.compile(r"^phu luc(?:\s+(?:[ivx]+|\d{1,2}|so \d{1,2}))?\s*[.:\-–]?(?:\s.{0,150})?$")
