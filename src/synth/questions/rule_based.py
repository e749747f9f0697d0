"""Deterministic rule-based SQL-to-English: the offline default question writer.

This is **not** the SQL-to-Text model the SPFT-SQL paper uses to write its questions; it is a
transparent stand-in so the pipeline runs without a GPU or model weights. Records it writes carry
``question_writer = "rule-based"`` so they are never mistaken for model-written questions.

How it works: the SQL is parsed with sqlglot (SQLite dialect) and rendered bottom-up as English
noun phrases that use the schema's natural names (``Column.natural``, ``Table.natural``):

* a SELECT becomes a noun phrase ``the <items> of <entities> <qualifiers>``, where the entity is
  the table of the first selected column and qualifiers come from WHERE (``whose age is greater
  than 30``), GROUP BY / HAVING (``for each country with more than 2 singers``) and ORDER BY /
  LIMIT (``with the highest age``, ``sorted by name in ascending order``);
* subqueries become nested noun phrases (``greater than the average age of all singers``,
  ``is among the singer id of concerts ...``); UNION / INTERSECT / EXCEPT combine two phrases and
  share their head when both sides select the same thing from the same table;
* the sentence is ``How many ... are there ...?`` for a lone ``count(*)``, otherwise an
  imperative (``Find ...``), the verb picked by a hash of the SQL when ``vary_verbs`` is on.

The SQL is read by :func:`evaluation.sql_analysis.parse`, as template normalization and the prompt's
gold items read it: Spider's double-quoted strings are strings unless they name a column in scope,
and every column mention knows its schema column. Anything the rules do not know is rendered from
its SQL text, so valid SQL always yields a question.

>>> from evaluation.schema import Column, Schema, Table
>>> singer = Table("singer", "singer", (Column("singer", "Name", "name", "text"),
...                                     Column("singer", "Age", "age", "number")))
>>> w = RuleBasedWriter(vary_verbs=False)
>>> w.write("SELECT name FROM singer WHERE age > 30 ORDER BY age DESC LIMIT 1", Schema("s", (singer,)))
'Find the name of the singer whose age is greater than 30 with the highest age.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from evaluation import sql_analysis
from evaluation.errors import InputError
from evaluation.provenance import digest
from evaluation.schema import Column, Schema, Table, natural_name
from synth.questions.english import finish_sentence, join_list, plural, singular

#: Imperative verbs; one is picked per SQL (stable hash) when ``vary_verbs`` is on.
VERBS = ("Find", "List", "Show", "Return", "Give")


class RenderError(Exception):
    """Internal: a construct the rules cannot phrase (only escapes in ``strict`` mode)."""


@dataclass(frozen=True)
class RuleBasedWriter:
    """Deterministic SQL-to-English writer (name ``"rule-based"``); never the paper's SQL-to-Text model.

    ``vary_verbs`` picks the opening verb from :data:`VERBS` by a hash of the SQL text (same SQL,
    same question, on every machine). ``strict`` re-raises rendering failures instead of using the
    generic fallback sentence — tests use it to prove the rules cover a corpus.
    """

    vary_verbs: bool = True
    strict: bool = False
    name: str = field(default="rule-based", init=False)

    def write(self, sql: str, schema: Schema) -> str:
        """One question for ``sql`` on ``schema``; raises :class:`InputError` only if ``sql`` does not parse."""
        if not sql.strip().rstrip(";").strip():
            raise InputError(f"empty SQL: {sql!r}", field="sql")
        try:
            tree = sql_analysis.parse(sql, schema).tree
        except sql_analysis.SqlAnalysisError as e:
            raise InputError(f"SQL does not parse ({e.detail}): {sql}", field="sql") from None
        verb = _pick_verb(sql) if self.vary_verbs else VERBS[0]
        try:
            return _sentence(tree, schema, verb)
        except Exception as e:  # noqa: BLE001 - the writer must never fail on valid SQL
            if self.strict:
                raise RenderError(f"cannot phrase {sql!r}: {type(e).__name__}: {e}") from e
            return finish_sentence(f"{verb} the result of the query {sql.strip().rstrip(';')}", question=False)

    def write_batch(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        """``write`` for each (SQL, schema) pair, in order."""
        return [self.write(sql, schema) for sql, schema in items]


def _pick_verb(sql: str) -> str:
    key = digest(" ".join(sql.split()), algorithm="blake2b", digest_size=4)
    return VERBS[int(key, 16) % len(VERBS)]


# ---- scopes: which tables a SELECT sees, and how its names resolve -------------------------------


class _Scope:
    """Tables visible in one SELECT, its output aliases, and the enclosing scope (for subqueries).

    Which column a mention names was decided once by :func:`evaluation.sql_analysis.parse`; the
    tables here serve the phrasing (main entity, what ``count(*)`` counts).
    """

    __slots__ = ("parent", "schema", "select_aliases", "tables")

    def __init__(self, select: exp.Select, schema: Schema, parent: _Scope | None) -> None:
        self.schema = schema
        self.parent = parent
        self.tables: list[Table] = []
        for src in sql_analysis.from_sources(select):
            if isinstance(src, exp.Table) and src.name and schema.has_table(src.name):
                table = schema.table(src.name)
                if table not in self.tables:
                    self.tables.append(table)
        self.select_aliases = {
            e.alias.lower(): e.this for e in select.expressions if isinstance(e, exp.Alias) and e.alias
        }

    def resolve(self, col: exp.Column) -> Column | None:
        """The schema column a column mention of the parsed tree names (``None``: none in scope)."""
        src = sql_analysis.ParsedSQL.source(col)
        return self.schema.column(*src) if src is not None else None


def _first_column(node: exp.Expression) -> exp.Column | None:
    if isinstance(node, exp.Column):
        return node
    for child in node.iter_expressions():
        if isinstance(child, (exp.Subquery, exp.Select)):
            continue
        found = _first_column(child)
        if found is not None:
            return found
    return None


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Alias, exp.Paren)):
        node = node.this
    return node


# ---- per-SELECT rendering context -----------------------------------------------------------------


@dataclass
class _Ctx:
    """What a SELECT is about: its scope, main entity table, and what ``count(*)`` counts."""

    scope: _Scope
    main: Table | None
    count_table: Table | None
    count_named: Table | None = None  # what count(*) is called, when not count_table itself

    @property
    def schema(self) -> Schema:
        return self.scope.schema

    @property
    def _counted(self) -> Table | None:
        return self.count_named if self.count_named is not None else self.count_table

    @property
    def count_plural(self) -> str:
        return _many(self._counted) if self._counted is not None else "rows"

    @property
    def count_singular(self) -> str:
        return _one(self._counted) if self._counted is not None else "row"


def _natural(original: str, natural: str | None) -> str:
    """``natural`` unless it cannot be a rendering of ``original``, else ``original`` spelled out.

    A few Spider entries have natural names shifted to the wrong table or column (``store_1``:
    table ``artists`` is "sqlite sequence"; ``company_1``: ``project.Pname`` is "dependent name").
    A natural name is trusted when it shares a word or its first letter with the original; a wrong
    name would make a fluent but false question, a spelled-out identifier is merely stiff.
    """
    spelled = natural_name(original)
    if not natural:
        return spelled
    low = natural.lower()
    if low[:1] == spelled[:1] or set(low.split()) & set(spelled.split()):
        return natural
    return spelled


def _one(table: Table) -> str:
    """The table's natural name as a singular noun (``addresses`` -> ``address``)."""
    return singular(_natural(table.name, table.natural))


def _many(table: Table) -> str:
    """The table's natural name as a plural noun (``singer`` -> ``singers``)."""
    return plural(_one(table))


@dataclass
class _NP:
    """A rendered query: ``head`` (``the name of singers``) plus qualifiers that follow it."""

    head: str
    quals: list[str]
    mergeable: bool = False  # plain SELECT ... WHERE: set operations may share its head
    how_many: str | None = None  # full "how many ..." sentence body when the query is a lone count

    @property
    def text(self) -> str:
        return " ".join([self.head, *self.quals])


# ---- expressions (noun phrases without article) --------------------------------------------------

_AGG_WORDS = {exp.Avg: "average", exp.Sum: "total", exp.Min: "minimum", exp.Max: "maximum"}
_ARITH_WORDS = {exp.Add: "plus", exp.Sub: "minus", exp.Mul: "times", exp.Div: "divided by", exp.Mod: "modulo"}


def _column_phrase(node: exp.Column, ctx: _Ctx) -> str:
    if isinstance(node.this, exp.Star):
        return "all information"
    col = ctx.scope.resolve(node)
    if col is None:
        aliased = ctx.scope.select_aliases.get(node.name.lower())
        if aliased is not None and not (isinstance(aliased, exp.Column) and aliased.name == node.name):
            return _expr(aliased, ctx)
        return natural_name(node.name)
    return _qualified(col, ctx)


def _qualified(col: Column, ctx: _Ctx) -> str:
    """``name`` for the main table's columns, ``concert name`` / ``stadium location`` for others."""
    nat = _natural(col.name, col.natural)
    if ctx.main is None or col.table.lower() == ctx.main.name.lower():
        return nat
    if _references(col, ctx.main, ctx.schema):
        return nat  # a foreign key to the main table names the same thing ("singer id")
    tnat = _one(ctx.schema.table(col.table)) if ctx.schema.has_table(col.table) else col.table
    low, tlow = nat.lower(), tnat.lower()
    if low.startswith(tlow) or low.split(" ", 1)[0] == tlow.rsplit(" ", 1)[-1]:
        return nat
    return f"{tnat} {nat}"


def _references(col: Column, table: Table, schema: Schema) -> bool:
    t, c, ref = col.table.lower(), col.name.lower(), table.name.lower()
    return any(
        fk.table.lower() == t and fk.column.lower() == c and fk.ref_table.lower() == ref for fk in schema.foreign_keys
    )


def _count_phrase(node: exp.Count, ctx: _Ctx) -> str:
    arg = node.this
    if arg is None or isinstance(arg, exp.Star):
        return f"number of {ctx.count_plural}"
    if isinstance(arg, exp.Distinct):
        inner = join_list([_expr(e, ctx) for e in arg.expressions])
        return f"number of distinct {plural(inner)}"
    arg = _unwrap(arg)
    if isinstance(arg, exp.Column):
        col = ctx.scope.resolve(arg)
        if col is not None and col.is_primary_key and ctx.schema.has_table(col.table):
            return f"number of {_many(ctx.schema.table(col.table))}"
    return f"number of {plural(_expr(arg, ctx))}"


def _expr(node: exp.Expression, ctx: _Ctx) -> str:
    """A value expression as a noun phrase, no leading article: ``average age``, ``a minus b``."""
    node = _unwrap(node)
    if isinstance(node, exp.Column):
        return _column_phrase(node, ctx)
    if isinstance(node, exp.Star):
        return "all information"
    if isinstance(node, exp.Count):
        return _count_phrase(node, ctx)
    for cls, word in _AGG_WORDS.items():
        if isinstance(node, cls):
            return f"{word} {_expr(node.this, ctx)}"
    for cls, word in _ARITH_WORDS.items():
        if isinstance(node, cls):
            return f"{_expr(node.this, ctx)} {word} {_expr(node.expression, ctx)}"
    if isinstance(node, (exp.Literal, exp.Neg, exp.Null, exp.Boolean)):
        return _literal(node)
    if isinstance(node, exp.Subquery):
        return _query_np(node.this, ctx.scope.schema, ctx.scope).text
    if isinstance(node, exp.Distinct):
        return "distinct " + join_list([_expr(e, ctx) for e in node.expressions])
    if isinstance(node, exp.Cast):
        return _expr(node.this, ctx)
    if isinstance(node, exp.Func):
        args = [a for a in node.iter_expressions()]
        fname = node.sql_name().lower() if not isinstance(node, exp.Anonymous) else str(node.this).lower()
        inner = join_list([_expr(a, ctx) for a in args])
        return f"{fname} of {inner}" if inner else fname
    return node.sql(dialect="sqlite")


def _literal(node: exp.Expression) -> str:
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg):
        return "-" + _literal(_unwrap(node.this))
    if isinstance(node, exp.Null):
        return "null"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    return node.sql(dialect="sqlite")


def _value(node: exp.Expression, ctx: _Ctx) -> str:
    """A comparison's right-hand side: a literal as written, else ``the <expression>``."""
    node = _unwrap(node)
    if isinstance(node, (exp.Literal, exp.Neg, exp.Null, exp.Boolean)):
        return _literal(node)
    if isinstance(node, exp.Subquery):
        return _query_np(node.this, ctx.scope.schema, ctx.scope).text
    if isinstance(node, (exp.Select, exp.SetOperation)):
        return _query_np(node, ctx.scope.schema, ctx.scope).text
    return "the " + _expr(node, ctx)


# ---- conditions -----------------------------------------------------------------------------------

_COMPARISONS = {
    exp.EQ: "is",
    exp.NEQ: "is not",
    exp.GT: "is greater than",
    exp.LT: "is less than",
    exp.GTE: "is at least",
    exp.LTE: "is at most",
}
_TIME_COMPARISONS = {
    exp.GT: "is after",
    exp.LT: "is before",
    exp.GTE: "is on or after",
    exp.LTE: "is on or before",
}


def _subject(node: exp.Expression, ctx: _Ctx, article: bool) -> str:
    return ("the " if article else "") + _expr(node, ctx)


def _column_type(node: exp.Expression, ctx: _Ctx) -> str | None:
    node = _unwrap(node)
    if isinstance(node, exp.Column):
        col = ctx.scope.resolve(node)
        return col.type if col is not None else None
    return None


def _like_phrase(pattern: str, negated: bool) -> str:
    inner = pattern.strip("%")
    if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1 and inner:
        verb = "contains" if not negated else "does not contain"
    elif pattern.endswith("%") and inner:
        verb = "starts with" if not negated else "does not start with"
    elif pattern.startswith("%") and inner:
        verb = "ends with" if not negated else "does not end with"
    else:
        inner = pattern
        verb = "matches the pattern" if not negated else "does not match the pattern"
    return f"{verb} {inner}"


def _cond(node: exp.Expression, ctx: _Ctx, article: bool, negated: bool = False, nested: bool = False) -> str:
    """A boolean condition as a clause: ``age is greater than 30``, ``name contains Smith``."""
    if isinstance(node, exp.Paren):
        return _cond(node.this, ctx, article, negated, nested)
    if isinstance(node, exp.Not):
        return _cond(node.this, ctx, article, not negated, nested)
    if isinstance(node, exp.And) and not negated:
        return f"{_cond(node.this, ctx, article, nested=True)} and {_cond(node.expression, ctx, article, nested=True)}"
    if isinstance(node, exp.Or) and not negated:
        text = f"{_cond(node.this, ctx, article)} or {_cond(node.expression, ctx, article)}"
        return f"either {text}" if nested else text
    if node.args.get("negate"):  # sqlglot writes "a NOT LIKE b" as Like(negate=True)
        negated = not negated
    cls = type(node)
    if cls in _COMPARISONS:
        right = _unwrap(node.expression)
        word = _COMPARISONS[cls]
        if _column_type(node.this, ctx) == "time" and cls in _TIME_COMPARISONS:
            word = _TIME_COMPARISONS[cls]
        literal = isinstance(right, (exp.Literal, exp.Neg, exp.Null, exp.Boolean))
        if cls in (exp.EQ, exp.NEQ) and not literal:
            word += " equal to"
        if negated:
            word = word[len("is not") :].join(("is", "")) if word.startswith("is not") else "is not" + word[2:]
        return f"{_subject(node.this, ctx, article)} {word} {_value(right, ctx)}"
    if isinstance(node, (exp.Like, exp.ILike)):
        pattern = _value(node.expression, ctx)
        return f"{_subject(node.this, ctx, article)} {_like_phrase(pattern, negated)}"
    if isinstance(node, exp.Between):
        word = "is not between" if negated else "is between"
        low, high = _value(node.args["low"], ctx), _value(node.args["high"], ctx)
        return f"{_subject(node.this, ctx, article)} {word} {low} and {high}"
    if isinstance(node, exp.In):
        subject = _subject(node.this, ctx, article)
        query = node.args.get("query")
        if query is not None:
            word = "is not among" if negated else "is among"
            return f"{subject} {word} {_value(query, ctx)}"
        values = [_value(v, ctx) for v in node.expressions]
        word = "is not one of" if negated else "is one of"
        return f"{subject} {word} {join_list(values, 'or')}"
    if isinstance(node, exp.Is):
        missing = isinstance(node.expression, exp.Null)
        state = "missing" if missing else _literal(node.expression)
        word = "is not" if negated else "is"
        return f"{_subject(node.this, ctx, article)} {word} {state}"
    if isinstance(node, exp.Exists):
        word = "there is no" if negated else "there is"
        return f"{word} {_query_np(node.this, ctx.schema, ctx.scope).text}"
    text = _expr(node, ctx) if not isinstance(node, (exp.And, exp.Or)) else _cond(node, ctx, article)
    return f"it is not true that {text}" if negated else text


def _where_clause(where: exp.Expression, ctx: _Ctx) -> str:
    """``whose ...`` when every column belongs to the main entity, else ``where the ...``."""
    main = ctx.main.name.lower() if ctx.main is not None else None
    own = True
    for col in sql_analysis.columns_in_scope(where):
        resolved = ctx.scope.resolve(col)
        if resolved is None or main is None or resolved.table.lower() != main:
            own = False
            break
    if own:
        return "whose " + _cond(where, ctx, article=False)
    return "where " + _cond(where, ctx, article=True)


_COUNT_BOUNDS = {
    exp.GT: "more than",
    exp.GTE: "at least",
    exp.LT: "fewer than",
    exp.LTE: "at most",
    exp.EQ: "exactly",
    exp.NEQ: "other than",
}


def _split_and(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return _split_and(node.this) + _split_and(node.expression)
    return [node]


def _having_clause(having: exp.Expression, ctx: _Ctx) -> str:
    """``with more than 2 concerts`` for row counts, ``whose average age is ...`` otherwise."""
    parts = []
    for part in _split_and(having):
        left = _unwrap(part.this) if isinstance(part, tuple(_COUNT_BOUNDS)) else None
        right = _unwrap(part.expression) if left is not None else None
        if (
            isinstance(left, exp.Count)
            and (left.this is None or isinstance(left.this, exp.Star))
            and isinstance(right, exp.Literal)
            and not right.is_string
        ):
            noun = ctx.count_singular if str(right.this) == "1" else ctx.count_plural
            parts.append(f"with {_COUNT_BOUNDS[type(part)]} {right.this} {noun}")
        else:
            parts.append("whose " + _cond(part, ctx, article=False))
    return " and ".join(parts)


# ---- ORDER BY / LIMIT -------------------------------------------------------------------------------


def _superlative(order: exp.Order, ctx: _Ctx) -> str:
    """``with the highest age`` / ``with the most concerts`` for ORDER BY ... LIMIT."""
    parts = []
    for ordered in order.expressions:
        key = _order_key(ordered, ctx)
        desc = bool(ordered.args.get("desc"))
        if isinstance(key, exp.Count) and (key.this is None or isinstance(key.this, exp.Star)):
            parts.append(f"the {'most' if desc else 'fewest'} {ctx.count_plural}")
            continue
        if _column_type(key, ctx) == "time":
            word = "latest" if desc else "earliest"
        else:
            word = "highest" if desc else "lowest"
        parts.append(f"the {word} {_expr(key, ctx)}")
    return "with " + " and then ".join(parts)


def _order_limit_quals(order: exp.Order | None, limit: int | None, ctx: _Ctx) -> list[str]:
    """ORDER BY + LIMIT -> "with the highest ..."; ORDER BY alone -> ", sorted by ..."; LIMIT alone -> "(at most N)"."""
    if order is not None:
        return [_superlative(order, ctx) if limit is not None else _sorted_by(order, ctx)]
    return [f"(at most {limit})"] if limit is not None else []


def _sorted_by(order: exp.Order, ctx: _Ctx) -> str:
    parts = []
    for ordered in order.expressions:
        key = _order_key(ordered, ctx)
        direction = "descending" if ordered.args.get("desc") else "ascending"
        article = "" if isinstance(key, exp.Column) else "the "
        parts.append(f"{article}{_expr(key, ctx)} in {direction} order")
    return ", sorted by " + " and then by ".join(parts)


def _limit_value(node: exp.Expression) -> int | None:
    """The LIMIT count to phrase; a LIMIT whose count is no integer literal is not phrased."""
    value = sql_analysis.limit_value(node)
    return value if value is not None and value >= 0 else None


# ---- SELECT -> noun phrase ------------------------------------------------------------------------


def _link_quals(sel: exp.Select, ctx: _Ctx) -> list[str]:
    """``with at least one on call`` for joined tables that nothing else in the query mentions.

    An inner join filters the main entity to rows that have a partner; when no column of the
    partner table is used, this qualifier is the only trace of that filter. Tables joined to two
    or more others are skipped: they connect mentioned tables (``orders`` between ``customers``
    and ``products``) rather than filter them.
    """
    scope = ctx.scope
    if len(scope.tables) < 2:
        return []
    used = {ctx.main.name.lower()} if ctx.main is not None else set()
    parts: list[exp.Expression] = list(sel.expressions)
    parts += [sel.args[k] for k in ("where", "group", "having", "order") if sel.args.get(k) is not None]
    counts_rows = False
    for part in parts:
        for col in sql_analysis.columns_in_scope(part):
            resolved = scope.resolve(col)
            if resolved is not None:
                used.add(resolved.table.lower())
        counts_rows = counts_rows or any(_is_count_star(n) for n in part.find_all(exp.Count))
    if counts_rows and ctx.count_table is not None:
        used.add(ctx.count_table.name.lower())
    names = {t.name.lower() for t in scope.tables}
    out = []
    for t in scope.tables:
        low = t.name.lower()
        if low in used:
            continue
        neighbours = {fk.other(low).lower() for fk in scope.schema.adjacency.get(low, ())} & names
        if len(neighbours - {low}) < 2:
            named = _bridge_target(t, scope, ctx.main) or t
            out.append(f"with at least one {_one(named)}")
    return out


def _table_of(col: Column | None, schema: Schema) -> Table | None:
    if col is None or not schema.has_table(col.table):
        return None
    return schema.table(col.table)


def _group_entity(col: Column | None, schema: Schema) -> Table | None:
    """The table a GROUP BY column stands for: its own (primary key) or the one it references."""
    if col is None:
        return None
    if col.is_primary_key:
        return _table_of(col, schema)
    for fk in schema.foreign_keys:
        if fk.table.lower() == col.table.lower() and fk.column.lower() == col.name.lower():
            return schema.table(fk.ref_table) if schema.has_table(fk.ref_table) else None
    return None


def _is_bridge(table: Table, schema: Schema) -> bool:
    fk_cols = {fk.column.lower() for fk in schema.foreign_keys if fk.table.lower() == table.name.lower()}
    return bool(fk_cols) and all(c.is_primary_key or c.name.lower() in fk_cols for c in table.columns)


def _bridge_target(table: Table | None, scope: _Scope, entity: Table | None) -> Table | None:
    """For a link table (``singer_in_concert``), the one table it links to that is not otherwise
    in the query: counting ``singer_in_concert`` rows per singer counts the singer's concerts."""
    schema = scope.schema
    if table is None or not _is_bridge(table, schema):
        return None
    taken = {t.name.lower() for t in scope.tables if t is not table}
    if entity is not None:
        taken.add(entity.name.lower())
    targets = {
        fk.ref_table.lower()
        for fk in schema.foreign_keys
        if fk.table.lower() == table.name.lower() and fk.ref_table.lower() not in taken
    }
    if len(targets) == 1:
        (name,) = targets
        return schema.table(name) if schema.has_table(name) else None
    return None


def _count_table(scope: _Scope, exclude: set[str], entity_group: bool) -> Table | None:
    """What ``count(*)`` counts: the table on the "many" side of the joins."""
    tables = scope.tables
    if not tables:
        return None
    candidates = [t for t in tables if t.name.lower() not in exclude] or tables
    if len(candidates) == 1:
        return candidates[0]
    schema = scope.schema
    if entity_group:
        plain = [t for t in candidates if not _is_bridge(t, schema)]
        return (plain or candidates)[-1]
    names = {t.name.lower() for t in tables}

    def outgoing(t: Table) -> int:
        return sum(
            1
            for fk in schema.foreign_keys
            if fk.table.lower() == t.name.lower()
            and fk.ref_table.lower() in names
            and fk.ref_table.lower() != t.name.lower()
        )

    best = max(outgoing(t) for t in candidates)
    return next(t for t in candidates if outgoing(t) == best)


def _is_star(node: exp.Expression) -> bool:
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))


def _order_key(ordered: exp.Ordered, ctx: _Ctx) -> exp.Expression:
    """The ORDER BY expression, with a select alias (``ORDER BY n``) replaced by what it names."""
    key = _unwrap(ordered.this)
    if isinstance(key, exp.Column) and not key.table and ctx.scope.resolve(key) is None:
        aliased = ctx.scope.select_aliases.get(key.name.lower())
        if aliased is not None:
            return _unwrap(aliased)
    return key


def _is_count_star(node: exp.Expression) -> bool:
    node = _unwrap(node)
    return isinstance(node, exp.Count) and (node.this is None or isinstance(node.this, exp.Star))


def _has_agg(node: exp.Expression) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, (exp.Subquery, exp.Select)):
        return False
    return any(_has_agg(c) for c in node.iter_expressions())


def _items_text(items: list[exp.Expression], ctx: _Ctx, distinct: bool) -> str:
    parts: list[str] = []
    prev_plain = False
    for item in items:
        node = _unwrap(item)
        plain = isinstance(node, exp.Column) and not isinstance(node.this, exp.Star)
        text = _expr(node, ctx)
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            parts.append(text)
        elif plain and prev_plain:
            parts.append(text)
        else:
            parts.append("the " + text)
        prev_plain = plain
    text = join_list(parts)
    if distinct:
        text = "the distinct " + text[4:] if text.startswith("the ") else "the distinct " + text
    return text


def _entities(table: Table | None, *, superlative: bool, limit: int | None, ordered: bool, all_rows: bool) -> str:
    if table is None:
        return "the results" if not superlative else "the result"
    one, many = _one(table), _many(table)
    if superlative:
        return f"the {one}"
    if limit is not None:
        if limit == 1:
            return f"one {one}"
        return f"the {limit} {many}" if ordered else f"{limit} {many}"
    return f"all {many}" if all_rows else many


def _group_value_phrase(node: exp.Expression, col: Column | None, ctx: _Ctx) -> str:
    """``country``; in a join, ``project name`` rather than a bare ``name``."""
    text = _expr(node, ctx)
    if col is None or len(ctx.scope.tables) < 2 or not ctx.schema.has_table(col.table):
        return text
    tnat = _one(ctx.schema.table(col.table))
    if text.lower().startswith(tnat.lower()) or tnat.lower().rsplit(" ", 1)[-1] in text.lower().split():
        return text
    return f"{tnat} {text}"


def _select_np(sel: exp.Select, schema: Schema, parent: _Scope | None) -> _NP:
    scope = _Scope(sel, schema, parent)
    items = list(sel.expressions)
    group = sel.args.get("group")
    group_nodes = [_unwrap(g) for g in group.expressions] if group is not None else []
    group_cols = [scope.resolve(g) if isinstance(g, exp.Column) else None for g in group_nodes]
    entity = _group_entity(group_cols[0], schema) if len(group_cols) == 1 else None
    exclude: set[str] = set()
    if entity is not None:
        exclude.add(entity.name.lower())
    elif group_cols and group_cols[0] is not None and len(scope.tables) > 1:
        exclude.add(group_cols[0].table.lower())
    count_table = _count_table(scope, exclude, entity_group=entity is not None)

    first = next((c for c in (_first_column(_unwrap(i)) for i in items) if c is not None), None)
    main = _table_of(scope.resolve(first), schema) if first is not None else None
    if entity is not None:
        main = entity
    if main is None:
        main = count_table if count_table is not None else (scope.tables[0] if scope.tables else None)
    ctx = _Ctx(scope, main, count_table, _bridge_target(count_table, scope, entity))

    where, having, order = sel.args.get("where"), sel.args.get("having"), sel.args.get("order")
    limit = _limit_value(sel)
    superlative = order is not None and limit == 1
    distinct = sel.args.get("distinct") is not None
    quals = [_where_clause(where.this, ctx)] if where is not None else []
    quals += _link_quals(sel, ctx)
    all_rows = not quals

    unwrapped = [_unwrap(i) for i in items]
    only_count = all(_is_count_star(i) for i in unwrapped)
    items_text = _items_text(items, ctx, distinct)
    of_word = "about" if all(_is_star(i) for i in unwrapped) else "of"

    if not group_nodes:
        # ---- a lone count: "How many singers are there ...?"
        if len(unwrapped) == 1 and isinstance(unwrapped[0], exp.Count) and order is None and limit is None:
            count_arg = unwrapped[0].this
            how_many = None
            if count_arg is None or isinstance(count_arg, exp.Star):
                how_many = f"how many {ctx.count_plural} are there"
            elif isinstance(count_arg, exp.Distinct):
                inner = join_list([_expr(e, ctx) for e in count_arg.expressions])
                ents = _entities(main, superlative=False, limit=None, ordered=False, all_rows=all_rows)
                how_many = f"how many distinct {plural(inner)} are there among {ents}"
            if how_many is not None:
                return _NP(f"the {_count_phrase(unwrapped[0], ctx)}", quals, how_many=" ".join([how_many, *quals]))
        head = items_text
        if not only_count:
            ents = _entities(main, superlative=superlative, limit=limit, ordered=order is not None, all_rows=all_rows)
            head = f"{items_text} {of_word} {ents}"
        elif limit is not None:
            quals.append(f"(at most {limit})")
        if order is not None:
            quals.append(_superlative(order, ctx) if limit is not None else _sorted_by(order, ctx))
        mergeable = order is None and limit is None
        return _NP(head, quals, mergeable=mergeable)

    # ---- GROUP BY
    if entity is not None:
        group_words = _one(entity)
    else:
        group_words = join_list([_group_value_phrase(g, col, ctx) for g, col in zip(group_nodes, group_cols)])
    has_agg = any(_has_agg(i) for i in unwrapped)
    having_text = _having_clause(having.this, ctx) if having is not None else ""
    if not has_agg:
        # grouping defines the entities: "the name of singers with more than 2 concerts"
        group_keys = {c.key for c in group_cols if c is not None}
        item_cols = [scope.resolve(i) if isinstance(i, exp.Column) else None for i in unwrapped]
        items_are_group = entity is None and all(c is not None and c.key in group_keys for c in item_cols)
        group_table = _table_of(group_cols[0], schema) if group_cols else None
        named_rows = group_table is not None and (where is not None or len(scope.tables) > 1)
        if items_are_group and not named_rows:
            if limit is not None and not superlative and items_text.startswith("the "):
                head = items_text.replace("the ", f"the top {limit} ", 1)
            else:
                head = items_text
        else:
            # "the name of the airport whose country is China with the most routes"
            ent_singular = _one(group_table) if items_are_group and group_table is not None else group_words
            ent_plural = plural(ent_singular)
            if superlative:
                ents = f"the {ent_singular}"
            elif limit is not None:
                ents = f"the {limit} {ent_plural}" if order is not None else f"{limit} {ent_plural}"
            else:
                ents = ent_plural
            head = f"{items_text} of {ents}"
        if having_text:
            quals.append(having_text)
        quals.extend(_order_limit_quals(order, limit, ctx))
        return _NP(head, quals)

    # aggregates per group: "the country and the number of singers for each country"
    group_keys = {c.key for c in group_cols if c is not None}
    entity_name = entity.name.lower() if entity is not None else None

    def describes_group(node: exp.Expression) -> bool:
        if _is_count_star(node):
            return True
        col = scope.resolve(node) if isinstance(node, exp.Column) else None
        return col is not None and (col.key in group_keys or col.table.lower() == entity_name)

    rest = [i for i in unwrapped if not describes_group(i)]
    head = items_text
    if rest or where is not None:  # filtered rows need naming: "... of universities whose ..."
        head = f"{items_text} of {_entities(main, superlative=False, limit=None, ordered=False, all_rows=all_rows)}"
    if superlative:
        group_text = f"for the {group_words}"
    elif limit is not None and order is not None:
        group_text = f"for the {limit} {plural(group_words)}"
    else:
        group_text = f"for each {group_words}"
    if having_text:
        group_text += " " + having_text
    quals.append(group_text)
    quals.extend(_order_limit_quals(order, limit, ctx))
    return _NP(head, quals)


# ---- whole queries ---------------------------------------------------------------------------------

_SET_MERGE = {exp.Union: " or ", exp.Intersect: " and also ", exp.Except: " but not "}


def _query_np(node: exp.Expression, schema: Schema, parent: _Scope | None) -> _NP:
    node = _unwrap(node)
    if isinstance(node, exp.Subquery):
        return _query_np(node.this, schema, parent)
    if isinstance(node, exp.Select):
        return _select_np(node, schema, parent)
    if isinstance(node, exp.SetOperation):
        left = _query_np(node.this, schema, parent)
        right = _query_np(node.expression, schema, parent)
        np = _combine(type(node), left, right)
        order, limit = node.args.get("order"), _limit_value(node)
        if order is not None or limit is not None:
            leftmost = sql_analysis.leftmost_select(node)
            if leftmost is not None:
                scope = _Scope(leftmost, schema, parent)
                first = _first_column(_unwrap(leftmost.expressions[0])) if leftmost.expressions else None
                main = _table_of(scope.resolve(first), schema) if first is not None else None
                ctx = _Ctx(scope, main, main)
                if order is not None:
                    np.quals.append(_superlative(order, ctx) if limit is not None else _sorted_by(order, ctx))
            if limit is not None:
                np.quals.append(f"(at most {limit})" if limit != 1 else "(only one)")
        return np
    raise RenderError(f"unsupported query node {type(node).__name__}")


def _combine(kind: type, left: _NP, right: _NP) -> _NP:
    if left.mergeable and right.mergeable and left.head == right.head and kind in _SET_MERGE:
        lq, rq = " ".join(left.quals), " ".join(right.quals)
        if lq and rq:
            return _NP(left.head, [lq + _SET_MERGE[kind] + rq])
        if kind is exp.Except and rq:
            return _NP(left.head, [", except those " + rq])
        if kind is exp.Union:
            return _NP(left.head, [])
        return _NP(left.head, [lq or rq])
    if kind is exp.Union:
        return _NP(left.text, [", together with " + right.text])
    if kind is exp.Intersect:
        return _NP("the values that are both " + left.text, ["and " + right.text])
    return _NP(left.text, [", excluding " + right.text])


def _sentence(tree: exp.Expression, schema: Schema, verb: str) -> str:
    np = _query_np(tree, schema, None)
    if np.how_many is not None:
        return finish_sentence(np.how_many, question=True)
    return finish_sentence(f"{verb} {np.text}", question=False)
