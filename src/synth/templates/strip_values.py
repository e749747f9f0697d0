"""Rule: literals compared with something become typed value slots.

A literal (or a negated number) that is an operand of a comparison, ``LIKE``, ``BETWEEN`` or an
``IN`` list becomes a value slot. Its type is the type of the column it is compared with (also
through an aggregate such as ``avg(price) > 10``; ``count(...)`` compares with a number), else the
literal's own kind. ``LIMIT``/``OFFSET`` numbers and literals elsewhere (function arguments such as
``strftime('%Y', ...)``, arithmetic) are kept as structure.
"""

from __future__ import annotations

from sqlglot import exp

from evaluation.schema import Schema
from synth.templates.qualify_columns import SOURCE

VALUE_TYPE = "spft_value_type"
_PREDICATES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Between, exp.In)


def partner_type(partner: exp.Expression | None, schema: Schema) -> str | None:
    """Column type of what a value is compared with (a column, an aggregate of one, arithmetic)."""
    if partner is None:
        return None
    if isinstance(partner, exp.Count):
        return "number"
    col = partner if isinstance(partner, exp.Column) else partner.find(exp.Column)
    if col is not None and SOURCE in col.meta:
        t, c = col.meta[SOURCE]
        return schema.column(t, c).type
    return None


def _partner(node: exp.Expression, pred: exp.Expression) -> exp.Expression | None:
    if isinstance(pred, (exp.Between, exp.In)):
        return pred.this if node is not pred.this else None
    other = pred.expression if node is pred.this else pred.this
    return other


def strip_values(expression: exp.Expression, schema: Schema) -> exp.Expression:
    for lit in list(expression.find_all(exp.Literal)):
        if lit.find_ancestor(exp.Limit, exp.Offset) is not None:
            continue
        node: exp.Expression = lit
        if isinstance(node.parent, exp.Neg):
            node = node.parent
        while isinstance(node.parent, exp.Paren):
            node = node.parent
        pred = node.parent
        if not isinstance(pred, _PREDICATES):
            continue
        partner = _partner(node, pred)
        if partner is None:
            continue
        value_type = partner_type(partner, schema) or ("text" if lit.is_string else "number")
        slot = exp.Placeholder(this="p")
        slot.meta[VALUE_TYPE] = value_type
        node.replace(slot)
    return expression
