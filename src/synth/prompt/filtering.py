"""Schema filtering (ExSPIN §4.2): score every (question, table, column), keep the top k1 tables and
k2 columns per table, plus the keys needed to join what is kept.

The scorer is a :class:`RelevanceScorer` protocol so a trained schema-item classifier (the paper's
``f``) can replace :class:`LexicalScorer` without touching selection or serialization. The lexical
scorer matches the question against table and column names (original and natural), rewards
columns holding a value the question mentions, discounts generic column names (``id``, ``name``)
that occur in many tables, and propagates relevance along foreign keys: a table that joins two
relevant tables is relevant itself, and a neighbour of a relevant table ranks before a stranger when
the prompt is padded up to k1 tables (the paper pads with random tables; FK-nearest padding is
deterministic and more often useful).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz, process

from evaluation.schema import Schema, natural_name
from synth.prompt.gold import SqlItems
from synth.prompt.text import STOP_WORDS, stem, tokenize
from synth.prompt.values import ValueMatch

#: Name tokens that say little about *which* table is meant.
GENERIC_NAME_TOKENS = frozenset({"id", "name", "code", "type", "detail", "details", "info"})
RELEVANT = 0.5  # score from which a table counts as relevant (used for join-path completion)


@dataclass(frozen=True)
class SchemaScores:
    """Relevance in [0, 1] per table (lower-cased name) and per (table, column) (lower-cased)."""

    tables: Mapping[str, float]
    columns: Mapping[tuple[str, str], float]


class RelevanceScorer(Protocol):
    """The paper's ``f(Q, T_i, C_ij)``: anything that scores a schema's items for a question."""

    def score(self, question: str, schema: Schema, matches: Sequence[ValueMatch] = ()) -> SchemaScores: ...


@dataclass(frozen=True)
class SchemaSelection:
    """Kept tables and, per kept table, kept columns — both in schema order."""

    tables: tuple[str, ...]
    columns: Mapping[str, tuple[str, ...]]


def _name_variants(original: str, natural: str) -> list[list[str]]:
    variants = {natural.lower(), natural_name(original)}
    return [[stem(t) for t in tokenize(v)] for v in sorted(variants) if tokenize(v)]


#: A name as the scorer matches it: per variant, its stemmed tokens and their weights.
_NameVariants = tuple[tuple[tuple[str, ...], tuple[float, ...]], ...]


def _weighted_variants(original: str, natural: str) -> _NameVariants:
    return tuple(
        (tuple(toks), tuple(0.3 if t in GENERIC_NAME_TOKENS else 1.0 for t in toks))
        for toks in _name_variants(original, natural)
    )


@dataclass(frozen=True)
class _SchemaProfile:
    """What the lexical scorer needs from a schema, computed once per schema (not per question)."""

    tables: tuple[tuple[str, _NameVariants, tuple[tuple[tuple[str, str], _NameVariants, float], ...]], ...]
    # per table: (lower-cased name, name variants, per column: (key, name variants, specificity))


def _profile(schema: Schema) -> _SchemaProfile:
    name_freq: dict[str, int] = {}
    for t in schema.tables:
        for c in t.columns:
            name_freq[c.name.lower()] = name_freq.get(c.name.lower(), 0) + 1
    return _SchemaProfile(
        tuple(
            (
                t.name.lower(),
                _weighted_variants(t.name, t.natural),
                tuple(
                    (c.key, _weighted_variants(c.name, c.natural), 1.0 / math.sqrt(name_freq[c.name.lower()]))
                    for c in t.columns
                ),
            )
            for t in schema.tables
        )
    )


class LexicalScorer:
    """A strong lexical baseline; deterministic and free of training data.

    Name tokens and their weights are prepared once per schema (remembered by identity, so a
    builder that scores many questions against one schema pays for it once); per question, each
    distinct name token is compared with the question once.
    """

    def __init__(self, fuzzy_threshold: float = 85.0) -> None:
        self.fuzzy_threshold = fuzzy_threshold
        self._profiles: dict[int, tuple[Schema, _SchemaProfile]] = {}

    def _profile(self, schema: Schema) -> _SchemaProfile:
        hit = self._profiles.get(id(schema))
        if hit is None or hit[0] is not schema:
            hit = (schema, _profile(schema))
            self._profiles[id(schema)] = hit
        return hit[1]

    def _token_hit(self, tok: str, q_stems: frozenset[str]) -> float:
        if tok in q_stems:
            return 1.0
        if len(tok) >= 4:
            near = [q for q in q_stems if len(q) >= 4 and abs(len(q) - len(tok)) <= 2]
            if near and process.extractOne(tok, near, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold):
                return 0.8
        return 0.0

    def _variants_score(self, variants: _NameVariants, hit: Callable[[str], float]) -> float:
        best = 0.0
        for toks, weights in variants:
            hits = [hit(t) for t in toks]
            best = max(best, sum(h * w for h, w in zip(hits, weights)) / sum(weights))
        return best

    def name_score(self, original: str, natural: str, q_stems: frozenset[str]) -> float:
        """Weighted share of the name's tokens found in the question (generic tokens weigh 0.3)."""
        return self._variants_score(_weighted_variants(original, natural), lambda t: self._token_hit(t, q_stems))

    def score(self, question: str, schema: Schema, matches: Sequence[ValueMatch] = ()) -> SchemaScores:
        q_stems = frozenset(stem(t) for t in tokenize(question) if t not in STOP_WORDS)
        memo: dict[str, float] = {}

        def hit(tok: str) -> float:
            h = memo.get(tok)
            if h is None:
                h = memo[tok] = self._token_hit(tok, q_stems)
            return h

        value_score: dict[tuple[str, str], float] = {}
        for m in matches:
            key = (m.table.lower(), m.column.lower())
            value_score[key] = max(value_score.get(key, 0.0), m.score)

        columns: dict[tuple[str, str], float] = {}
        tables: dict[str, float] = {}
        for tname, tvariants, tcolumns in self._profile(schema).tables:
            own = self._variants_score(tvariants, hit)
            best_col = 0.0
            for key, cvariants, specificity in tcolumns:
                s = self._variants_score(cvariants, hit)
                s = max(s, value_score.get(key, 0.0))
                columns[key] = s
                best_col = max(best_col, s * specificity)
            tables[tname] = max(own, 0.8 * best_col)

        # FK neighbourhood: bridges between relevant tables, then a small pull towards neighbours.
        relevant = sorted((n for n, s in tables.items() if s >= RELEVANT), key=lambda n: (-tables[n], n))
        if len(relevant) > 1:
            for fk in schema.join_path(relevant) or []:
                for name in (fk.table.lower(), fk.ref_table.lower()):
                    tables[name] = max(tables[name], RELEVANT)
        pulled = {
            name: s + 0.05 * max((tables[fk.other(name).lower()] for fk in schema.adjacency.get(name, ())), default=0.0)
            for name, s in tables.items()
        }
        return SchemaScores(tables=pulled, columns=columns)


def select_schema(
    schema: Schema,
    scores: SchemaScores,
    k1: int,
    k2: int,
    matches: Iterable[ValueMatch] = (),
    required: SqlItems | None = None,
) -> SchemaSelection:
    """Top ``k1`` tables (padded to k1 by rank) and top ``k2`` columns per table, plus what must stay.

    Always kept: tables and columns of ``required`` (a known SQL), tables needed to connect the
    relevant kept tables along foreign keys, columns holding matched values, primary keys of kept
    tables and the FK columns of edges between kept tables.
    """
    order = {t.name.lower(): i for i, t in enumerate(schema.tables)}
    ranked = sorted(order, key=lambda n: (-scores.tables.get(n, 0.0), order[n]))
    keep = set(ranked[:k1])
    if required is not None:
        keep |= {t for t in required.tables if t in order}
    matches = list(matches)
    anchors = [
        n
        for n in ranked
        if n in keep and (scores.tables.get(n, 0.0) >= RELEVANT or (required and n in required.tables))
    ]
    if len(anchors) > 1:
        for fk in schema.join_path(anchors) or []:
            keep |= {fk.table.lower(), fk.ref_table.lower()}

    forced_cols = {(m.table.lower(), m.column.lower()) for m in matches}
    if required is not None:
        forced_cols |= set(required.columns)
    for fk in schema.foreign_keys:
        if fk.table.lower() in keep and fk.ref_table.lower() in keep:
            forced_cols.add((fk.table.lower(), fk.column.lower()))
            forced_cols.add((fk.ref_table.lower(), fk.ref_column.lower()))

    kept_tables: list[str] = []
    kept_columns: dict[str, tuple[str, ...]] = {}
    for t in schema.tables:
        if t.name.lower() not in keep:
            continue
        keys = [c.key for c in t.columns]
        idx = {k: i for i, k in enumerate(keys)}
        by_score = sorted(keys, key=lambda k: (-scores.columns.get(k, 0.0), idx[k]))
        chosen = set(by_score[:k2])
        chosen |= {k for k, c in zip(keys, t.columns) if c.is_primary_key or k in forced_cols}
        kept_tables.append(t.name)
        kept_columns[t.name] = tuple(c.name for k, c in zip(keys, t.columns) if k in chosen)
    return SchemaSelection(tuple(kept_tables), kept_columns)


def full_selection(schema: Schema) -> SchemaSelection:
    """Every table and column (the ``--full-schema`` switch)."""
    return SchemaSelection(
        tuple(t.name for t in schema.tables), {t.name: tuple(c.name for c in t.columns) for t in schema.tables}
    )
