"""Joins Spider writes without a declared foreign key: same-name key columns.

Spider's training SQL joins on column pairs that the schema does not declare as foreign keys
(``loan.cust_id = customer.cust_id``); counted by the template rules (``join_patterns`` in the
extraction report), these are mostly two columns with the same name. Filling rebuilds such joins
when the schema allows: two columns in different tables with the same name and type, the name
reading as an identifier (``*_id``, ``*Id``; a bare ``id`` is too generic), one of them the
whole primary key of its table, and the two tables not already joined by a declared foreign key. Each
such pair becomes an extra edge of the FK graph used for filling (never of the schema elsewhere):
the non-key side references the key side.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from evaluation.schema import ForeignKey, Schema
from synth.roles import is_id_name


def same_name_joins(schema: Schema) -> tuple[ForeignKey, ...]:
    """The implicit join edges of ``schema`` (module docstring), in schema order."""
    declared = {frozenset({fk.table.lower(), fk.ref_table.lower()}) for fk in schema.foreign_keys}
    by_name: dict[str, list] = {}
    for c in schema.columns:
        if c.name.lower() != "id" and is_id_name(c.name):
            by_name.setdefault(c.name.lower(), []).append(c)
    out: list[ForeignKey] = []
    for cols in by_name.values():
        for i, a in enumerate(cols):
            for b in cols[i + 1 :]:
                if a.table.lower() == b.table.lower() or a.type != b.type:
                    continue
                if frozenset({a.table.lower(), b.table.lower()}) in declared:
                    continue
                if _sole_key(schema, b) and not _sole_key(schema, a):
                    out.append(ForeignKey(a.table, a.name, b.table, b.name))
                elif _sole_key(schema, a):
                    out.append(ForeignKey(b.table, b.name, a.table, a.name))
    return tuple(out)


def _sole_key(schema: Schema, column) -> bool:
    return [k.lower() for k in schema.table(column.table).primary_key] == [column.name.lower()]


@lru_cache(maxsize=512)
def with_same_name_joins(schema: Schema) -> Schema:
    """``schema`` with :func:`same_name_joins` added to its foreign keys (itself when there are none)."""
    extra = same_name_joins(schema)
    return replace(schema, foreign_keys=schema.foreign_keys + extra) if extra else schema
