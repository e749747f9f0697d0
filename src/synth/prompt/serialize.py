"""The database context as text — one documented, stable format (see ``docs/prompt.md``).

Format version 1, line by line::

    database: <db_id>
    table <table>[ ("<natural name>")]:
      <table>.<column>: <type>[, primary key][, "<natural name>"][, comment: <comment>][; values: v1, v2, v3]
    ...
    foreign keys:
      <table>.<column> = <ref_table>.<ref_column>
    matched values:
      <table>.<column> = <value>
    external knowledge:
      <evidence>

Tables and columns keep schema order; foreign keys keep schema order and appear only when both
ends are shown; matched values are best first. A natural name is shown only when it says more
than the identifier (``natural_name(name)`` differs). Text values are single-quoted SQL literals,
numbers bare. ``external knowledge`` is a question's evidence (BIRD's ``evidence`` field: hints
such as "female refers to gender = 'F'") on one line, exactly as given apart from whitespace; version
1.1 added it, and a prompt without evidence is byte-identical to version 1. Sections with nothing to
show are left out. Same inputs, same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from evaluation.schema import Schema, natural_name
from synth.prompt.filtering import SchemaSelection
from synth.prompt.values import ValueMatch

PROMPT_FORMAT_VERSION = "1.1"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=1 << 16)
def _says_more(identifier: str, natural: str) -> bool:
    """Whether a natural name adds to its identifier (pure; memoized: it runs per column per prompt)."""
    return bool(natural) and natural.lower() != natural_name(identifier)


def serialize_schema(
    schema: Schema,
    selection: SchemaSelection,
    samples: Mapping[tuple[str, str], Sequence[str]] | None = None,
    matches: Sequence[ValueMatch] = (),
    sample_values: int = 3,
    evidence: str | None = None,
) -> str:
    """Render the selected tables/columns, keys, sample values, matched values and evidence as text."""
    samples = samples or {}
    lines = [f"database: {schema.db_id}"]
    for tname in selection.tables:
        table = schema.table(tname)
        header = f"table {table.name}"
        if _says_more(table.name, table.natural):
            header += f' ("{_one_line(table.natural)}")'
        lines.append(header + ":")
        by_name = {c.name.lower(): c for c in reversed(table.columns)}  # first of duplicates, as Table.column
        for cname in selection.columns.get(tname, ()):
            col = by_name.get(cname.lower()) or table.column(cname)
            attrs = [col.type]
            if col.is_primary_key:
                attrs.append("primary key")
            if _says_more(col.name, col.natural):
                attrs.append(f'"{_one_line(col.natural)}"')
            if col.comment:
                attrs.append(f"comment: {_one_line(col.comment)}")
            line = f"  {table.name}.{col.name}: {', '.join(attrs)}"
            shown = list(samples.get(col.key, ()))[:sample_values]
            if shown:
                line += f"; values: {', '.join(shown)}"
            lines.append(line)
    kept = {t.lower() for t in selection.tables}
    fks = [fk for fk in schema.foreign_keys if fk.table.lower() in kept and fk.ref_table.lower() in kept]
    if fks:
        lines.append("foreign keys:")
        lines.extend(f"  {fk.table}.{fk.column} = {fk.ref_table}.{fk.ref_column}" for fk in fks)
    if matches:
        lines.append("matched values:")
        lines.extend(f"  {m.table}.{m.column} = {_literal(m.value)}" for m in matches)
    if evidence and evidence.strip():
        lines.append("external knowledge:")
        lines.append(f"  {_one_line(evidence)}")
    return "\n".join(lines)
