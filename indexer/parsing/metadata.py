"""Header facts of a directive (issuer, number, date, subject, signer…) and every legal instrument it cites.

Works on the NORMALISED text (NFC, canonical tones, markdown emphasis removed, lines kept) with regexes and a
few layout rules, because the seeds are irregular: some have no issuer header, a blank number or day, a
number split by a stray space ("LĐT BXH") or a citation split by a page break. Every field is extracted on
its own and a failure leaves that field empty: metadata must never sink a parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from indexer.models import LegalRef, Metadata

VN_LOWER = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
VN_UPPER = VN_LOWER.upper()
UP = f"A-Z{VN_UPPER}"
ALNUM = f"0-9A-Za-z{VN_UPPER}{VN_LOWER}"

# --- dates --------------------------------------------------------------------------------------------------

DATE = (
    r"(?:(?P<d1>\d{1,2})\s*[/.-]\s*(?P<m1>\d{1,2})\s*[/.-]\s*(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})\s+tháng\s+(?P<m2>\d{1,2})\s+năm\s+(?P<y2>\d{4}))"
)
RE_DATE = re.compile(DATE, re.I)


def iso_date(day: str | int | None, month: str | int | None, year: str | int | None) -> str:
    """ "2023-05-08"; just the year when day or month is missing or out of range; "" without a year."""
    if not year:
        return ""
    try:
        d, m, y = int(day or 0), int(month or 0), int(year)
    except ValueError:
        return ""
    if 1 <= d <= 31 and 1 <= m <= 12:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return f"{y:04d}"


def parse_date(s: str) -> str:
    """Free-form date ("08/5/2023", "ngày 8 tháng 5 năm 2023", "2023-05-08", "2023") → ISO; "" if none."""
    s = s.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s):
        return iso_date(m.group(3), m.group(2), m.group(1))
    if m := RE_DATE.search(s):
        return _iso_from(m)
    if m := re.fullmatch(r"(?:năm\s+)?(\d{4})", s, re.I):
        return m.group(1)
    return ""


def _iso_from(m: re.Match[str]) -> str:
    g = m.groupdict()
    if g.get("y1"):
        return iso_date(g["d1"], g["m1"], g["y1"])
    return iso_date(g.get("d2"), g.get("m2"), g.get("y2"))


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# --- legal references ---------------------------------------------------------------------------------------

KINDS = (
    "Nghị quyết", "Nghị định", "Thông tư liên tịch", "Thông tư", "Quyết định", "Chỉ thị", "Kế hoạch",
    "Công văn", "Công điện", "Văn bản", "Thông báo", "Hướng dẫn", "Pháp lệnh",
)
SEG = f"[0-9{UP}][0-9A-Za-z{UP}{VN_LOWER}&]*"
# "364/UBND-LĐT BXH": a space may split an all-capitals code segment (removed when normalising the number).
NUMBER = rf"\d+[a-zđ]?(?:[/-]{SEG}(?: (?=[{UP}]{{2,}}[/\-\s,;.)]|[{UP}]{{2,}}$)[{UP}]+)?)+"
RE_REF = re.compile(
    rf"(?<![{ALNUM}])(?P<kind>(?i:{'|'.join(KINDS)}))(?:\s+(?i:số))?\s*:?\s*(?P<number>{NUMBER})"
    rf"(?:\s*,?\s+(?i:ngày)\s+{DATE})?"
)
RE_LAW = re.compile(rf"(?<![{ALNUM}])Luật\s+(?P<title>[{ALNUM}])")
RE_OF = re.compile(r"\s*,?\s*(?:của|do)\s+", re.I)
RE_TOKEN = re.compile(r"(\s+)(\S+)")

ISSUER_STOP = {
    "về", "quy", "hướng", "gắn", "phê", "tại", "theo", "để", "nhằm", "đã", "trong", "cho", "với", "được",
    "triển", "thực", "là", "có", "sửa", "bổ", "như", "kèm", "thì", "nay", "này", "giao", "yêu", "chỉ",
    "ngày", "số", "năm", "v/v", "trên", "đối", "đến", "từ", "xây", "tổ", "thông", "đề", "ban",
}
LAW_STOP = ISSUER_STOP | {"và", "của", "mở", "hiện", "đó", "đặc", "các", "cũng", "hoặc", "sẽ", "nên", "mà"}
PUNCT_END = ",;.:)!?”\"»/"


def _phrase_after(text: str, pos: int, stop: set[str], max_words: int, law: bool = False) -> tuple[str, int]:
    """Words from ``pos`` up to a predicate word or punctuation: the issuer after "của", a law's title.

    A line break is crossed only when the next word starts with a letter, which joins page-broken issuers
    ("Thủ tướng\\n\\nChính phủ") but not a following list item.
    """
    words: list[str] = []
    end = pos
    for m in RE_TOKEN.finditer(text, pos - 1 if pos > 0 and text[pos - 1].isspace() else pos):
        if m.start(2) < pos:
            continue
        gap, tok = m.group(1), m.group(2)
        if words and "\n" in gap and not tok[0].isalpha():
            break
        if tok[0] in "(“\"«[":
            break
        core = tok.rstrip(PUNCT_END)
        if not core:
            break
        low = core.lower()
        nxt = text[m.end(2):m.end(2) + 12].lstrip()
        if core[0].islower() or (law and words):
            if low in stop and not (low == "ban" and not nxt.startswith("hành") and not law):
                break
            if low == "và" and nxt[:1].islower():
                break
        if law and low in stop:
            break
        words.append(core)
        end = m.start(2) + len(core)
        if core != tok or len(words) >= max_words:
            break
    return " ".join(words), end


def _ref_from_match(text: str, m: re.Match[str]) -> LegalRef:
    kind = m.group("kind")
    kind = kind[0].upper() + kind[1:].lower()
    number = re.sub(r"\s+", "", m.group("number"))
    date = _iso_from(m) if m.group("y1") or m.group("y2") else ""
    end = m.end()
    issuer = ""
    if of := RE_OF.match(text, end):
        issuer, iend = _phrase_after(text, of.end(), ISSUER_STOP, 14)
        if issuer:
            end = iend
    return LegalRef(kind=kind, number=number, date=date, issuer=issuer, text=_clean(text[m.start():end]),
                    start=m.start(), end=end)


def _law_refs(text: str) -> list[LegalRef]:
    out = []
    for m in RE_LAW.finditer(text):
        title, end = _phrase_after(text, m.start("title"), LAW_STOP, 8, law=True)
        if not title:
            continue
        title = "Luật " + title[0].upper() + title[1:]
        date = number = ""
        if y := re.match(r"\s+năm\s+(\d{4})\b", text[end:]):
            date, end = y.group(1), end + y.end()
        if n := re.match(rf"\s+số\s+({NUMBER})", text[end:]):
            number, end = re.sub(r"\s+", "", n.group(1)), end + n.end()
            if d := re.match(rf"\s*,?\s+ngày\s+{DATE}", text[end:], re.I):
                date, end = _iso_from(d), end + d.end()
        out.append(LegalRef(kind="Luật", number=number, date=date, title=title,
                            text=_clean(text[m.start():end]), start=m.start(), end=end))
    return out


def extract_references(text: str) -> list[LegalRef]:
    """Every cited instrument in text order, one per instrument.

    Repeats are merged: a citation without a date folds into a dated one of the same kind and number (and
    replaces nothing). The same number with two different dates is kept twice — "06/QĐ-TTg" of 2019 and of
    2022 are different decisions.
    """
    found = [_ref_from_match(text, m) for m in RE_REF.finditer(text)]
    found = [r for r in found if re.search(r"[A-Za-zĐđ]", r.number)]
    found += _law_refs(text)
    found.sort(key=lambda r: r.start)
    out: list[LegalRef] = []
    index: dict[tuple[str, str], list[int]] = {}
    for r in found:
        key = (r.kind, r.title.lower() if r.kind == "Luật" and not r.number else r.number)
        seen = index.setdefault(key, [])
        dates = {out[i].date for i in seen}
        if not seen:
            seen.append(len(out))
            out.append(r)
        elif r.date and r.date not in dates:
            blank = next((i for i in seen if not out[i].date), None)
            if blank is not None:
                out[blank] = r
            else:
                seen.append(len(out))
                out.append(r)
    out.sort(key=lambda r: r.start)
    return out


# --- header -------------------------------------------------------------------------------------------------

UNIT_KINDS = r"tỉnh|thành phố|huyện|thị xã|quận|xã|phường|thị trấn"
LEVEL_OF_UNIT = {"tỉnh": "province", "thành phố": "district", "huyện": "district", "thị xã": "district",
                 "quận": "district", "xã": "commune", "phường": "commune", "thị trấn": "commune"}
UNIT_OF_LEVEL = {"province": "tỉnh", "district": "huyện", "commune": "xã"}
RE_UBND = re.compile(r"(?:Ủy|Uỷ) ban nhân dân|UBND", re.I)
RE_HDND = re.compile(r"Hội đồng nhân dân|HĐND", re.I)
RE_LDTBXH = re.compile(
    r"(?P<head>Sở|Phòng|Bộ)\s+(?:Lao động\s*[-–]?\s*(?:Thương binh|TB)\s*(?:và|&)\s*(?:Xã hội|XH)"
    r"|LĐ\s*[-–]?\s*TB\s*&?\s*XH|LĐTBXH)", re.I)
RE_UNIT = re.compile(rf"\b(?P<kind>{UNIT_KINDS})\s+(?P<name>[^,;()]+?)\s*$", re.I)
RE_NUMBER_LINE = re.compile(r"^\s*Số\s*:?[ \t]*(?P<v>[^\n]*)$", re.I | re.M)
RE_PLACE_DATE = re.compile(
    rf"^[ \t]*(?P<place>[{UP}][^,\n]{{1,40}}?)\s*,\s*ngày\b[ \t]*(?P<d>\d{{1,2}})?[ \t]*"
    r"(?:[/.-][ \t]*(?P<mn>\d{1,2})[ \t]*[/.-][ \t]*(?P<yn>\d{4})"
    r"|tháng[ \t]*(?P<m>\d{1,2})?[ \t]*năm[ \t]*(?P<y>\d{4}))",
    re.I | re.M,
)
DOC_TYPES = ("Kế hoạch", "Chỉ thị", "Quyết định", "Hướng dẫn", "Thông báo", "Báo cáo", "Công văn", "Tờ trình",
             "Nghị quyết", "Công điện", "Chương trình")
CODE_TYPES = {"KH": "Kế hoạch", "CT": "Chỉ thị", "QĐ": "Quyết định", "HD": "Hướng dẫn", "TB": "Thông báo",
              "BC": "Báo cáo", "TTr": "Tờ trình", "NQ": "Nghị quyết", "CĐ": "Công điện"}
RE_TITLE_KW = re.compile(r"\b(?:(?:TM|KT|TL|TUQ|Q)\.|CHỦ TỊCH|GIÁM ĐỐC|TRƯỞNG|BÍ THƯ|PHÓ|THỦ TRƯỞNG)")
HEADER_LINES = 40


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _short_agency(s: str) -> str:
    s = RE_LDTBXH.sub(lambda m: m.group("head").capitalize() + " LĐTBXH", s)
    s = RE_UBND.sub("UBND", s)
    return RE_HDND.sub("HĐND", s)


def _sentence_case(s: str) -> str:
    if s != s.upper():
        return s
    words = s.lower().split()
    return " ".join(w.capitalize() if i < 2 else w for i, w in enumerate(words))


def canonical_issuer(raw: str) -> tuple[str, str, str]:
    """ "ỦY BAN NHÂN DÂN HUYỆN CAM LỘ" → ("UBND huyện Cam Lộ", "huyện", "Cam Lộ"); ("", "", "") if none."""
    s = _short_agency(_clean(raw))
    if not s:
        return "", "", ""
    unit_kind = unit_name = ""
    # the unit is the trailing "huyện X" of a part; "UBND TỈNH X SỞ Y" puts it before the agency
    parts = re.split(r"\s+(?=(?:UBND|HĐND|Sở|Phòng)\b)", s)
    agency_parts = []
    for p in parts:
        m = RE_UNIT.search(p)
        if m and not unit_name:
            unit_kind, unit_name = m.group("kind").lower(), m.group("name").strip()
            p = p[:m.start()].strip()
        if p:
            agency_parts.append(p)
    agency = agency_parts[-1] if agency_parts else ""
    if agency and agency not in ("UBND", "HĐND") and not agency.endswith(" LĐTBXH"):
        agency = _sentence_case(agency)
    if unit_name == unit_name.upper():
        unit_name = unit_name.title()
    if not agency:
        agency = "UBND" if unit_name else ""
    issuer = " ".join(x for x in (agency, unit_kind, unit_name) if x)
    return issuer, unit_kind, unit_name


def _header_issuer_block(lines: list[str]) -> str:
    """The upper-case block above the motto / number: "ỦY BAN NHÂN DÂN / HUYỆN CAM LỘ"."""
    block: list[str] = []
    for ln in lines[:HEADER_LINES]:
        s = ln.strip().lstrip("#").strip()
        s = re.split(r"CỘNG H[OÒ]A|Độc lập\s*[-–]", s, maxsplit=1)[0].strip()
        if not s:
            if block:
                break
            continue
        if re.match(r"^Số\b|^V/v|.*,\s*ngày\b", s, re.I) or s != s.upper() or re.fullmatch(r"[-_=.–—\s]+", s):
            break
        if s.upper() in (t.upper() for t in DOC_TYPES):
            break
        if not re.search(r"[^\W\d_]{2}", s):  # rules, stray markup
            continue
        block.append(s)
    return " ".join(block)


def _number(lines: list[str]) -> tuple[str, str]:
    """(number, code): "Số: 364/UBND-LĐT BXH" → ("364/UBND-LĐTBXH", "UBND-LĐTBXH"); blank number → ("", code)."""
    for ln in lines[:HEADER_LINES]:
        m = RE_NUMBER_LINE.match(ln)
        if not m:
            continue
        v = re.split(r"\s{3,}|\t|,?\s*ngày\b", m.group("v"), maxsplit=1)[0]
        v = re.sub(r"\s+", "", v).strip(".;,")
        if not re.fullmatch(r"\d*[a-zđ]?/[\w&./-]+|\d+[a-zđ]?", v):
            continue
        num, _, code = v.partition("/")
        return (v if num else ""), code
    return "", ""


def _place_date(lines: list[str]) -> tuple[str, str]:
    for ln in lines[:HEADER_LINES]:
        m = RE_PLACE_DATE.match(ln)
        if not m:
            continue
        if m.group("yn"):
            date = iso_date(m.group("d"), m.group("mn"), m.group("yn"))
        else:
            date = iso_date(m.group("d"), m.group("m"), m.group("y"))
        place = re.split(r"\t|\s{2,}", m.group("place").strip())[-1]  # two-column header: "Số: …\t\tPlace"
        return _clean(place), date
    return "", ""


def _doc_type(lines: list[str], code: str) -> tuple[str, int]:
    """(type, index of its title line or -1)."""
    for i, ln in enumerate(lines[:HEADER_LINES]):
        s = ln.strip().lstrip("#").strip()
        if s and s == s.upper():
            for t in DOC_TYPES:
                if s == t.upper():
                    return t, i
    head = "\n".join(lines[:HEADER_LINES])
    if re.search(r"^\s*V/v\b|^\s*Về việc\b", head, re.I | re.M):
        return "Công văn", -1
    if re.search(r"\bNhận được (?:Công văn|văn bản)", "\n".join(lines), re.I):
        return "Công văn", -1
    first = code.split("-")[0] if code else ""
    if first in CODE_TYPES:
        return CODE_TYPES[first], -1
    if code:
        return "Công văn", -1
    return "", -1


def _subject(lines: list[str], title_idx: int) -> str:
    for i, ln in enumerate(lines[:HEADER_LINES]):
        m = re.match(r"^\s*(?:V/v|Về việc)\s*:?\s*(.*)$", ln, re.I)
        if not m:
            continue
        parts = [m.group(1)]
        for nxt in lines[i + 1:i + 6]:
            s = nxt.strip()
            if not s or RE_PLACE_DATE.match(nxt) or re.match(r"Kính gửi", s, re.I):
                break
            parts.append(s)
        return _clean(" ".join(parts))
    if title_idx < 0:
        return ""
    i = title_idx + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    parts = []
    while i < len(lines) and lines[i].strip():
        parts.append(lines[i].strip().lstrip("#").strip())
        i += 1
    subj = _clean(" ".join(parts))
    # the opening paragraph ("Thực hiện Công văn số …") is not a title; "Thực hiện công tác trẻ em…" is
    if not subj or len(subj) > 300 or RE_REF.search(subj) or re.match(r"(Căn cứ|Kính gửi|\d|[IVX]+\.)", subj, re.I):
        return ""
    return subj


def _recipients(lines: list[str]) -> list[str]:
    for i, ln in enumerate(lines[:HEADER_LINES * 2]):
        m = re.match(r"^\s*Kính\s+gửi\s*:?\s*(.*)$", ln, re.I)
        if not m:
            continue
        items = []
        first = m.group(1).strip().lstrip("-+•").strip().rstrip(";.,").strip()
        if first:
            items.append(first)
        for nxt in lines[i + 1:]:
            s = nxt.strip()
            if not s:
                continue
            if s[0] not in "-+•–":
                break
            item = s.lstrip("-+•–").strip().rstrip(";.,").strip()
            if item:
                items.append(item)
        return items
    return []


def _signature(lines: list[str]) -> tuple[str, str]:
    """(signer, signer_title) from the last upper-case title block ("KT. CHỦ TỊCH / PHÓ CHỦ TỊCH") and the name under it."""
    tail_start = max(0, len(lines) - 60)
    blocks: list[tuple[int, int]] = []
    i = tail_start
    while i < len(lines):
        s = lines[i].strip()
        if s and s == s.upper() and re.search(r"[A-Z]", s) and RE_TITLE_KW.search(s):
            j = i
            while j < len(lines) and lines[j].strip() and lines[j].strip() == lines[j].strip().upper() \
                    and not re.match(r"^[-+•]", lines[j].strip()):
                j += 1
            blocks.append((i, j))
            i = j
        else:
            i += 1
    for a, b in reversed(blocks):
        title = " / ".join(_clean(x) for x in lines[a:b])
        for nxt in lines[b:b + 12]:
            s = _clean(nxt)
            if not s or re.fullmatch(r"[(\[]?\s*(?:đã ký|ký|ký tên.*|signed)\s*[)\]]?", s, re.I):
                continue
            words = s.split()
            if 2 <= len(words) <= 6 and all(w[0].isupper() and w.isalpha() for w in words):
                return (s.title() if s == s.upper() else s), title
            break
        return "", title
    return "", ""


def _implements(lines: list[str], refs: list[LegalRef]) -> LegalRef | None:
    pos = 0
    for ln in lines[:HEADER_LINES * 2]:
        s = ln.strip()
        if re.match(r"^(Thực hiện|Căn cứ)\b", s, re.I):
            start, end = pos, pos + len(ln)
            for r in refs:
                if start <= r.start < end and r.kind != "Luật":
                    return r
        if re.match(r"^(\d+|[IVX]+)\s*[.)]", s):
            return None
        pos += len(ln) + 1
    return None


RE_BODY_ISSUER = re.compile(
    rf"(?<!của )(?<!của\n)\b(?:(?:Ủy|Uỷ) ban nhân dân|UBND)\s+(?P<kind>{UNIT_KINDS})\s+"
    r"(?:yêu cầu|xây dựng|chỉ đạo|ban hành|đề nghị|hướng dẫn|giao|thông báo|triển khai|đề ra)", re.I)


# --- gazetteer ----------------------------------------------------------------------------------------------

def _resolve(name: str, level: str | None = None, province_hint: str | None = None) -> Any:
    """The gazetteer's unit for a place, or None (also while the gazetteer module is not there)."""
    if not name:
        return None
    try:
        from indexer.parsing.places import resolve
    except ImportError:
        return None
    try:
        return resolve(name, level=level or None, province_hint=province_hint or None)
    except Exception:
        return None


def locate(meta: Metadata, level_hint: str = "") -> None:
    """Fill the empty ones of level / province / province_current from ``meta.place`` (and the issuer's unit kind)."""
    unit = _resolve(meta.place, level_hint or meta.level or None)
    if unit is None and (level_hint or meta.level):
        unit = _resolve(meta.place)
    if unit is not None:
        meta.level = meta.level or getattr(unit, "level", "") or ""
        if meta.level == "district" and getattr(unit, "level", "") == "province" and "thành phố" in meta.issuer:
            meta.level = "province"
        meta.province = meta.province or getattr(unit, "province", "") or ""
        meta.province_current = meta.province_current or getattr(unit, "province_current", "") or ""
    elif meta.level == "province" and meta.place:
        meta.province = meta.province or meta.place


# --- the whole --------------------------------------------------------------------------------------------

def _guard(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:  # one odd field must not lose the others
        return default


def extract_metadata(text: str) -> Metadata:
    """Metadata of a whole normalised document; empty fields for whatever is not found (never raises)."""
    meta = Metadata()
    if not isinstance(text, str) or not text.strip():
        return meta
    lines = _lines(text)
    meta.references = _guard(lambda: extract_references(text), [])
    number, code = _guard(lambda: _number(lines), ("", ""))
    meta.number = number
    place_line, meta.date = _guard(lambda: _place_date(lines), ("", ""))
    meta.year = int(meta.date[:4]) if meta.date[:4].isdigit() else None
    meta.doc_type, title_idx = _guard(lambda: _doc_type(lines, code), ("", -1))
    meta.subject = _guard(lambda: _subject(lines, title_idx), "")
    meta.recipients = _guard(lambda: _recipients(lines), [])
    meta.signer, meta.signer_title = _guard(lambda: _signature(lines), ("", ""))
    meta.implements = _guard(lambda: _implements(lines, meta.references), None)
    _guard(lambda: _issuer_place_level(meta, text, lines, place_line, code), None)
    return meta


def _issuer_place_level(meta: Metadata, text: str, lines: list[str], place_line: str, code: str) -> None:
    issuer, unit_kind, unit_name = canonical_issuer(_header_issuer_block(lines))
    meta.place = unit_name or place_line
    if not issuer:
        issuer, unit_kind = _infer_issuer(meta, text, code)
    meta.issuer = issuer
    level = LEVEL_OF_UNIT.get(unit_kind, "")
    if not level and issuer.startswith("Sở"):
        level = "province"
    elif not level and issuer.startswith("Phòng"):
        level = "district"
    elif not level and issuer.startswith("Bộ"):
        level = "national"
    meta.level = level
    locate(meta, level)
    if issuer.startswith(("Sở", "Phòng")) and not unit_kind and meta.place:
        where = meta.province if issuer.startswith("Sở") and meta.province else meta.place
        meta.issuer = f"{issuer} {'tỉnh' if issuer.startswith('Sở') else 'huyện'} {where}"
    elif issuer == "UBND" and meta.place and meta.level in UNIT_OF_LEVEL:
        meta.issuer = f"UBND {UNIT_OF_LEVEL[meta.level]} {meta.place}"


def _infer_issuer(meta: Metadata, text: str, code: str) -> tuple[str, str]:
    """No issuer header: "Ủy ban nhân dân tỉnh yêu cầu…" in the opening, or the number's code + signer title."""
    opening = text[: min(len(text), 4000)]
    place = meta.place
    if m := RE_BODY_ISSUER.search(opening):
        kind = m.group("kind").lower()
        return (f"UBND {kind} {place}" if place else f"UBND {kind}"), kind
    code_up = code.upper()
    if "SLĐTBXH" in code_up.replace("-", "") or "SLĐ" in code_up:
        return "Sở LĐTBXH", ""
    if "GIÁM ĐỐC" in meta.signer_title and re.search(r"\bSở Lao động\s*[-–]\s*Thương binh và Xã hội\s+xây dựng",
                                                       opening):
        return "Sở LĐTBXH", ""
    if code_up.startswith("UBND") or code_up.split("-")[-1:] == ["UBND"] or "CHỦ TỊCH" in meta.signer_title:
        return "UBND", ""
    return "", ""
