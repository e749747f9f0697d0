"""Which tables a column mention can see: the FROM/JOIN sources of its SELECT and the ones around it.

Spider names are case-insensitive and tables are usually aliased (``singer AS T1``); a table
may also be named by its own name even when aliased. Sources of a SELECT are cached on the node's
``meta`` so the rules that run one after another share the work.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from synth.schema import Schema
from synth.templates.model import TemplateError

_SOURCES = "spft_sources"


def enclosing_selects(node: exp.Expression) -> Iterator[exp.Select]:
    """Selects around ``node``, innermost first. ORDER BY of a set operation sees its first SELECT."""
    cur = node.parent
    while cur is not None:
        if isinstance(cur, exp.Select):
            yield cur
        elif isinstance(cur, exp.SetOperation) and not _inside_select(node, cur):
            yield leftmost_select(cur)
        cur = cur.parent


def _inside_select(node: exp.Expression, setop: exp.SetOperation) -> bool:
    """True when ``node`` lies in one of ``setop``'s operands (not in its ORDER BY / LIMIT)."""
    cur = node
    while cur is not None and cur.parent is not setop:
        cur = cur.parent
    return cur is not None and cur.arg_key in ("this", "expression")


def leftmost_select(node: exp.Expression) -> exp.Select:
    while isinstance(node, (exp.SetOperation, exp.Subquery)):
        node = node.this
    if not isinstance(node, exp.Select):
        raise TemplateError("unsupported_structure", f"expected SELECT, got {type(node).__name__}")
    return node


def from_sources(select: exp.Select) -> list[exp.Expression]:
    """The FROM item and every JOIN item of ``select``, in order."""
    items: list[exp.Expression] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        items.append(from_.this)
    for join in select.args.get("joins") or ():
        items.append(join.this)
    return items


def sources(select: exp.Select, schema: Schema) -> dict[str, str]:
    """Lower-cased alias or table name -> the schema's table name, for ``select``'s own sources."""
    cached = select.meta.get(_SOURCES)
    if cached is not None:
        return cached
    out: dict[str, str] = {}
    for item in from_sources(select):
        if isinstance(item, exp.Table):
            if not schema.has_table(item.name):
                raise TemplateError("unknown_table", item.name)
            real = schema.table(item.name).name
            out.setdefault(item.name.lower(), real)
            if item.alias:
                out[item.alias.lower()] = real
        elif isinstance(item, exp.Subquery):
            continue  # a derived table: its own scope, no schema columns visible here
        else:
            raise TemplateError("unsupported_structure", f"FROM {type(item).__name__}")
    select.meta[_SOURCES] = out
    return out


def resolve(column: exp.Column, schema: Schema) -> tuple[str, str] | None:
    """(table, column) as the schema names them, or ``None`` when no table in scope has it.

    Raises ``unknown_column`` when the column is qualified by a visible alias whose table lacks it.
    """
    name = column.name
    qualifier = column.table
    for select in enclosing_selects(column):
        src = sources(select, schema)
        if qualifier:
            real = src.get(qualifier.lower())
            if real is None:
                continue
            for c in schema.table(real).columns:
                if c.name.lower() == name.lower():
                    return (real, c.name)
            raise TemplateError("unknown_column", f"{qualifier}.{name}")
        for real in dict.fromkeys(src.values()):
            for c in schema.table(real).columns:
                if c.name.lower() == name.lower():
                    return (real, c.name)
    return None


def select_aliases(column: exp.Column) -> set[str]:
    """Output aliases (``AS cnt``) of the SELECTs around ``column`` — names that are not columns."""
    out = set()
    for select in enclosing_selects(column):
        for e in select.expressions:
            if isinstance(e, exp.Alias):
                out.add(e.alias.lower())
    return out
