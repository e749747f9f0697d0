"""Rule: Spider's double-quoted strings become string literals.

SQLite (and sqlglot's sqlite dialect) reads ``"Tom"`` as an identifier, but Spider's gold SQL uses
double quotes for strings. A double-quoted, unqualified name that is neither a column of a table in
scope nor an output alias is a string literal.
"""

from __future__ import annotations

from sqlglot import exp

from synth.schema import Schema
from synth.templates.scope import resolve, select_aliases


def resolve_literals(expression: exp.Expression, schema: Schema) -> exp.Expression:
    for col in list(expression.find_all(exp.Column)):
        ident = col.this
        if col.table or not isinstance(ident, exp.Identifier) or not ident.quoted:
            continue
        if resolve(col, schema) is None and col.name.lower() not in select_aliases(col):
            col.replace(exp.Literal.string(col.name))
    return expression
