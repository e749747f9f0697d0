"""Build distilled test suites (Zhong et al. 2020) for any SQLite database: ``evaluate build-suite``.

Spider's official suite is a separate download, and BIRD or a user's own databases have none, so we
build them. For each ``db_id`` of a gold file:

1. **Random databases** (:func:`generate_database`): the original ``CREATE`` statements (same schema,
   declared types, ``PRIMARY KEY`` / ``UNIQUE`` / ``NOT NULL``), a few rows per table, values drawn from
   the original column plus perturbations (boundary numbers, near-duplicate strings, shifted dates,
   the gold queries' own literals and their neighbours, ``NULL`` where allowed). Foreign-key columns
   take values of the referenced column, so joins match. Every candidate is checked
   (:func:`check_database`): a violation drops it (counted), it never reaches the suite.
2. **Neighbour queries** (:func:`neighbours`): sqlglot mutations of each gold (comparison operators,
   aggregate swaps, DISTINCT on/off, LIMIT changes, dropped conditions, AND/OR, ORDER direction,
   JOIN -> LEFT JOIN, column swaps within a type). A mutation whose SQL equals the gold's is dropped.
3. **Distillation** (:func:`distil`): the original database is always in the suite and kills the
   neighbours whose result differs there; the others are killed greedily by the candidate that kills
   the most not-yet-killed neighbours, until all distinguishable ones are killed or ``size`` databases
   are kept. A candidate on which any gold fails to run is dropped (counted), so gold scores 100% TS.

The output is the layout ``evaluate --suite-dir`` reads: ``OUT/<db_id>/NN_*.sqlite`` (``00_original``
first, then the kept candidates in greedy order, so TS fails fast), plus ``OUT/manifest.json``.
A verdict "killed" is the evaluator's own: :func:`~evaluation.ex.prepare_item` + :func:`~evaluation.ex.judge`.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import sqlglot
from sqlglot import exp

from evaluation.errors import ConfigError, DataNotFoundError
from evaluation.ex import MODES, check_mode, judge, prepare_item
from evaluation.executor import ExecResult, Limits, ReadOnlyDatabase, connect_readonly, connect_writable
from evaluation.inputs import load_gold
from evaluation.provenance import file_info, package_versions
from evaluation.run_record import build_record, write_record
from evaluation.schema import Column, Schema, Table, read_rows, schema_from_database
from evaluation.schema import quote_identifier as q
from evaluation.sql_analysis import SqlAnalysisError, ensure_schema, parse, try_parse

__all__ = [
    "SuiteConfig",
    "DbSuite",
    "view_and_index_sql",
    "gold_literals",
    "value_pools",
    "generate_database",
    "check_database",
    "neighbours",
    "distil",
    "build_db_suite",
    "build_suite",
    "format_suite_table",
]

ORIGINAL_NAME = "00_original.sqlite"


# ---------------------------------------------------------------- schema
# The tables, keys and value kinds come from evaluation.schema.schema_from_database (the one model).


def view_and_index_sql(db: ReadOnlyDatabase) -> list[str]:
    """The ``CREATE`` statements of views and indexes, in creation order, replayed on each generated database."""
    master = read_rows(db, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
    return [sql for t, n, sql in master if t in ("view", "index") and not n.startswith("sqlite_")]


# ---------------------------------------------------------------- values

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _near_strings(v: str) -> list[str]:
    out = [v + " ", v.upper() if v != v.upper() else v.lower(), v + "a", v[:-1] if len(v) > 1 else v + v]
    m = _DATE.match(v)
    if m:
        try:
            d = date(int(m[1]), int(m[2]), int(m[3]))
            for delta in (-1, 1, 366):
                out.append((d + timedelta(days=delta)).isoformat() + v[10:])
        except ValueError:
            pass
    if v.isdigit():
        out += [str(int(v) + 1), str(int(v) - 1)]
    return [s for s in out if s != v]


def _near_numbers(v: float | int, kind: str) -> list:
    if kind == "int":
        return [int(v) - 1, int(v) + 1]
    return [v - 0.5, v + 0.5, float(int(v))]


def _literal_value(lit: exp.Literal) -> list:
    if lit.is_string:
        v = lit.this.strip("%")
        try:
            return [v, float(v)]  # '1990' compared with a number column
        except ValueError:
            return [v]
    try:
        f = float(lit.this)
    except ValueError:
        return []
    return [int(f), f] if f.is_integer() else [f]


def gold_literals(sqls: Sequence[str], schema: Schema | Mapping[str, Iterable[str]]) -> dict[str, list]:
    """Literals of the gold queries: values that sit exactly on the golds' boundaries.

    Keys: ``"*"`` (all literals) and the lower-cased name of each column a literal is compared
    with (``city = 'Aberdeen'`` files ``'Aberdeen'`` under ``"city"``), so that column draws it often.
    Spider's double-quoted strings are told from quoted columns by :func:`evaluation.sql_analysis.parse`
    against ``schema`` (``"Name"`` naming a column in scope is that column, not the string 'Name').

    >>> gold_literals(['SELECT "Name" FROM singer WHERE Country = "France"'], {"singer": ["Name", "Country"]})
    {'*': ['France'], 'country': ['France']}
    """
    schema = ensure_schema(schema)
    lits: dict[str, set] = {"*": set()}
    for s in sqls:
        try:
            tree = parse(s, schema).tree
        except (SqlAnalysisError, RecursionError):
            continue
        for lit in tree.find_all(exp.Literal):
            vals = _literal_value(lit)
            lits["*"].update(vals)
            p = lit.parent
            col = None
            if isinstance(p, (exp.Binary, exp.In, exp.Between)):
                col = p.this if p.this is not lit else p.args.get("expression")
            if isinstance(col, exp.Column) and col.name:
                lits.setdefault(col.name.lower(), set()).update(vals)
    return {k: sorted(v, key=repr) for k, v in lits.items()}


@dataclass(frozen=True)
class Pools:
    original: tuple  # distinct values of the original column (sorted by SQLite)
    perturbed: tuple  # boundary numbers, near-duplicate strings, shifted dates
    literals: tuple  # gold literals of the column's kind and their neighbours
    compared: tuple = ()  # the literals the golds compare with this very column, and their neighbours


def value_pools(db: ReadOnlyDatabase, schema: Schema, literals: dict[str, list]) -> dict[tuple[str, str], Pools]:
    """Per (table, column): where generated values come from."""
    pools = {}
    for t in schema.tables:
        for c in t.columns:
            vals = tuple(
                v
                for (v,) in read_rows(
                    db,
                    f"SELECT DISTINCT {q(c.name)} FROM {q(t.name)} WHERE {q(c.name)} IS NOT NULL ORDER BY 1 LIMIT 1000",
                )
            )
            vals = tuple(v for v in vals if isinstance(v, (int, float, str)))
            pert: list = []
            if c.value_kind in ("int", "float"):
                nums = [v for v in vals if isinstance(v, (int, float))]
                if nums:
                    lo, hi = min(nums), max(nums)
                    pert += [lo - 1, hi + 1, 0]
                    for v in nums[:: max(1, len(nums) // 10)]:
                        pert += _near_numbers(v, c.value_kind)
                else:
                    pert += [0, 1, 2, -1, 100]
                if c.value_kind == "int":
                    pert = [int(v) for v in pert]
                num_type = float if c.value_kind == "float" else int
                num = [v for v in literals["*"] if isinstance(v, num_type)]
                mine = [v for v in literals.get(c.name.lower(), []) if isinstance(v, num_type)]
                lit = [x for v in num for x in (v, *_near_numbers(v, c.value_kind))]
                near = [x for v in mine for x in (v, *_near_numbers(v, c.value_kind))]
            else:
                strs = [v for v in vals if isinstance(v, str)]
                for v in strs[:: max(1, len(strs) // 10)]:
                    pert += _near_strings(v)
                if not strs:
                    pert += ["a", "b", "A", ""]
                lit = [x for v in literals["*"] if isinstance(v, str) for x in (v, *_near_strings(v))]
                near = [
                    x for v in literals.get(c.name.lower(), []) if isinstance(v, str) for x in (v, v, *_near_strings(v))
                ]
            keep = _storable(c)
            pools[(t.name, c.name)] = Pools(
                vals,
                tuple(v for v in dict.fromkeys(pert) if keep(v)),
                tuple(v for v in dict.fromkeys(lit) if keep(v)),
                tuple(v for v in near if keep(v)),
            )
    return pools


def _storable(c: Column) -> Callable[[object], bool]:
    """Whether SQLite stores a value in ``c`` with the column's kind: a text column declared with
    numeric affinity (``DATETIME``, ``NUMERIC``) would turn ``'1990'`` into an integer."""
    d = c.declared_type.upper()
    text_affinity = any(k in d for k in ("CHAR", "CLOB", "TEXT")) or d == "" or "BLOB" in d
    if c.value_kind != "str" or text_affinity:
        return lambda v: True

    def keep(v: object) -> bool:
        try:
            float(str(v))
        except ValueError:
            return True
        return False

    return keep


def _draw(rng: random.Random, c: Column, pools: Pools, null_p: float):
    if not c.not_null and not c.is_primary_key and rng.random() < null_p:
        return None
    r = rng.random()
    if pools.compared and r < 0.3:
        return rng.choice(pools.compared)
    if pools.literals and r < 0.4:
        return rng.choice(pools.literals)
    if pools.perturbed and (r < 0.5 or not pools.original):
        return rng.choice(pools.perturbed)
    if pools.original:
        return rng.choice(pools.original)
    return rng.choice(pools.perturbed) if pools.perturbed else None


# ---------------------------------------------------------------- database generation


def _table_order(schema: Schema) -> tuple[list[Table], set[tuple[str, str]]]:
    """Parents before children; FK edges that close a cycle are deferred (filled after all inserts)."""
    done: list[Table] = []
    placed: set[str] = set()
    deferred: set[tuple[str, str]] = set()
    left = list(schema.tables)
    while left:
        for t in left:
            if all(fk.ref_table in placed or fk.ref_table == t.name for fk in schema.foreign_keys_from(t.name)):
                break
        else:  # a cycle: take the first remaining table, defer its edges to unplaced tables
            t = left[0]
            fks = schema.foreign_keys_from(t.name)
            deferred |= {(t.name, fk.column) for fk in fks if fk.ref_table not in placed and fk.ref_table != t.name}
        left.remove(t)
        placed.add(t.name)
        done.append(t)
    deferred |= {(fk.table, fk.column) for fk in schema.foreign_keys if fk.ref_table == fk.table}  # self references
    return done, deferred


def _distinct(conn: sqlite3.Connection, table: str, col: str) -> list:
    return [
        v for (v,) in conn.execute(f"SELECT DISTINCT {q(col)} FROM {q(table)} WHERE {q(col)} IS NOT NULL ORDER BY 1")
    ]


def generate_database(
    path: Path,
    schema: Schema,
    extra_sql: Sequence[str],
    pools: dict[tuple[str, str], Pools],
    rng: random.Random,
    *,
    max_rows: int = 12,
    null_p: float = 0.1,
) -> Path:
    """Write one random database with the original schema to ``path`` (which must not exist)."""
    conn = connect_writable(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("BEGIN")
        for t in schema.tables:
            conn.execute(t.sql)
        order, deferred = _table_order(schema)
        for t in order:
            fks = schema.foreign_keys_from(t.name)
            fk_of = {fk.column: (fk.ref_table, fk.ref_column) for fk in fks if (t.name, fk.column) not in deferred}
            parent_vals = {c: _distinct(conn, p, pc) for c, (p, pc) in fk_of.items()}
            n = rng.randint(1, max_rows)
            cols = [c.name for c in t.columns]
            ins = f"INSERT INTO {q(t.name)} ({', '.join(map(q, cols))}) VALUES ({', '.join('?' * len(cols))})"
            for _ in range(n):
                for _attempt in range(8):
                    row = []
                    for c in t.columns:
                        if c.name in fk_of:
                            vals = parent_vals[c.name]
                            if not c.not_null and not c.is_primary_key and rng.random() < null_p / 2:
                                row.append(None)
                            else:
                                row.append(rng.choice(vals) if vals else None)
                        elif (t.name, c.name) in deferred:
                            row.append(None if not c.not_null else _draw(rng, c, pools[(t.name, c.name)], 0))
                        else:
                            row.append(_draw(rng, c, pools[(t.name, c.name)], null_p))
                    if any(v is None for v, c in zip(row, t.columns) if c.is_primary_key or c.not_null):
                        continue  # SQLite allows NULL in non-INTEGER primary keys; we do not
                    try:
                        conn.execute("SAVEPOINT r")
                        conn.execute(ins, row)
                        conn.execute("RELEASE r")
                        break
                    except sqlite3.DatabaseError:  # PK/UNIQUE collision, datatype mismatch, CHECK
                        conn.execute("ROLLBACK TO r")
                        conn.execute("RELEASE r")
        for tname, cname in sorted(deferred):  # cycle and self references: point at real rows now
            c = schema.table(tname).column(cname)
            p, pc = next((fk.ref_table, fk.ref_column) for fk in schema.foreign_keys_from(tname) if fk.column == cname)
            vals = _distinct(conn, p, pc)
            for (rowid,) in conn.execute(f"SELECT rowid FROM {q(tname)} ORDER BY rowid").fetchall():
                v = (
                    None
                    if (not c.not_null and (not vals or rng.random() < 0.3))
                    else (rng.choice(vals) if vals else None)
                )
                try:
                    conn.execute("SAVEPOINT u")
                    conn.execute(f"UPDATE {q(tname)} SET {q(cname)} = ? WHERE rowid = ?", (v, rowid))
                    conn.execute("RELEASE u")
                except sqlite3.DatabaseError:
                    conn.execute("ROLLBACK TO u")
                    conn.execute("RELEASE u")
        for sql in extra_sql:
            try:
                conn.execute(sql)
            except sqlite3.DatabaseError:
                pass  # an index/view the original itself could not rebuild: not part of the data
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


def check_database(path: Path, schema: Schema) -> list[str]:
    """Constraint violations of a generated database (empty: valid): PK unique and not NULL,
    NOT NULL, foreign-key references, and every value of the column's kind."""
    bad: list[str] = []
    conn = connect_readonly(path)
    py = {"int": (int,), "float": (int, float), "str": (str,)}
    try:
        for t in schema.tables:
            cols = [c.name for c in t.columns]
            rows = conn.execute(f"SELECT {', '.join(map(q, cols))} FROM {q(t.name)}").fetchall()
            pk = t.primary_key
            if pk:
                idx = [cols.index(k) for k in pk]
                keys = [tuple(r[i] for i in idx) for r in rows]
                if any(v is None for k in keys for v in k):
                    bad.append(f"{t.name}: NULL in primary key {pk}")
                if len(set(keys)) != len(keys):
                    bad.append(f"{t.name}: duplicate primary key {pk}")
            for i, c in enumerate(t.columns):
                if c.not_null and any(r[i] is None for r in rows):
                    bad.append(f"{t.name}.{c.name}: NULL in a NOT NULL column")
                wrong = [r[i] for r in rows if r[i] is not None and not isinstance(r[i], py[c.value_kind])]
                if wrong:
                    bad.append(f"{t.name}.{c.name}: {wrong[0]!r} is not of kind {c.value_kind}")
            for cname, p, pc in ((fk.column, fk.ref_table, fk.ref_column) for fk in schema.foreign_keys_from(t.name)):
                parent = {v for (v,) in conn.execute(f"SELECT {q(pc)} FROM {q(p)}")}
                parent |= {str(v) for v in parent}
                i = cols.index(cname)
                orphans = [r[i] for r in rows if r[i] is not None and r[i] not in parent and str(r[i]) not in parent]
                if orphans:
                    bad.append(f"{t.name}.{cname}: {orphans[0]!r} not in {p}.{pc}")
    finally:
        conn.close()
    return bad


# ---------------------------------------------------------------- neighbour queries

_CMP_SWAPS: dict[type, tuple[type, ...]] = {
    exp.EQ: (exp.NEQ,),
    exp.NEQ: (exp.EQ,),
    exp.GT: (exp.GTE, exp.LT),
    exp.GTE: (exp.GT,),
    exp.LT: (exp.LTE, exp.GT),
    exp.LTE: (exp.LT,),
}
_AGG_SWAPS: dict[type, tuple[type, ...]] = {
    exp.Max: (exp.Min,),
    exp.Min: (exp.Max,),
    exp.Sum: (exp.Avg,),
    exp.Avg: (exp.Sum,),
}


def _tables_in(tree: exp.Expression) -> dict[str, str]:
    """alias or name (lower) -> table name, for the tables the query reads."""
    return {t.alias_or_name.lower(): t.name for t in tree.find_all(exp.Table)}


def _flip_order(n: exp.Expression) -> None:
    """ASC <-> DESC with SQLite's own NULL placement (NULLs sort small), so no NULLS FIRST/LAST is added."""
    desc = not n.args.get("desc")
    n.set("desc", desc)
    n.set("nulls_first", not desc)


def _mutations(
    node: exp.Expression, tree: exp.Expression, kinds: dict[str, dict[str, list[str]]]
) -> list[Callable[[exp.Expression], None]]:
    """In-place edits that apply to ``node`` (called on the node's twin in a copy of the tree)."""
    out: list[Callable[[exp.Expression], None]] = []
    for src, dsts in _CMP_SWAPS.items():
        if type(node) is src:
            for d in dsts:
                out.append(lambda n, d=d: n.replace(d(this=n.this, expression=n.expression)))
    for src, dsts in _AGG_SWAPS.items():
        if type(node) is src:
            for d in dsts:
                out.append(lambda n, d=d: n.replace(d(this=n.this)))
    if isinstance(node, exp.Count) and not isinstance(node.this, exp.Star):
        if isinstance(node.this, exp.Distinct):
            out.append(lambda n: n.set("this", n.this.expressions[0]))
        else:
            out.append(lambda n: n.set("this", exp.Distinct(expressions=[n.this])))
    if isinstance(node, exp.Select):
        out.append(lambda n: n.set("distinct", None if n.args.get("distinct") else exp.Distinct()))
    if isinstance(node, exp.Limit) and isinstance(node.expression, exp.Literal) and node.expression.is_int:
        k = int(node.expression.this)
        for k2 in {k + 1, k - 1} - {0, -1}:
            out.append(lambda n, k2=k2: n.set("expression", exp.Literal.number(k2)))
    if isinstance(node, (exp.Where, exp.Having)):
        out.append(lambda n: n.pop())
    if isinstance(node, (exp.And, exp.Or)):
        out.append(lambda n: n.replace(n.this))
        out.append(lambda n: n.replace(n.expression))
        other = exp.Or if isinstance(node, exp.And) else exp.And
        out.append(lambda n, o=other: n.replace(o(this=n.this, expression=n.expression)))
    if isinstance(node, exp.Ordered):
        out.append(_flip_order)
    if isinstance(node, exp.Join) and not node.side and node.args.get("on") is not None:
        out.append(lambda n: n.set("side", "LEFT"))
    if isinstance(node, exp.Column) and node.name and not isinstance(node.parent, exp.Join):
        tabs = _tables_in(tree)
        owner = tabs.get(node.table.lower()) if node.table else None
        cands = (
            [owner]
            if owner
            else [t for t in tabs.values() if node.name.lower() in kinds.get(t.lower(), {}).get("_all", [])]
        )
        if len(cands) >= 1 and cands[0]:
            tk = kinds.get(cands[0].lower(), {})
            kind = next(
                (k for k, cs in tk.items() if k != "_all" and node.name.lower() in [c.lower() for c in cs]), None
            )
            if kind:
                others = [c for c in tk[kind] if c.lower() != node.name.lower()][:2]
                for o in others:
                    out.append(lambda n, o=o: n.set("this", exp.to_identifier(o, quoted=not o.isidentifier())))
    return out


def neighbours(sql: str, schema: Schema, *, limit: int = 60) -> list[str]:
    """Mutations of ``sql`` (deduplicated, without the gold itself), at most ``limit``, in tree order."""
    tree = try_parse(sql)
    if tree is None:
        return []
    kinds: dict[str, dict[str, list[str]]] = {}
    for t in schema.tables:
        d: dict[str, list[str]] = {"_all": [c.name.lower() for c in t.columns]}
        for c in t.columns:
            d.setdefault(c.value_kind, []).append(c.name)
        kinds[t.name.lower()] = d
    base = tree.sql(dialect="sqlite")
    seen = {base}
    out: list[str] = []
    nodes = list(tree.walk())
    for i, node in enumerate(nodes):
        for edit in _mutations(node, tree, kinds):
            copy = tree.copy()
            twin = list(copy.walk())[i]
            try:
                edit(twin)
                text = copy.sql(dialect="sqlite")
            except (sqlglot.errors.SqlglotError, AttributeError, IndexError, ValueError):
                continue
            if text not in seen:
                seen.add(text)
                out.append(text)
            if len(out) >= limit:
                return out
    return out


# ---------------------------------------------------------------- distillation


def distil(killable: Sequence[frozenset[int]], size: int) -> list[int]:
    """Greedy set cover: candidate indexes, most new kills first (ties: lower index), at most ``size``.

    >>> distil([frozenset({1, 5}), frozenset({1, 2, 3}), frozenset({4})], 5)
    [1, 0, 2]
    >>> distil([frozenset({1, 5}), frozenset({1, 2, 3}), frozenset({4})], 1)
    [1]
    """
    left = set().union(*killable) if killable else set()
    chosen: list[int] = []
    while left and len(chosen) < size:
        best = max(range(len(killable)), key=lambda i: (len(killable[i] & left), -i))
        gain = killable[best] & left
        if not gain:
            break
        chosen.append(best)
        left -= gain
    return chosen


# ---------------------------------------------------------------- one database


@dataclass(frozen=True)
class SuiteConfig:
    """How suites are built; recorded in the manifest. A field with a ``help`` text is an
    ``evaluate build-suite`` option (:mod:`evaluation.cli_options`): its help and default live here."""

    size: int = field(default=20, metadata={"help": "Most databases per suite, the original included."})
    candidates: int = field(default=60, metadata={"help": "Random databases generated per db_id before distillation."})
    seed: int = field(default=0, metadata={"help": "Same seed, same suite."})
    max_rows: int = field(default=12, metadata={"help": "Rows per table of a generated database: 1..N."})
    max_neighbours: int = field(default=60, metadata={"help": "Neighbour queries (mutations) per gold query."})
    timeout_s: float = field(default=2.0, metadata={"help": "Seconds per query.", "option": "timeout"})
    compare: str = field(  # spider strips DISTINCT
        default="spider",
        metadata={
            "help": "The comparison `evaluate` will use; a neighbour is killed when it is judged wrong.",
            "choices": MODES,
        },
    )
    keep_distinct: bool = field(
        default=False,
        metadata={"help": "Spider mode: do not strip DISTINCT before executing.", "flag": "keep-distinct"},
    )
    pad: bool = field(
        default=False,
        metadata={
            "help": "Fill the suite up to --size with further valid random databases (candidate order) after "
            "distillation: stricter on predictions unlike any neighbour.",
            "flag": "pad",
        },
    )
    workers: int = field(default=1, metadata={"help": "Processes over databases (1 = in-process)."})

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"--size must be >= 1 (the original database is always in the suite), got {self.size}")
        if self.candidates < 0:
            raise ConfigError(f"--candidates must be >= 0, got {self.candidates}")
        if self.max_rows < 1:
            raise ConfigError(f"--max-rows must be >= 1, got {self.max_rows}")
        if self.max_neighbours < 0:
            raise ConfigError(f"--max-neighbours must be >= 0, got {self.max_neighbours}")
        if not self.timeout_s > 0:
            raise ConfigError(f"--timeout must be > 0, got {self.timeout_s}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        check_mode(self.compare)


@dataclass
class DbSuite:
    """What was built for one db_id (the per-db line of the report)."""

    db_id: str
    golds: int = 0  # distinct gold queries
    golds_failed_on_original: int = 0  # left out: they cannot be judged at all
    neighbours: int = 0  # generated (distinct, not the gold's own SQL)
    killed_by_original: int = 0
    distinguishable: int = 0  # killed by the original or by at least one valid candidate
    killed: int = 0  # by the distilled suite
    padded: int = 0  # databases added after distillation (``pad``)
    candidates: int = 0
    dropped_invalid: int = 0  # a candidate breaking a constraint (never expected; counted)
    dropped_gold_failed: int = 0  # a gold that does not run on the candidate
    suite_size: int = 0  # files written, the original included
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def kill_rate(self) -> float | None:
        return self.killed / self.distinguishable if self.distinguishable else None

    def to_json(self) -> dict:
        d = asdict(self)
        d["kill_rate"] = self.kill_rate
        return d


def _killed(
    golds: dict[str, ExecResult], nbrs: Sequence[tuple[str, str]], db: ReadOnlyDatabase, config: SuiteConfig
) -> set[int]:
    """Indexes of the neighbours whose verdict against their gold is "not correct" on ``db``."""
    out = set()
    for i, (g, n) in enumerate(nbrs):
        pair = prepare_item(g, n, mode=config.compare, keep_distinct=config.keep_distinct)
        if not judge(golds[g], db.execute(pair.pred_sql), mode=pair.mode, ordered=pair.ordered).correct:
            out.add(i)
    return out


def _run_golds(db: ReadOnlyDatabase, golds: Sequence[str], config: SuiteConfig) -> dict[str, ExecResult]:
    out = {}
    for g in golds:
        pair = prepare_item(g, g, mode=config.compare, keep_distinct=config.keep_distinct)
        out[g] = db.execute(pair.gold_sql)
    return out


def build_db_suite(db_id: str, db_path: Path, gold_sqls: Sequence[str], out_dir: Path, config: SuiteConfig) -> DbSuite:
    """Generate, distil and write the suite of one database to ``out_dir`` (replaced as a whole)."""
    t0 = time.perf_counter()
    rep = DbSuite(db_id)
    limits = Limits(timeout_s=config.timeout_s)
    golds = sorted(set(gold_sqls))
    rep.golds = len(golds)
    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "candidates").mkdir(parents=True)
    try:
        with ReadOnlyDatabase(db_path, limits) as orig:
            schema = schema_from_database(orig, db_id)
            extra = view_and_index_sql(orig)
            gold_res = _run_golds(orig, golds, config)
            ok_golds = [g for g in golds if gold_res[g].ok]
            rep.golds_failed_on_original = len(golds) - len(ok_golds)
            nbrs = [(g, n) for g in ok_golds for n in neighbours(g, schema, limit=config.max_neighbours)]
            rep.neighbours = len(nbrs)
            killed_orig = _killed(gold_res, nbrs, orig, config)
            rep.killed_by_original = len(killed_orig)
            pools = value_pools(orig, schema, gold_literals(ok_golds, schema))
        rest = [i for i in range(len(nbrs)) if i not in killed_orig]
        rest_nbrs = [nbrs[i] for i in rest]
        kills: list[frozenset[int]] = []
        paths: list[Path] = []
        for k in range(config.candidates if rest or config.pad else 0):
            rng = random.Random(f"{config.seed}:{db_id}:{k}")
            path = tmp / "candidates" / f"g{k:03d}.sqlite"
            generate_database(path, schema, extra, pools, rng, max_rows=config.max_rows)
            rep.candidates += 1
            if check_database(path, schema):
                rep.dropped_invalid += 1
                path.unlink()
                continue
            with ReadOnlyDatabase(path, limits) as cand:
                cand_gold = _run_golds(cand, ok_golds, config)
                if not all(r.ok for r in cand_gold.values()):
                    rep.dropped_gold_failed += 1
                    cand.close()
                    path.unlink()
                    continue
                kills.append(frozenset(rest[j] for j in _killed(cand_gold, rest_nbrs, cand, config)))
                paths.append(path)
        rep.distinguishable = len(killed_orig | set().union(*kills)) if kills else len(killed_orig)
        chosen = distil(kills, config.size - 1)
        if config.pad:  # then the other valid candidates in index order, up to --size
            taken = set(chosen)
            extra = [i for i in range(len(kills)) if i not in taken][: config.size - 1 - len(chosen)]
            rep.padded = len(extra)
            chosen = chosen + extra
        suite_kills = set(killed_orig).union(*(kills[i] for i in chosen)) if chosen else set(killed_orig)
        rep.killed = len(suite_kills)
        final = tmp / "suite"
        final.mkdir()
        shutil.copyfile(db_path, final / ORIGINAL_NAME)
        names = [ORIGINAL_NAME]
        for rank, i in enumerate(chosen, 1):
            name = f"{rank:02d}_{paths[i].stem}.sqlite"
            os.replace(paths[i], final / name)
            names.append(name)
        rep.files = names
        rep.suite_size = len(names)
        old = out_dir.parent / f".{out_dir.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(final, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rep.seconds = round(time.perf_counter() - t0, 3)
    return rep


# ---------------------------------------------------------------- all databases

#: Identifies the layout of ``OUT/manifest.json``; bump when a field changes meaning.
MANIFEST_FORMAT = "spft-sql/suite-manifest/1"


def _versions() -> dict:
    return package_versions(["sqlglot", "spft-sql"], sqlite=True)


def _overall(reps: Sequence[DbSuite]) -> dict:
    keys = (
        "golds",
        "golds_failed_on_original",
        "neighbours",
        "killed_by_original",
        "distinguishable",
        "killed",
        "candidates",
        "dropped_invalid",
        "dropped_gold_failed",
        "suite_size",
    )
    d = {k: sum(getattr(r, k) for r in reps) for k in keys}
    d["databases"] = len(reps)
    d["kill_rate"] = d["killed"] / d["distinguishable"] if d["distinguishable"] else None
    return d


def build_suite(
    db_root: Path,
    gold: Path,
    out: Path,
    config: SuiteConfig = SuiteConfig(),
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict:
    """Build ``out/<db_id>/*.sqlite`` for every db_id of ``gold`` and write ``out/manifest.json``.

    Returns the manifest. A db_id whose database file is missing is a counted skip.
    ``progress(db_id, total)`` is called as each of the ``total`` databases finishes.
    """
    db_root, gold, out = Path(db_root), Path(gold), Path(out)
    if not db_root.is_dir():
        raise DataNotFoundError(f"--db-root {db_root}: not a directory (expected <db_id>/<db_id>.sqlite inside)")
    records, fmt = load_gold(gold)
    by_db: dict[str, list[str]] = {}
    for r in records:
        by_db.setdefault(r.db_id, []).append(r.sql)
    missing = sorted(d for d in by_db if not (db_root / d / f"{d}.sqlite").is_file())
    todo = [d for d in sorted(by_db) if d not in missing]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    reps: dict[str, DbSuite] = {}

    def args(d: str):
        return (d, db_root / d / f"{d}.sqlite", by_db[d], out / d, config)

    if config.workers == 1 or len(todo) <= 1:
        for d in todo:
            reps[d] = build_db_suite(*args(d))
            if progress:
                progress(d, len(todo))
    else:
        with ProcessPoolExecutor(max_workers=min(config.workers, len(todo))) as pool:
            futs = {pool.submit(build_db_suite, *args(d)): d for d in todo}
            try:
                for f in as_completed(futs):
                    reps[futs[f]] = f.result()
                    if progress:
                        progress(futs[f], len(todo))
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    seconds = time.perf_counter() - t0
    ordered = [reps[d] for d in todo]
    manifest = build_record(
        format=MANIFEST_FORMAT,
        command="evaluate build-suite",
        created=True,
        inputs={
            "gold": dict(file_info(gold, resolve=False), format=fmt, items=len(records)),
            "db_root": str(db_root),
        },
        parameters=config,
        seed=config.seed,
        versions=_versions(),
        counts={
            "overall": _overall(ordered),
            "missing_db_ids": missing,
            "per_db": {
                r.db_id: {k: v for k, v in r.to_json().items() if k not in ("db_id", "seconds")} for r in ordered
            },
        },
        timings={"total_s": round(seconds, 3), "per_db_s": {r.db_id: r.seconds for r in ordered}},
        outputs={
            f"{r.db_id}/{name}": {k: v for k, v in file_info(out / r.db_id / name, size=True).items() if k != "path"}
            for r in ordered
            for name in r.files
        },
    )
    write_record(out / "manifest.json", manifest)
    return manifest


def format_suite_table(manifest: dict) -> str:
    """Per-db and overall lines: neighbours generated, distinguishable, killed, suite size."""
    head = f"{'db_id':<30} {'golds':>5} {'nbrs':>6} {'dist':>6} {'killed':>6} {'kill%':>6} {'suite':>5} {'drop':>4}"
    lines = [head]

    def row(name: str, d: dict) -> str:
        rate = "-" if d["kill_rate"] is None else f"{100 * d['kill_rate']:.1f}"
        drop = d["dropped_invalid"] + d["dropped_gold_failed"]
        return (
            f"{name:<30} {d['golds']:>5} {d['neighbours']:>6} {d['distinguishable']:>6} {d['killed']:>6} "
            f"{rate:>6} {d['suite_size']:>5} {drop:>4}"
        )

    for db_id, d in manifest["counts"]["per_db"].items():
        lines.append(row(db_id, d))
    lines.append(row("overall", manifest["counts"]["overall"]))
    if manifest["counts"]["missing_db_ids"]:
        lines.append("skipped (database file missing): " + ", ".join(manifest["counts"]["missing_db_ids"]))
    lines.append(f"built in {manifest['timings']['total_s']:.1f} s")
    return "\n".join(lines)
