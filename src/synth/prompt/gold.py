"""The schema items and string values a SQL query uses — to measure filtering and retrieval recall,
and to keep a known SQL's items in its prompt (SQL-to-Text inputs, training prompts).

Spider writes string literals in double quotes (``WHERE name = "Bob"``), which SQLite accepts but
sqlglot reads as identifiers; :func:`spider_quotes_to_sql` rewrites them as single-quoted literals
first. Columns are resolved per query scope (sqlglot's scope analysis), so an unqualified column
belongs to the one table of its own SELECT that has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from synth.schema import Schema

_STRINGS = re.compile(r"'(?:[^']|'')*'|\"((?:[^\"]|\"\")*)\"")


@dataclass(frozen=True)
class SqlItems:
    """Lower-cased table names and (table, column) pairs a query reads, and its string literals."""

    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]
    literals: tuple[str, ...]
    parsed: bool = True


def spider_quotes_to_sql(sql: str) -> str:
    """``"Bob"`` -> ``'Bob'`` outside single-quoted strings (Spider's double quotes are literals)."""

    def repl(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)
        return "'" + m.group(1).replace('""', '"').replace("'", "''") + "'"

    return _STRINGS.sub(repl, sql)


def sql_items(sql: str, schema: Schema) -> SqlItems:
    """Tables, columns and string literals of ``sql`` resolved against ``schema``.

    Unparseable SQL gives empty items with ``parsed=False`` (the caller counts it, never guesses).
    """
    try:
        tree = sqlglot.parse_one(spider_quotes_to_sql(sql), read="sqlite")
    except SqlglotError:
        return SqlItems(frozenset(), frozenset(), (), parsed=False)
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
    for t in tree.find_all(exp.Table):
        if schema.has_table(t.name):
            tables.add(t.name.lower())
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:
        scopes = []
    for scope in scopes:
        alias_to_table = {
            alias.lower(): src.name.lower()
            for alias, src in scope.sources.items()
            if isinstance(src, exp.Table) and schema.has_table(src.name)
        }
        for col in scope.columns:
            name = col.name.lower()
            if not name or name == "*":
                continue
            if col.table:
                table = alias_to_table.get(col.table.lower())
                candidates = [table] if table else []
            else:
                candidates = list(dict.fromkeys(alias_to_table.values()))
            for table in candidates:
                if any(c.name.lower() == name for c in schema.table(table).columns):
                    columns.add((table, name))
                    break
    literals = tuple(
        lit.this.strip("%") for lit in tree.find_all(exp.Literal) if lit.is_string and lit.this.strip("%")
    )
    return SqlItems(frozenset(tables), frozenset(columns), literals)
