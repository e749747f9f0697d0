"""What a template asks for, read once per template text (cached): scopes, slots, value partners.

The template text is turned back into parseable SQL (``{c0:text}`` -> ``__c0``, ``{v0:text}`` ->
``:v0``, ``{tables}`` -> ``__tables``) and parsed with sqlglot. A *scope* is a SELECT whose FROM is
``{tables}``; each gets its own rebuilt FROM clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot import exp

from evaluation.sql_analysis import SqlAnalysisError, enclosing_selects, from_sources, leftmost_select, parse_sql
from synth.templates.drop_from_clause import TABLES
from synth.templates.mark_foreign_keys import single_output
from synth.templates.model import PLACEHOLDER, TemplateError

COLUMN_PREFIX = "__"
_COLUMN_NAME = re.compile(r"^__(c\d+)$")


@dataclass(frozen=True)
class ScopePlan:
    """One SELECT with a ``{tables}`` FROM; ``ref`` is the scope whose tables weight its first pick."""

    index: int
    ref: int | None
    slots: tuple[str, ...]  # column slots mentioned in this scope, in order of first mention


@dataclass(frozen=True)
class ValuePlan:
    """A value slot and what it is compared with."""

    name: str
    type: str
    partner: str | None  # the column slot it is compared with (directly or through an aggregate)
    counts: bool  # compared with COUNT(...): a small count, not a column value
    like: bool  # LIKE pattern: emitted as '%value%'


@dataclass(frozen=True)
class Plan:
    ast: exp.Expression
    scopes: tuple[ScopePlan, ...]
    types: dict[str, str]  # column slot -> type
    fk: frozenset[str]
    fk_partner: dict[str, str]
    links: dict[str, tuple[str, ...]]  # slots compared with each other across scopes (a IN (SELECT b))
    values: tuple[ValuePlan, ...]
    between: tuple[tuple[str, str], ...]  # (low, high) value slots of a BETWEEN
    uses: dict[str, frozenset[str]] = field(default_factory=dict)  # column slot -> synth.roles uses


def to_sql(text: str) -> str:
    """Template text -> parseable SQL with ``__cN`` columns, ``:vN`` values and a ``__tables`` table."""

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name is None:
            return TABLES
        return f"{COLUMN_PREFIX}{name}" if name[0] == "c" else f":{name}"

    return PLACEHOLDER.sub(sub, text)


def slot_of(col: exp.Column) -> str | None:
    m = _COLUMN_NAME.match(col.name) if not col.table else None
    return m.group(1) if m else None


def is_scope(select: exp.Select) -> bool:
    items = from_sources(select)
    return len(items) == 1 and isinstance(items[0], exp.Table) and items[0].name == TABLES


def scope_of(node: exp.Expression) -> exp.Select | None:
    """The SELECT whose FROM a column mention belongs to (innermost scope around it)."""
    for select in enclosing_selects(node):
        if is_scope(select):
            return select
    return None


def scope_selects(ast: exp.Expression) -> list[exp.Select]:
    """Scopes in a fixed order (outer before inner, left before right)."""
    return [s for s in ast.walk(bfs=False) if isinstance(s, exp.Select) and is_scope(s)]


@lru_cache(maxsize=4096)
def plan_template(text: str) -> Plan:
    """Parse and analyse a template text; raises :class:`TemplateError` on a malformed template."""
    try:
        ast = parse_sql(to_sql(text))
    except SqlAnalysisError as e:
        raise TemplateError("bad_template", e.detail) from None
    types: dict[str, str] = {}
    fk: set[str] = set()
    fk_partner: dict[str, str] = {}
    values_type: dict[str, str] = {}
    for m in PLACEHOLDER.finditer(text):
        name = m.group("name")
        if name is None:
            continue
        if name[0] == "c":
            types[name] = m.group("type")
            if ":fk" in m.group(0):
                fk.add(name)
            if m.group("partner"):
                fk_partner[name] = m.group("partner")
        else:
            values_type[name] = m.group("type")

    selects = scope_selects(ast)
    index = {id(s): i for i, s in enumerate(selects)}
    mentions: dict[int, list[str]] = {i: [] for i in range(len(selects))}
    for col in ast.walk(bfs=False):
        if isinstance(col, exp.Column) and (name := slot_of(col)):
            sel = scope_of(col)
            if sel is None:
                raise TemplateError("bad_template", f"column slot {name} outside any FROM {{tables}}")
            if name not in mentions[index[id(sel)]]:
                mentions[index[id(sel)]].append(name)
    scopes = []
    for i, sel in enumerate(selects):
        ref = None
        outer = scope_of(sel)
        if outer is not None:
            ref = index[id(outer)]
        else:
            top = sel
            while isinstance(top.parent, (exp.SetOperation, exp.Subquery)):
                top = top.parent
            first = leftmost_select(top) if top is not sel else sel
            if first is not None and first is not sel and id(first) in index:
                ref = index[id(first)]
        scopes.append(ScopePlan(i, ref, tuple(mentions[i])))

    links: dict[str, list[str]] = {}

    def link(a: exp.Expression | None, b: exp.Expression | None) -> None:
        if isinstance(a, exp.Column) and isinstance(b, exp.Column):
            sa, sb = slot_of(a), slot_of(b)
            if sa and sb and sa != sb:
                links.setdefault(sa, []).append(sb)
                links.setdefault(sb, []).append(sa)

    for node in ast.walk(bfs=False):
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            link(node.this, _single_output(node.args["query"]))
        elif isinstance(node, exp.EQ):
            a, b = node.this, node.expression
            link(
                a if isinstance(a, exp.Column) else _single_output(a),
                b if isinstance(b, exp.Column) else _single_output(b),
            )

    values, between = [], []
    for ph in ast.walk(bfs=False):
        if not isinstance(ph, exp.Placeholder) or ph.name not in values_type:
            continue
        node: exp.Expression = ph
        while isinstance(node.parent, (exp.Neg, exp.Paren)):
            node = node.parent
        pred = node.parent
        other = None
        if isinstance(pred, (exp.Between, exp.In)):
            other = pred.this
        elif isinstance(pred, exp.Binary):
            other = pred.expression if node is pred.this else pred.this
        counts = isinstance(other, exp.Count)
        col = other if isinstance(other, exp.Column) else (other.find(exp.Column) if other is not None else None)
        partner = slot_of(col) if isinstance(col, exp.Column) else None
        like = isinstance(pred, (exp.Like, exp.ILike))
        values.append(ValuePlan(ph.name, values_type[ph.name], None if counts else partner, counts, like))
        if isinstance(pred, exp.Between) and node is pred.args.get("low"):
            high = pred.args.get("high")
            if isinstance(high, exp.Placeholder):
                between.append((ph.name, high.name))
    uses: dict[str, set[str]] = {}
    for col in ast.walk(bfs=False):
        if isinstance(col, exp.Column) and (name := slot_of(col)):
            use = column_use(col)
            if use:
                uses.setdefault(name, set()).add(use)
    return Plan(
        ast=ast,
        scopes=tuple(scopes),
        types=types,
        fk=frozenset(fk),
        fk_partner=fk_partner,
        links={k: tuple(dict.fromkeys(v)) for k, v in links.items()},
        values=tuple(values),
        between=tuple(between),
        uses={k: frozenset(v) for k, v in sorted(uses.items())},
    )


_AGG_USE = {exp.Avg: "aggregate", exp.Sum: "aggregate", exp.Max: "extreme", exp.Min: "extreme"}
_RANGE_OPS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_EQUAL_OPS = (exp.EQ, exp.NEQ, exp.In)


def column_use(col: exp.Column) -> str | None:
    """How one column mention is used, as a :data:`synth.roles.USE_ROLES` key (``None``: no need).

    Inside AVG/SUM -> ``aggregate``, MIN/MAX -> ``extreme`` (COUNT -> none); the bare column in
    GROUP BY -> ``group``; in ORDER BY -> ``superlative`` with a LIMIT, else ``order``; compared
    with a value or a subquery -> ``range`` (<, >, BETWEEN), ``equal`` (=, !=, IN list), ``like``.
    """
    node: exp.Expression = col
    while node.parent is not None and not isinstance(node.parent, (exp.Select, exp.Subquery, exp.SetOperation)):
        parent = node.parent
        for kind, use in _AGG_USE.items():
            if isinstance(parent, kind):
                return use
        if isinstance(parent, exp.Count):
            return None
        if isinstance(parent, exp.Group):
            return "group"
        if isinstance(parent, exp.Ordered):
            order = parent.parent
            owner = order.parent if order is not None else None
            return "superlative" if owner is not None and owner.args.get("limit") is not None else "order"
        if isinstance(parent, (exp.Like, exp.ILike)):
            return "like" if node is parent.this and _is_value(parent.expression) else None
        if isinstance(parent, _RANGE_OPS):
            if isinstance(parent, exp.Between):
                return "range" if node is parent.this else None
            other = parent.expression if node is parent.this else parent.this
            return "range" if _is_value(other) or isinstance(other, exp.Subquery) else None
        if isinstance(parent, _EQUAL_OPS):
            if isinstance(parent, exp.In):
                return "equal" if node is parent.this and parent.args.get("query") is None else None
            other = parent.expression if node is parent.this else parent.this
            return "equal" if _is_value(other) else None
        if not isinstance(parent, (exp.Paren, exp.Distinct)):
            return None
        node = parent
    return None


def _is_value(e: exp.Expression | None) -> bool:
    while isinstance(e, (exp.Paren, exp.Neg)):
        e = e.this
    return isinstance(e, (exp.Placeholder, exp.Literal))


def _single_output(query: exp.Expression | None) -> exp.Column | None:
    """The lone output column of a subquery (the template rule's helper, columns only)."""
    e = single_output(query)
    return e if isinstance(e, exp.Column) else None
