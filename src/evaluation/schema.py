"""The one schema model: tables, columns, types, keys and the foreign-key graph.

Every layer works on :class:`Schema`: template filling, JOIN rebuilding, schema filtering and prompt
metadata (``synth``), SQL analysis (:mod:`evaluation.sql_analysis`) and test-suite databases
(:mod:`evaluation.suite`). It is built by one of four readers:

* :func:`schemas_from_tables_json`: Spider's / BIRD's ``tables.json`` (natural-language names,
  coarse types, descriptions), what synthesis uses when a benchmark ships one;
* :func:`schema_from_sqlite`: the SQLite file itself, for folders without ``tables.json``; foreign
  keys as declared;
* :func:`schema_from_database`: everything needed to rebuild a database (test suites): declared
  types, ``NOT NULL``, key positions, observed value kinds, ``CREATE`` statements, and foreign keys
  resolved against the tables (those pointing nowhere are dropped);
* :meth:`Schema.from_mapping`: a plain ``{table: [column, ...]}``, all SQL analysis needs.

The fields a reader does not know keep their defaults (``""``, ``False``, ``0``).

Distances are hops in the *table* graph whose edges are foreign keys (undirected): a table is at
distance 0 from itself, 1 from the tables it shares a foreign key with, and so on; tables in
different components are at distance ``math.inf``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from evaluation.executor import ReadOnlyDatabase, connect_readonly

#: Spider's coarse column types; every column gets exactly one.
COLUMN_TYPES = ("text", "number", "time", "boolean", "others")
#: Python types of stored values (:attr:`Column.value_kind`), read by :func:`schema_from_database`.
VALUE_KINDS = ("int", "float", "str")


@dataclass(frozen=True)
class Column:
    """A column as the database names it (``name``) and as people read it (``natural``).

    The last four fields come from the SQLite file (:func:`schema_from_sqlite` fills the first three,
    :func:`schema_from_database` all four); ``tables.json`` leaves them at their defaults.
    """

    table: str
    name: str
    natural: str
    type: str  # one of COLUMN_TYPES
    is_primary_key: bool = False
    comment: str | None = None
    declared_type: str = ""  # as written in CREATE TABLE ("" when none or unknown)
    not_null: bool = False
    primary_key_position: int = 0  # 1-based position in the primary key; 0 when not in it or unknown
    value_kind: str = ""  # one of VALUE_KINDS: the values' Python type (observed, else from the declared type)

    @property
    def key(self) -> tuple[str, str]:
        """Case-insensitive identity: (table, column) lower-cased."""
        return (self.table.lower(), self.name.lower())


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` references ``ref_table.ref_column``."""

    table: str
    column: str
    ref_table: str
    ref_column: str

    def other(self, table: str) -> str:
        """The table on the other side of this edge, seen from ``table``."""
        return self.ref_table if table.lower() == self.table.lower() else self.table


@dataclass(frozen=True)
class Table:
    name: str
    natural: str
    columns: tuple[Column, ...]
    sql: str = ""  # the CREATE TABLE statement (schema_from_database only)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Key column names in key order where the positions are known, else in column order."""
        keys = [c for c in self.columns if c.is_primary_key]
        return tuple(c.name for c in sorted(keys, key=lambda c: c.primary_key_position))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name.lower() == name.lower():
                return c
        raise UnknownNameError(f"column of table '{self.name}'", name, [c.name for c in self.columns])


@dataclass(frozen=True)
class Schema:
    """A database schema plus its foreign-key graph. Names are matched case-insensitively."""

    db_id: str
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    db_path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_mapping(cls, tables: Mapping[str, Iterable[str]], db_id: str = "") -> Schema:
        """A schema of names only, ``{table: [column, ...]}`` (no keys; every type ``"others"``).

        >>> Schema.from_mapping({"singer": ["Name", "Age"]}).column("SINGER", "age").name
        'Age'
        """
        return cls(
            db_id,
            tuple(
                Table(
                    str(t),
                    natural_name(str(t)),
                    tuple(Column(str(t), str(c), natural_name(str(c)), "others") for c in cols),
                )
                for t, cols in tables.items()
            ),
        )

    # ---- lookup -------------------------------------------------------------------------------
    @cached_property
    def _tables_by_lower(self) -> dict[str, Table]:
        return {t.name.lower(): t for t in self.tables}

    def table(self, name: str) -> Table:
        try:
            return self._tables_by_lower[name.lower()]
        except KeyError:
            raise UnknownNameError(f"table of '{self.db_id}'", name, [t.name for t in self.tables]) from None

    def has_table(self, name: str) -> bool:
        return name.lower() in self._tables_by_lower

    def column(self, table: str, column: str) -> Column:
        return self.table(table).column(column)

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(c for t in self.tables for c in t.columns)

    def columns_named(self, name: str) -> list[Column]:
        """All columns called ``name`` (any table) — used to resolve unqualified column mentions."""
        return [c for c in self.columns if c.name.lower() == name.lower()]

    # ---- foreign-key graph --------------------------------------------------------------------
    @cached_property
    def adjacency(self) -> dict[str, tuple[ForeignKey, ...]]:
        """Lower-cased table name -> FK edges touching it (self-references excluded)."""
        adj: dict[str, list[ForeignKey]] = {t.name.lower(): [] for t in self.tables}
        for fk in self.foreign_keys:
            a, b = fk.table.lower(), fk.ref_table.lower()
            if a == b or a not in adj or b not in adj:
                continue
            adj[a].append(fk)
            adj[b].append(fk)
        return {k: tuple(v) for k, v in adj.items()}

    @cached_property
    def distances(self) -> dict[str, dict[str, float]]:
        """All-pairs hop distance between tables over the undirected FK graph (BFS from each)."""
        out: dict[str, dict[str, float]] = {}
        for start in self.adjacency:
            dist: dict[str, float] = {start: 0}
            queue = deque([start])
            while queue:
                cur = queue.popleft()
                for fk in self.adjacency[cur]:
                    nxt = fk.other(cur).lower()
                    if nxt not in dist:
                        dist[nxt] = dist[cur] + 1
                        queue.append(nxt)
            out[start] = {t: dist.get(t, math.inf) for t in self.adjacency}
        return out

    def distance(self, a: str, b: str) -> float:
        """Hops between tables ``a`` and ``b``; ``math.inf`` when no FK path connects them."""
        return self.distances[a.lower()][b.lower()]

    def join_path(self, tables: Iterable[str]) -> list[ForeignKey] | None:
        """FK edges that connect all ``tables`` (a small Steiner tree grown greedily by BFS).

        Tables are added in the given order; each joins the tree along a shortest FK path to any
        table already in it. Deterministic for a given order. ``None`` when some table cannot be
        reached. Intermediate tables on a path become part of the tree (the caller adds them to FROM).
        """
        order = [t.lower() for t in dict.fromkeys(t.lower() for t in tables)]
        if not order:
            return []
        in_tree = {order[0]}
        edges: list[ForeignKey] = []
        for target in order[1:]:
            if target in in_tree:
                continue
            path = self._shortest_edge_path(in_tree, target)
            if path is None:
                return None
            for fk in path:
                if fk not in edges:
                    edges.append(fk)
                in_tree.add(fk.table.lower())
                in_tree.add(fk.ref_table.lower())
        return edges

    def _shortest_edge_path(self, sources: set[str], target: str) -> list[ForeignKey] | None:
        prev: dict[str, tuple[str, ForeignKey] | None] = {s: None for s in sorted(sources)}
        queue = deque(sorted(sources))
        while queue:
            cur = queue.popleft()
            if cur == target:
                path: list[ForeignKey] = []
                while prev[cur] is not None:
                    parent, fk = prev[cur]  # type: ignore[misc]
                    path.append(fk)
                    cur = parent
                return list(reversed(path))
            for fk in self.adjacency.get(cur, ()):
                nxt = fk.other(cur).lower()
                if nxt not in prev:
                    prev[nxt] = (cur, fk)
                    queue.append(nxt)
        return None

    def foreign_keys_between(self, a: str, b: str) -> list[ForeignKey]:
        a, b = a.lower(), b.lower()
        return [fk for fk in self.adjacency.get(a, ()) if fk.other(a).lower() == b]

    @cached_property
    def _foreign_keys_by_child(self) -> dict[str, tuple[ForeignKey, ...]]:
        out: dict[str, list[ForeignKey]] = {}
        for fk in self.foreign_keys:
            out.setdefault(fk.table.lower(), []).append(fk)
        return {k: tuple(v) for k, v in out.items()}

    def foreign_keys_from(self, table: str) -> tuple[ForeignKey, ...]:
        """The foreign keys declared by ``table`` (it is the child), self-references included, in order."""
        return self._foreign_keys_by_child.get(table.lower(), ())


# ---- construction -----------------------------------------------------------------------------

_NUMBER = re.compile(r"INT|REAL|FLOA|DOUB|NUM|DEC|BIT|SERIAL", re.I)
_TIME = re.compile(r"DATE|TIME|YEAR", re.I)
_BOOL = re.compile(r"BOOL", re.I)


def sqlite_type_to_column_type(declared: str) -> str:
    """Map a declared SQLite type to Spider's coarse types (SQLite affinity rules, plus time/bool)."""
    declared = declared or ""
    if _BOOL.search(declared):
        return "boolean"
    if _TIME.search(declared):
        return "time"
    if _NUMBER.search(declared):
        return "number"
    if not declared.strip() or re.search(r"CHAR|CLOB|TEXT|STRING|VARCHAR", declared, re.I):
        return "text"
    return "others"


def natural_name(identifier: str) -> str:
    """``Customer_ID`` / ``customerId`` -> ``customer id`` (what tables.json calls the natural name)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", identifier)
    return re.sub(r"[_\s]+", " ", s).strip().lower()


def schemas_from_tables_json(path: str | Path) -> dict[str, Schema]:
    """Parse a Spider/BIRD ``tables.json`` into schemas keyed by ``db_id``.

    Errors name the file and the entry (1-based position in the list) and the field at fault.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise InputError(f"not readable JSON ({e})", path=path, line=line) from None
    if not isinstance(raw, list):
        raise InputError("expected a JSON list of database entries", path=path)
    out: dict[str, Schema] = {}
    for i, entry in enumerate(raw, start=1):
        try:
            schema = _schema_from_entry(entry)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            field_name = e.args[0] if isinstance(e, KeyError) else None
            raise InputError(f"entry {i} is malformed ({type(e).__name__}: {e})", path=path, field=field_name) from None
        out[schema.db_id] = schema
    return out


def _schema_from_entry(entry: dict) -> Schema:
    db_id = entry["db_id"]
    t_orig = entry["table_names_original"]
    t_nat = entry.get("table_names") or [natural_name(t) for t in t_orig]
    c_orig = entry["column_names_original"]
    c_nat = entry.get("column_names") or [[ti, natural_name(n)] for ti, n in c_orig]
    c_types = entry["column_types"]
    comments = entry.get("column_descriptions") or [None] * len(c_orig)
    pk_idx: set[int] = set()
    for pk in entry.get("primary_keys", []):
        pk_idx.update(pk if isinstance(pk, list) else [pk])
    cols_by_table: list[list[Column]] = [[] for _ in t_orig]
    for idx, ((ti, name), (_, nat), ctype) in enumerate(zip(c_orig, c_nat, c_types)):
        if ti < 0:
            continue  # the '*' pseudo-column
        comment = comments[idx] if idx < len(comments) else None
        cols_by_table[ti].append(
            Column(
                table=t_orig[ti],
                name=name,
                natural=nat,
                type=ctype if ctype in COLUMN_TYPES else "others",
                is_primary_key=idx in pk_idx,
                comment=comment or None,
            )
        )
    tables = tuple(Table(name=t, natural=n, columns=tuple(cs)) for t, n, cs in zip(t_orig, t_nat, cols_by_table))
    fks = []
    for a, b in entry.get("foreign_keys", []):
        ta, ca = c_orig[a]
        tb, cb = c_orig[b]
        fks.append(ForeignKey(t_orig[ta], ca, t_orig[tb], cb))
    return Schema(db_id=db_id, tables=tables, foreign_keys=tuple(fks))


def schema_from_sqlite(path: str | Path, db_id: str | None = None) -> Schema:
    """Read a schema straight from a SQLite file (read-only), for folders without ``tables.json``."""
    path = Path(path)
    con = connect_readonly(path)  # a missing file: DataNotFoundError("database file not found: ...")
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        tables, fks = [], []
        for t in names:
            info = con.execute(f'PRAGMA table_info("{t}")').fetchall()
            cols = tuple(
                Column(
                    table=t,
                    name=r[1],
                    natural=natural_name(r[1]),
                    type=sqlite_type_to_column_type(r[2]),
                    is_primary_key=bool(r[5]),
                    declared_type=r[2] or "",
                    not_null=bool(r[3]),
                    primary_key_position=int(r[5]),
                )
                for r in info
            )
            tables.append(Table(name=t, natural=natural_name(t), columns=cols))
            for r in con.execute(f'PRAGMA foreign_key_list("{t}")').fetchall():
                ref_table, from_col, to_col = r[2], r[3], r[4]
                if to_col is None:  # FK to the referenced table's primary key
                    pk = [x[1] for x in con.execute(f'PRAGMA table_info("{ref_table}")') if x[5]]
                    to_col = pk[0] if pk else from_col
                fks.append(ForeignKey(t, from_col, ref_table, to_col))
    except sqlite3.DatabaseError as e:
        raise InputError(f"not a readable SQLite database ({e})", path=path) from None
    finally:
        con.close()
    return Schema(db_id=db_id or path.stem, tables=tuple(tables), foreign_keys=tuple(fks), db_path=path)


def _declared_kind(declared: str) -> str:
    d = declared.upper()
    if "INT" in d:
        return "int"
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUM", "DEC")):
        return "float"
    return "str"


def quote_identifier(name: str) -> str:
    """An identifier quoted for SQLite.

    >>> quote_identifier('my "odd" name')
    '"my ""odd"" name"'
    """
    return '"' + name.replace('"', '""') + '"'


def _quote_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def read_rows(db: ReadOnlyDatabase, sql: str) -> tuple[tuple, ...]:
    """The rows of SQL this project writes to read a database's schema or values; a failure is an error
    (:class:`~evaluation.errors.DataNotFoundError` naming the file and the statement), not a result."""
    r = db.execute(sql)
    if not r.ok:
        raise DataNotFoundError(f"{db.path}: cannot read the schema ({r.message}) running {sql!r}")
    return r.rows


def _find(table: Table, name: str) -> Column | None:
    low = name.lower()
    return next((c for c in table.columns if c.name.lower() == low), None)


def schema_from_database(db: ReadOnlyDatabase, db_id: str | None = None) -> Schema:
    """Everything needed to rebuild ``db`` with other rows (what test suites do), tables in creation order.

    Beyond :func:`schema_from_sqlite`: each table's ``CREATE`` statement, each column's declared type,
    ``NOT NULL``, key position and value kind (the Python type of up to 200 stored values when they
    all are ``int``, ``float`` or ``str``, else the kind its declared type suggests). Foreign keys are
    resolved against the tables: a reference without a column names the parent's one-column primary
    key, names are spelled as the tables spell them, and a key to a missing table or column (Spider
    has some) is left out; per table they are sorted and deduplicated.
    """
    master = read_rows(db, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
    names = [n for t, n, _ in master if t == "table" and not n.startswith("sqlite_")]
    by_lower = {n.lower(): n for n in names}
    tables: list[Table] = []
    raw_fks: dict[str, tuple[tuple, ...]] = {}
    for kind, name, sql in master:
        if kind != "table" or name.startswith("sqlite_"):
            continue
        cols = []
        for _cid, cname, ctype, notnull, _dflt, pk in read_rows(
            db, f"SELECT * FROM pragma_table_info({_quote_string(name)})"
        ):
            qc, qt = quote_identifier(cname), quote_identifier(name)
            seen = {
                type(v).__name__ for (v,) in read_rows(db, f"SELECT {qc} FROM {qt} WHERE {qc} IS NOT NULL LIMIT 200")
            }
            value_kind = _declared_kind(ctype or "")
            if seen and seen <= set(VALUE_KINDS):
                value_kind = "str" if "str" in seen else "float" if "float" in seen else "int"
            cols.append(
                Column(
                    table=name,
                    name=cname,
                    natural=natural_name(cname),
                    type=sqlite_type_to_column_type(ctype or ""),
                    is_primary_key=bool(pk),
                    declared_type=ctype or "",
                    not_null=bool(notnull),
                    primary_key_position=int(pk),
                    value_kind=value_kind,
                )
            )
        raw_fks[name] = read_rows(
            db, f'SELECT "from", "table", "to" FROM pragma_foreign_key_list({_quote_string(name)})'
        )
        tables.append(Table(name, natural_name(name), tuple(cols), sql))
    by_name = {t.name: t for t in tables}
    fks: list[ForeignKey] = []
    for t in tables:
        resolved = set()
        for frm, ref, to in raw_fks[t.name]:
            parent = by_name.get(by_lower.get((ref or "").lower(), ""))
            child = _find(t, frm or "")
            if parent is None or child is None:
                continue  # a foreign key to a missing table/column: no constraint to keep
            key = parent.primary_key
            pcol = _find(parent, to) if to else (_find(parent, key[0]) if len(key) == 1 else None)
            if pcol is not None:
                resolved.add((child.name, parent.name, pcol.name))
        fks += [ForeignKey(t.name, c, p, pc) for c, p, pc in sorted(resolved)]
    return Schema(db_id or db.path.stem, tuple(tables), tuple(fks), db_path=db.path)


def iter_columns_of_type(schema: Schema, ctype: str) -> Iterator[Column]:
    return (c for c in schema.columns if c.type == ctype)


# ---- BIRD column descriptions ------------------------------------------------------------------

#: Encodings BIRD's description CSVs come in, tried in this order.
DESCRIPTION_ENCODINGS = ("utf-8", "utf-8-sig", "latin-1")
#: Longest comment kept; BIRD value descriptions can run to paragraphs and would swamp the prompt.
MAX_COMMENT_CHARS = 300
_EMPTY_CELLS = {"", "nan", "none", "null", "-"}


def _cell(row: dict, key: str) -> str:
    value = " ".join((row.get(key) or "").split())
    return "" if value.lower() in _EMPTY_CELLS else value


def _comment_from_row(row: dict) -> str | None:
    """``column_description`` plus ``value_description`` when it adds something; one line, capped."""
    desc = _cell(row, "column_description")
    values = _cell(row, "value_description")
    if values and values.lower() != desc.lower():
        text = f"{desc} ({values})" if desc else values  # not "; values:", which the prompt uses for samples
    else:
        text = desc
    if not text:
        return None
    if len(text) > MAX_COMMENT_CHARS:
        text = text[: MAX_COMMENT_CHARS - 1].rstrip() + "\u2026"
    return text


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for enc in DESCRIPTION_ENCODINGS:
        try:
            return data.decode(enc).lstrip("\ufeff")
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def read_description_csv(path: str | Path) -> dict[str, str]:
    """One BIRD ``database_description/<table>.csv`` -> lower-cased column name -> comment.

    Columns: ``original_column_name, column_name, column_description, data_format,
    value_description``; header names are matched case-insensitively. Rows without a column name
    or without any description are left out.
    """
    path = Path(path)
    try:
        text = _decode(path)
    except OSError as e:
        raise DataNotFoundError(f"{path}: not readable ({e})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return {}
        keys = [h.strip().lower() for h in header]
        if "original_column_name" not in keys:
            raise InputError("header lacks 'original_column_name'", path=path, line=1, field="original_column_name")
        out: dict[str, str] = {}
        for cells in reader:
            row = dict(zip(keys, cells))
            name = (row.get("original_column_name") or "").strip()
            comment = _comment_from_row(row)
            if name and comment:
                out.setdefault(name.lower(), comment)
    except csv.Error as e:
        raise InputError(f"malformed CSV ({e})", path=path, line=reader.line_num) from None
    return out


def read_description_dir(directory: str | Path) -> dict[tuple[str, str], str]:
    """All ``*.csv`` in a BIRD ``database_description`` folder -> (table, column) lower-cased -> comment.

    The file stem names the table. A missing folder gives ``{}`` (Spider has none).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    out: dict[tuple[str, str], str] = {}
    for csv_path in sorted(directory.iterdir()):
        if csv_path.suffix.lower() != ".csv" or not csv_path.is_file():
            continue
        table = csv_path.stem.strip().lower()
        for column, comment in read_description_csv(csv_path).items():
            out.setdefault((table, column), comment)
    return out


def with_column_comments(schema: Schema, comments: dict[tuple[str, str], str]) -> Schema:
    """``schema`` with ``comment`` filled from ``comments`` where a column has none yet.

    Comments already present (``column_descriptions`` in tables.json) win.
    """
    if not comments:
        return schema
    tables = tuple(
        replace(
            t,
            columns=tuple(
                c if c.comment or c.key not in comments else replace(c, comment=comments[c.key]) for c in t.columns
            ),
        )
        for t in schema.tables
    )
    return Schema(schema.db_id, tables, schema.foreign_keys, db_path=schema.db_path)
