"""How human-like a set of SQL queries is: the patterns people rarely write, and Spider hardness.

Counted the same way for synthetic output and for a benchmark's own training SQL, so one table
compares them (``benchmarks/bench_quality.py``). A query counts once per pattern:

* ``agg_key`` -- ``AVG``/``SUM`` over a key or id column (role ``key``, :mod:`synth.roles`);
* ``order_key`` -- ``ORDER BY`` a key or id column (the bare column, not an aggregate of it);
* ``agg_text`` -- ``AVG``/``SUM`` over a column declared text;
* ``text_range`` -- a column declared text compared with ``<``, ``>``, ``<=``, ``>=`` or ``BETWEEN``;
* ``any`` -- at least one of these.

Columns are resolved to the schema with the template rules' scope analysis
(:mod:`synth.templates.qualify_columns`), so aliases, unqualified and correlated columns count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from evaluation.hardness import LEVELS, hardness
from evaluation.schema import Schema
from evaluation.sql_analysis import try_parse
from synth.roles import ColumnProfile
from synth.templates.model import TemplateError
from synth.templates.pipeline import parse_sql
from synth.templates.qualify_columns import SOURCE, qualify_columns
from synth.templates.resolve_literals import resolve_literals

PATTERNS = ("agg_key", "order_key", "agg_text", "text_range")
PATTERN_TITLES = {
    "agg_key": "AVG/SUM over a key or id column",
    "order_key": "ORDER BY a key or id column",
    "agg_text": "AVG/SUM over a text column",
    "text_range": "text column compared with </>",
    "any": "any of these",
}
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)

Profiles = Mapping[tuple[str, str], ColumnProfile]


def resolved_tree(sql: str, schema: Schema) -> exp.Expression:
    """``sql`` parsed, Spider's ``"..."`` strings resolved, every column tagged with its schema
    column (``meta[SOURCE]``); raises :class:`TemplateError` when that is impossible."""
    tree = parse_sql(sql)
    return qualify_columns(resolve_literals(tree, schema), schema)


def _source(node: exp.Expression | None) -> tuple[str, str] | None:
    while isinstance(node, (exp.Paren, exp.Distinct)):
        node = node.this if not isinstance(node, exp.Distinct) else (node.expressions or [None])[0]
    if isinstance(node, exp.Column) and SOURCE in node.meta:
        t, c = node.meta[SOURCE]
        return (t.lower(), c.lower())
    return None


def join_patterns(tree: exp.Expression, schema: Schema) -> Counter:
    """Column equalities in JOIN ... ON clauses: ``fk`` (a declared foreign key), ``same_name``
    (same column name, no declared FK; what :mod:`synth.fill.joins` rebuilds) or ``other``."""
    declared = {
        frozenset({(fk.table.lower(), fk.column.lower()), (fk.ref_table.lower(), fk.ref_column.lower())})
        for fk in schema.foreign_keys
    }
    out: Counter = Counter()
    for join in tree.find_all(exp.Join):
        on = join.args.get("on")
        for eq in on.find_all(exp.EQ) if on is not None else ():
            a, b = _source(eq.this), _source(eq.expression)
            if a and b:
                out["fk" if frozenset({a, b}) in declared else "same_name" if a[1] == b[1] else "other"] += 1
    return out


def patterns_of(tree: exp.Expression, schema: Schema, profiles: Profiles) -> set[str]:
    """The :data:`PATTERNS` found in a resolved tree (see :func:`resolved_tree`)."""
    found: set[str] = set()

    def role(key: tuple[str, str] | None) -> str | None:
        p = profiles.get(key) if key else None
        return p.role if p else None

    def ctype(key: tuple[str, str] | None) -> str | None:
        return schema.column(*key).type if key else None

    for agg in tree.find_all(exp.Avg, exp.Sum):
        key = _source(agg.this)
        if role(key) == "key":
            found.add("agg_key")
        if ctype(key) == "text":
            found.add("agg_text")
    for ordered in tree.find_all(exp.Ordered):
        if role(_source(ordered.this)) == "key":
            found.add("order_key")
    for cmp in tree.find_all(*_RANGE):
        if ctype(_source(cmp.this)) == "text" or ctype(_source(cmp.expression)) == "text":
            found.add("text_range")
    for btw in tree.find_all(exp.Between):
        if ctype(_source(btw.this)) == "text":
            found.add("text_range")
    return found


@dataclass
class QualityReport:
    """Pattern counts and hardness levels over a set of queries."""

    total: int = 0
    unresolved: int = 0  # queries the scope analysis could not resolve (not counted in patterns)
    patterns: Counter = field(default_factory=Counter)
    hardness: Counter = field(default_factory=Counter)
    joins: Counter = field(default_factory=Counter)  # join_patterns over all queries

    @property
    def counted(self) -> int:
        return self.total - self.unresolved

    def share(self, pattern: str) -> float:
        return self.patterns[pattern] / self.counted if self.counted else 0.0

    def hardness_share(self) -> dict[str, float]:
        n = sum(self.hardness.values()) or 1
        return {k: round(self.hardness[k] / n, 4) for k in (*LEVELS, "unknown") if self.hardness[k] or k in LEVELS}

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "unresolved": self.unresolved,
            "patterns": {p: self.patterns[p] for p in (*PATTERNS, "any")},
            "shares": {p: round(self.share(p), 4) for p in (*PATTERNS, "any")},
            "hardness": {k: self.hardness[k] for k in (*LEVELS, "unknown") if self.hardness[k] or k in LEVELS},
            "hardness_share": self.hardness_share(),
            "joins": {k: self.joins[k] for k in ("fk", "same_name", "other")},
        }


def measure(
    items: Iterable[tuple[str, str]],
    schemas: Mapping[str, Schema],
    profiles_of: Callable[[str], Profiles],
) -> QualityReport:
    """Count patterns and hardness over ``(db_id, sql)`` pairs; ``profiles_of(db_id)`` gives roles."""
    report = QualityReport()
    for db_id, sql in items:
        report.total += 1
        schema = schemas.get(db_id)
        try:
            if schema is None:
                raise TemplateError("unknown_db", db_id)
            tree = resolved_tree(sql, schema)
        except TemplateError:
            report.unresolved += 1
            report.hardness[hardness(sql)] += 1
            continue
        report.hardness[hardness(tree)] += 1
        report.joins.update(join_patterns(tree, schema))
        found = patterns_of(tree, schema, profiles_of(db_id))
        report.patterns.update(found)
        if found:
            report.patterns["any"] += 1
    return report


def semantic_failures(items: Iterable[tuple[str, str]], database: Callable[[str], object]) -> Counter:
    """How many of ``(db_id, sql)`` fail each check of :mod:`synth.fill.checks` when executed
    (``database(db_id)``: an open :class:`~evaluation.executor.ReadOnlyDatabase`, or ``None`` to
    skip). ``checked`` counts the queries that executed with a non-empty result."""

    from synth.fill.checks import failed_row_check, probes, row_checks

    out: Counter = Counter()
    for db_id, sql in items:
        db = database(db_id)
        if db is None:
            continue
        res = db.execute(sql)
        if not res.ok or not res.rows:
            continue
        tree = try_parse(sql)
        if tree is None:
            continue
        out["checked"] += 1
        for name in row_checks(tree):
            if failed_row_check(name, res.rows):
                out[name] += 1
        for name, probe in probes(tree):
            r = db.execute(probe)
            if r.ok and r.rows and r.rows[0][0]:
                out[name] += 1
    return out


def hardness_distribution(trees_or_sql: Iterable[exp.Expression | str]) -> dict[str, int]:
    """Spider hardness levels (``evaluation.hardness``) counted, in level order."""
    counts = Counter(hardness(x) for x in trees_or_sql)
    return {k: counts[k] for k in (*LEVELS, "unknown") if counts[k] or k in LEVELS}
