"""Value retrieval, coarse to fine (ExSPIN §4.2): BM25 narrows, fuzzy LCS decides.

*Documents* are the distinct ``(column, value)`` pairs of a database's text columns. The coarse
stage is Okapi BM25 over word tokens, implemented as an inverted index in numpy: BM25 weights are
precomputed per posting at build time, so a query only sums the posting lists of its own tokens
(cost ~ the postings touched, not the number of documents). ``rank_bm25`` instead loops in Python
over every document per query; ``benchmarks/bench_prompt.py`` measures both (figures in
``docs/prompt.md``). Question tokens are also expanded to vocabulary variants (plural stem,
prefix, and for tokens in no value an LCS-based typo match: ``cats``, ``Asian``, ``Frence``),
weighted by how much we trust the variant.

The fine stage scores each BM25 candidate by the best fuzzy alignment of the value inside the
question: rapidfuzz's ``partial_ratio``, i.e. the normalized *longest common subsequence* of the
value and its best-matching question window (the "LCS" of the paper, tolerant to one or two typos).
Digit-only values shorter than 4 characters never match (ids and counts stored as text; years
still do). Other values of <= 4 characters must occur as whole words (1.0) or, from 3 characters
on, start a word followed by at most 3 letters (0.85: ``cats``, ``Asian``). At most
``max_per_column`` values per column and ``max_total`` overall are returned, best first, ties
broken by name (deterministic).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from synth.prompt.text import STOP_WORDS, normalize, stem, tokenize

#: BM25 parameters (Lucene defaults).
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class ValueMatch:
    """A database value the question mentions: it goes into the prompt as ``table.column = value``."""

    table: str
    column: str
    value: str
    score: float


@dataclass(frozen=True)
class RetrievalConfig:
    """How hard to look for values. Thresholds are similarities in [0, 1]."""

    coarse_top_n: int = 100  # BM25 candidates handed to the fine stage
    min_score: float = 0.82  # fine-stage similarity a value needs (0.82 admits one typo in ~6 chars)
    max_per_column: int = 3  # K: values per column kept in the prompt
    max_total: int = 10  # values kept overall
    typo_similarity: float = 0.8  # indel (LCS) similarity for expanding an unknown question token
    typo_min_len: int = 5  # shorter unknown tokens are not expanded (too many near neighbours)
    short_value_len: int = 4  # values this short must appear as whole words


def _blob(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pack strings into one UTF-8 byte array plus offsets (fast to save/load, no pickle)."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    if encoded:
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
    return data, offsets


def _unblob(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    offs = offsets.tolist()
    return [raw[offs[i] : offs[i + 1]].decode("utf-8") for i in range(len(offs) - 1)]


class ValueIndex:
    """BM25 inverted index over ``(column, value)`` documents, plus the fine matcher.

    Build with :meth:`build`; persist with :meth:`to_arrays` / :meth:`from_arrays` (the cache in
    :mod:`synth.prompt.content` stores these arrays next to the database fingerprint).
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        values: Sequence[str],
        value_column: np.ndarray,
        terms: Sequence[str],
        post_offsets: np.ndarray,
        post_docs: np.ndarray,
        post_weights: np.ndarray,
    ) -> None:
        self.columns = tuple(tuple(c) for c in columns)
        self.values = list(values)
        self.value_column = value_column
        self.terms = list(terms)
        self.post_offsets = post_offsets
        self.post_docs = post_docs
        self.post_weights = post_weights

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, columns: Sequence[tuple[str, str]], docs: Iterable[tuple[int, str]]) -> "ValueIndex":
        """Index ``docs`` = ``(column id, value)`` pairs; column ids index ``columns``."""
        values: list[str] = []
        value_column: list[int] = []
        term_ids: dict[str, int] = {}
        doc_of: list[int] = []
        term_of: list[int] = []
        tf_of: list[int] = []
        lengths: list[int] = []
        for col_id, value in docs:
            doc = len(values)
            values.append(value)
            value_column.append(col_id)
            toks = tokenize(value)
            lengths.append(len(toks))
            counts: dict[str, int] = {}
            for t in toks:
                counts[t] = counts.get(t, 0) + 1
            for t, c in counts.items():
                tid = term_ids.setdefault(t, len(term_ids))
                doc_of.append(doc)
                term_of.append(tid)
                tf_of.append(c)
        n_docs = len(values)
        terms = sorted(term_ids, key=term_ids.__getitem__)
        d = np.asarray(doc_of, dtype=np.int32)
        t = np.asarray(term_of, dtype=np.int32)
        tf = np.asarray(tf_of, dtype=np.float32)
        dl = np.asarray(lengths, dtype=np.float32)
        avgdl = float(dl.mean()) if n_docs else 1.0
        df = np.bincount(t, minlength=len(terms)).astype(np.float64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))  # Lucene's non-negative idf
        norm = BM25_K1 * (1 - BM25_B + BM25_B * dl[d] / max(avgdl, 1e-9))
        weights = (idf[t] * tf * (BM25_K1 + 1) / (tf + norm)).astype(np.float32)
        order = np.lexsort((d, t))  # group postings by term, docs ascending within a term
        post_offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(df.astype(np.int64), out=post_offsets[1:])
        return cls(
            columns,
            values,
            np.asarray(value_column, dtype=np.int32),
            terms,
            post_offsets,
            d[order],
            weights[order],
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        vdata, voffs = _blob(self.values)
        tdata, toffs = _blob(self.terms)
        cdata, coffs = _blob([f"{t}\x00{c}" for t, c in self.columns])
        return {
            "value_data": vdata,
            "value_offsets": voffs,
            "value_column": self.value_column,
            "term_data": tdata,
            "term_offsets": toffs,
            "column_data": cdata,
            "column_offsets": coffs,
            "post_offsets": self.post_offsets,
            "post_docs": self.post_docs,
            "post_weights": self.post_weights,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> "ValueIndex":
        columns = [tuple(s.split("\x00", 1)) for s in _unblob(a["column_data"], a["column_offsets"])]
        return cls(
            columns,
            _unblob(a["value_data"], a["value_offsets"]),
            a["value_column"],
            _unblob(a["term_data"], a["term_offsets"]),
            a["post_offsets"],
            a["post_docs"],
            a["post_weights"],
        )

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def _term_id(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.terms)}

    @cached_property
    def _typo_blocks(self) -> dict[tuple[str, int, str], list[int]]:
        """Alphabetic terms blocked by (length, first two letters) and (length, last two letters).

        One edit cannot change both ends of a word of 5+ letters, so a single typo always leaves
        the correct term in one of the two blocks; comparing only within them keeps typo expansion
        at a few hundred string comparisons instead of the whole vocabulary.
        """
        out: dict[tuple[str, int, str], list[int]] = {}
        for i, t in enumerate(self.terms):
            if len(t) >= 4 and t.isalpha():
                out.setdefault(("p", len(t), t[:2]), []).append(i)
                out.setdefault(("s", len(t), t[-2:]), []).append(i)
        return out

    def _typo_candidates(self, tok: str) -> list[int]:
        blocks = self._typo_blocks
        ids: set[int] = set()
        for length in (len(tok) - 1, len(tok), len(tok) + 1):
            ids.update(blocks.get(("p", length, tok[:2]), ()))
            ids.update(blocks.get(("s", length, tok[-2:]), ()))
        return sorted(ids)

    # ---- coarse stage -------------------------------------------------------------------------
    def query_terms(self, question: str, config: RetrievalConfig = RetrievalConfig()) -> dict[int, float]:
        """Term id -> query weight for the question's tokens and their variants.

        A token in the vocabulary weighs 1; so do, with less trust, its plural stem (``cats`` ->
        ``cat``, 0.9) and the longest vocabulary term it extends by at most 3 letters (``Asian`` ->
        ``asia``, ``engineering`` -> ``engineer``, 0.8). A token in no value is also expanded to
        terms within ``typo_similarity`` (indel, i.e. LCS-based; weight = similarity). Two adjacent tokens that form a term when
        joined (``North Carolina`` -> ``northcarolina``) weigh 1.
        """
        out: dict[int, float] = {}

        def add(term: str, weight: float) -> bool:
            tid = self._term_id.get(term)
            if tid is None:
                return False
            out[tid] = max(out.get(tid, 0.0), weight)
            return True

        tokens = tokenize(question)
        for a, b in zip(tokens, tokens[1:]):
            add(a + b, 1.0)
        for tok in dict.fromkeys(tokens):
            if tok in STOP_WORDS:
                continue
            known = add(tok, 1.0)
            add(stem(tok), 0.9)
            for k in range(len(tok) - 1, max(3, len(tok) - 4), -1):
                if add(tok[:k], 0.8):
                    break
            if known or len(tok) < config.typo_min_len or not tok.isalpha():
                continue
            candidates = self._typo_candidates(tok)
            for _, sim, pos in process.extract(
                tok,
                [self.terms[i] for i in candidates],
                scorer=Indel.normalized_similarity,
                score_cutoff=config.typo_similarity,
                limit=5,
            ):
                add(self.terms[candidates[pos]], float(sim))
        return out

    def coarse(
        self, question: str, top_n: int = 50, config: RetrievalConfig = RetrievalConfig()
    ) -> list[tuple[int, float]]:
        """BM25 top ``top_n`` documents as ``(doc id, score)``, best first, ties by doc id."""
        qterms = self.query_terms(question, config)
        if not qterms or not len(self.values):
            return []
        docs_parts, weight_parts = [], []
        for tid, qw in sorted(qterms.items()):
            lo, hi = self.post_offsets[tid], self.post_offsets[tid + 1]
            docs_parts.append(self.post_docs[lo:hi])
            w = self.post_weights[lo:hi]
            weight_parts.append(w if qw == 1.0 else w * np.float32(qw))
        docs = np.concatenate(docs_parts)
        weights = np.concatenate(weight_parts)
        if len(docs) * 16 > len(self.values):  # dense accumulation is cheaper than sorting
            scores = np.bincount(docs, weights=weights, minlength=len(self.values))
            ids = np.flatnonzero(scores)
            scores = scores[ids]
        else:
            ids, inverse = np.unique(docs, return_inverse=True)
            scores = np.bincount(inverse, weights=weights)
        if len(ids) > top_n:
            keep = np.argpartition(-scores, top_n - 1)[:top_n]
            cutoff = scores[keep].min()
            keep = np.flatnonzero(scores >= cutoff)  # keep all ties at the cut: deterministic
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:top_n]
        return [(int(ids[i]), float(scores[i])) for i in order]

    # ---- fine stage ---------------------------------------------------------------------------
    def search(self, question: str, config: RetrievalConfig = RetrievalConfig()) -> tuple[ValueMatch, ...]:
        """Values the question mentions: BM25 candidates re-scored by fuzzy LCS alignment."""
        q = normalize(question)
        scored: list[ValueMatch] = []
        for doc, _ in self.coarse(question, config.coarse_top_n, config):
            value = self.values[doc]
            score = fine_score(value, q, config.short_value_len)
            if score >= config.min_score:
                table, column = self.columns[int(self.value_column[doc])]
                scored.append(ValueMatch(table, column, value, round(score, 4)))
        return select_matches(scored, config.max_per_column, config.max_total)


def fine_score(value: str, normalized_question: str, short_value_len: int = 4) -> float:
    """Similarity in [0, 1] of ``value`` to its best-matching window of the question.

    ``partial_ratio`` aligns the shorter string inside the longer one and returns the indel
    similarity there (2 * LCS / total length). A value longer than the question is penalised by the
    length ratio, so a long value cannot match on a short question by containing it.
    """
    v = normalize(value)
    if not v:
        return 0.0
    if v.isdigit() and len(v) < 4:
        return 0.0  # small numbers in text columns (ids, counts) match every "3" in a question
    if len(v) <= short_value_len:
        if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", normalized_question):
            return 1.0
        # "cats" for cat, "Asian" for Asia: the value starts a word, at most 3 letters follow
        if len(v) >= 3 and re.search(rf"(?<!\w){re.escape(v)}[a-z]{{1,3}}(?!\w)", normalized_question):
            return 0.85
        return 0.0
    score = fuzz.partial_ratio(v, normalized_question) / 100.0
    if len(v) > len(normalized_question):
        score *= len(normalized_question) / len(v)
    return score


def select_matches(matches: Iterable[ValueMatch], max_per_column: int, max_total: int) -> tuple[ValueMatch, ...]:
    """Best first (score desc, then table, column, value), at most K per column and N in all."""
    ordered = sorted(matches, key=lambda m: (-m.score, m.table.lower(), m.column.lower(), m.value))
    per_column: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str, str]] = set()
    out: list[ValueMatch] = []
    for m in ordered:
        key = (m.table.lower(), m.column.lower())
        if (key + (m.value,)) in seen or per_column.get(key, 0) >= max_per_column:
            continue
        seen.add(key + (m.value,))
        per_column[key] = per_column.get(key, 0) + 1
        out.append(m)
        if len(out) >= max_total:
            break
    return tuple(out)
