"""Flag gold queries whose correct answer is not unique (heuristics; flags never change a verdict).

A gold query is *ambiguous* when a different, equally correct query could return a different result
that the comparison then rejects. We flag three cases:

* ``limit_without_order`` — ``LIMIT`` without ``ORDER BY``: which rows come back is arbitrary.
* ``limit_ties`` — ``ORDER BY ... LIMIT k`` where row k and row k+1 have equal sort keys but
  different output: another engine (or plan) may return the other row.
* ``order_ties`` — gold has ``ORDER BY`` (so row order is compared) and two returned rows with
  equal sort keys differ in output: their relative order is arbitrary.

The tie checks run one extra query, the gold's top-level ``SELECT`` with the sort keys appended to
the select list (and ``LIMIT k+1``). Gold queries whose top level is a set operation, uses
``DISTINCT``, or whose rewrite fails to run are not checked for ties (no flag).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from evaluation.executor import ReadOnlyDatabase
from evaluation.sql_analysis import limit_value, try_parse

FLAGS = ("limit_without_order", "limit_ties", "order_ties")


def ambiguity_flags(
    gold_sql: str, db: ReadOnlyDatabase | None = None, tree: exp.Expression | None = None
) -> tuple[str, ...]:
    """Flags for one gold query; tie checks need ``db`` (skipped when ``None``).

    ``tree``: the query already parsed by the caller (read-only here), to avoid a second parse.
    """
    low = gold_sql.lower()
    if "limit" not in low and "order" not in low:
        return ()  # neither LIMIT nor ORDER BY anywhere: nothing to flag, no parse needed
    if tree is None:
        tree = try_parse(gold_sql)
        if tree is None:
            return ()
    if not isinstance(tree, exp.Select):
        return ()
    order = tree.args.get("order")
    k = limit_value(tree)  # UNREADABLE_LIMIT (< 0): a LIMIT is there, its count unknown
    if order is None:
        return ("limit_without_order",) if k is not None else ()
    if db is None or tree.args.get("distinct") is not None:
        return ()
    n_out = len(tree.expressions)
    probe = tree.copy()
    for i, o in enumerate(order.expressions):
        probe.select(exp.alias_(o.this.copy(), f"__spft_key{i}"), copy=False)
    if k is not None and k >= 0:
        probe.limit(k + 1, copy=False)
    try:
        probe_sql = probe.sql(dialect="sqlite")
    except (sqlglot.errors.SqlglotError, RecursionError):
        return ()
    res = db.execute(probe_sql)
    if not res.ok:
        return ()
    flags = []
    rows = res.rows
    top = rows if k is None or k < 0 else rows[:k]

    def tie(a: tuple, b: tuple) -> bool:
        return a[n_out:] == b[n_out:] and a[:n_out] != b[:n_out]

    if any(tie(top[i], top[i + 1]) for i in range(len(top) - 1)):
        flags.append("order_ties")
    if k is not None and k > 0 and len(rows) > k and tie(rows[k - 1], rows[k]):
        flags.append("limit_ties")
    return tuple(flags)
