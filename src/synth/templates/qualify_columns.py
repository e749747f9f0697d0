"""Rule: every column mention learns the schema column it means (``meta[SOURCE]``).

Resolution is :func:`evaluation.sql_analysis.resolve_column` (strict): table aliases (``T1``),
table names used despite an alias, unqualified columns (first table in FROM order that has the
column, then outer SELECTs for correlated subqueries) and case differences. Output aliases
(``ORDER BY cnt``) stay as they are. Anything else is an ``unknown_column`` failure.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation.schema import Schema
from evaluation.sql_analysis import (
    SOURCE,
    SqlAnalysisError,
    enclosing_selects,
    from_sources,
    resolve_column,
    select_aliases,
)
from synth.templates.model import TemplateError

__all__ = ["SOURCE", "qualify_columns"]


def qualify_columns(expression: exp.Expression, schema: Schema) -> exp.Expression:
    for col in expression.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        try:
            src = resolve_column(col, schema, strict=True)
        except SqlAnalysisError as e:
            raise TemplateError(e.reason, e.detail) from None
        if src is not None:
            col.meta[SOURCE] = src
            continue
        if not col.table and col.name.lower() in select_aliases(col):
            continue
        if any(isinstance(s, exp.Subquery) for sel in enclosing_selects(col) for s in from_sources(sel)):
            raise TemplateError("derived_column", col.sql(dialect="sqlite"))
        raise TemplateError("unknown_column", col.sql(dialect="sqlite"))
    return expression
