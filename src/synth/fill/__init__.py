"""Template filling: choose columns by type and schema distance, rebuild FROM/JOIN along foreign
keys, and draw values from the database. SPFT-SQL §3.1.1 ("tables and columns are selected with
constraints to fill the normalized slots"); see ``docs/templates.md``.

Algorithm for one template on one schema:

1. **Columns** (:mod:`synth.fill.choose`). Scopes (each SELECT with a ``{tables}`` FROM) are filled
   outer before inner, left before right. Each unfilled column slot draws from the schema's
   columns of the slot's type (not yet used by another slot) with weight

   ``w = 1`` if the column's table is already in the scope's FROM, else ``w = decay ** d`` with
   ``d`` the FK hops to the nearest table in that FROM, and ``w = 0`` when unreachable or when the
   FROM would grow past ``max_tables``; weights are recomputed after every pick. A subquery's first
   pick measures ``d`` to its enclosing query's FROM (prefers related tables).

   FK slots (``{c1:number:fk=c2}``) draw from columns that take part in a foreign key; once one side
   of a pair is filled, the other side is one of its real FK partners (``no_fk_pair`` if none).
   Slots compared across scopes (``a IN (SELECT b ...)``) prefer FK partners of the other side.
2. **FROM/JOIN** (:mod:`synth.fill.render`). Every scope's tables are connected with
   ``Schema.join_path`` (intermediate tables included; the FK graph also has the same-name key
   joins of :mod:`synth.fill.joins`, as Spider writes them); one table -> ``FROM t`` with bare
   columns, several -> ``FROM a AS T1 JOIN b AS T2 ON T1.x = T2.y ...`` with qualified columns.
3. **Values** (:class:`ValueSampler`). A value slot takes a real value of the column it is
   compared with (through aggregates too); compared with ``COUNT(...)`` it takes a small count
   from ``config.count_values``; ``LIKE`` values become ``'%value%'``; ``BETWEEN`` bounds are
   ordered. Strings are single-quoted with quotes doubled.

4. **Roles and semantic checks.** Column slots only take columns whose role (:mod:`synth.roles`)
   fits how the template uses them (``FillConfig.roles``); two values compared with the same
   column are drawn distinct; the filled query carries the probes and row checks of
   :mod:`synth.fill.checks` for the caller to run after execution (``FillConfig.semantic_checks``).

Rejections raise :class:`FillError` with a counted ``reason``. Deterministic for a given ``rng``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlglot import exp

from evaluation.errors import ConfigError
from evaluation.hardness import hardness
from evaluation.schema import Column, Schema
from synth.fill import checks
from synth.fill.choose import Profiles, choose_columns, table_weight
from synth.fill.errors import FillError
from synth.fill.joins import with_same_name_joins
from synth.fill.plan import Plan, plan_template, scope_of, scope_selects, slot_of
from synth.fill.render import build_from, column_expr
from synth.fill.values import ValueSampler, as_number, literal
from synth.roles import infer_roles
from synth.templates.drop_from_clause import FROM_KEY
from synth.templates.model import Template, TemplateError

__all__ = [
    "FillConfig",
    "FillError",
    "FilledQuery",
    "ValueSampler",
    "fill_template",
    "table_weight",
]


@dataclass(frozen=True)
class FillConfig:
    """Knobs of filling; the weighting formula is in the module docstring."""

    distance_decay: float = 0.3
    """Weight factor per FK hop for a column whose table is not yet in FROM (0 < decay <= 1).
    Lower keeps queries on fewer tables; 0.3 gives roughly Spider's share of join queries."""
    max_tables: int = 4
    """Most tables in one FROM clause, intermediate tables of join paths included."""
    value_samples: int = 200
    """Distinct values read (once, cached) per column; value slots draw from them."""
    count_values: tuple[int, ...] = (1, 2, 3)
    """Values for slots compared with COUNT(...) (e.g. ``HAVING COUNT(*) > {v0:number}``)."""
    value_tries: int = 5
    """Draws per value slot before ``no_value`` when a drawn value does not fit the slot's type
    (or ``semantic:self_comparison`` when it keeps repeating a value compared with the same column)."""
    roles: bool = True
    """Fill column slots only with columns whose role fits the slot's use (:mod:`synth.roles`)."""
    same_name_joins: bool = True
    """Also join along same-name key columns that the schema does not declare as foreign keys, as
    Spider's training SQL does (:mod:`synth.fill.joins`)."""
    semantic_checks: bool = True
    """Attach the semantic probes and row checks of :mod:`synth.fill.checks` to filled queries
    and reject AVG/SUM over key columns."""

    def __post_init__(self) -> None:
        if not 0 < self.distance_decay <= 1:
            raise ConfigError(f"distance_decay must be in (0, 1], got {self.distance_decay}")
        if self.max_tables < 1:
            raise ConfigError(f"max_tables must be >= 1, got {self.max_tables}")
        if self.value_samples < 1:
            raise ConfigError(f"value_samples must be >= 1, got {self.value_samples}")
        if not self.count_values:
            raise ConfigError("count_values must not be empty")
        if self.value_tries < 1:
            raise ConfigError(f"value_tries must be >= 1, got {self.value_tries}")


@dataclass(frozen=True)
class FilledQuery:
    """An executable SQL candidate; ``tables`` are every table in any FROM, in first-use order."""

    sql: str
    tables: tuple[str, ...]
    template_id: str
    probes: tuple[tuple[str, str], ...] = ()
    """(check name, probe SQL) pairs to run after execution; a true first value rejects."""
    row_checks: tuple[str, ...] = ()
    """Names of :func:`synth.fill.checks.failed_row_check` checks for the result rows."""
    hardness: str = ""
    """Spider hardness of the query (``evaluation.hardness``), read off the rendered tree."""


def fill_template(
    template: Template,
    schema: Schema,
    values: ValueSampler,
    rng: random.Random,
    config: FillConfig = FillConfig(),
    profiles: Profiles | None = None,
) -> FilledQuery:
    """Fill ``template`` on ``schema``; raises :class:`FillError` (counted) when it cannot.

    ``profiles``: the schema's column roles; ``None`` with ``config.roles`` infers them from the
    database behind ``values`` (once per sampler)."""
    try:
        plan = plan_template(template.text)
    except TemplateError as e:
        raise FillError("bad_template", e.detail) from None
    if config.roles and profiles is None:
        read = getattr(values, "roles", None)  # a value source without data gets schema-only roles
        profiles = read(schema) if read is not None else infer_roles(schema)
    if config.same_name_joins:
        schema = with_same_name_joins(schema)
    assign, trees = choose_columns(
        plan, schema, rng, config.distance_decay, config.max_tables, profiles if config.roles else None
    )
    if config.semantic_checks and profiles is not None:
        for slot, uses in plan.uses.items():
            p = profiles.get(assign[slot].key) if slot in assign else None
            if "aggregate" in uses and p is not None and p.role == "key":
                raise FillError("semantic:aggregate_of_key", f"{assign[slot].table}.{assign[slot].name}")
    drawn = draw_values(plan, assign, values, rng, config)
    ast = render_tree(plan, schema, assign, trees, drawn)
    tables = tuple(dict.fromkeys(t for tree in trees for t in tree))
    level = hardness(ast)
    probes = checks.probes(ast) if config.semantic_checks else ()
    row_checks = checks.row_checks(ast) if config.semantic_checks else ()
    sql = ast.sql(dialect="sqlite", copy=False)  # ast is our own copy
    return FilledQuery(sql, tables, template.id, probes, row_checks, level)


def draw_values(
    plan: Plan, assign: dict[str, Column], values: ValueSampler, rng: random.Random, config: FillConfig
) -> dict[str, exp.Expression]:
    raw: dict[str, object] = {}
    like: dict[str, bool] = {}
    seen: dict[str, list] = {}  # partner slot -> values already drawn for it
    for vp in plan.values:
        like[vp.name] = vp.like
        if vp.counts or vp.partner is None:
            if vp.type != "number" and not vp.counts:
                raise FillError("no_value", f"{vp.name} is compared with nothing")
            raw[vp.name] = rng.choice(config.count_values)
            continue
        col = assign[vp.partner]
        earlier = seen.setdefault(vp.partner, [])
        repeated = False
        for _ in range(config.value_tries):
            v = values.sample(col.table, col.name, rng, config.value_samples)
            if v is None:
                raise FillError("no_value", f"{col.table}.{col.name} has no usable values")
            if col.type == "number" and not vp.like:
                v = as_number(v)
                if v is None:
                    continue
            if config.semantic_checks and v in earlier:
                repeated = True
                continue
            raw[vp.name] = v
            earlier.append(v)
            break
        else:
            if repeated:
                raise FillError("semantic:self_comparison", f"{col.table}.{col.name} compared with one value twice")
            raise FillError("no_value", f"{col.table}.{col.name}: no value of type number")
    for lo, hi in plan.between:
        a, b = raw.get(lo), raw.get(hi)
        if type(a) is type(b) and a > b:  # type: ignore[operator]
            raw[lo], raw[hi] = b, a
    return {k: literal(v, like[k]) for k, v in raw.items()}


def render_sql(
    plan: Plan,
    schema: Schema,
    assign: dict[str, Column],
    trees: list[list[str]],
    drawn: dict[str, exp.Expression],
) -> str:
    """The filled query as SQLite text (:func:`render_tree`, printed). Not named ``render``: that is
    the module :mod:`synth.fill.render`, which a function of the same name here would hide."""
    return render_tree(plan, schema, assign, trees, drawn).sql(dialect="sqlite", copy=False)


def render_tree(
    plan: Plan,
    schema: Schema,
    assign: dict[str, Column],
    trees: list[list[str]],
    drawn: dict[str, exp.Expression],
) -> exp.Expression:
    """The filled query as a fresh sqlglot tree (FROM/JOIN rebuilt, columns and values in place)."""
    ast = plan.ast.copy()
    selects = scope_selects(ast)
    index = {id(s): i for i, s in enumerate(selects)}
    mentions = [
        (col, name, index[id(scope_of(col))])
        for col in list(ast.find_all(exp.Column))
        if (name := slot_of(col)) is not None
    ]
    aliases: list[dict[str, str]] = []
    for sel, tree in zip(selects, trees):
        edges = schema.join_path(tree)
        if edges is None:
            raise FillError("no_join_path")
        from_, joins, alias = build_from(tree, edges)
        sel.set(FROM_KEY, from_)
        sel.set("joins", joins or None)
        aliases.append(alias)
    for col, name, scope in mentions:
        column = assign[name]
        inside = col.find_ancestor(exp.Select) is not None
        alias = aliases[scope].get(column.table.lower(), "") if inside else ""
        col.replace(column_expr(column, alias))
    for ph in list(ast.find_all(exp.Placeholder)):
        if ph.name in drawn:
            ph.replace(drawn[ph.name].copy())
    return ast
