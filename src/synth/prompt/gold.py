"""The schema items and string values a SQL query uses — to measure filtering and retrieval recall,
and to keep a known SQL's items in its prompt (SQL-to-Text inputs, training prompts).

The query is read by :func:`evaluation.sql_analysis.parse`, the reading template normalization and
the question writer share: Spider's double-quoted strings (``WHERE name = "Bob"``) are strings
unless they name a column in scope (``SELECT "Name" FROM singer`` keeps ``singer.Name``), and a
column belongs to the first table of its own SELECT that has it, then to the SELECTs around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.schema import Schema
from evaluation.sql_analysis import SqlAnalysisError, parse


@dataclass(frozen=True)
class SqlItems:
    """Lower-cased table names and (table, column) pairs a query reads, and its string literals."""

    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]
    literals: tuple[str, ...]
    parsed: bool = True


def sql_items(sql: str, schema: Schema) -> SqlItems:
    """Tables, columns and string literals (``%`` wildcards stripped) of ``sql`` resolved against ``schema``.

    Unparseable SQL gives empty items with ``parsed=False`` (the caller counts it, never guesses).
    """
    try:
        parsed = parse(sql, schema)
    except SqlAnalysisError:
        return SqlItems(frozenset(), frozenset(), (), parsed=False)
    tables = frozenset(t.lower() for t in parsed.tables)
    columns = frozenset((t.lower(), c.lower()) for t, c in parsed.columns)
    literals = tuple(v.strip("%") for v in parsed.literals if v.strip("%"))
    return SqlItems(tables, columns, literals)
