"""The body of a directive as a numbered-task tree: sections (I, II…) → tasks (1., 1.1., a)) → items (bullets).

Works line by line on the original text *and* its normalised twin (normalisation keeps lines 1:1), so the
markdown signals of the original (``##``, ``**bold**``) can decide what is a heading while the unit text and
offsets come from the normalised text. Numbering, not markdown depth, decides nesting: the seeds' heading
levels jump (``##``/``###``/``####``) and a task can appear outside any heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.models import Unit
from indexer.textnorm import fold

# --- line classification ----------------------------------------------------------------------------------

ROMAN = r"(?:X{0,3}(?:IX|IV|V?I{0,3}))"
RE_SECTION = re.compile(rf"^(?P<label>{ROMAN})\s*[.)]\s*(?P<rest>\S.*)?$")
RE_SUBSECTION = re.compile(rf"^(?P<label>{ROMAN}\.\d+)\s*[.)]?\s+(?P<rest>\S.*)$")  # "V.1. Sở Lao động…"
RE_NUMBERED = re.compile(r"^(?P<label>\d{1,2}(?:\.\d{1,2})*)\s*[.)]\s*(?P<rest>\S.*)?$")
RE_LETTERED = re.compile(r"^(?P<label>[a-zđ])\s*\)\s*(?P<rest>\S.*)$")
RE_ARTICLE = re.compile(r"^(?:Điều|ĐIỀU)\s+(?P<label>\d{1,3}[a-z]?)\s*[.:]?\s*(?P<rest>.*)$")  # "Điều 5. …"
RE_CHAPTER = re.compile(rf"^(?:Chương|CHƯƠNG|Phần|PHẦN)\s+(?P<label>{ROMAN}|\d{{1,2}})\s*[.:]?\s*(?P<rest>.*)$")
RE_BULLET = re.compile(r"^(?P<label>[-–—+•*▪◦·])\s+(?P<rest>\S.*)$")
RE_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
TERMINAL = tuple(".;:!?…\"”’)»")

# Closing paragraphs ("Nhận được Công văn này…", "Trên đây là Kế hoạch…") belong to the document, not the last task.
CLOSING_STARTS = ("nhan duoc", "tren day la", "noi nhan")

AGENCY_STARTS = (
    "so ", "uy ban", "ubnd", "cong an", "phong ", "ban ", "hoi ", "tinh doan", "doan ", "bo ", "cac so",
    "trung tam", "bao hiem xa hoi", "dai ", "bao ", "vien kiem sat", "toa an", "mat tran", "ubmttq",
    "cuc ", "chi cuc", "quy ", "cac co quan", "cac huyen", "cac phong", "bo chi huy", "lien doan",
)

SECTION_KINDS = (
    ("reporting", ("che do bao cao", "bao cao")),
    ("organisation", ("to chuc thuc hien",)),
    ("funding", ("kinh phi", "nguon kinh phi", "ngan sach")),
    ("purpose", ("muc dich", "yeu cau")),
    ("targets", ("muc tieu", "chi tieu")),
    ("tasks", ("nhiem vu", "giai phap", "noi dung")),
)


def section_kind(title: str) -> str:
    """Kind of a section from its title: purpose, targets, tasks, funding, organisation, reporting, other."""
    f = fold(title)
    for kind, keys in SECTION_KINDS:
        if any(k in f for k in keys):
            return kind
    return "other"


def agency_of(heading: str) -> str:
    """The agency a numbered unit is assigned to, if its heading names one ("2. Sở Giáo dục và Đào tạo")."""
    h = heading.strip().strip("*").strip()
    h = re.sub(r"^(?:đề nghị|giao)\s+", "", h, flags=re.IGNORECASE)
    f = fold(h)
    if not any(f.startswith(s) for s in AGENCY_STARTS):
        return ""
    h = re.sub(r"\s*[-–]\s*", " - ", h)  # "Lao động- Thương binh" → "Lao động - Thương binh"
    return h.rstrip(":;. ").strip()


@dataclass
class Line:
    orig: str
    norm: str
    start: int  # offset of the line in the normalised text
    md_heading: bool
    bold: bool  # the whole line is bold/italic in the original


@dataclass
class Block:
    """Consecutive non-blank lines; a paragraph of the source (before page-break repair)."""

    lines: list[Line]
    kind: str = "paragraph"  # section | task | item | paragraph
    label: str = ""
    heading: str = ""  # heading part (for heading-like tasks/sections)
    text: str = ""  # text part (normalised, label removed)
    is_heading: bool = False
    start: int = 0
    end: int = 0
    extra: list[Block] = field(default_factory=list)  # blocks merged in by page-break repair


def _split_lines(original: str, normalised: str) -> list[Line]:
    o_lines = original.split("\n")
    n_lines = normalised.split("\n")
    if len(o_lines) != len(n_lines):  # normalisation is expected to keep lines; fall back to normalised only
        o_lines = n_lines
    out, pos = [], 0
    for o, n in zip(o_lines, n_lines, strict=True):
        ostrip = o.strip()
        bold = bool(re.fullmatch(r"#*\s*(\*\*|__|\*)(.+?)\1\s*:?", ostrip)) if ostrip else False
        out.append(Line(o, n, pos, bool(RE_MD_HEADING.match(o)), bold))
        pos += len(n) + 1
    return out


def _blocks(lines: list[Line]) -> list[Block]:
    """Group lines into blocks at blank lines; a list marker or numbering at a line start also opens a block."""
    blocks: list[Block] = []
    cur: list[Line] = []

    def flush():
        if cur:
            blocks.append(Block(list(cur)))
            cur.clear()

    for ln in lines:
        s = ln.norm.strip()
        if not s:
            flush()
            continue
        if cur and (RE_BULLET.match(s) or RE_NUMBERED.match(s) or RE_SECTION.match(s) or RE_ARTICLE.match(s)
                    or RE_CHAPTER.match(s) or ln.md_heading):
            flush()
        cur.append(ln)
    flush()
    return blocks


def _bold_prefix(orig: str) -> str | None:
    """'**2. Đề nghị các sở…** căn cứ…' → the bold part, when the line starts bold and continues plain."""
    m = re.match(r"^\s*#*\s*\*\*(.+?)\*\*\s*(\S.*)$", orig)
    return m.group(1) if m else None


def classify(block: Block) -> Block:
    first = block.lines[0]
    s = " ".join(ln.norm.strip() for ln in block.lines).strip()
    block.start = first.start + (len(first.norm) - len(first.norm.lstrip()))
    last = block.lines[-1]
    block.end = last.start + len(last.norm.rstrip())
    all_bold = all(ln.bold for ln in block.lines)
    md = first.md_heading
    m = RE_SUBSECTION.match(s)
    if mc := RE_CHAPTER.match(s):
        block.kind, block.label, rest = "section", mc.group("label"), mc.group("rest") or ""
    elif ma := RE_ARTICLE.match(s):
        block.kind, block.label, rest = "task", f"Điều {ma.group('label')}", ma.group("rest") or ""
    elif m:
        block.kind, block.label, rest = "task", m.group("label"), m.group("rest") or ""
    elif (m := RE_SECTION.match(s)) and m.group("label"):
        block.kind, block.label, rest = "section", m.group("label"), m.group("rest") or ""
    elif m := RE_NUMBERED.match(s):
        block.kind, block.label, rest = "task", m.group("label"), m.group("rest") or ""
    elif m := RE_LETTERED.match(s):
        block.kind, block.label, rest = "task", m.group("label"), m.group("rest")
    elif m := RE_BULLET.match(s):
        block.kind, block.label, rest = "item", "-", m.group("rest")
    else:
        block.kind, rest = "paragraph", s
        block.is_heading = md and len(s) < 200
        if block.is_heading:
            block.heading, block.text = s, ""
        else:
            block.text = s
        return block
    if block.kind == "item":
        block.text = rest
        return block
    prefix = _bold_prefix(first.orig)
    if block.kind == "section" or md or all_bold:
        block.is_heading = True
        block.heading, block.text = rest.rstrip(":").strip(), ""
    elif prefix and len(block.lines) >= 1 and prefix.strip() != s:
        head = re.sub(r"^\s*(\d{1,2}(?:\.\d{1,2})*|[a-zđ])\s*[.)]\s*", "", prefix).strip()
        block.heading = head.rstrip(":").strip()
        block.text = rest[len(head):].strip() if rest.startswith(head) else rest
    elif len(rest) <= 120 and not rest.endswith(TERMINAL) and len(block.lines) == 1:
        # a short unpunctuated numbered line ("1. Cấp tỉnh") is a heading even without markdown
        block.is_heading = True
        block.heading, block.text = rest, ""
    else:
        block.text = rest
    return block


def _continues(prev: Block, cur: Block) -> bool:
    """True when ``cur`` is the rest of ``prev`` split by a page break (a blank line mid-sentence)."""
    if cur.kind != "paragraph" or cur.is_heading or prev.is_heading:
        return False
    tail = (prev.extra[-1] if prev.extra else prev).text.rstrip()
    if not tail or tail.endswith(TERMINAL):
        return False
    head = cur.text.lstrip()
    if fold(head).startswith(CLOSING_STARTS):
        return False
    # a lowercase start is a continuation; a capital one too ("của Thủ tướng" / "Chính phủ; …") when the
    # previous text stopped mid-sentence, which it did: no terminal punctuation.
    return bool(head)


def repair_page_breaks(blocks: list[Block]) -> list[Block]:
    out: list[Block] = []
    for b in blocks:
        if out and _continues(out[-1], b):
            prev = out[-1]
            prev.extra.append(b)
            prev.text = (prev.text.rstrip() + " " + b.text.lstrip()).strip()
            prev.end = b.end
            continue
        out.append(b)
    return out


# --- tree building ----------------------------------------------------------------------------------------


def _depth(label: str, kind: str) -> int:
    if kind == "section":
        return 0
    if re.fullmatch(r"[a-zđ]", label):
        return 10
    if label.startswith("Điều "):
        return 1  # lettered tasks nest under the current numbered task
    return 1 + label.count(".")  # "1" → 1, "1.1" → 2; "V.1" → 2 handled below


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def build_tree(blocks: list[Block]) -> list[Unit]:
    roots: list[Unit] = []
    stack: list[tuple[int, Unit]] = []  # (depth, unit) of open sections/tasks
    seen_paths: set[str] = set()
    closing = False

    def unique(path: str) -> str:
        p, n = path, 2
        while p in seen_paths:
            p, n = f"{path} ({n})", n + 1
        seen_paths.add(p)
        return p

    def container() -> Unit | None:
        return stack[-1][1] if stack else None

    def inherited(kind_default: str = "tasks") -> tuple[str, str]:
        sk, ag = kind_default, ""
        for _, u in stack:
            if u.kind == "section":
                sk = u.section_kind
            if u.agency:
                ag = u.agency
        return sk, ag

    for b in blocks:
        f = fold(b.text or b.heading)
        if b.kind == "paragraph" and not b.is_heading and f.startswith(CLOSING_STARTS):
            closing = True
        if closing and b.kind in ("paragraph", "item"):
            path = unique(f"¶{sum(1 for r in roots if r.kind == 'paragraph') + 1}")
            kind = "reporting" if "bao cao" in f else "other"
            roots.append(Unit("paragraph", "", path, "", b.text, b.start, b.end, kind, ""))
            continue
        if b.kind == "section":
            closing = False
            stack.clear()
            u = Unit("section", b.label, unique(b.label), b.heading, b.text, b.start, b.end,
                     section_kind(b.heading), "")
            roots.append(u)
            stack.append((0, u))
            continue
        if b.kind == "task":
            closing = False
            label = b.label
            if re.fullmatch(rf"{ROMAN}\.\d+", label):  # "V.1" inside section V
                label = label.split(".", 1)[1]
            depth = _depth(label, "task")
            while stack and stack[-1][0] >= depth and stack[-1][1].kind != "section":
                stack.pop()
            if depth == 10:
                while stack and stack[-1][0] == 10:
                    stack.pop()
            parent = container()
            base = parent.path if parent else ""
            # "1.1" under task "1" keeps its full label; path is section + label; "a)" hangs under its task
            section_path = next((u.path for _, u in stack if u.kind == "section"), "")
            path = _join(section_path, label) if depth != 10 else f"{base}.{label}"
            sk, ag = inherited()
            if not any(x.kind == "section" for _, x in stack) and "che do bao cao" in fold((b.heading or b.text)[:60]):
                sk = "reporting"  # "11. Thực hiện chế độ báo cáo:" in a flat list
            agency = agency_of(b.heading) or (agency_of(b.text.split(":", 1)[0]) if ":" in b.text[:160] else "")
            u = Unit("task", b.label, unique(path), b.heading, b.text, b.start, b.end, sk, agency or ag)
            if parent is None:
                roots.append(u)
            else:
                parent.children.append(u)
            stack.append((depth, u))
            continue
        # items and paragraphs
        parent = container()
        sk, ag = inherited("other" if parent is None else "tasks")
        if b.kind == "paragraph" and b.is_heading and parent is None:
            # an unnumbered heading outside sections: a heading-only section of its own
            u = Unit("section", "", unique(f"§{len(roots) + 1}"), b.heading, "", b.start, b.end,
                     section_kind(b.heading), "")
            roots.append(u)
            stack.clear()
            stack.append((0, u))
            continue
        if parent is None:
            path = unique(f"¶{sum(1 for r in roots if r.kind == 'paragraph') + 1}")
            roots.append(Unit("paragraph", "", path, "", b.text, b.start, b.end, sk, ag))
            continue
        n_same = sum(1 for c in parent.children if c.kind == b.kind) + 1
        sep = " • " if b.kind == "item" else " ¶"
        u = Unit(b.kind, b.label if b.kind == "item" else "", unique(f"{parent.path}{sep}{n_same}"),
                 b.heading, b.text, b.start, b.end, sk, ag)
        parent.children.append(u)
    _extend_spans(roots)
    return roots


def _extend_spans(units: list[Unit]) -> None:
    for u in units:
        _extend_spans(u.children)
        if u.children:
            u.end = max(u.end, max(c.end for c in u.children))


def parse_body(original: str, normalised: str, body_start_line: int, body_end_line: int) -> list[Unit]:
    """Parse the body lines [body_start_line, body_end_line) into the task tree."""
    lines = _split_lines(original, normalised)[body_start_line:body_end_line]
    blocks = [classify(b) for b in _blocks(lines)]
    return build_tree(repair_page_breaks(blocks))
