"""Semantic checks: executable queries that no person would ask, caught after filling.

Filling only knows a query's shape; these checks look at what it *means* on the data. Each
failure is a rejection counted as ``semantic:<name>`` in the manifest (``synth generate``):

* ``degenerate_group`` -- a GROUP BY with an aggregate whose groups all have one row
  (``SELECT COUNT(*), details FROM hotels GROUP BY details``: every count is 1). Probe:
  ``SELECT NOT EXISTS (SELECT 1 FROM .. WHERE .. GROUP BY .. HAVING COUNT(*) > 1)``.
* ``filter_keeps_all`` -- a WHERE with a value (or a subquery) that removes no row of its FROM:
  the "filter" says nothing. Probe: ``SELECT (SELECT COUNT(*) .. WHERE ..) = (SELECT COUNT(*) ..)``.
* ``identical_rows`` -- several result rows, all the same, from a query without GROUP BY (a
  constant answer repeated by a join or a filter on the projected column).
* ``self_comparison`` -- two values compared with the same column are equal
  (``x = 'a' OR x = 'a'``, ``.. WHERE x = 'a' INTERSECT .. WHERE x = 'a'``); raised while drawing
  values, after ``value_tries`` redraws fail to give distinct values.
* ``aggregate_of_key`` -- AVG/SUM over a key column (only join-key slots can still reach it:
  other slots are filtered by role, :mod:`synth.fill.choose`).

Probes and row checks are computed for the top-level SELECTs (each operand of a top-level
UNION / INTERSECT / EXCEPT); subqueries are left alone (they may be correlated). A probe that fails
to run rejects nothing. :func:`probes` works on any parsed SQL, so the same checks can be counted
on a benchmark's own training queries.
"""

from __future__ import annotations

from sqlglot import exp

_PROBES = ("degenerate_group", "filter_keeps_all")
CHECKS = ("degenerate_group", "filter_keeps_all", "identical_rows", "self_comparison", "aggregate_of_key")

Probe = tuple[str, str]  # (check name, SQL whose first value is true when the check fails)


def top_selects(node: exp.Expression) -> list[exp.Select]:
    """The SELECTs whose rows make the result: the query, or each operand of a set operation."""
    while isinstance(node, (exp.Subquery, exp.Paren)):
        node = node.this
    if isinstance(node, exp.Select):
        return [node]
    if isinstance(node, exp.SetOperation):
        return top_selects(node.this) + top_selects(node.expression)
    return []


def _has_aggregate(sel: exp.Select) -> bool:
    parts = list(sel.expressions) + [sel.args.get("having"), sel.args.get("order")]
    return any(p is not None and p.find(exp.AggFunc) is not None for p in parts)


def _bare(sel: exp.Select, projection: exp.Expression) -> exp.Select:
    out = sel.copy()
    out.set("expressions", [projection])
    for arg in ("order", "limit", "offset", "distinct", "having"):
        out.set(arg, None)
    return out


def probes(ast: exp.Expression) -> tuple[Probe, ...]:
    """The probe queries of :data:`_PROBES` for ``ast`` (read only); see the module docstring."""
    out: list[Probe] = []
    for sel in top_selects(ast):
        if sel.args.get("group") is not None and _has_aggregate(sel):
            base = _bare(sel, exp.Literal.number(1))
            base.set(
                "having", exp.Having(this=exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
            )
            out.append(("degenerate_group", f"SELECT NOT EXISTS ({base.sql(dialect='sqlite')})"))
        where = sel.args.get("where")
        if where is not None and (where.find(exp.Literal) is not None or where.find(exp.Subquery) is not None):
            filtered = _bare(sel, exp.Count(this=exp.Star()))
            filtered.set("group", None)
            whole = filtered.copy()
            whole.set("where", None)
            out.append(
                ("filter_keeps_all", f"SELECT ({filtered.sql(dialect='sqlite')}) = ({whole.sql(dialect='sqlite')})")
            )
    return tuple(dict.fromkeys(out))


def row_checks(ast: exp.Expression) -> tuple[str, ...]:
    """Names of the checks on the result rows that apply to ``ast``."""
    if any(sel.args.get("group") is not None for sel in top_selects(ast)):
        return ()
    return ("identical_rows",)


def failed_row_check(name: str, rows) -> bool:
    """Whether ``rows`` (a query's result) fail the row check ``name``."""
    if name == "identical_rows":
        return len(rows) >= 2 and all(r == rows[0] for r in rows)
    raise ValueError(f"unknown row check {name!r}")
