"""Real values for value slots, read from the database (read-only) and cached per column."""

from __future__ import annotations

import math
import random
from pathlib import Path

from sqlglot import exp

from evaluation.executor import ReadOnlyDatabase
from synth.fill.render import quote_name

MAX_TEXT = 80  # longer strings make poor question material and bloated SQL


class ValueSampler:
    """Distinct non-null values of a column, read once (``value_samples`` at most) and reused.

    Accepts an open :class:`~evaluation.executor.ReadOnlyDatabase` (shared with verification) or
    a path, which it opens itself (then use it as a context manager or call :meth:`close`).
    """

    def __init__(self, db: ReadOnlyDatabase | str | Path) -> None:
        self._owned = not hasattr(db, "execute")
        self._db = ReadOnlyDatabase(db) if self._owned else db
        self._cache: dict[tuple[str, str, int], tuple] = {}
        self._roles: dict = {}

    def __enter__(self) -> ValueSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def values(self, table: str, column: str, limit: int = 200) -> tuple:
        """Up to ``limit`` distinct usable values (numbers, short one-line strings) in table order."""
        key = (table.lower(), column.lower(), limit)
        if key not in self._cache:
            c, t = quote_name(column), quote_name(table)
            result = self._db.execute(f"SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL LIMIT {int(limit)}")
            rows = result.rows if result.ok else ()
            self._cache[key] = tuple(v for (v, *_) in rows if _usable(v))
        return self._cache[key]

    def roles(self, schema):
        """Column roles of ``schema`` on this database (:func:`synth.roles.infer_roles`), read once."""
        from synth.roles import infer_roles

        key = (schema.db_id, id(schema))
        if key not in self._roles:
            self._roles[key] = (schema, infer_roles(schema, self._db))  # keep schema alive: id stays unique
        return self._roles[key][1]

    def sample(self, table: str, column: str, rng: random.Random, limit: int = 200):
        """One value of the column drawn with ``rng``, or ``None`` when the column has none."""
        vals = self.values(table, column, limit)
        return rng.choice(vals) if vals else None


def _usable(v) -> bool:
    if isinstance(v, bool):
        return True
    if isinstance(v, (int, float)):
        return not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))
    if isinstance(v, str):
        s = v.strip()
        return bool(s) and len(s) <= MAX_TEXT and "\n" not in s and "\r" not in s
    return False


def literal(value, like: bool = False) -> exp.Expression:
    """A SQL literal: strings single-quoted (quotes doubled), numbers as numbers, LIKE as '%v%'."""
    if like:
        return exp.Literal.string(f"%{value}%")
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, (int, float)):
        return exp.Literal.number(repr(value) if isinstance(value, float) else value)
    return exp.Literal.string(str(value))


def as_number(value):
    """``value`` as a number when it reads as one (for number-typed slots), else ``None``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        f = float(str(value))
    except ValueError:
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return int(f) if f.is_integer() and "." not in str(value) else f
