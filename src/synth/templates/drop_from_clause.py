"""Rule: FROM and JOIN clauses become one ``{tables}`` placeholder (templates name no tables).

The join conditions go with them; :mod:`mark_foreign_keys` has already recorded the FK pairs.
A FROM that is a lone derived table (``FROM (SELECT ...)``) is kept: the inner SELECT has its own
``{tables}``. A derived table joined with others is not supported.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation.schema import Schema
from evaluation.sql_analysis import from_sources
from synth.templates.model import TemplateError

TABLES = "__tables"
FROM_KEY = "from_" if "from_" in exp.Select.arg_types else "from"


def drop_from_clause(expression: exp.Expression, schema: Schema | None = None) -> exp.Expression:
    for select in list(expression.find_all(exp.Select)):
        items = from_sources(select)
        if not items:
            continue
        if any(isinstance(i, exp.Subquery) for i in items):
            if len(items) > 1:
                raise TemplateError("derived_join", select.sql(dialect="sqlite")[:80])
            continue
        select.set(FROM_KEY, exp.From(this=exp.Table(this=exp.Identifier(this=TABLES, quoted=False))))
        select.set("joins", None)
    return expression
