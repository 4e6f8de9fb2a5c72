"""File names: what a client says a file is called (kept only as metadata) and the name it is stored under.

A client's name is never used as a path. It is cleaned for display — the last path component only, NFC,
no NUL or other control characters, no bidirectional overrides (which make "plan" + U+202E + "xcod.exe" look like a
.docx), at most ``MAX_NAME`` characters — and its extension, judged after cleaning, must be accepted. Windows
reserved names (CON, NUL.txt …) are therefore harmless: they are only ever text. The stored name is
generated: ``uploads/YYYY/<first 20 hex digits of the SHA-256>.<ext>``.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import PurePosixPath

MAX_NAME = 255
HASH_CHARS = 20
UPLOAD_DIR = "uploads"
# explicit marks and isolates, embeddings and overrides (U+202A–E, U+2066–9) and the Arabic letter mark
_BIDI = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def clean_original_name(raw: str | None) -> str:
    """A display-safe version of the name a client sent ("" when nothing usable is left)."""
    s = unicodedata.normalize("NFC", raw or "")
    s = s.replace("\\", "/").rsplit("/", 1)[-1]  # C:\Users\…\plan.docx, ../../etc/passwd → last component
    s = s.translate(_BIDI)
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in s
                if unicodedata.category(c) not in ("Cf", "Cs", "Co", "Cn") or c == "\u200d")
    s = " ".join(s.split()).strip(" .")
    if len(s) > MAX_NAME:  # keep the extension
        stem, dot, ext = s.rpartition(".")
        s = (stem[: MAX_NAME - len(ext) - 2] + "…." + ext) if dot and len(ext) <= 10 else s[: MAX_NAME - 1] + "…"
    return s


def suffix_of(clean_name: str) -> str:
    """Lower-case extension of a cleaned name ("" when it has none)."""
    suffix = PurePosixPath(clean_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


def stored_name(sha256_hex: str, suffix: str, year: int | None = None) -> str:
    """The relative path an upload is stored under inside the corpus."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256_hex) or not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
        raise ValueError("stored_name needs a sha256 hex digest and a lower-case extension")
    year = year or time.localtime().tm_year
    return f"{UPLOAD_DIR}/{year:04d}/{sha256_hex[:HASH_CHARS]}{suffix}"
