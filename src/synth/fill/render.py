"""Turn a filled plan back into SQL: FROM/JOIN along foreign keys, qualified columns, literals."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Tokenizer

from evaluation.schema import Column, ForeignKey

_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset(k for k in Tokenizer.KEYWORDS if " " not in k)


def quote_name(name: str) -> str:
    """An identifier as SQL text, double-quoted only when it must be (spaces, keywords...)."""
    return exp.to_identifier(name, quoted=needs_quotes(name)).sql(dialect="sqlite")


def needs_quotes(name: str) -> bool:
    return not _SAFE.match(name) or name.upper() in _KEYWORDS


def identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=needs_quotes(name))


def order_tables(tables: Sequence[str], edges: Sequence[ForeignKey]) -> list[str]:
    """Tables in join order: start at the first, then each table once an edge reaches it."""
    order = [tables[0]]
    seen = {tables[0].lower()}
    remaining = list(edges)
    while remaining:
        for fk in remaining:
            a, b = fk.table.lower(), fk.ref_table.lower()
            if (a in seen) != (b in seen):
                new = fk.ref_table if a in seen else fk.table
                order.append(new)
                seen.add(new.lower())
                remaining.remove(fk)
                break
            if a in seen and b in seen:
                remaining.remove(fk)
                break
        else:
            break
    return order


def build_from(tables: Sequence[str], edges: Sequence[ForeignKey]) -> tuple[exp.From, list[exp.Join], dict[str, str]]:
    """FROM + JOINs for ``tables`` (already connected by ``edges``); returns table -> alias ('' for one)."""
    order = order_tables(tables, edges)
    if len(order) == 1:
        return exp.From(this=exp.Table(this=identifier(order[0]))), [], {order[0].lower(): ""}
    alias = {t.lower(): f"T{i}" for i, t in enumerate(order, start=1)}
    used: set[ForeignKey] = set()
    joins = []
    for t in order[1:]:
        conds = []
        for fk in edges:
            if fk in used:
                continue
            ends = {fk.table.lower(), fk.ref_table.lower()}
            if t.lower() in ends and all(e in alias and order_index(order, e) <= order_index(order, t) for e in ends):
                used.add(fk)
                conds.append(
                    exp.EQ(
                        this=exp.column(identifier(fk.column), table=alias[fk.table.lower()]),
                        expression=exp.column(identifier(fk.ref_column), table=alias[fk.ref_table.lower()]),
                    )
                )
        table = exp.Table(this=identifier(t), alias=exp.TableAlias(this=exp.to_identifier(alias[t.lower()])))
        on = exp.and_(*conds) if conds else None
        joins.append(exp.Join(this=table, on=on) if on is not None else exp.Join(this=table))
    first = exp.Table(this=identifier(order[0]), alias=exp.TableAlias(this=exp.to_identifier(alias[order[0].lower()])))
    return exp.From(this=first), joins, alias


def order_index(order: Sequence[str], table: str) -> int:
    lowered = [t.lower() for t in order]
    return lowered.index(table.lower())


def column_expr(column: Column, alias: str) -> exp.Column:
    return exp.column(identifier(column.name), table=exp.to_identifier(alias) if alias else None)
