"""Rule: resolved columns become column slots and stripped values become value slots.

Column mentions of the same schema column share one slot. Slot numbers are given by first
appearance in the rendered text (``c0``, ``c1``, ... and ``v0``, ``v1``, ...), so two queries
with the same shape get the same template text and merge.
"""

from __future__ import annotations

import re

from sqlglot import exp

from evaluation.schema import Schema
from synth.templates.drop_from_clause import TABLES
from synth.templates.mark_foreign_keys import FK_PAIRS
from synth.templates.model import Slot
from synth.templates.qualify_columns import SOURCE
from synth.templates.strip_values import VALUE_TYPE

_TOKEN = re.compile(rf"\b__k(\d+)\b|:p(\d+)\b|\b{TABLES}\b")


def name_slots(expression: exp.Expression, schema: Schema) -> exp.Expression:
    """Replace columns by ``__k<i>`` and values by ``:p<j>``; record what each stands for in meta."""
    keys: dict[tuple[str, str], int] = {}
    sources: list[tuple[str, str]] = []
    for col in list(expression.find_all(exp.Column)):
        src = col.meta.get(SOURCE)
        if src is None:
            continue
        key = (src[0].lower(), src[1].lower())
        if key not in keys:
            keys[key] = len(keys)
            sources.append(src)
        col.replace(exp.Column(this=exp.Identifier(this=f"__k{keys[key]}", quoted=False)))
    value_types = []
    for ph in list(expression.find_all(exp.Placeholder)):
        if VALUE_TYPE in ph.meta:
            ph.set("this", f"p{len(value_types)}")
            value_types.append(ph.meta[VALUE_TYPE])
    expression.meta["spft_columns"] = [(k, schema.column(*s).type) for k, s in zip(keys, sources)]
    expression.meta["spft_values"] = value_types
    return expression


def render_template(expression: exp.Expression) -> tuple[str, tuple[Slot, ...]]:
    """Template text with ``{cN:type}``/``{vN:type}``/``{tables}`` placeholders, and its slots."""
    columns = expression.meta["spft_columns"]
    values = expression.meta["spft_values"]
    sql = expression.sql(dialect="sqlite", copy=False)  # the tree is not used again
    col_names: dict[int, str] = {}
    val_names: dict[int, str] = {}
    for m in _TOKEN.finditer(sql):
        if m.group(1) is not None:
            col_names.setdefault(int(m.group(1)), f"c{len(col_names)}")
        elif m.group(2) is not None:
            val_names.setdefault(int(m.group(2)), f"v{len(val_names)}")
    slot_of_key = {key: col_names[i] for i, (key, _) in enumerate(columns) if i in col_names}
    fk_keys: set[tuple[str, str]] = set()
    partner: dict[str, str] = {}
    for a, b in expression.meta.get(FK_PAIRS, ()):
        fk_keys.update((a, b))
        if a in slot_of_key and b in slot_of_key:
            partner.setdefault(slot_of_key[a], slot_of_key[b])
            partner.setdefault(slot_of_key[b], slot_of_key[a])
    col_text: dict[int, str] = {}
    slots: list[Slot] = []
    for i, (key, ctype) in enumerate(columns):
        if i not in col_names:
            continue
        name = col_names[i]
        fk = key in fk_keys
        suffix = f":fk={partner[name]}" if name in partner else (":fk" if fk else "")
        col_text[i] = f"{{{name}:{ctype}{suffix}}}"
        slots.append(Slot(name, "column", ctype, fk))
    for j, vtype in enumerate(values):
        if j in val_names:
            slots.append(Slot(val_names[j], "value", vtype))

    def sub(m: re.Match) -> str:
        if m.group(1) is not None:
            return col_text[int(m.group(1))]
        if m.group(2) is not None:
            return f"{{{val_names[int(m.group(2))]}:{values[int(m.group(2))]}}}"
        return "{tables}"

    text = _TOKEN.sub(sub, sql)
    slots.sort(key=lambda s: (s.kind != "column", int(s.name[1:])))
    return text, tuple(slots)
