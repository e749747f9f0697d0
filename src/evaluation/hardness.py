"""Spider hardness (easy / medium / hard / extra), counted like the official ``evaluation.py``.

The official script counts on its own parse tree; we count the same things on a sqlglot tree.
Only the top-level query is counted (never inside subqueries), as officially:

* component1 = WHERE present + GROUP BY present + ORDER BY present + LIMIT present
  + (number of FROM tables - 1) + number of ``OR`` (ON/WHERE/HAVING) + number of ``LIKE`` conditions;
* component2 = subqueries used as condition values (ON/WHERE/HAVING) + one for a top-level
  ``UNION``/``INTERSECT``/``EXCEPT``;
* others = [aggregates > 1] + [select items > 1] + [WHERE conditions > 1] + [GROUP BY items > 1].

"Aggregates" reproduces the official quirks: select items that start with an aggregate, aggregates
in GROUP BY and ORDER BY, plus — because the official ``count_agg`` looks at ``unit[0]`` of
condition lists — every negated WHERE/HAVING condition (``NOT IN``, ``NOT LIKE``...) and every
``AND``/``OR`` connective inside HAVING. An aggregate inside a one-condition HAVING is *not* counted.
Spider writes strings in double quotes; sqlglot reads them as identifiers, which changes no count.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from evaluation.sql_analysis import SqlAnalysisError, leftmost_select, parse_sql

LEVELS = ("easy", "medium", "hard", "extra")


@dataclass(frozen=True)
class HardnessCounts:
    """The three counts the official rule combines (kept so tests and reports can show them)."""

    component1: int
    component2: int
    others: int

    @property
    def level(self) -> str:
        c1, c2, o = self.component1, self.component2, self.others
        if c1 <= 1 and o == 0 and c2 == 0:
            return "easy"
        if (o <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and o < 2 and c2 == 0):
            return "medium"
        if (o > 2 and c1 <= 2 and c2 == 0) or (2 < c1 <= 3 and o <= 2 and c2 == 0) or (c1 <= 1 and o == 0 and c2 <= 1):
            return "hard"
        return "extra"


@dataclass(frozen=True)
class _Cond:
    negated: bool
    like: bool
    nested: int


def _strip(e: exp.Expression) -> exp.Expression:
    while isinstance(e, exp.Paren):
        e = e.this
    return e


def _flatten(cond: exp.Expression | None) -> tuple[list[_Cond], list[str]]:
    """Split an AND/OR tree into leaf conditions and connectives (parentheses ignored, as officially)."""
    if cond is None:
        return [], []
    conds: list[_Cond] = []
    ops: list[str] = []

    def walk(e: exp.Expression) -> None:
        e = _strip(e)
        if isinstance(e, (exp.And, exp.Or)):
            walk(e.this)
            ops.append("and" if isinstance(e, exp.And) else "or")
            walk(e.expression)
            return
        negated = False
        if isinstance(e, exp.Not):
            negated = True
            e = _strip(e.this)
        negated = negated or bool(e.args.get("negate"))  # sqlglot 30: Like(negate=True) for NOT LIKE
        conds.append(_Cond(negated, isinstance(e, (exp.Like, exp.ILike)), _nested_values(e)))

    walk(cond)
    return conds, ops


def _is_query(e: exp.Expression | None) -> bool:
    if e is None:
        return False
    e = _strip(e)
    return isinstance(e, (exp.Subquery, exp.Select, exp.Union, exp.Except, exp.Intersect))


def _nested_values(pred: exp.Expression) -> int:
    """Subqueries appearing directly as the values of one condition (val1 / val2)."""
    if isinstance(pred, exp.In):
        return int(_is_query(pred.args.get("query"))) + sum(_is_query(x) for x in pred.expressions)
    if isinstance(pred, exp.Between):
        return int(_is_query(pred.args.get("low"))) + int(_is_query(pred.args.get("high")))
    if isinstance(pred, exp.Exists):
        return 1
    if isinstance(pred, exp.Binary):
        return int(_is_query(pred.expression)) + int(_is_query(pred.this) and not _is_query(pred.expression))
    return 0


def _starts_with_agg(e: exp.Expression) -> bool:
    """Official select items carry an aggregate only when their first token is one."""
    e = _strip(e)
    if isinstance(e, exp.Alias):
        e = _strip(e.this)
    while isinstance(e, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
        e = _strip(e.this)
    return isinstance(e, exp.AggFunc)


def _agg_units(e: exp.Expression) -> int:
    """Aggregates in an ORDER BY / GROUP BY value unit: left and right operand of one arithmetic op."""
    e = _strip(e)
    if isinstance(e, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
        return int(isinstance(_strip(e.this), exp.AggFunc)) + int(isinstance(_strip(e.expression), exp.AggFunc))
    return int(isinstance(e, exp.AggFunc))


def hardness_counts(sql: str | exp.Expression) -> HardnessCounts:
    """Count the official components of ``sql`` (text, or a tree already parsed with the sqlite
    dialect — only read); raises :class:`~evaluation.sql_analysis.SqlAnalysisError` on unparsable SQL."""
    tree = sql if isinstance(sql, exp.Expression) else parse_sql(sql)
    component2 = 1 if isinstance(_strip(tree), (exp.Union, exp.Except, exp.Intersect)) else 0
    sel = leftmost_select(tree)
    if sel is None:
        return HardnessCounts(0, component2, 0)

    from_ = sel.args.get("from") or sel.args.get("from_")
    joins = sel.args.get("joins") or []
    n_tables = (1 if from_ is not None else 0) + len(joins)
    if from_ is not None and isinstance(from_.this, exp.Values):
        n_tables = 0
    on_conds: list[_Cond] = []
    on_ops: list[str] = []
    for j in joins:
        c, o = _flatten(j.args.get("on"))
        if on_conds and c:
            on_ops.append("and")
        on_conds += c
        on_ops += o
    where = sel.args.get("where")
    w_conds, w_ops = _flatten(where.this if where is not None else None)
    having = sel.args.get("having")
    h_conds, h_ops = _flatten(having.this if having is not None else None)
    group = sel.args.get("group")
    group_items = list(group.expressions) if group is not None else []
    order = sel.args.get("order")
    order_items = [_strip(o.this) for o in order.expressions] if order is not None else []
    has_limit = sel.args.get("limit") is not None

    component1 = (
        int(bool(w_conds))
        + int(bool(group_items))
        + int(bool(order_items))
        + int(has_limit)
        + max(0, n_tables - 1)
        + (on_ops + w_ops + h_ops).count("or")
        + sum(c.like for c in on_conds + w_conds + h_conds)
    )
    component2 += sum(c.nested for c in on_conds + w_conds + h_conds)

    aggs = sum(_starts_with_agg(e) for e in sel.expressions)
    aggs += sum(c.negated for c in w_conds)
    aggs += sum(_agg_units(g) for g in group_items)
    aggs += sum(_agg_units(o) for o in order_items)
    aggs += sum(c.negated for c in h_conds) + len(h_ops)
    others = int(aggs > 1) + int(len(sel.expressions) > 1) + int(len(w_conds) > 1) + int(len(group_items) > 1)
    return HardnessCounts(component1, component2, others)


def hardness(sql: str | exp.Expression | None) -> str:
    """``easy`` | ``medium`` | ``hard`` | ``extra``; ``unknown`` when sqlglot cannot parse the SQL
    (``None``: the caller's parse already failed)."""
    if sql is None:
        return "unknown"
    try:
        return hardness_counts(sql).level
    except (SqlAnalysisError, sqlglot.errors.SqlglotError, RecursionError):
        return "unknown"
