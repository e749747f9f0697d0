"""Column choice for column slots: type-matched, weighted by schema distance, one scope at a time.

Weight of a candidate column ``z`` for a slot in scope ``S`` (recomputed after every pick)::

    w(z) = 1                  if z's table is already in S's FROM (chosen or intermediate)
    w(z) = decay ** d         d = FK hops from z's table to the nearest table in S's FROM
    w(z) = 0                  if no FK path exists, or the FROM would exceed max_tables
                              (len(FROM) + d > max_tables)

Before the first pick of a scope, distances are taken to the FROM of its reference scope (the
enclosing query of a subquery, the first SELECT of a set operation); a top-level scope starts
with every candidate at weight 1. If a subquery's reference leaves every candidate at 0, its
candidates fall back to weight 1 (an uncorrelated subquery may use any table).

Roles (:mod:`synth.roles`): with column profiles given, a slot's candidates are only the columns
whose role every use of the slot accepts (``AVG({c0})`` wants a measure, ``GROUP BY {c0}`` a
category...; :func:`synth.roles.accepts`), and never a ``constant`` column. FK slots and slots
fixed by their FK partner are join keys and are not filtered. None left -> ``no_column_of_role``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from evaluation.schema import Column, Schema
from synth.fill.errors import FillError
from synth.fill.index import SchemaIndex, schema_index
from synth.fill.plan import Plan
from synth.roles import ColumnProfile, accepts

Profiles = Mapping[tuple[str, str], ColumnProfile]


def table_weight(
    schema: Schema, table: str, tree: Sequence[str], ref: Sequence[str], decay: float, max_tables: int
) -> float:
    """The formula in the module docstring, for one table."""
    if tree:
        d = min(schema.distance(table, t) for t in tree)
        if math.isinf(d) or len(tree) + d > max_tables:
            return 0.0
        return decay**d
    if ref:
        d = min(schema.distance(table, t) for t in ref)
        return 0.0 if math.isinf(d) else decay**d
    return 1.0


def add_table(schema: Schema, tree: list[str], table: str, max_tables: int) -> None:
    """Add ``table`` to a scope's FROM, with the intermediate tables of the FK path that reaches it."""
    name = schema.table(table).name
    if any(t.lower() == name.lower() for t in tree):
        return
    if not tree:
        tree.append(name)
        return
    edges = schema.join_path([*tree, name])
    if edges is None:
        raise FillError("no_join_path")
    known = {t.lower() for t in tree}
    added = []
    for fk in edges:
        for t in (fk.table, fk.ref_table):
            if t.lower() not in known:
                known.add(t.lower())
                added.append(schema.table(t).name)
    if len(tree) + len(added) > max_tables:
        raise FillError("too_many_tables")
    # keep path order so every table is one hop from an earlier one
    path_tables = [t for t in added if t.lower() != name.lower()]
    tree.extend(path_tables + [name])


def candidates(
    slot: str, plan: Plan, idx: SchemaIndex, assign: dict[str, Column], profiles: Profiles | None = None
) -> list[Column]:
    taken = {c.key for s, c in assign.items() if s != slot}
    partner = plan.fk_partner.get(slot)
    if partner in assign:
        out = [c for c in idx.fk_partners.get(assign[partner].key, ()) if c.key not in taken]
        if not out:
            raise FillError("no_fk_pair")
        return out
    base = [c for c in idx.by_type.get(plan.types[slot], ()) if c.key not in taken]
    if slot in plan.fk:
        base = [c for c in base if c.key in idx.fk_columns]
        if not base:
            raise FillError("no_fk_column")
    elif profiles is not None and base:
        uses = plan.uses.get(slot, ())
        base = [c for c in base if _fits(profiles.get(c.key), uses)]
        if not base:
            raise FillError("no_column_of_role", f"{slot} used as {', '.join(sorted(uses)) or 'a column'}")
    for other in plan.links.get(slot, ()):
        if other in assign:
            related = {c.key for c in idx.fk_partners.get(assign[other].key, ())}
            preferred = [c for c in base if c.key in related]
            if preferred:
                return preferred
    if not base:
        raise FillError("no_column_of_type")
    return base


def _fits(profile: ColumnProfile | None, uses) -> bool:
    if profile is None:
        return True
    if profile.role == "constant":
        return False
    return all(accepts(u, profile) for u in uses)


def choose_columns(
    plan: Plan,
    schema: Schema,
    rng: random.Random,
    decay: float,
    max_tables: int,
    profiles: Profiles | None = None,
) -> tuple[dict[str, Column], list[list[str]]]:
    """Fill every column slot; returns slot -> column and each scope's FROM tables (in join order).
    ``profiles``: column roles (:func:`synth.roles.infer_roles`); ``None`` = no role filter."""
    idx = schema_index(schema)
    assign: dict[str, Column] = {}
    trees: list[list[str]] = []
    for sp in plan.scopes:
        tree: list[str] = []
        ref = trees[sp.ref] if sp.ref is not None else []
        for s in sp.slots:
            if s in assign:
                add_table(schema, tree, assign[s].table, max_tables)
        for s in sp.slots:
            if s in assign:
                continue
            cands = candidates(s, plan, idx, assign, profiles)
            weights = [table_weight(schema, c.table, tree, ref, decay, max_tables) for c in cands]
            if not any(weights):
                if tree or not ref:
                    reachable = tree and any(
                        not math.isinf(min(schema.distance(c.table, t) for t in tree)) for c in cands
                    )
                    raise FillError("too_many_tables" if reachable else "no_join_path")
                weights = [1.0] * len(cands)
            pick = rng.choices(cands, weights)[0]
            assign[s] = pick
            add_table(schema, tree, pick.table, max_tables)
        if not tree:
            tables = [t.name for t in schema.tables]
            weights = [table_weight(schema, t, [], ref, decay, max_tables) for t in tables]
            if not any(weights):
                weights = [1.0] * len(tables)
            tree.append(rng.choices(tables, weights)[0])
        trees.append(tree)
    return assign, trees
