"""The metadata a person types (upload form, edit form, PATCH body) → validated sidecar overrides.

Text is normalised at the door (NFC, one tone placement, no zero-width or control characters) and kept as
typed otherwise: HTML is just text here and is escaped wherever it is shown. Messages are Vietnamese and
name the field: a date that does not exist, a year outside 1945 – next year, a place the gazetteer does not
know (with its nearest names).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from indexer.models import Metadata
from indexer.parsing import places as gazetteer
from indexer.textnorm import normalize

EDIT_FIELDS = ("issuer", "place", "level", "doc_type", "number", "date", "subject", "signer")
UPLOAD_FIELDS = ("place", "doc_type", "number", "date")
LABELS = {"issuer": "Cơ quan ban hành", "place": "Địa phương", "level": "Cấp", "doc_type": "Loại văn bản",
          "number": "Số, ký hiệu", "date": "Ngày ban hành", "subject": "Trích yếu", "signer": "Người ký"}
MAX_CHARS = {"issuer": 300, "place": 120, "level": 20, "doc_type": 80, "number": 100, "date": 40, "subject": 1000,
             "signer": 150}
LEVEL_CHOICES = (("", "(chưa rõ)"), ("national", "Trung ương"), ("province", "Cấp tỉnh"),
                 ("district", "Cấp huyện"), ("commune", "Cấp xã"))
DOC_TYPES = ("Công văn", "Kế hoạch", "Chỉ thị", "Quyết định", "Hướng dẫn", "Thông báo", "Báo cáo", "Nghị quyết",
             "Công điện")
FIRST_YEAR = 1945

_RE_DMY = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})")
_RE_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RE_WORDS = re.compile(r"(?:ngày\s+)?(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.I)
_RE_YEAR = re.compile(r"(?:năm\s+)?(\d{4})", re.I)


@dataclass
class FormResult:
    values: dict[str, str] = field(default_factory=dict)  # cleaned, as shown back in the form
    errors: dict[str, str] = field(default_factory=dict)  # field -> Vietnamese message
    parsed: dict[str, Any] = field(default_factory=dict)  # field -> value as the sidecar stores it

    @property
    def ok(self) -> bool:
        return not self.errors


def clean_text(value: Any, max_chars: int) -> str:
    """One line of normalised text (never markup-stripped: "*" and "<b>" stay as typed)."""
    s = "" if value is None else str(value)
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in s)
    s = normalize(s, strip_markdown=False).text
    s = "".join(c for c in s if unicodedata.category(c) not in ("Cf", "Cs", "Co"))
    return " ".join(s.split())[: max_chars + 1]


def show_date(iso: str) -> str:
    """ISO → what the form shows: "2023-05-08" → "08/05/2023"; a bare year stays."""
    m = _RE_YMD.fullmatch(iso or "")
    return f"{int(m[3]):02d}/{int(m[2]):02d}/{m[1]}" if m else (iso or "")


def parse_date(s: str, today: dt.date | None = None) -> tuple[str, str]:
    """(ISO date or year, "") or ("", Vietnamese error)."""
    today = today or dt.date.today()
    last = today.year + 1
    s = s.strip()
    if not s:
        return "", ""
    day = month = None
    if m := _RE_YMD.fullmatch(s):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := (_RE_DMY.fullmatch(s) or _RE_WORDS.fullmatch(s)):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := _RE_YEAR.fullmatch(s):
        year = int(m[1])
    else:
        return "", f"Không đọc được ngày “{s[:40]}”: hãy viết ngày/tháng/năm, ví dụ 08/05/2023 (hoặc chỉ năm: 2023)."
    if not FIRST_YEAR <= year <= last:
        return "", f"Năm {year} nằm ngoài khoảng cho phép {FIRST_YEAR}–{last}."
    if day is None:
        return f"{year:04d}", ""
    try:
        d = dt.date(year, month, day)
    except ValueError:
        return "", f"Ngày {day:02d}/{month:02d}/{year} không tồn tại."
    return d.isoformat(), ""


def check_place(s: str) -> str:
    """"" when the gazetteer knows the place, else a message offering the nearest names."""
    if not s or gazetteer.lookup(s):
        return ""
    near = gazetteer.nearest(s, 5)
    hint = ("; có phải: " + ", ".join(f"{u.full_name} ({u.province})" if u.level != "province" else u.full_name
                                       for u in near) + "?") if near else "."
    return f"Không tìm thấy địa danh “{s[:60]}” trong danh mục đơn vị hành chính{hint}"


def validate(raw: dict[str, Any], names: tuple[str, ...] = EDIT_FIELDS, today: dt.date | None = None) -> FormResult:
    """Clean and check the given fields (missing ones count as empty)."""
    out = FormResult()
    for name in names:
        v = clean_text(raw.get(name), MAX_CHARS[name])
        out.values[name] = v
        if len(v) > MAX_CHARS[name]:
            out.errors[name] = f"{LABELS[name]} quá dài (tối đa {MAX_CHARS[name]} ký tự)."
            continue
        if name == "date":
            iso, err = parse_date(v, today)
            if err:
                out.errors[name] = err
            else:
                out.parsed[name] = iso
        elif name == "level":
            if v not in dict(LEVEL_CHOICES):
                out.errors[name] = "Cấp phải là Trung ương, tỉnh, huyện hoặc xã."
            else:
                out.parsed[name] = v
        elif name == "place" and (err := check_place(v)):
            out.errors[name] = err
        else:
            out.parsed[name] = v
    return out


def text_values(meta: Metadata) -> dict[str, str]:
    """What the parser read from the document's text, per editable field (before any sidecar)."""
    return {f: str(meta.parsed.get(f, getattr(meta, f)) or "") for f in EDIT_FIELDS}


def effective_values(text: dict[str, str], sidecar: dict[str, Any]) -> dict[str, str]:
    """The values the form shows: the text's, corrected by the sidecar on disk (saved, perhaps not yet indexed)."""
    return {f: str(sidecar[f]) if f in sidecar and sidecar[f] is not None else text[f] for f in EDIT_FIELDS}


def merge_overrides(sidecar: dict[str, Any], text: dict[str, str], result: FormResult) -> dict[str, Any]:
    """The new sidecar: a field equal to what the text says needs no override; other keys are kept."""
    new = dict(sidecar)
    for f, v in result.parsed.items():
        if v == text.get(f, ""):
            new.pop(f, None)
        else:
            new[f] = v
    return new


def changes(old: dict[str, str], new: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(old values, new values) of the fields that differ: what the audit log records."""
    diff = [f for f in EDIT_FIELDS if f in new and str(old.get(f, "")) != str(new.get(f, ""))]
    return {f: old.get(f, "") for f in diff}, {f: new[f] for f in diff}
