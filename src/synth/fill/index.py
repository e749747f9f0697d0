"""Per-schema lookups that filling needs on every call, computed once per schema (cached)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from evaluation.schema import COLUMN_TYPES, Column, Schema

Key = tuple[str, str]


@dataclass(frozen=True)
class SchemaIndex:
    """Columns by type, the columns that take part in a foreign key, and each one's FK partners."""

    by_type: dict[str, tuple[Column, ...]]
    fk_columns: frozenset[Key]
    fk_partners: dict[Key, tuple[Column, ...]]
    by_key: dict[Key, Column]


@lru_cache(maxsize=512)
def schema_index(schema: Schema) -> SchemaIndex:
    by_key = {c.key: c for c in schema.columns}
    by_type = {t: tuple(c for c in schema.columns if c.type == t) for t in COLUMN_TYPES}
    partners: dict[Key, list[Column]] = {}
    for fk in schema.foreign_keys:
        a = (fk.table.lower(), fk.column.lower())
        b = (fk.ref_table.lower(), fk.ref_column.lower())
        if a not in by_key or b not in by_key or a == b:
            continue
        if by_key[b] not in partners.setdefault(a, []):
            partners[a].append(by_key[b])
        if by_key[a] not in partners.setdefault(b, []):
            partners[b].append(by_key[a])
    return SchemaIndex(
        by_type=by_type,
        fk_columns=frozenset(partners),
        fk_partners={k: tuple(v) for k, v in partners.items()},
        by_key=by_key,
    )
