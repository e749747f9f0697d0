"""One reading of a SQL query for every layer: what each name means, which tables a column sees.

Template normalization (``synth.templates``), the prompt's gold items (``synth.prompt.gold``), the
rule-based question writer (``synth.questions.rule_based``), Spider hardness and the ambiguity flags
all read SQL through this module, so they cannot disagree about a query.

**Spider's double quotes.** Spider's gold SQL writes strings in double quotes (``Country =
"France"``), which SQLite accepts and sqlglot (like the SQL standard) reads as identifiers. The rule
is SQLite's own, so it also matches what executing the query does: a double-quoted, *unqualified*
name is a column when it names a column of a table visible where it stands (see scope below) or
an output alias (``AS "cnt"``) of a SELECT around it; otherwise it is a string literal.
``T1."Date"`` (qualified) is always a column; single-quoted text is always a string. A string
that happens to spell a visible column's name is read as the column — as SQLite does.

**Scope.** A column mention sees the FROM/JOIN tables of its own SELECT, then those of the SELECTs
around it (correlated subqueries), innermost first; the ORDER BY/LIMIT of a set operation sees its
first SELECT. The chain is the one sqlglot's :func:`sqlglot.optimizer.scope.build_scope` builds
(scopes are SELECTs and set operations, a subquery's parent is the query around it), walked on the
tree directly because three Spider rules do not fit sqlglot's ``Scope`` as it stands: names are
case-insensitive and a table may be named by its table name despite an alias (``Scope.sources``
keys aliases as written), a set operation's ORDER BY reads its first SELECT (its sqlglot scope has
no sources), and ``Scope.columns`` leaves out ``ORDER BY cnt`` naming an output alias and the
columns inside ``HAVING`` aggregates (``HAVING avg(x) > 1``). Within one
scope, "this SELECT's own columns, not its subqueries'" is sqlglot's
:func:`~sqlglot.optimizer.scope.walk_in_scope` (:func:`columns_in_scope`). An unqualified column
belongs to the first table in FROM order that has it.

**Schema.** Resolution reads the one schema model, :class:`evaluation.schema.Schema` (names matched
case-insensitively); callers may pass a plain mapping ``{table: [columns]}`` instead, which
:func:`ensure_schema` turns into one once at the boundary (as sqlglot's ``ensure_schema``).

>>> p = parse('SELECT "Name" FROM singer WHERE Country = "France"', {"singer": ["Name", "Country"]})
>>> p.columns, p.literals
((('singer', 'Name'), ('singer', 'Country')), ('France',))
>>> p.tree.sql(dialect="sqlite")
'SELECT "Name" FROM singer WHERE Country = \\'France\\''
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import walk_in_scope

from evaluation.errors import SpftError
from evaluation.schema import Schema

#: ``Column.meta`` key holding the ``(table, column)`` a mention resolved to, spelled as the schema does.
SOURCE = "spft_source"

#: :func:`limit_value` of a LIMIT whose count is not an integer literal (present, count unknown).
UNREADABLE_LIMIT = -1


class SqlAnalysisError(SpftError):
    """A query this module cannot read; ``reason`` is a short category callers count or translate.

    Reasons: ``parse_error``, ``unknown_table`` (a FROM table the schema lacks), ``unsupported_structure``
    (a FROM item that is neither a table nor a derived table), ``unknown_column`` (a column qualified
    by a visible alias whose table lacks it). Only strict resolution raises the last three.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


# ---- schema ----------------------------------------------------------------------------------------


def ensure_schema(schema: Schema | Mapping[str, Iterable[str]]) -> Schema:
    """``schema`` itself, or :meth:`Schema.from_mapping` of a ``{table: [columns]}`` mapping."""
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, Mapping):
        return Schema.from_mapping(schema)
    raise TypeError(
        f"schema: expected a mapping {{table: [columns]}} or an evaluation.schema.Schema, got {type(schema).__name__}"
    )


# ---- parsing and shared tree helpers ---------------------------------------------------------------


def parse_sql(sql: str) -> exp.Expression:
    """One SQL statement parsed with the sqlite dialect (a trailing ``;`` is ignored).

    Raises :class:`SqlAnalysisError` ``parse_error`` with sqlglot's first message line.
    """
    try:
        tree = sqlglot.parse_one(sql.strip().rstrip(";"), read="sqlite")
    except SqlglotError as e:
        raise SqlAnalysisError("parse_error", str(e).splitlines()[0][:200]) from None
    if tree is None:
        raise SqlAnalysisError("parse_error", f"empty SQL: {sql!r}")
    return tree


def try_parse(sql: str) -> exp.Expression | None:
    """:func:`parse_sql`, or ``None`` when the SQL cannot be parsed (also when it nests too deep for
    the parser): for readers that skip what they cannot read -- hardness, ambiguity flags, suite
    neighbours, quality checks.

    >>> try_parse("SELECT name FROM singer;").sql()
    'SELECT name FROM singer'
    >>> try_parse("SELEC name FROM") is None
    True
    """
    try:
        return parse_sql(sql)
    except (SqlAnalysisError, RecursionError):
        return None


def _strip_parens(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def leftmost_select(node: exp.Expression) -> exp.Select | None:
    """The first SELECT of a query (through set operations, subqueries, parentheses), or ``None``.

    It names a set operation's output columns and is what its ORDER BY reads; Spider hardness is
    counted on it.

    >>> leftmost_select(parse_sql("(SELECT a FROM t) UNION SELECT b FROM u")).sql()
    'SELECT a FROM t'
    """
    node = _strip_parens(node)
    while isinstance(node, (exp.SetOperation, exp.Subquery)):
        node = _strip_parens(node.this)
    return node if isinstance(node, exp.Select) else None


def limit_value(node: exp.Expression) -> int | None:
    """The LIMIT count of a SELECT or set operation: ``None`` without LIMIT, the count when it is an
    integer literal (parentheses allowed), else :data:`UNREADABLE_LIMIT` (a LIMIT is there).

    >>> [limit_value(parse_sql(s)) for s in ("SELECT a FROM t", "SELECT a FROM t LIMIT (3)", "SELECT a FROM t LIMIT x")]
    [None, 3, -1]
    """
    limit = node.args.get("limit")
    if limit is None:
        return None
    value = limit.args.get("expression") or limit.this
    value = _strip_parens(value) if value is not None else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return UNREADABLE_LIMIT


def from_sources(select: exp.Select) -> list[exp.Expression]:
    """The FROM item and every JOIN item of ``select``, in order."""
    items: list[exp.Expression] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        items.append(from_.this)
    for join in select.args.get("joins") or ():
        items.append(join.this)
    return items


def _inside_operand(node: exp.Expression, setop: exp.SetOperation) -> bool:
    """True when ``node`` lies in one of ``setop``'s operands (not in its ORDER BY / LIMIT)."""
    cur = node
    while cur is not None and cur.parent is not setop:
        cur = cur.parent
    return cur is not None and cur.arg_key in ("this", "expression")


def enclosing_selects(node: exp.Expression) -> Iterator[exp.Select]:
    """The SELECTs whose tables ``node`` sees, innermost first (see the module docstring)."""
    cur = node.parent
    while cur is not None:
        if isinstance(cur, exp.Select):
            yield cur
        elif isinstance(cur, exp.SetOperation) and not _inside_operand(node, cur):
            first = leftmost_select(cur)
            if first is not None:
                yield first
        cur = cur.parent


def select_aliases(node: exp.Expression) -> set[str]:
    """Lower-cased output aliases (``AS cnt``) of the SELECTs around ``node`` — names that are not columns."""
    out = set()
    for select in enclosing_selects(node):
        for e in select.expressions:
            if isinstance(e, exp.Alias):
                out.add(e.alias.lower())
    return out


def columns_in_scope(node: exp.Expression) -> list[exp.Column]:
    """Column mentions under ``node`` that belong to its own scope (not to a subquery inside it)."""
    return [n for n in walk_in_scope(node) if isinstance(n, exp.Column)]


# ---- resolution -------------------------------------------------------------------------------------


def sources(select: exp.Select, schema: Schema, strict: bool = False) -> dict[str, str | None]:
    """Lower-cased alias or table name -> the schema's table name, for ``select``'s own FROM/JOIN.

    A table is reachable by its alias and by its own name. A derived table's alias maps to ``None``
    (its columns are no schema columns), as does a table the schema lacks — or, with ``strict``,
    that raises ``unknown_table`` (and any other FROM item ``unsupported_structure``).
    """
    out: dict[str, str | None] = {}
    for item in from_sources(select):
        if isinstance(item, exp.Table):
            if schema.has_table(item.name):
                real: str | None = schema.table(item.name).name
            elif strict:
                raise SqlAnalysisError("unknown_table", item.name)
            else:
                real = None
            out.setdefault(item.name.lower(), real)
            if item.alias:
                out[item.alias.lower()] = real
        elif isinstance(item, exp.Subquery):
            if item.alias:
                out.setdefault(item.alias.lower(), None)
        elif strict:
            raise SqlAnalysisError("unsupported_structure", f"FROM {type(item).__name__}")
    return out


def _column_of(schema: Schema, table: str, name: str) -> tuple[str, str] | None:
    low = name.lower()
    for c in schema.table(table).columns:
        if c.name.lower() == low:
            return (table, c.name)
    return None


def resolve_column(column: exp.Column, schema: Schema, strict: bool = False) -> tuple[str, str] | None:
    """``(table, column)`` as the schema spells them, or ``None`` when no table in scope has it.

    A qualifier is looked up innermost first; the first SELECT that knows it decides. With
    ``strict``, a visible qualifier whose table lacks the column raises ``unknown_column`` and the
    FROM problems of :func:`sources` raise too (template normalization counts them as failures).
    """
    name = column.name
    qualifier = column.table.lower()
    for select in enclosing_selects(column):
        src = sources(select, schema, strict)
        if qualifier:
            if qualifier not in src:
                continue
            real = src[qualifier]
            if real is None:
                return None  # a derived table's (or an unknown table's) column: no schema column
            found = _column_of(schema, real, name)
            if found is None and strict:
                raise SqlAnalysisError("unknown_column", f"{column.table}.{name}")
            return found
        for real in dict.fromkeys(src.values()):
            if real is not None and (found := _column_of(schema, real, name)) is not None:
                return found
    return None


def is_spider_string(column: exp.Column, schema: Schema, strict: bool = False) -> bool:
    """True when ``column`` is really one of Spider's double-quoted strings (module docstring rule)."""
    ident = column.this
    if column.table or not isinstance(ident, exp.Identifier) or not ident.quoted:
        return False
    return resolve_column(column, schema, strict) is None and column.name.lower() not in select_aliases(column)


def resolve_quotes(tree: exp.Expression, schema: Schema, strict: bool = False) -> exp.Expression:
    """Replace, in place, each of Spider's double-quoted strings by a string literal; returns ``tree``."""
    for col in list(tree.find_all(exp.Column)):
        if is_spider_string(col, schema, strict):
            col.replace(exp.Literal.string(col.name))
    return tree


@dataclass(frozen=True)
class ParsedSQL:
    """A query read against a schema: Spider strings are string literals in ``tree`` and every
    column mention that resolves carries its ``(table, column)`` in ``meta[SOURCE]``."""

    tree: exp.Expression
    tables: tuple[str, ...]  # schema tables the query reads (any scope), first mention first
    columns: tuple[tuple[str, str], ...]  # resolved (table, column) pairs, first mention first
    literals: tuple[str, ...]  # string literal values, in tree order (BFS)

    @staticmethod
    def source(column: exp.Expression) -> tuple[str, str] | None:
        """The ``(table, column)`` a mention in ``tree`` resolved to, else ``None``."""
        return column.meta.get(SOURCE) if isinstance(column, exp.Column) else None


def parse(sql: str, schema: Schema | Mapping[str, Iterable[str]]) -> ParsedSQL:
    """Parse ``sql``, resolve Spider's double quotes and every column against ``schema`` (leniently:
    unknown names stay unresolved). Raises :class:`SqlAnalysisError` ``parse_error`` only."""
    schema = ensure_schema(schema)
    tree = resolve_quotes(parse_sql(sql), schema)
    columns: dict[tuple[str, str], None] = {}
    for col in tree.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        src = resolve_column(col, schema)
        if src is not None:
            col.meta[SOURCE] = src
            columns.setdefault(src)
    tables = dict.fromkeys(schema.table(t.name).name for t in tree.find_all(exp.Table) if schema.has_table(t.name))
    literals = tuple(lit.this for lit in tree.find_all(exp.Literal) if lit.is_string)
    return ParsedSQL(tree, tuple(tables), tuple(columns), literals)
