"""Rule: find column pairs that a query joins along a declared foreign key.

Looks at equalities between two columns (``ON T1.id = T2.sid``, old-style ``WHERE`` joins,
correlated conditions), at ``a IN (SELECT b ...)`` / ``a = (SELECT b ...)`` and at the output
columns of set operations (``SELECT a ... INTERSECT SELECT b ...``). Every pair whose
two columns form a foreign key of the schema (either direction) is recorded in the root's
``meta["spft_fk_pairs"]``; the columns become fk slots, and pairs whose both columns survive
as slots are written ``{cX:type:fk=cY}`` so filling can map them to a real FK pair.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation.schema import Schema
from synth.templates.qualify_columns import SOURCE

FK_PAIRS = "spft_fk_pairs"


def _key(col: exp.Expression) -> tuple[str, str] | None:
    if isinstance(col, exp.Column) and SOURCE in col.meta:
        t, c = col.meta[SOURCE]
        return (t.lower(), c.lower())
    return None


def single_output(query: exp.Expression | None) -> exp.Expression | None:
    """The one output expression of a (parenthesised) SELECT, else ``None`` (also used by filling)."""
    while isinstance(query, exp.Subquery):
        query = query.this
    if isinstance(query, exp.Select) and len(query.expressions) == 1:
        return query.expressions[0]
    return None


def mark_foreign_keys(expression: exp.Expression, schema: Schema) -> exp.Expression:
    declared = {
        frozenset({(fk.table.lower(), fk.column.lower()), (fk.ref_table.lower(), fk.ref_column.lower())})
        for fk in schema.foreign_keys
    }
    pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []

    def consider(a: exp.Expression | None, b: exp.Expression | None) -> None:
        ka, kb = _key(a) if a is not None else None, _key(b) if b is not None else None
        if (
            ka
            and kb
            and ka != kb
            and frozenset({ka, kb}) in declared
            and (ka, kb) not in pairs
            and (kb, ka) not in pairs
        ):
            pairs.append((ka, kb))

    for eq in expression.find_all(exp.EQ):
        a, b = eq.this, eq.expression
        consider(
            a if isinstance(a, exp.Column) else single_output(a), b if isinstance(b, exp.Column) else single_output(b)
        )
    for in_ in expression.find_all(exp.In):
        consider(in_.this, single_output(in_.args.get("query")))
    for setop in expression.find_all(exp.SetOperation):
        left, right = setop.this, setop.expression
        if isinstance(left, exp.Select) and isinstance(right, exp.Select):
            if len(left.expressions) == len(right.expressions):
                for a, b in zip(left.expressions, right.expressions):
                    consider(a, b)
    expression.meta[FK_PAIRS] = pairs
    return expression
