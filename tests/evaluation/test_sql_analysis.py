"""evaluation.sql_analysis: the one reading of SQL (quotes, scope, shared helpers) every layer uses."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest
from sqlglot import exp

from evaluation import sql_analysis as sa
from evaluation.schema import Column, ForeignKey, Schema, Table
from evaluation.sql_analysis import (
    SOURCE,
    UNREADABLE_LIMIT,
    SqlAnalysisError,
    columns_in_scope,
    ensure_schema,
    leftmost_select,
    limit_value,
    parse,
    parse_sql,
    resolve_column,
    resolve_quotes,
)

SCHEMA = {
    "singer": ["Singer_ID", "Name", "Country", "Age"],
    "concert": ["Concert_ID", "Concert_Name", "Stadium_ID", "Year"],
    "singer_in_concert": ["Concert_ID", "Singer_ID"],
}


def test_doctests() -> None:
    assert doctest.testmod(sa).failed == 0


# ---- Spider's double quotes: one rule (SQLite's) --------------------------------------------------

QUOTES = [
    # (title, sql, columns, literals)
    (
        "quoted column and quoted string",
        'SELECT "Name" FROM singer WHERE Country = "France"',
        [("singer", "Name"), ("singer", "Country")],
        ["France"],
    ),
    (
        "a value position does not make a column a string",
        'SELECT Name FROM singer WHERE Country = "Name"',
        [("singer", "Name"), ("singer", "Country")],
        [],
    ),
    (
        "a name of no table in scope is a string",
        'SELECT Name FROM singer WHERE Country = "Year"',
        [("singer", "Name"), ("singer", "Country")],
        ["Year"],
    ),
    ("qualified is always a column", 'SELECT T1."Name" FROM singer AS T1', [("singer", "Name")], []),
    ("case-insensitive", 'SELECT "name" FROM SINGER', [("singer", "Name")], []),
    (
        "function arguments",
        'SELECT Name FROM singer WHERE strftime("%Y", Age) = "2001"',
        [("singer", "Name"), ("singer", "Age")],
        ["2001", "%Y"],
    ),  # tree order is breadth-first
    (
        "LIKE pattern and IN list",
        'SELECT Name FROM singer WHERE Name LIKE "%a%" OR Country IN ("UK", "US")',
        [("singer", "Name"), ("singer", "Country")],
        ["%a%", "UK", "US"],
    ),
    (
        "single quotes are strings",
        "SELECT Name FROM singer WHERE Country = 'Name'",
        [("singer", "Name"), ("singer", "Country")],
        ["Name"],
    ),
    (
        "a correlated subquery sees the outer table",
        'SELECT Concert_Name FROM concert WHERE EXISTS (SELECT 1 FROM singer WHERE "Year" > 2000)',
        [("concert", "Concert_Name"), ("concert", "Year")],
        [],
    ),
]


@pytest.mark.parametrize("title,sql,columns,literals", QUOTES, ids=[q[0] for q in QUOTES])
def test_double_quotes(title: str, sql: str, columns: list, literals: list) -> None:
    p = parse(sql, SCHEMA)
    assert list(p.columns) == columns
    assert list(p.literals) == literals


def test_an_output_alias_stays_a_name() -> None:
    p = parse('SELECT Country, count(*) AS "cnt" FROM singer GROUP BY Country ORDER BY "cnt" DESC', SCHEMA)
    assert p.literals == ()
    order_key = p.tree.args["order"].expressions[0].this
    assert isinstance(order_key, exp.Column) and order_key.name == "cnt" and SOURCE not in order_key.meta


def test_resolve_quotes_rewrites_in_place() -> None:
    tree = parse_sql('SELECT "Name" FROM singer WHERE Country = "France"')
    assert resolve_quotes(tree, ensure_schema(SCHEMA)) is tree
    assert tree.sql(dialect="sqlite") == "SELECT \"Name\" FROM singer WHERE Country = 'France'"


# ---- scope ---------------------------------------------------------------------------------------


def _sources(sql: str) -> list[tuple[str, tuple[str, str] | None]]:
    p = parse(sql, SCHEMA)
    return [(c.sql(), p.source(c)) for c in p.tree.find_all(exp.Column)]


def test_unqualified_columns_take_the_first_table_in_from_order() -> None:
    got = dict(_sources("SELECT Singer_ID FROM singer_in_concert JOIN singer ON 1 = 1"))
    assert got["Singer_ID"] == ("singer_in_concert", "Singer_ID")


def test_aliases_and_table_names_despite_an_alias() -> None:
    got = _sources("SELECT t1.name, singer.age FROM singer AS T1")
    assert got == [("t1.name", ("singer", "Name")), ("singer.age", ("singer", "Age"))]


def test_correlated_and_set_operation_order_by() -> None:
    got = dict(
        _sources(
            "SELECT Name FROM singer AS T1 WHERE Age > (SELECT avg(Year) FROM concert WHERE Concert_ID = T1.Singer_ID)"
        )
    )
    assert got["T1.Singer_ID"] == ("singer", "Singer_ID") and got["Year"] == ("concert", "Year")
    got = _sources("SELECT Name FROM singer UNION SELECT Concert_Name FROM concert ORDER BY Name")
    assert got[-1] == ("Name", ("singer", "Name"))  # the ORDER BY reads the first SELECT


def test_derived_tables_and_unknown_names_stay_unresolved_when_lenient() -> None:
    got = dict(_sources("SELECT d.x, Age FROM (SELECT Age AS x FROM singer) AS d"))
    assert got["d.x"] is None
    assert parse("SELECT nope FROM ghosts", SCHEMA).columns == ()
    assert parse("SELECT T9.Name FROM singer", SCHEMA).columns == ()


@pytest.mark.parametrize(
    "sql,reason",
    [
        ("SELECT a FROM ghosts", "unknown_table"),
        ("SELECT T1.nope FROM singer AS T1", "unknown_column"),
    ],
)
def test_strict_resolution_names_the_problem(sql: str, reason: str) -> None:
    tree = parse_sql(sql)
    col = next(tree.find_all(exp.Column))
    with pytest.raises(SqlAnalysisError) as err:
        resolve_column(col, ensure_schema(SCHEMA), strict=True)
    assert err.value.reason == reason
    assert resolve_column(col, ensure_schema(SCHEMA)) is None


def test_columns_in_scope_leave_subqueries_out() -> None:
    where = parse_sql("SELECT a FROM t WHERE b = 1 AND c IN (SELECT d FROM u WHERE e = 2)").args["where"]
    assert sorted(c.name for c in columns_in_scope(where)) == ["b", "c"]


def test_parse_errors() -> None:
    with pytest.raises(SqlAnalysisError) as err:
        parse("SELECT FROM WHERE (", SCHEMA)
    assert err.value.reason == "parse_error"
    with pytest.raises(SqlAnalysisError, match="parse_error"):
        parse_sql(" ; ")


# ---- schema forms --------------------------------------------------------------------------------


def _full_schema() -> Schema:
    """SCHEMA built the way the readers build it (natural names, types, keys), not from a mapping."""
    tables = tuple(
        Table(
            t,
            t,
            tuple(
                Column(t, c, c.lower(), "number" if c.endswith("ID") else "text", i == 0) for i, c in enumerate(cols)
            ),
        )
        for t, cols in SCHEMA.items()
    )
    return Schema("concert_singer", tables, (ForeignKey("singer_in_concert", "Singer_ID", "singer", "Singer_ID"),))


def test_a_mapping_and_the_schema_model_read_alike() -> None:
    sql = 'SELECT T1."name", count(*) FROM singer AS T1 JOIN singer_in_concert AS T2 WHERE country = "France"'
    full = _full_schema()
    assert ensure_schema(full) is full
    mapped = ensure_schema(SCHEMA)
    assert isinstance(mapped, Schema) and mapped.column("SINGER", "name").name == "Name"
    assert [[c.name for c in t.columns] for t in mapped.tables] == list(SCHEMA.values())
    assert parse(sql, full).columns == parse(sql, SCHEMA).columns == (("singer", "Name"), ("singer", "Country"))
    assert parse(sql, full).tables == ("singer", "singer_in_concert")
    with pytest.raises(TypeError, match="schema"):
        ensure_schema(["singer"])  # type: ignore[arg-type]


# ---- shared helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql,first",
    [
        ("SELECT a FROM t", "SELECT a FROM t"),
        ("SELECT a FROM t UNION SELECT b FROM u EXCEPT SELECT c FROM v", "SELECT a FROM t"),
        ("(SELECT a FROM t) INTERSECT SELECT b FROM u", "SELECT a FROM t"),
    ],
)
def test_leftmost_select(sql: str, first: str) -> None:
    assert leftmost_select(parse_sql(sql)).sql() == first


def test_leftmost_select_of_no_select_is_none() -> None:
    assert leftmost_select(parse_sql("VALUES (1, 2)")) is None


@pytest.mark.parametrize(
    "sql,value",
    [
        ("SELECT a FROM t", None),
        ("SELECT a FROM t ORDER BY a LIMIT 3", 3),
        ("SELECT a FROM t LIMIT (1)", 1),
        ("SELECT a FROM t LIMIT 2 OFFSET 5", 2),
        ("SELECT a FROM t LIMIT 3.5", UNREADABLE_LIMIT),
        ("SELECT a FROM t LIMIT b", UNREADABLE_LIMIT),
        ("SELECT a FROM t UNION SELECT b FROM u LIMIT 4", 4),
    ],
)
def test_limit_value(sql: str, value: int | None) -> None:
    assert limit_value(parse_sql(sql)) == value


def test_the_bottom_layer_imports_no_upper_layer() -> None:
    code = "import sys, evaluation.sql_analysis; print(sorted(m for m in sys.modules if m.split('.')[0] in ('synth', 'train')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
