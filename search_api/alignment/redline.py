"""Word-level redline of two Vietnamese texts, for drafting staff comparing two versions of a task.

Tokens are syllables, whole numbers/codes and single punctuation marks (``indexer.textnorm.tokenize``), so a
change never splits a syllable. Tokens are compared on their *normalised* text (NFC, canonical tone placement,
markdown removed; whitespace and line breaks never count) but case is kept: a capital letter changed in a
legal text is a real edit. Every op carries the ORIGINAL text of both sides, and the ops tile each original
exactly (whitespace and markdown noise between tokens included), so what is shown is what was written.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Sequence
from typing import Literal, NamedTuple

from markupsafe import Markup, escape
from pydantic import BaseModel, Field

from indexer.textnorm import normalize, tokenize

__all__ = ["DiffOp", "Redline", "redline", "render_html", "render_markdown", "render_text", "token_keys"]

OpName = Literal["equal", "insert", "delete", "replace"]

# An equal run this short (in tokens) between two changes is folded into them: "x, y" -> "z, w" reads
# better as one replacement than as two changes around a shared comma (cf. diff-match-patch's cleanup).
# A run holding a sentence break is kept: it shows where two rewritten sentences line up.
_MAX_ABSORB = 3
_SENTENCE_BREAKS = frozenset(".;:!?")


class DiffOp(BaseModel):
    """One span of the redline; ``a_text``/``b_text`` are the original text of each side for that span."""

    op: OpName
    a_text: str
    b_text: str
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    collapsible: bool = False


class Redline(BaseModel):
    """The ops plus summary numbers; ``*_words`` count syllables/numbers, not punctuation."""

    ops: list[DiffOp]
    similarity: float = Field(ge=0.0, le=1.0)
    changed_words: int  # words deleted from A + words inserted in B (a replacement counts both sides)
    a_words: int
    b_words: int

    @property
    def changes(self) -> list[DiffOp]:
        return [o for o in self.ops if o.op != "equal"]


# --- tokens with spans in the original -----------------------------------------------------------------


class _Tok(NamedTuple):  # a tuple, not a frozen dataclass: ~3× cheaper to build (timelines make 100k of them)
    key: str  # normalised token text: what is compared
    kind: str  # word | number | punct
    start: int  # span in the original, including the whitespace/markdown attached to this token
    end: int


@functools.lru_cache(maxsize=4096)
def _tokens(original: str) -> tuple[_Tok, ...]:
    """Tokens of ``original`` whose spans tile it exactly (cached: a comparison or a timeline redlines the
    same unit against several others, and normalising is most of a redline's cost).

    The gap between two tokens is split at its last whitespace: "đài** (" gives "** " to "đài" and nothing
    to "(", while " **Tổng" gives " " to the previous token and "**" to "Tổng"; a gap with no whitespace
    ("em”**.") stays with the token before it. So bold markers stay with the words they wrap. Text before
    the first token belongs to it, text after the last one too.
    """
    norm = normalize(original)
    toks = tokenize(norm.text)
    if not toks:
        return ()
    offs = norm.offsets
    starts: list[int] = []
    cores: list[int] = []  # end of each token's own characters in the original
    for t in toks:
        s = offs[t.start]
        e = offs[t.end - 1] + 1
        while e < len(original) and unicodedata.combining(original[e]):
            e += 1  # NFD input: the marks after the last base char belong to the token
        starts.append(s)
        cores.append(max(e, s))
    bounds = [0]
    for k in range(1, len(toks)):
        lo, hi = min(cores[k - 1], starts[k]), starts[k]
        cut = hi
        while cut > lo and not original[cut - 1].isspace():
            cut -= 1
        bounds.append(cut if cut > lo else hi)
    bounds.append(len(original))
    return tuple(_Tok(t.text, t.kind, bounds[k], bounds[k + 1]) for k, t in enumerate(toks))


def token_keys(text: str) -> list[str]:
    """The normalised tokens a redline compares (cached with the redline's own tokenisation)."""
    return [t.key for t in _tokens(text)]


# --- op-list clean-up --------------------------------------------------------------------------------------

_Op = list  # [tag, i1, i2, j1, j2]; mutable while cleaning up


def _merge(ops: list[_Op]) -> list[_Op]:
    """Join adjacent ops of the same kind of change and name each change by what it holds."""
    out: list[_Op] = []
    for op in ops:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        is_eq = op[0] == "equal"
        if out and (out[-1][0] == "equal") == is_eq:
            out[-1][2], out[-1][4] = op[2], op[4]
        else:
            out.append(list(op))
    for op in out:
        if op[0] != "equal":
            op[0] = "replace" if op[1] < op[2] and op[3] < op[4] else ("delete" if op[1] < op[2] else "insert")
    return out


def _absorb_short_equals(ops: list[_Op], ta: Sequence[_Tok]) -> list[_Op]:
    """Fold a short equal run sandwiched between two changes into one replacement (repeat until stable)."""
    changed = True
    while changed:
        changed = False
        for k in range(1, len(ops) - 1):
            eq, left, right = ops[k], ops[k - 1], ops[k + 1]
            if eq[0] != "equal" or left[0] == "equal" or right[0] == "equal":
                continue
            n = eq[2] - eq[1]
            if any(t.key in _SENTENCE_BREAKS for t in ta[eq[1]:eq[2]]):
                continue
            if n <= _MAX_ABSORB and n <= max(left[2] - left[1], left[4] - left[3]) \
                    and n <= max(right[2] - right[1], right[4] - right[3]):
                eq[0] = "replace"
                ops = _merge(ops)
                changed = True
                break
    return ops


def _is_punct(seq: Sequence[_Tok], p: int) -> bool:
    return p < 0 or p >= len(seq) or seq[p].kind == "punct"


def _boundary(seq: Sequence[_Tok], p: int) -> int:
    """How good a place for a change to begin or end the gap before token ``p`` is: next to punctuation."""
    return int(_is_punct(seq, p - 1)) + int(_is_punct(seq, p))


def _slide(ops: list[_Op], ta: Sequence[_Tok], tb: Sequence[_Tok]) -> None:
    """Move each pure insertion/deletion along its equal neighbours to the most readable position.

    "Tổng đài 111, thông qua Zalo tổng đài 111)" vs "Tổng đài 111)" can delete "111, thông qua Zalo tổng đài"
    or ", thông qua Zalo tổng đài 111" with the same token count; the latter starts and ends at punctuation.
    """
    for k in range(1, len(ops) - 1):
        prev, op, nxt = ops[k - 1], ops[k], ops[k + 1]
        if op[0] not in ("insert", "delete") or prev[0] != "equal" or nxt[0] != "equal":
            continue
        seq, lo, hi = (ta, 1, 2) if op[0] == "delete" else (tb, 3, 4)
        s, e = op[lo], op[hi]
        keys = [t.key for t in seq]
        cands = [0]
        d = 0
        while d < prev[hi] - prev[lo] - 1 and keys[s - d - 1] == keys[e - d - 1]:
            d += 1
            cands.append(-d)
        d = 0
        while d < nxt[hi] - nxt[lo] - 1 and keys[s + d] == keys[e + d]:
            d += 1
            cands.append(d)
        best = max(cands, key=lambda c: (_boundary(seq, s + c) + _boundary(seq, e + c), -abs(c)))
        if best:
            for o in (prev, op, nxt):
                if o is not prev:
                    o[1] += best
                    o[3] += best
                if o is not nxt:
                    o[2] += best
                    o[4] += best


# --- public API --------------------------------------------------------------------------------------------


def _words(toks: Sequence[_Tok]) -> int:
    return sum(t.kind != "punct" for t in toks)


def redline(a: str, b: str, *, collapse_min: int = 12) -> Redline:
    """Diff ``a`` against ``b`` word by word; equal runs of >= ``collapse_min`` tokens are marked collapsible."""
    ta, tb = _tokens(a), _tokens(b)
    ka, kb = [t.key for t in ta], [t.key for t in tb]
    sm = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    ops = _merge([list(o) for o in sm.get_opcodes()])
    ops = _absorb_short_equals(ops, ta)
    _slide(ops, ta, tb)
    ops = _merge(ops)

    def span(toks: Sequence[_Tok], i: int, j: int, whole: int) -> tuple[int, int]:
        if not toks:
            return 0, whole  # no tokens at all: the (blank or markup-only) text rides on the one op
        if i == j:
            pos = toks[i].start if i < len(toks) else whole
            return pos, pos
        return toks[i].start, toks[j - 1].end

    out: list[DiffOp] = []
    matched = 0
    changed = 0
    for tag, i1, i2, j1, j2 in ops:
        a0, a1 = span(ta, i1, i2, len(a))
        b0, b1 = span(tb, j1, j2, len(b))
        if tag == "equal":
            matched += i2 - i1
        else:
            changed += _words(ta[i1:i2]) + _words(tb[j1:j2])
        out.append(DiffOp(op=tag, a_text=a[a0:a1], b_text=b[b0:b1], a_start=a0, a_end=a1, b_start=b0, b_end=b1,
                          collapsible=tag == "equal" and i2 - i1 >= collapse_min))
    if not out and (a or b):  # neither side has a token: nothing to compare, keep the text anyway
        out.append(DiffOp(op="equal", a_text=a, b_text=b, a_start=0, a_end=len(a), b_start=0, b_end=len(b),
                          collapsible=False))
    total = len(ka) + len(kb)
    return Redline(ops=out, similarity=1.0 if total == 0 else 2 * matched / total, changed_words=changed,
                   a_words=_words(ta), b_words=_words(tb))


# --- rendering ---------------------------------------------------------------------------------------------


def _split_ws(s: str) -> tuple[str, str, str]:
    """(leading whitespace, core, trailing whitespace): markers go round the core, whitespace outside."""
    core = s.strip()
    if not core:
        return s, "", ""
    lead = s[: len(s) - len(s.lstrip())]
    return lead, core, s[len(lead) + len(core):]


def _pieces(rl: Redline) -> list[tuple[str, str, str]]:
    """(kind, core text, trailing whitespace) for display; kinds eq/eqc (collapsible)/del/ins.

    Equal runs show A's text; at a boundary where B's whitespace is what separates the next insertion
    from this run, B's trailing whitespace is used so words never run together.
    """
    out: list[tuple[str, str, str]] = []
    ops = rl.ops
    for k, o in enumerate(ops):
        if o.op == "equal":
            lead, core, trail = _split_ws(o.a_text)
            b_trail = _split_ws(o.b_text)[2]
            nxt = ops[k + 1].op if k + 1 < len(ops) else ""
            if (nxt == "insert" and b_trail) or not trail:
                trail = b_trail or trail
            out.append(("eqc" if o.collapsible else "eq", lead + core, trail))
            continue
        if o.op in ("delete", "replace"):
            lead, core, trail = _split_ws(o.a_text)
            if lead:
                out.append(("eq", "", lead))
            out.append(("del", core, trail))
        if o.op in ("insert", "replace"):
            lead, core, trail = _split_ws(o.b_text)
            if lead:
                out.append(("eq", "", lead))
            out.append(("ins", core, trail))
    return out


def _word_count(text: str) -> int:
    return sum(t.kind != "punct" for t in tokenize(normalize(text).text))


_TITLES = {"del": "Đã xóa (chỉ có trong văn bản A)", "ins": "Đã thêm (chỉ có trong văn bản B)"}


def render_html(rl: Redline) -> Markup:
    """HTML with ``<del>``/``<ins>``; every text is escaped, long equal runs fold into ``<details>``."""
    parts: list[str] = []
    for kind, core, trail in _pieces(rl):
        if not core:
            parts.append(str(escape(trail)))
        elif kind in ("eq", "eqc"):
            span = f'<span class="eq">{escape(core + trail)}</span>'
            if kind == "eqc":
                n = _word_count(core)
                span = (f'<details class="collapsed-run"><summary>… {n} từ giống nhau …</summary>'
                        f"{span}</details>")
            parts.append(span)
        else:
            parts.append(f'<{kind} title="{escape(_TITLES[kind])}">{escape(core)}</{kind}>{escape(trail)}')
    return Markup("".join(parts))


_MD_SPECIALS = "\\`*_[]<>~|#"


def _md_escape(s: str) -> str:
    return "".join("\\" + c if c in _MD_SPECIALS else c for c in s)


def _one_line(s: str) -> str:
    """A marked span must not cross a paragraph break or it stops being one span in markdown."""
    return " ".join(s.split())


def render_markdown(rl: Redline) -> str:
    """Markdown: ``~~deleted~~`` and ``**inserted**``; markdown specials in the text are escaped."""
    parts: list[str] = []
    for kind, core, trail in _pieces(rl):
        if kind in ("eq", "eqc") or not core:
            parts.append(_md_escape(core) + trail)
        else:
            mark = "~~" if kind == "del" else "**"
            parts.append(f"{mark}{_md_escape(_one_line(core))}{mark}{trail}")
    return "".join(parts)


def render_text(rl: Redline) -> str:
    """Plain text in wdiff style: ``[-deleted-]{+inserted+}``."""
    parts: list[str] = []
    for kind, core, trail in _pieces(rl):
        if kind == "del" and core:
            parts.append(f"[-{core}-]{trail}")
        elif kind == "ins" and core:
            parts.append(f"{{+{core}+}}{trail}")
        else:
            parts.append(core + trail)
    return "".join(parts)
