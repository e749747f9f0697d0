"""Column roles: what a column *is* (an identifier, a measure, a category...), beyond its SQL type.

A template slot typed ``number`` can be filled by ``age`` or by ``resident_id``; only one makes
``AVG(...)`` a question a person would ask. Roles are inferred once per database from the schema
and the data, and template filling asks for the roles a slot's use needs (:data:`USE_ROLES`).

Rules, first match wins (``rule`` in :class:`ColumnProfile` names the one that fired):

=========  ==================================================================================
role       rule
=========  ==================================================================================
key        ``pk_or_fk``: a primary key or a column on either side of a foreign key that is a
           number or named ``*code``; ``id_name``: any column whose name reads as an identifier (``id``, ``*_id``,
           ``id_*``, ``*Id``/``*ID``) -- a text primary key such as ``Name`` is *not* a key
constant   ``single_value``: at most one distinct non-null value (empty tables included)
boolean    ``bool_type``: declared boolean; ``bool_values``: <= 2 distinct values, all of
           ``0 1 t f y n yes no true false``
date       ``time_type``: declared date/time; ``date_values``: >= 80 % of the sampled values
           read as dates (``2004-03-01``, ``3/1/2004``, ``2004-03-01 10:00``); ``year_name``:
           a column named ``year``/``*_year``/``yr`` whose values are whole numbers in 1000-2100
measure    ``numeric_values``: >= 90 % of the sampled values are numbers (also text columns)
text       ``long_text``: average length > 40 characters (descriptions, details)
category   ``repeating``: distinct values <= half the non-null values
name       ``distinct_text``: everything else (mostly-unique short text: names, titles)
=========  ==================================================================================

Without data (no database file) the data rules see no values: keys, declared types and names
still decide, the rest becomes ``name`` (text) or ``measure`` (number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlglot import exp

from evaluation.schema import Column, Schema

ROLES = ("key", "constant", "boolean", "date", "measure", "text", "category", "name")

#: How a template uses a column slot -> the roles that make sense there. A slot with several
#: uses needs a role every use accepts. Uses not listed (projection, COUNT, join keys) accept
#: every role but ``constant``.
USE_ROLES: dict[str, frozenset[str]] = {
    "aggregate": frozenset({"measure"}),  # AVG / SUM
    "extreme": frozenset({"measure", "date"}),  # MIN / MAX
    "superlative": frozenset({"measure", "date"}),  # ORDER BY ... LIMIT
    "order": frozenset({"measure", "date", "name", "category"}),  # ORDER BY without LIMIT
    "group": frozenset({"category", "boolean", "key", "name"}),  # GROUP BY (+ repeating measures)
    "range": frozenset({"measure", "date"}),  # <, >, <=, >=, BETWEEN
    "equal": frozenset({"category", "name", "boolean", "date", "measure"}),  # =, !=, IN (...)
    "like": frozenset({"name", "text", "category"}),  # LIKE
}
USES = tuple(USE_ROLES)

_ID_NAME = re.compile(r"^id$|^id_|_id$", re.I)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$|^id[A-Z]")
_CODE_NAME = re.compile(r"(^|_)code$|[a-z]Code$", re.I)
_YEAR_NAME = re.compile(r"(^|_)(year|yr)$", re.I)
_DATE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}/\d{1,2}/\d{2,4})\s*$")
_BOOL_VALUES = frozenset({"0", "1", "t", "f", "y", "n", "yes", "no", "true", "false"})
SAMPLE = 100  # distinct values read per column for the parse rates


@dataclass(frozen=True)
class ColumnStats:
    """What the data says about one column (``rows`` = rows of its table)."""

    rows: int = 0
    non_null: int = 0
    distinct: int = 0
    avg_length: float = 0.0
    numeric_rate: float = 0.0  # share of sampled distinct values that read as numbers
    date_rate: float = 0.0  # share of sampled distinct values that read as dates
    bool_values: bool = False  # every sampled value is in the boolean vocabulary
    year_values: bool = False  # every sampled value is a number in 1000..2100
    has_data: bool = False


@dataclass(frozen=True)
class ColumnProfile:
    """A column's role, the rule that gave it, and the figures the rule looked at."""

    table: str
    column: str
    type: str
    role: str
    rule: str
    stats: ColumnStats

    @property
    def distinct_ratio(self) -> float:
        return self.stats.distinct / self.stats.non_null if self.stats.non_null else 0.0

    def to_dict(self) -> dict:
        s = self.stats
        return {
            "table": self.table,
            "column": self.column,
            "type": self.type,
            "role": self.role,
            "rule": self.rule,
            "rows": s.rows,
            "non_null": s.non_null,
            "distinct": s.distinct,
            "avg_length": round(s.avg_length, 2),
            "numeric_rate": round(s.numeric_rate, 3),
            "date_rate": round(s.date_rate, 3),
        }


def is_id_name(name: str) -> bool:
    """``id``, ``student_id``, ``id_card``, ``StuID``, ``CountryId``: a name that says identifier."""
    name = name.strip().replace(" ", "_")
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))


def classify(column: Column, stats: ColumnStats, in_foreign_key: bool = False) -> tuple[str, str]:
    """(role, rule) of one column from its schema facts and data figures (the module's table)."""
    if (column.is_primary_key or in_foreign_key) and (column.type == "number" or _CODE_NAME.search(column.name)):
        return "key", "pk_or_fk"
    if is_id_name(column.name):
        return "key", "id_name"
    if stats.has_data and stats.distinct <= 1:
        return "constant", "single_value"
    if column.type == "boolean":
        return "boolean", "bool_type"
    if stats.has_data and stats.distinct <= 2 and stats.bool_values:
        return "boolean", "bool_values"
    if column.type == "time":
        return "date", "time_type"
    if stats.has_data and stats.date_rate >= 0.8:
        return "date", "date_values"
    if _YEAR_NAME.search(column.name) and (stats.year_values if stats.has_data else column.type == "number"):
        return "date", "year_name"
    if column.type == "number" and not stats.has_data:
        return "measure", "numeric_values"
    if stats.has_data and stats.numeric_rate >= 0.9:
        return "measure", "numeric_values"
    if stats.avg_length > 40:
        return "text", "long_text"
    if stats.has_data and stats.distinct * 2 <= stats.non_null:
        return "category", "repeating"
    return "name", "distinct_text"


def accepts(use: str, profile: ColumnProfile) -> bool:
    """Whether a column with ``profile`` makes sense in a slot used as ``use`` (see :data:`USE_ROLES`)."""
    if profile.role == "constant":
        return False
    allowed = USE_ROLES.get(use)
    if use == "group":
        # Groups need repeating values: a repeating number or date ("GROUP BY age") is natural, a
        # unique name is not. Keys may be unique in their own table and still repeat after a join.
        if profile.role == "key":
            return True
        if profile.stats.has_data and profile.stats.distinct >= profile.stats.non_null:
            return False
        return profile.role in allowed or (profile.role in ("measure", "date") and profile.distinct_ratio <= 0.5)
    return allowed is None or profile.role in allowed


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _values_stats(values: Sequence[Any]) -> dict[str, Any]:
    if not values:
        return {}
    nums = [_number(v) for v in values]
    strs = [str(v).strip().lower() for v in values]
    return {
        "numeric_rate": sum(n is not None for n in nums) / len(values),
        "date_rate": sum(bool(_DATE.match(s)) for s in strs) / len(values),
        "bool_values": all(s in _BOOL_VALUES for s in strs),
        "year_values": all(n is not None and 1000 <= n <= 2100 and n == int(n) for n in nums),
    }


def _quote(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="sqlite")


def read_stats(schema: Schema, db: Any) -> dict[tuple[str, str], ColumnStats]:
    """Per column: one aggregate query per table (rows, non-null, distinct, length) and a sample
    of distinct values for the parse rates. ``db`` is an :class:`evaluation.executor.ReadOnlyDatabase`.
    A table whose query fails gets no figures (its columns fall back to the no-data rules)."""
    out: dict[tuple[str, str], ColumnStats] = {}
    for table in schema.tables:
        parts = ["COUNT(*)"]
        for c in table.columns:
            q = _quote(c.name)
            parts += [f"COUNT({q})", f"COUNT(DISTINCT {q})", f"AVG(LENGTH({q}))"]
        res = db.execute(f"SELECT {', '.join(parts)} FROM {_quote(table.name)}")
        if not res.ok or not res.rows:
            continue
        row = res.rows[0]
        rows = int(row[0] or 0)
        for i, c in enumerate(table.columns):
            non_null, distinct, avg_len = row[1 + 3 * i : 4 + 3 * i]
            sample = db.execute(
                f"SELECT DISTINCT {_quote(c.name)} FROM {_quote(table.name)} "
                f"WHERE {_quote(c.name)} IS NOT NULL LIMIT {SAMPLE}"
            )
            values = [r[0] for r in sample.rows] if sample.ok else []
            out[c.key] = ColumnStats(
                rows=rows,
                non_null=int(non_null or 0),
                distinct=int(distinct or 0),
                avg_length=float(avg_len or 0.0),
                has_data=True,
                **_values_stats(values),
            )
    return out


def infer_roles(schema: Schema, db: Any = None) -> dict[tuple[str, str], ColumnProfile]:
    """Role of every column of ``schema`` (keyed by :attr:`Column.key`), in schema order.

    ``db``: an open :class:`~evaluation.executor.ReadOnlyDatabase`, a path to the SQLite file,
    or ``None`` (schema-only rules; ``schema.db_path`` is *not* opened implicitly).
    """
    from evaluation.executor import ReadOnlyDatabase

    stats: Mapping[tuple[str, str], ColumnStats] = {}
    if db is not None:
        if isinstance(db, (str, Path)):
            with ReadOnlyDatabase(db) as conn:
                stats = read_stats(schema, conn)
        else:
            stats = read_stats(schema, db)
    in_fk = set()
    for fk in schema.foreign_keys:
        in_fk.add((fk.table.lower(), fk.column.lower()))
        in_fk.add((fk.ref_table.lower(), fk.ref_column.lower()))
    out = {}
    for c in schema.columns:
        st = stats.get(c.key, ColumnStats())
        role, rule = classify(c, st, c.key in in_fk)
        out[c.key] = ColumnProfile(c.table, c.name, c.type, role, rule, st)
    return out


@lru_cache(maxsize=256)
def roles_of_file(schema: Schema, path: str) -> dict[tuple[str, str], ColumnProfile]:
    """:func:`infer_roles` on a database file, cached per (schema, path) within a process."""
    return infer_roles(schema, path)


def format_roles(profiles: Mapping[tuple[str, str], ColumnProfile]) -> str:
    """A plain-text table of the roles (``synth roles``)."""
    rows = [("table.column", "type", "role", "rule", "rows", "distinct", "numeric", "date", "avg len")]
    for p in profiles.values():
        s = p.stats
        rows.append(
            (
                f"{p.table}.{p.column}",
                p.type,
                p.role,
                p.rule,
                str(s.rows) if s.has_data else "-",
                str(s.distinct) if s.has_data else "-",
                f"{s.numeric_rate:.2f}" if s.has_data else "-",
                f"{s.date_rate:.2f}" if s.has_data else "-",
                f"{s.avg_length:.1f}" if s.has_data else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
