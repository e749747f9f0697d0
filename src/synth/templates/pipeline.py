"""SQL -> template: parse with sqlglot, then apply the rules in order (sqlglot optimizer style).

Each rule is a module exporting one function of the same name, ``rule(expression, schema)``.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation import sql_analysis
from evaluation.schema import Schema
from synth.templates.drop_from_clause import drop_from_clause
from synth.templates.mark_foreign_keys import mark_foreign_keys
from synth.templates.model import Slot, TemplateError
from synth.templates.name_slots import name_slots, render_template
from synth.templates.qualify_columns import qualify_columns
from synth.templates.resolve_literals import resolve_literals
from synth.templates.strip_values import strip_values

RULES = (
    resolve_literals,
    qualify_columns,
    mark_foreign_keys,
    strip_values,
    drop_from_clause,
    name_slots,
)


def parse_sql(sql: str) -> exp.Expression:
    """Parse one Spider SQL (:func:`evaluation.sql_analysis.parse_sql`); ``parse_error`` when sqlglot
    cannot, ``not_a_query`` for a statement that is no query."""
    try:
        expression = sql_analysis.parse_sql(sql)
    except sql_analysis.SqlAnalysisError as e:
        raise TemplateError(e.reason, e.detail) from None
    if not isinstance(expression, exp.Query):
        raise TemplateError("not_a_query", type(expression).__name__)
    return expression


def normalize(sql: str, schema: Schema) -> tuple[str, tuple[Slot, ...]]:
    """Template text and slots of one SQL; raises :class:`TemplateError` with a counted reason.

    >>> from evaluation.schema import Schema, Table, Column
    >>> s = Schema("d", (Table("singer", "singer", (Column("singer", "name", "name", "text"),
    ...                                           Column("singer", "age", "age", "number"))),))
    >>> normalize('SELECT name FROM singer WHERE age > 20 AND name = "Joe"', s)[0]
    'SELECT {c0:text} FROM {tables} WHERE {c1:number} > {v0:number} AND {c0:text} = {v1:text}'
    """
    return normalize_tree(parse_sql(sql), schema)


def normalize_tree(expression: exp.Expression, schema: Schema) -> tuple[str, tuple[Slot, ...]]:
    """:func:`normalize` on a tree from :func:`parse_sql` (which the rules change in place)."""
    for rule in RULES:
        expression = rule(expression, schema)
    return render_template(expression)
