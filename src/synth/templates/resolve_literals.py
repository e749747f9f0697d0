"""Rule: Spider's double-quoted strings become string literals.

SQLite (and sqlglot's sqlite dialect) reads ``"Tom"`` as an identifier, but Spider's gold SQL uses
double quotes for strings. The rule is :func:`evaluation.sql_analysis.resolve_quotes` (SQLite's own:
a double-quoted, unqualified name that is neither a column of a table in scope nor an output alias
is a string literal), the one the prompt's gold items and the question writer use too.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation.schema import Schema
from evaluation.sql_analysis import SqlAnalysisError, resolve_quotes
from synth.templates.model import TemplateError


def resolve_literals(expression: exp.Expression, schema: Schema) -> exp.Expression:
    try:
        return resolve_quotes(expression, schema, strict=True)
    except SqlAnalysisError as e:
        raise TemplateError(e.reason, e.detail) from None
