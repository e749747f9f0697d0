"""Column roles: each rule on hand-made figures, on a small SQLite file, on real Spider, and the CLI."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from evaluation.schema import Column, ForeignKey, Schema, Table
from synth.cli import main
from synth.roles import ColumnProfile, ColumnStats, accepts, classify, infer_roles, is_id_name


def _stats(**kw) -> ColumnStats:
    base = dict(rows=10, non_null=10, distinct=10, avg_length=5.0, has_data=True)
    base.update(kw)
    return ColumnStats(**base)


RULES = [
    # (title, column, stats, in_fk, role, rule)
    ("number primary key", Column("t", "pk", "pk", "number", True), _stats(numeric_rate=1), False, "key", "pk_or_fk"),
    ("number foreign key", Column("t", "owner", "owner", "number"), _stats(numeric_rate=1), True, "key", "pk_or_fk"),
    (
        "text fk named *_code",
        Column("t", "type_code", "type code", "text"),
        _stats(numeric_rate=1),
        True,
        "key",
        "pk_or_fk",
    ),
    (
        "text pk named Name is no key",
        Column("t", "Name", "name", "text", True),
        _stats(),
        False,
        "name",
        "distinct_text",
    ),
    (
        "text column named *_ID",
        Column("t", "Stadium_ID", "stadium id", "text"),
        _stats(numeric_rate=1),
        False,
        "key",
        "id_name",
    ),
    (
        "all NULL",
        Column("t", "details", "details", "text"),
        _stats(non_null=0, distinct=0),
        False,
        "constant",
        "single_value",
    ),
    ("one value", Column("t", "country", "country", "text"), _stats(distinct=1), False, "constant", "single_value"),
    ("declared boolean", Column("t", "flag", "flag", "boolean"), _stats(distinct=2), False, "boolean", "bool_type"),
    (
        "T/F values",
        Column("t", "is_male", "is male", "others"),
        _stats(distinct=2, bool_values=True),
        False,
        "boolean",
        "bool_values",
    ),
    ("declared time", Column("t", "born", "born", "time"), _stats(), False, "date", "time_type"),
    ("dates in text", Column("t", "opened", "opened", "text"), _stats(date_rate=0.9), False, "date", "date_values"),
    (
        "year in text",
        Column("t", "Year", "year", "text"),
        _stats(numeric_rate=1, year_values=True),
        False,
        "date",
        "year_name",
    ),
    (
        "numbers in text",
        Column("t", "price", "price", "text"),
        _stats(numeric_rate=0.95),
        False,
        "measure",
        "numeric_values",
    ),
    ("number", Column("t", "age", "age", "number"), _stats(numeric_rate=1), False, "measure", "numeric_values"),
    ("long text", Column("t", "note", "note", "text"), _stats(avg_length=80), False, "text", "long_text"),
    ("repeating text", Column("t", "city", "city", "text"), _stats(distinct=4), False, "category", "repeating"),
    ("unique text", Column("t", "title", "title", "text"), _stats(distinct=9), False, "name", "distinct_text"),
    ("no data: number", Column("t", "age", "age", "number"), ColumnStats(), False, "measure", "numeric_values"),
    ("no data: text", Column("t", "city", "city", "text"), ColumnStats(), False, "name", "distinct_text"),
]


@pytest.mark.parametrize("title,column,stats,in_fk,role,rule", RULES, ids=[r[0] for r in RULES])
def test_each_role_rule(title, column, stats, in_fk, role, rule):
    assert classify(column, stats, in_fk) == (role, rule)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("id", True),
        ("student_id", True),
        ("ID_card", True),
        ("StuID", True),
        ("CountryId", True),
        ("Paid", False),
        ("idea", False),
        ("width", False),
        ("valid", False),
        ("name", False),
    ],
)
def test_id_names(name, expected):
    assert is_id_name(name) is expected


def _profile(role: str, distinct: int = 10, non_null: int = 10) -> ColumnProfile:
    return ColumnProfile("t", "c", "number", role, "x", _stats(distinct=distinct, non_null=non_null))


def test_uses_accept_the_documented_roles():
    assert accepts("aggregate", _profile("measure")) and not accepts("aggregate", _profile("key"))
    assert not accepts("superlative", _profile("key")) and accepts("superlative", _profile("date"))
    assert accepts("equal", _profile("category")) and not accepts("equal", _profile("key"))
    assert not accepts("range", _profile("name"))
    assert accepts("group", _profile("measure", distinct=3)) and not accepts("group", _profile("measure"))
    assert not any(accepts(u, _profile("constant")) for u in ("aggregate", "group", "equal", "projection"))
    assert accepts("projection", _profile("key"))  # a use without a rule takes any role but constant


def test_roles_read_from_a_small_database(tmp_path):
    path = tmp_path / "shop.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE item (item_id INTEGER PRIMARY KEY, name TEXT, colour TEXT, price REAL, added TEXT,
                           in_stock TEXT, note TEXT);
        INSERT INTO item VALUES
          (1, 'mug', 'red', 3.5, '2020-01-02', 'Y', NULL), (2, 'cup', 'red', 2.0, '2020-02-03', 'N', NULL),
          (3, 'pot', 'blue', 10, '2021-03-04', 'Y', NULL), (4, 'pan', 'red', 12.25, '2021-04-05', 'N', NULL);
        """
    )
    con.close()
    cols = [
        ("item_id", "number", True),
        ("name", "text", False),
        ("colour", "text", False),
        ("price", "number", False),
        ("added", "text", False),
        ("in_stock", "text", False),
        ("note", "text", False),
    ]
    schema = Schema("shop", (Table("item", "item", tuple(Column("item", c, c, t, pk) for c, t, pk in cols)),))
    roles = {c: p.role for (_, c), p in infer_roles(schema, path).items()}
    assert roles == {
        "item_id": "key",
        "name": "name",
        "colour": "category",
        "price": "measure",
        "added": "date",
        "in_stock": "boolean",
        "note": "constant",
    }
    stats = infer_roles(schema, path)[("item", "colour")].stats
    assert (stats.rows, stats.non_null, stats.distinct) == (4, 4, 2)
    # without data only keys, declared types and names decide
    assert {c: p.role for (_, c), p in infer_roles(schema).items()}["price"] == "measure"
    assert {c: p.role for (_, c), p in infer_roles(schema).items()}["note"] == "name"


def test_roles_on_real_spider(spider):
    schema = spider.schemas["concert_singer"]
    roles = {(t, c): p.role for (t, c), p in infer_roles(schema, spider.db_path("concert_singer")).items()}
    assert roles[("singer", "singer_id")] == "key"
    assert roles[("concert", "stadium_id")] == "key"  # declared text, named like an id
    assert roles[("singer", "age")] == "measure"
    assert roles[("singer", "country")] == "category"
    assert roles[("singer", "name")] == "name"
    assert roles[("singer", "is_male")] == "boolean"
    assert roles[("singer", "song_release_year")] == "date"
    theme = infer_roles(spider.schemas["cre_Theme_park"], spider.db_path("cre_Theme_park"))
    assert theme[("hotels", "other_hotel_details")].role == "constant"  # the GROUP BY example


def test_roles_cli(spider, data_root):
    runner = CliRunner()
    res = runner.invoke(main, ["roles", "--db-id", "concert_singer", "--data-root", str(data_root)])
    assert res.exit_code == 0, res.output
    assert "singer.Age" in res.output and "measure" in res.output and "pk_or_fk" in res.output
    res = runner.invoke(main, ["roles", "--db-id", "concert_singer", "--data-root", str(data_root), "--json"])
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert {"table": "singer", "column": "Country", "role": "category"}.items() <= rows[9].items()
    res = runner.invoke(main, ["roles", "--db-id", "concert_singr", "--data-root", str(data_root)])
    assert res.exit_code == 1 and "concert_singer" in res.output and "Traceback" not in res.output


def test_foreign_keys_make_number_columns_keys():
    schema = Schema(
        "d",
        (
            Table("a", "a", (Column("a", "code", "code", "number", True),)),
            Table("b", "b", (Column("b", "owner", "owner", "number"), Column("b", "size", "size", "number"))),
        ),
        (ForeignKey("b", "owner", "a", "code"),),
    )
    roles = {k: p.role for k, p in infer_roles(schema).items()}
    assert roles == {("a", "code"): "key", ("b", "owner"): "key", ("b", "size"): "measure"}
