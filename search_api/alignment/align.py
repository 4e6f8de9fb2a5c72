"""One-to-one alignment of the task units of two directives.

Units are the document's chunks: a numbered task (one chunk with its items) or, when a task is long enough to
have item chunks, its items. Plans differ in granularity (Lạng Sơn's III.1 bundles five topics that Trà Cú
spreads over five tasks), so each task is used whole or split into its items, whichever aligns better: start
whole, then split a group when that raises the total matched score. The assignment itself is optimal
(Hungarian, ``scipy.optimize.linear_sum_assignment``) over a similarity mixing e5 cosine (stored vectors) with
rapidfuzz token-set similarity on folded text and a sentence-level tf-idf similarity (a task whose two
sentences are two items of the other plan, one duty inside an agency's bundle); pairs below a threshold stay
unmatched.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from indexer.models import Chunk
from indexer.textnorm import fold

_SPLIT_MARKERS = (" • ", " ¶")
# token-set/sort cost grows with both texts' length; a whole task with a dozen items (400–650 syllables) is
# compared lexically on its first 300 (its items are units of their own): the same gold alignment scores
# (200 lost one gold pair), two long plans 0.47 → 0.30 s.
FUZZ_TOKENS = 300


@dataclass
class AlignConfig:
    """Weights of the similarity and the match threshold (chosen on eval/gold.json: eval/RESULTS.md round 6).

    e5 cosines of same-domain Vietnamese text sit in a narrow band (≈0.83–0.99), so matches are decided on the
    margin of a pair over each side's neighbourhood rather than on the raw score (see ``similarity``).
    """

    w_dense: float = 0.6
    w_lexical: float = 0.4
    w_token_sort: float = 0.3  # share of token-sort in the lexical similarity (the rest is token-set)
    k: int = 3  # neighbourhood size of the margin
    threshold: float = 0.06  # a pair whose margin is below this is not a match (eval/tune.py --grid align)
    split_gain: float = 0.02  # splitting a task into items must raise the objective by at least this much
    # lexical similarity: "fuzz" (token-set/sort ratio), "tfidf" (cosine of IDF-weighted syllables and
    # bigrams) or "contain" (IDF mass of shared bigrams over the smaller unit's: one task inside a bundle)
    lexical: Literal["fuzz", "tfidf", "contain"] = "fuzz"
    # many-to-one: an unmatched unit whose best counterpart is already matched joins that pair ("tách" or
    # "gộp") when their margin reaches this; None = strictly one-to-one
    join_threshold: float | None = 0.06
    # second round: two units left unmatched that are each other's most similar unmatched counterpart are
    # paired when their margin reaches this (None: no second round)
    rescue_threshold: float | None = None
    # tasks headed by an agency ("1. Sở Y tế", "10. Ủy ban nhân dân các huyện") bundle unrelated topics:
    # start with their items as the units (the search may still join them back)
    split_agency: bool = False
    # sentence level: a unit that bundles several duties (an agency's task, a task whose two sentences are two
    # items elsewhere) is also compared sentence by sentence, and that similarity joins the mix with this
    # weight ("tfidf": the best sentence pair; "cover": sentence coverage; see ``_sentence_similarity``)
    sentence: Literal["tfidf", "cover"] | None = "tfidf"
    w_sentence: float = 0.15
    # items inherit their task's agency; a pair whose two units are assigned to the same agency gains this
    same_agency: float = 0.0


@dataclass
class AlignUnit:
    """One alignable unit: a whole task (or paragraph) or one item of a split task."""

    chunk_id: str
    doc_id: str
    path: str
    heading: str
    text: str
    kind: str
    group: int  # index of the group (task) it belongs to
    is_item: bool = False
    agency: str = ""  # the agency a task is assigned to, when its heading names one

    def to_dict(self) -> dict[str, str]:
        return {"chunk_id": self.chunk_id, "doc_id": self.doc_id, "path": self.path, "heading": self.heading,
                "text": self.text, "kind": self.kind}


@dataclass
class UnitGroup:
    """A task chunk with its item chunks (empty when the task is short or has none)."""

    whole: int  # index into DocUnits.units
    items: list[int] = field(default_factory=list)


@dataclass
class TermRows:
    """Counts of the folded syllables and bigrams of some texts, as CSR parts over hashed terms: built once
    per document, so a comparison only merges two of them (``_tfidf_rows``) instead of re-reading texts."""

    hashes: np.ndarray  # int64 term hash of each entry (hash(str): stable within the process that caches it)
    counts: np.ndarray  # float32 count of each entry
    indptr: np.ndarray  # int64, len(rows) + 1

    @classmethod
    def of(cls, texts: list[str]) -> TermRows:
        hashes: list[int] = []
        counts: list[int] = []
        indptr = [0]
        seen: dict[str, tuple[list[int], list[int]]] = {}  # a task's sentences are its items' sentences again
        for t in texts:
            row = seen.get(t)
            if row is None:
                w = t.split()
                c = Counter([f"{x}_{y}" for x, y in itertools.pairwise(w)] + w)
                row = seen[t] = ([hash(k) for k in c], list(c.values()))
            hashes += row[0]
            counts += row[1]
            indptr.append(len(hashes))
        return cls(np.asarray(hashes, dtype=np.int64), np.asarray(counts, dtype="float32"),
                   np.asarray(indptr, dtype=np.int64))


@dataclass
class DocUnits:
    """A document's candidate units, their vectors and folded texts (cached per service)."""

    doc_id: str
    units: list[AlignUnit]
    groups: list[UnitGroup]
    vectors: np.ndarray  # (len(units), dim), L2-normalised
    folded: list[str]
    # the first FUZZ_TOKENS folded tokens: sorted (token-sort is the plain ratio of these), and their set sorted
    # (token-set only looks at the set: the same scores, half the time rapidfuzz spends splitting and sorting)
    sorted_tokens: list[str] = field(default_factory=list)
    token_sets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sorted_tokens:
            heads = [f.split()[:FUZZ_TOKENS] for f in self.folded]
            self.sorted_tokens = [" ".join(sorted(h)) for h in heads]
            self.token_sets = [" ".join(sorted(set(h))) for h in heads]

    _sentences: list[list[str]] | None = None
    _sentence_terms: TermRows | None = None

    def sentences(self) -> list[list[str]]:
        """Each unit's folded sentences (computed once: only the sentence-level similarity needs them)."""
        if self._sentences is None:
            self._sentences = [split_sentences(_without_agency_line(u)) for u in self.units]
        return self._sentences

    def sentence_terms(self) -> TermRows:
        """The term counts of every sentence, in ``sentences()`` order (computed once per document)."""
        if self._sentence_terms is None:
            self._sentence_terms = TermRows.of([x for xs in self.sentences() for x in xs])
        return self._sentence_terms

    def chosen(self, split: set[int]) -> list[int]:
        """Unit indices when the groups in ``split`` are used as items, the others whole, in document order."""
        out: list[int] = []
        for gi, g in enumerate(self.groups):
            out += g.items if gi in split and g.items else [g.whole]
        return out


@dataclass
class AlignedPair:
    a: int  # unit index in DocUnits a
    b: int
    similarity: float  # combined score
    margin: float  # how much the pair stands out from both neighbourhoods (what the matching maximises)
    dense: float
    lexical: float


@dataclass
class AlignGroup:
    """Units that correspond: one pair, one A task split into several B units ("tách"), or several A units
    merged into one B unit ("gộp")."""

    kind: Literal["pair", "tách", "gộp"]
    a: list[int]  # unit indices, document order
    b: list[int]
    links: list[AlignedPair]  # the core pair first, then the joined ones


@dataclass
class Alignment:
    a: DocUnits
    b: DocUnits
    pairs: list[AlignedPair]  # one-to-one core, in document A's order
    only_a: list[int]  # unmatched and not joined to any group
    only_b: list[int]
    joins: list[AlignedPair] = field(default_factory=list)  # many-to-one links, each sharing a unit with a pair
    # for each unit left unmatched, the other document's most similar unit (an item or a task without items,
    # paired or not): a hint for the reader, not a match (its margin was below the threshold)
    nearest_a: dict[int, AlignedPair] = field(default_factory=dict)  # only_a unit → its nearest B unit
    nearest_b: dict[int, AlignedPair] = field(default_factory=dict)  # only_b unit → its nearest A unit

    def links(self) -> list[AlignedPair]:
        """Every predicted correspondence (core pairs and joins)."""
        return [*self.pairs, *self.joins]

    def groups(self) -> list[AlignGroup]:
        """The pairs with their joins folded in, in document A's order."""
        by_a = {p.a: p for p in self.pairs}
        by_b = {p.b: p for p in self.pairs}
        extra: dict[int, list[AlignedPair]] = {}
        for j in self.joins:
            core = by_a.get(j.a) or by_b.get(j.b)
            if core is not None:
                extra.setdefault(id(core), []).append(j)
        out = []
        for p in self.pairs:
            js = extra.get(id(p), [])
            a = sorted({p.a, *(j.a for j in js)})
            b = sorted({p.b, *(j.b for j in js)})
            kind = "tách" if len(b) > 1 else "gộp" if len(a) > 1 else "pair"
            out.append(AlignGroup(kind, a, b, [p, *js]))
        return out


def fold_key(text: str) -> str:
    """Lower-case, diacritic-free, punctuation-free text: what the lexical similarity compares."""
    return " ".join(re.findall(r"[^\W_]+", fold(text.lower())))


_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n+")
MIN_SENTENCE = 5  # folded tokens: a shorter piece ("Sở Y tế", "đúng quy định.") joins the sentence before it


@functools.lru_cache(maxsize=65536)
def _fold_piece(piece: str) -> str:
    """``fold_key`` of one sentence, remembered: a task's text repeats its items' sentences."""
    return fold_key(piece)


def split_sentences(text: str) -> list[str]:
    """Folded sentences of a unit: split at sentence ends, semicolons (duties in a list) and line breaks;
    a piece under ``MIN_SENTENCE`` tokens is glued to its neighbour."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        f = _fold_piece(piece)
        if not f:
            continue
        if out and (len(f.split()) < MIN_SENTENCE or len(out[-1].split()) < MIN_SENTENCE):
            out[-1] = f"{out[-1]} {f}"
        else:
            out.append(f)
    return out or [fold_key(text)]


@functools.lru_cache(maxsize=8192)  # the page, its JSON twin and its exports ask for the same ones
def closest_sentence(text: str, other_folded: str) -> str:
    """The sentence of ``text`` (as written) that shares most folded words and word pairs with another unit
    (``other_folded``: its ``fold_key``): what a reader should look at first when ``text`` is that unit's nearest
    but not its match. Pieces are folded through the cache the sentence similarity fills."""
    pieces = [x.strip() for x in _SENTENCE_END.split(text) if x and x.strip()]
    if len(pieces) < 2:
        return " ".join(text.split())
    theirs = _piece_terms(other_folded)

    def score(piece: str) -> float:
        mine = _piece_terms(_fold_piece(piece))
        return len(mine & theirs) / (len(mine) ** 0.5 or 1.0)

    return " ".join(max(pieces, key=score).split())


def _terms(folded: str) -> frozenset[str]:
    w = folded.split()
    return frozenset(w) | {f"{x}_{y}" for x, y in itertools.pairwise(w)}


_piece_terms = functools.lru_cache(maxsize=65536)(_terms)


def _without_agency_line(u: AlignUnit) -> str:
    """A task headed by its agency ("Sở Y tế\n…") without that line: who does it is ``same_agency``'s part,
    and two plans' identical agency lines would otherwise be their best "sentence pair"."""
    first, _, rest = u.text.partition("\n")
    return rest if u.agency and rest and fold_key(first).endswith(fold_key(u.agency)) else u.text


def is_alignable(c: Chunk) -> bool:
    """Tasks, items and body paragraphs; not section headings."""
    return c.kind in ("task", "item", "paragraph") and bool(c.text.strip())


def group_chunks(chunks: list[Chunk]) -> list[tuple[Chunk, list[Chunk]]]:
    """(task chunk, its item chunks) in document order; an item chunk follows its task chunk in ``chunks``."""
    out: list[tuple[Chunk, list[Chunk]]] = []
    for c in chunks:
        if not is_alignable(c):
            continue
        if out and out[-1][0].kind == "task" and any(c.path.startswith(out[-1][0].path + m) for m in _SPLIT_MARKERS):
            out[-1][1].append(c)
            continue
        out.append((c, []))
    return out


def build_units(doc_id: str, chunks: list[Chunk], headings: dict[str, str], vectors: dict[str, np.ndarray],
                ) -> DocUnits:
    """Candidate units of one document; ``headings`` maps a unit path to its own heading line."""
    units: list[AlignUnit] = []
    groups: list[UnitGroup] = []
    for task, items in group_chunks(chunks):
        gi = len(groups)
        g = UnitGroup(len(units))
        units.append(AlignUnit(task.chunk_id, doc_id, task.path, headings.get(task.path, ""), task.text,
                               task.kind, gi, agency=task.agency if task.kind == "task" else ""))
        if len(items) >= 2:  # a single item is the task itself
            for it in items:
                g.items.append(len(units))
                units.append(AlignUnit(it.chunk_id, doc_id, it.path, headings.get(it.path, ""), it.text,
                                       it.kind, gi, is_item=True))
        groups.append(g)
    vecs = np.stack([vectors[u.chunk_id] for u in units]) if units else np.zeros((0, 1), dtype="float32")
    return DocUnits(doc_id, units, groups, vecs.astype("float32"), [fold_key(u.text) for u in units])


def _group_max(sim: np.ndarray, groups: list[UnitGroup]) -> np.ndarray:
    """(rows, n_groups): each row's best similarity to any unit (whole or item) of each group."""
    cols = [sim[:, [g.whole, *g.items]].max(axis=1) for g in groups]
    return np.stack(cols, axis=1) if cols else np.zeros((sim.shape[0], 0), dtype=sim.dtype)


def _neighbourhood(gm: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row's ``k`` best group similarities: how similar it is to the other document overall."""
    if gm.shape[1] == 0:
        return np.zeros(gm.shape[0], dtype=gm.dtype)
    k = max(1, min(k, gm.shape[1]))
    return -np.sort(-gm, axis=1)[:, :k].mean(axis=1)


def _features(texts: list[str], bigrams_only: bool) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(texts × terms) counts of folded syllables and/or adjacent bigrams, and the terms' IDF over ``texts``."""
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        w = t.split()
        terms = [f"{x}_{y}" for x, y in itertools.pairwise(w)]
        if not bigrams_only:
            terms += w
        for term, n in Counter(terms).items():
            rows.append(r)
            cols.append(vocab.setdefault(term, len(vocab)))
            vals.append(n)
    m = sparse.csr_matrix((np.asarray(vals, dtype="float32"), (rows, cols)), shape=(len(texts), len(vocab)))
    df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocab)) if cols else np.zeros(0)
    idf = (np.log((len(texts) + 1) / (df + 1)) + 1).astype("float32")
    return m, idf


def _tfidf(a: list[str], b: list[str]) -> np.ndarray:
    """Cosine of sublinear-TF × IDF vectors (IDF over both documents' units: words every task of these two
    plans uses weigh little, the words that name a topic weigh much)."""
    m, idf = _features(a + b, bigrams_only=False)
    m = m.copy()
    m.data = 1 + np.log(m.data)
    m = m @ sparse.diags(idf)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()) + 1e-9
    m = sparse.diags(1 / norms) @ m
    return np.asarray((m[: len(a)] @ m[len(a):].T).todense(), dtype="float32")


def _contain(a: list[str], b: list[str]) -> np.ndarray:
    """IDF mass of the bigrams two units share over the smaller unit's own mass: 1.0 when one unit's wording
    is entirely inside the other (a task folded into a bundle of several), whatever else the other says."""
    m, idf = _features(a + b, bigrams_only=True)
    m = (m > 0).astype("float32")
    w = m @ sparse.diags(idf)
    shared = np.asarray((w[: len(a)] @ m[len(a):].T).todense(), dtype="float32")
    mass = np.asarray(w.sum(axis=1)).ravel()
    ma, mb = mass[: len(a)], mass[len(a):]
    return shared / (np.minimum(ma[:, None], mb[None, :]) + 1e-9)


def _tfidf_rows(a: TermRows, b: TermRows) -> np.ndarray:
    """``_tfidf`` of the texts behind two ``TermRows`` (the same cosines, from cached counts)."""
    na, nb = len(a.indptr) - 1, len(b.indptr) - 1
    if not na or not nb:
        return np.zeros((na, nb), dtype="float32")
    uniq, cols = np.unique(np.concatenate([a.hashes, b.hashes]), return_inverse=True)
    cols = cols.ravel()
    indptr = np.concatenate([a.indptr, b.indptr[1:] + a.indptr[-1]])
    df = np.bincount(cols, minlength=len(uniq))
    idf = (np.log((na + nb + 1) / (df + 1)) + 1).astype("float32")
    data = (1 + np.log(np.concatenate([a.counts, b.counts]))) * idf[cols]
    m = sparse.csr_matrix((data.astype("float32"), cols, indptr), shape=(na + nb, len(uniq)))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()) + 1e-9
    m = sparse.diags(1 / norms) @ m
    return np.asarray((m[:na] @ m[na:].T).todense(), dtype="float32")


def _sentence_index(du: DocUnits) -> tuple[list[str], np.ndarray]:
    """(every unit's sentences in unit order, where each unit's run starts): the rows ``reduceat`` folds."""
    sents = du.sentences()
    starts = np.cumsum([0] + [len(x) for x in sents[:-1]]).astype(np.int64)
    return [x for xs in sents for x in xs], starts


def _fold_max(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sentence × sentence → unit × unit: the best sentence pair of each unit pair."""
    return np.maximum.reduceat(np.maximum.reduceat(m, rows, axis=0), cols, axis=1)


def _sentence_similarity(a: DocUnits, b: DocUnits, how: str) -> np.ndarray:
    """Unit × unit from sentence × sentence tf-idf cosines: the best pair of one sentence of each unit
    ("tfidf"), or how well the sentences of one unit are covered by the other's, the better direction
    ("cover": each sentence's best counterpart, averaged, as BERTScore does with tokens)."""
    sa, ra = _sentence_index(a)
    sb, rb = _sentence_index(b)
    sim = _tfidf_rows(a.sentence_terms(), b.sentence_terms())
    if how == "tfidf":
        return _fold_max(sim, ra, rb)
    if how == "cover":
        na, nb = np.diff(np.r_[ra, len(sa)]), np.diff(np.r_[rb, len(sb)])
        cov_a = np.add.reduceat(np.maximum.reduceat(sim, rb, axis=1), ra, axis=0) / na[:, None]
        cov_b = (np.add.reduceat(np.maximum.reduceat(sim, ra, axis=0), rb, axis=1) / nb[None, :])
        return np.maximum(cov_a, cov_b).astype("float32")
    raise ValueError(f"unknown sentence similarity {how!r}")


def _lexical(a: DocUnits, b: DocUnits, cfg: AlignConfig) -> np.ndarray:
    """The configured lexical similarity, 0..1. "fuzz": token-set similarity (robust to reordering and to one
    side adding clauses), tempered by token-sort similarity: token-set alone scores a short text 1.0 against
    any long text that contains its words. Token-sort is the plain ratio of the pre-sorted token strings
    (identical scores, 2.7× faster), token-set reads each unit's pre-sorted token set (identical scores, 1.9×
    faster); both use the two cores."""
    if cfg.lexical == "tfidf":
        return _tfidf(a.folded, b.folded)
    if cfg.lexical == "contain":
        return _contain(a.folded, b.folded)

    def run(x: list[str], y: list[str], scorer) -> np.ndarray:
        return process.cdist(x, y, scorer=scorer, dtype=np.float32, workers=-1) / 100.0

    w = cfg.w_token_sort
    out = run(a.token_sets, b.token_sets, fuzz.token_set_ratio) * (1 - w)
    return out + run(a.sorted_tokens, b.sorted_tokens, fuzz.ratio) * w if w else out


def similarity(a: DocUnits, b: DocUnits, cfg: AlignConfig) -> tuple[np.ndarray, ...]:
    """(combined, margin, dense cosine, lexical 0..1) matrices over all candidate units of a × b.

    Everything in these plans is about children, so raw similarities are uniformly high; what marks a real
    counterpart is standing out from the rest (CSLS, Conneau et al. 2018): margin = 2·s − r_a − r_b, where r
    is a unit's mean similarity to its ``k`` nearest groups on the other side.
    """
    if not a.units or not b.units:
        z = np.zeros((len(a.units), len(b.units)), dtype="float32")
        return z, z, z, z
    dense = a.vectors @ b.vectors.T
    lex = _lexical(a, b, cfg)
    combined = cfg.w_dense * dense + cfg.w_lexical * lex
    total = cfg.w_dense + cfg.w_lexical
    if cfg.sentence and cfg.w_sentence:
        combined = combined + cfg.w_sentence * _sentence_similarity(a, b, cfg.sentence)
        total += cfg.w_sentence
    combined = combined / total
    if cfg.same_agency:
        combined = combined + cfg.same_agency * _same_agency(a, b)
    r_a = _neighbourhood(_group_max(combined, b.groups), cfg.k)
    r_b = _neighbourhood(_group_max(combined.T, a.groups), cfg.k)
    margin = 2 * combined - r_a[:, None] - r_b[None, :]
    f = np.float32
    return combined.astype(f), margin.astype(f), dense.astype(f), lex.astype(f)


def agency_key(name: str) -> str:
    """An agency's name in one form: "UBND các huyện, thành phố" = "Ủy ban nhân dân các huyện, thành phố"."""
    key = fold_key(name)
    key = re.sub(r"\bubnd\b", "uy ban nhan dan", key)
    return re.sub(r"^(?:de nghi|giao)\s+", "", key)


def _same_agency(a: DocUnits, b: DocUnits) -> np.ndarray:
    """1 where both units are assigned to the same agency (an item takes its task's), else 0."""
    def keys(du: DocUnits) -> list[str]:
        return [agency_key(du.units[du.groups[u.group].whole].agency) for u in du.units]

    ka, kb = keys(a), keys(b)
    return np.array([[float(bool(x) and x == y) for y in kb] for x in ka], dtype="float32").reshape(len(ka), len(kb))


def _assign(sim: np.ndarray, rows: list[int], cols: list[int], threshold: float) -> tuple[float, list[tuple[int, int]]]:
    """Optimal one-to-one matching of ``rows`` × ``cols`` maximising the total margin above ``threshold``."""
    if not rows or not cols:
        return 0.0, []
    gain = np.maximum(sim[np.ix_(rows, cols)] - threshold, 0.0)
    r, c = linear_sum_assignment(gain, maximize=True)
    pairs = [(rows[i], cols[j]) for i, j in zip(r, c, strict=True) if gain[i, j] > 0]
    return float(gain[r, c].sum()), pairs


def align(a: DocUnits, b: DocUnits, cfg: AlignConfig | None = None) -> Alignment:
    """Align two documents' units one-to-one, choosing per task whether its items align better than the whole."""
    cfg = cfg or AlignConfig()
    return match(a, b, cfg, *similarity(a, b, cfg))


def match(a: DocUnits, b: DocUnits, cfg: AlignConfig, sim: np.ndarray, margin: np.ndarray, dense: np.ndarray,
          lex: np.ndarray) -> Alignment:
    """The matching stage of ``align`` on given matrices: maximise the total ``margin`` above the threshold
    over the split choices, then joins (``sim`` picks a join's partner). Separate so that eval/align_assign.py
    can score other matrices with the same matching."""
    def bundles(du: DocUnits) -> set[int]:
        return {gi for gi, g in enumerate(du.groups) if g.items and du.units[g.whole].agency} \
            if cfg.split_agency else set()

    split_a, split_b = bundles(a), bundles(b)
    best, pairs = _assign(margin, a.chosen(split_a), b.chosen(split_b), cfg.threshold)
    candidates = [("a", gi) for gi, g in enumerate(a.groups) if g.items] + \
                 [("b", gi) for gi, g in enumerate(b.groups) if g.items]
    for _ in range(2):  # two passes: a split on one side can make a split on the other worthwhile
        changed = False
        for side, gi in candidates:
            sa, sb = set(split_a), set(split_b)
            target = sa if side == "a" else sb
            target ^= {gi}  # try toggling this group
            score, p = _assign(margin, a.chosen(sa), b.chosen(sb), cfg.threshold)
            if score > best + cfg.split_gain:
                best, pairs, split_a, split_b, changed = score, p, sa, sb, True
        if not changed:
            break
    chosen_a, chosen_b = a.chosen(split_a), b.chosen(split_b)
    pairs += _rescue(sim, margin, pairs, chosen_a, chosen_b, cfg.rescue_threshold)
    pairs.sort(key=lambda x: x[0])
    joins = _joins(sim, margin, pairs, chosen_a, chosen_b, cfg.join_threshold)

    def link(i: int, j: int) -> AlignedPair:
        return AlignedPair(i, j, float(sim[i, j]), float(margin[i, j]), float(dense[i, j]), float(lex[i, j]))

    used_a = {i for i, _ in pairs} | {i for i, _ in joins}
    used_b = {j for _, j in pairs} | {j for _, j in joins}
    only_a = [i for i in chosen_a if i not in used_a]
    only_b = [j for j in chosen_b if j not in used_b]
    near_b, near_a = _nearest(sim, b), _nearest(sim.T, a)
    return Alignment(a, b, [link(i, j) for i, j in pairs], only_a, only_b, [link(i, j) for i, j in sorted(joins)],
                     nearest_a={i: link(i, near_b[i]) for i in only_a} if near_b else {},
                     nearest_b={j: link(near_a[j], j) for j in only_b} if near_a else {})


def _nearest(sim: np.ndarray, du: DocUnits) -> list[int]:
    """For each row, the most similar unit of ``du`` (the columns) that is not a bundle of items: an item, or a
    task without items. A whole agency task ("1. Sở Lao động…", eight duties) resembles everything a little,
    so pointing a reader at it says less than pointing at the duty inside it."""
    atomic = [i for i, u in enumerate(du.units) if not (du.groups[u.group].items and du.groups[u.group].whole == i)]
    if not atomic or not sim.shape[0]:
        return []
    cols = np.asarray(atomic)
    return [int(x) for x in cols[sim[:, cols].argmax(axis=1)]]


def _rescue(sim: np.ndarray, margin: np.ndarray, pairs: list[tuple[int, int]], chosen_a: list[int],
            chosen_b: list[int], threshold: float | None) -> list[tuple[int, int]]:
    """Mutual best pairs among the units the optimal matching left over (their margin was below the first
    threshold because each side's neighbourhood is crowded, as in plans organised by agency)."""
    if threshold is None:
        return []
    ra = [i for i in chosen_a if i not in {x for x, _ in pairs}]
    rb = [j for j in chosen_b if j not in {y for _, y in pairs}]
    if not ra or not rb:
        return []
    sub = sim[np.ix_(ra, rb)]
    best_b, best_a = sub.argmax(axis=1), sub.argmax(axis=0)
    return [(ra[r], rb[c]) for r, c in enumerate(best_b) if best_a[c] == r and margin[ra[r], rb[c]] >= threshold]


def _joins(sim: np.ndarray, margin: np.ndarray, pairs: list[tuple[int, int]], chosen_a: list[int],
           chosen_b: list[int], threshold: float | None) -> list[tuple[int, int]]:
    """Many-to-one links: an unmatched unit whose most similar counterpart is already paired joins that
    pair when their margin reaches ``threshold``. A unit joins at most one group, and a joined unit never
    takes partners of its own, so every group is one task on one side and several on the other."""
    if threshold is None or not pairs:
        return []
    pa = {i for i, _ in pairs}
    pb = {j for _, j in pairs}
    out: list[tuple[int, int]] = []
    grows_a: set[int] = set()  # A units that already took extra B units (a "tách")
    grows_b: set[int] = set()
    for x in (i for i in chosen_a if i not in pa):  # a merge into B: several A units → one B unit
        y = max(chosen_b, key=lambda j: sim[x, j])
        partner = next(i for i, j in pairs if j == y) if y in pb else None
        if partner is not None and partner not in grows_a and margin[x, y] >= threshold:
            out.append((x, y))
            grows_b.add(y)
    for y in (j for j in chosen_b if j not in pb):  # a split of A: one A unit → several B units
        x = max(chosen_a, key=lambda i: sim[i, y])
        partner = next(j for i, j in pairs if i == x) if x in pa else None
        if partner is not None and partner not in grows_b and x not in {i for i, _ in out} \
                and margin[x, y] >= threshold:
            out.append((x, y))
            grows_a.add(x)
    return out

