"""Role-typed slots, the semantic filters and the quality patterns, on small fixtures and real Spider."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
import sqlglot

from evaluation.executor import ReadOnlyDatabase
from evaluation.schema import Column, ForeignKey, Schema, Table
from synth.fill import FillConfig, FillError, ValueSampler, fill_template
from synth.fill.checks import failed_row_check, probes, row_checks
from synth.fill.plan import plan_template
from synth.generation import GenerateConfig, generate
from synth.quality import measure, patterns_of, resolved_tree
from synth.roles import accepts, infer_roles
from synth.sources import resolve_benchmark
from synth.templates import Template, extract_templates
from synth.templates.qualify_columns import SOURCE

USES = [
    ("SELECT {c0:text}, COUNT(*) FROM {tables} GROUP BY {c0:text}", {"c0": {"group"}}),
    ("SELECT AVG({c0:number}) FROM {tables} WHERE {c1:text} = {v0:text}", {"c0": {"aggregate"}, "c1": {"equal"}}),
    ("SELECT MAX({c0:number}) FROM {tables}", {"c0": {"extreme"}}),
    ("SELECT {c0:text} FROM {tables} ORDER BY {c1:number} DESC LIMIT 1", {"c1": {"superlative"}}),
    ("SELECT {c0:text} FROM {tables} ORDER BY {c0:text}", {"c0": {"order"}}),
    ("SELECT COUNT({c0:number}) FROM {tables} WHERE {c1:text} LIKE {v0:text}", {"c1": {"like"}}),
    ("SELECT {c0:text} FROM {tables} WHERE {c1:number} BETWEEN {v0:number} AND {v1:number}", {"c1": {"range"}}),
    (
        "SELECT {c0:text} FROM {tables} WHERE {c1:number} > (SELECT AVG({c1:number}) FROM {tables})",
        {"c1": {"range", "aggregate"}},
    ),
    ("SELECT {c0:text} FROM {tables} WHERE {c1:number} IN (SELECT {c2:number} FROM {tables})", {}),
    ("SELECT {c0:text} FROM {tables} WHERE {c1:number} = {c2:number}", {}),
]


@pytest.mark.parametrize("text,expected", USES, ids=[u[0] for u in USES])
def test_slot_uses_come_from_the_template(text, expected):
    assert {k: set(v) for k, v in plan_template(text).uses.items()} == expected


# ---- a small database where each filter has something to catch ---------------------------------


@pytest.fixture()
def shop(tmp_path):
    path = tmp_path / "shop.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE item (item_id INTEGER PRIMARY KEY, name TEXT, colour TEXT, price REAL, size REAL);
        INSERT INTO item VALUES (1, 'mug', 'red', 3.5, 1), (2, 'cup', 'red', 2.0, 1),
                                (3, 'pot', 'blue', 10, 1), (4, 'pan', 'red', 12.25, 2);
        """
    )
    con.close()
    cols = [
        ("item_id", "number", True),
        ("name", "text", False),
        ("colour", "text", False),
        ("price", "number", False),
        ("size", "number", False),
    ]
    schema = Schema("shop", (Table("item", "item", tuple(Column("item", c, c, t, pk) for c, t, pk in cols)),))
    with ReadOnlyDatabase(path) as db:
        yield schema, db


def _failed_probes(db: ReadOnlyDatabase, sql: str) -> set[str]:
    out = set()
    for name, probe in probes(sqlglot.parse_one(sql, read="sqlite")):
        res = db.execute(probe)
        assert res.ok, (probe, res.message)
        if res.rows[0][0]:
            out.add(name)
    return out


@pytest.mark.parametrize(
    "sql,failed",
    [
        ("SELECT name, COUNT(*) FROM item GROUP BY name", {"degenerate_group"}),  # every group has 1 row
        ("SELECT colour, COUNT(*) FROM item GROUP BY colour", set()),
        ("SELECT name FROM item GROUP BY name", set()),  # no aggregate: a DISTINCT, not a degenerate count
        ("SELECT name FROM item WHERE price > 1", {"filter_keeps_all"}),  # keeps all 4 rows
        ("SELECT name FROM item WHERE price > 5", set()),
        ("SELECT name FROM item WHERE colour IN (SELECT colour FROM item)", {"filter_keeps_all"}),
        ("SELECT name FROM item WHERE price > 5 UNION SELECT name FROM item WHERE size < 9", {"filter_keeps_all"}),
        ("SELECT colour, AVG(price) FROM item WHERE price > 5 GROUP BY colour", {"degenerate_group"}),
    ],
)
def test_probes_catch_degenerate_queries(shop, sql, failed):
    _, db = shop
    assert _failed_probes(db, sql) == failed


def test_identical_rows_check():
    assert failed_row_check("identical_rows", [("red",), ("red",)])
    assert not failed_row_check("identical_rows", [("red",)])
    assert not failed_row_check("identical_rows", [("red",), ("blue",)])
    assert row_checks(sqlglot.parse_one("SELECT a FROM t")) == ("identical_rows",)
    assert row_checks(sqlglot.parse_one("SELECT COUNT(*) FROM t GROUP BY a")) == ()


def test_two_values_of_one_column_are_never_equal(shop):
    schema, db = shop
    values = ValueSampler(db)
    t = Template.from_text("SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text} OR {c1:text} = {v1:text}")
    rng = random.Random(0)
    seen = 0
    for _ in range(60):
        try:
            q = fill_template(t, schema, values, rng)
        except FillError as e:
            assert e.reason in ("semantic:self_comparison", "no_column_of_role"), e
            continue
        a, b = [lit.this for lit in sqlglot.parse_one(q.sql).find_all(sqlglot.exp.Literal)]
        assert a != b, q.sql
        seen += 1
    assert seen > 20
    # a column with a single usable value cannot give two distinct ones
    with pytest.raises(FillError) as e:
        fill_template(
            Template.from_text(
                "SELECT {c0:number} FROM {tables} WHERE {c0:number} = {v0:number} OR {c0:number} = {v1:number}"
            ),
            Schema("one", (Table("item", "item", (Column("item", "size", "size", "number"),)),)),
            _OneValue(),
            rng,
            FillConfig(roles=False),
        )
    assert e.value.reason == "semantic:self_comparison"


class _OneValue:
    """A value source whose every column has one value (the real sampler's interface)."""

    def sample(self, table, column, rng, limit=200):
        return 7

    def roles(self, schema):
        return infer_roles(schema)


def test_aggregate_of_a_join_key_is_rejected(shop):
    schema, db = shop
    t = Template.from_text("SELECT AVG({c0:number:fk}) FROM {tables}")
    keyed = Schema("shop", schema.tables, (ForeignKey("item", "size", "item", "item_id"),))
    with pytest.raises(FillError) as e:
        fill_template(t, keyed, ValueSampler(db), random.Random(0))
    assert e.value.reason == "semantic:aggregate_of_key"


REPO = Path(__file__).resolve().parents[2]
SPIDER_DBS = ("concert_singer", "pets_1", "car_1", "world_1", "cre_Theme_park", "student_assessment")


@pytest.mark.parametrize(
    "text,use",
    [
        ("SELECT AVG({c0:number}) FROM {tables}", "aggregate"),
        ("SELECT {c0:text} FROM {tables} ORDER BY {c1:number} DESC LIMIT 1", "superlative"),
        ("SELECT {c0:text}, COUNT(*) FROM {tables} GROUP BY {c0:text}", "group"),
        ("SELECT {c0:text} FROM {tables} WHERE {c1:text} > {v0:text}", "range"),
    ],
)
def test_spider_slots_take_only_fitting_roles(spider, text, use):
    rng = random.Random(1)
    template = Template.from_text(text)
    slot = sorted(plan_template(text).uses)[-1]
    filled = 0
    for db_id in SPIDER_DBS:
        schema = spider.schemas[db_id]
        with ValueSampler(spider.db_path(db_id)) as values:
            profiles = values.roles(schema)
            for _ in range(15):
                try:
                    q = fill_template(template, schema, values, rng)
                except FillError:
                    continue
                filled += 1
                tree = resolved_tree(q.sql, schema)
                cols = [c.meta for c in tree.find_all(sqlglot.exp.Column)]
                keys = {(m[SOURCE][0].lower(), m[SOURCE][1].lower()) for m in cols}
                # the slot with the use fits it; no slot took a constant column
                assert any(accepts(use, profiles[k]) for k in keys), (slot, q.sql)
                assert all(profiles[k].role != "constant" for k in keys), q.sql
    assert filled > 10


def test_quality_patterns_on_hand_written_spider_sql(spider):
    schema = spider.schemas["concert_singer"]
    profiles = infer_roles(schema, spider.db_path("concert_singer"))

    def found(sql):
        return patterns_of(resolved_tree(sql, schema), schema, profiles)

    assert found("SELECT AVG(singer_id) FROM singer") == {"agg_key"}
    assert found("SELECT T1.name FROM singer AS T1 ORDER BY T1.Singer_ID DESC LIMIT 1") == {"order_key"}
    assert found("SELECT SUM(name) FROM singer") == {"agg_text"}
    assert found('SELECT name FROM singer WHERE country > "France"') == {"text_range"}
    assert found("SELECT AVG(age) FROM singer ORDER BY AVG(age)") == set()
    report = measure(
        [
            ("concert_singer", "SELECT AVG(singer_id) FROM singer"),
            ("concert_singer", "SELECT name FROM singer"),
            ("concert_singer", "SELECT nope FROM singer"),
        ],
        {"concert_singer": schema},
        lambda _: profiles,
    )
    assert (report.total, report.unresolved, report.patterns["agg_key"], report.patterns["any"]) == (3, 1, 1, 1)
    assert report.share("any") == 0.5
    assert sum(report.hardness.values()) == 3


def test_generate_counts_semantic_rejections_and_reports_hardness(demo):
    result = generate(GenerateConfig(db="demo", n=200, val_size=20, prompts=False))
    counts = result.manifest["counts"]
    assert any(k.startswith("semantic:") for k in counts["rejections"])
    assert sum(counts["hardness"]["output"]["counts"].values()) == counts["accepted"] == 200
    assert sum(counts["hardness"]["training"]["counts"].values()) == counts["training_sql_total"]
    assert abs(sum(counts["hardness"]["output"]["shares"].values()) - 1) < 1e-3
    # what was accepted passes its own probes again
    bench_db = {}
    bench = resolve_benchmark("demo")
    for rec in result.train + result.val:
        if rec["db_id"] not in bench_db:
            bench_db[rec["db_id"]] = ReadOnlyDatabase(bench.db_path(rec["db_id"]))
        assert not _failed_probes(bench_db[rec["db_id"]], rec["sql"]), rec["sql"]
    for db in bench_db.values():
        db.close()
    # switching the checks off accepts what they would have rejected: the checks do the work
    off = generate(
        GenerateConfig(
            db="demo", n=200, val_size=20, prompts=False, fill_config=FillConfig(roles=False, semantic_checks=False)
        )
    )
    assert not any(k.startswith("semantic:") for k in off.manifest["counts"]["rejections"])
    assert {r["sql"] for r in off.train} != {r["sql"] for r in result.train}


def test_extraction_counts_training_hardness(demo):
    bench = resolve_benchmark("demo")
    report = extract_templates(bench.train_examples(), bench.schemas)
    assert sum(report.hardness.values()) == report.total > 0
    assert set(report.hardness) >= {"easy", "medium", "hard", "extra"}


def test_same_name_key_joins_are_rebuilt_on_spider(spider):
    from synth.fill.joins import same_name_joins, with_same_name_joins

    schema = spider.schemas["loan_1"]  # loan.cust_ID = customer.cust_ID is not a declared FK
    edges = same_name_joins(schema)
    assert [(e.table, e.column, e.ref_table, e.ref_column) for e in edges] == [
        ("loan", "cust_ID", "customer", "cust_ID")
    ]
    assert schema.distance("loan", "customer") == 2  # only through bank
    assert with_same_name_joins(schema).join_path(["loan", "customer"]) == list(edges)
    assert same_name_joins(spider.schemas["concert_singer"]) == ()  # joined by declared FKs already
    t = Template.from_text("SELECT {c0:text}, {c1:number} FROM {tables} WHERE {c2:text} = {v0:text}")
    rng = random.Random(0)
    joined = set()
    with ValueSampler(spider.db_path("loan_1")) as values:
        for _ in range(200):
            try:
                q = fill_template(t, schema, values, rng)
            except FillError:
                continue
            if set(q.tables) == {"loan", "customer"}:
                joined.add(q.sql)
                assert "cust_ID = " in q.sql and ".cust_ID" in q.sql, q.sql
    assert joined


def test_quality_benchmark_prints_the_table(demo, tmp_path, capsys):
    import importlib.util

    from synth.generation import write_outputs

    spec = importlib.util.spec_from_file_location("bench_quality", REPO / "benchmarks" / "bench_quality.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    write_outputs(generate(GenerateConfig(db="demo", n=80, val_size=8, prompts=False)), tmp_path / "out")
    assert bench.main(["--db", "demo", "--out", str(tmp_path / "out"), "--semantic"]) == 0
    table = capsys.readouterr().out
    assert "| AVG/SUM over a key or id column | 0.0% (0) |" in table
    assert "(n=80)" in table and "demo train" in table and "| semantic: degenerate_group | 0.0% (0) |" in table
    assert bench.main(["--db", "demo", "--out", str(tmp_path / "missing")]) == 1


@pytest.mark.parametrize(
    "sql,failed",
    [
        ("SELECT name, COUNT(*) FROM singer GROUP BY name", {"degenerate_group"}),
        ("SELECT country, COUNT(*) FROM singer GROUP BY country", set()),
        ("SELECT name FROM singer WHERE age > 10", {"filter_keeps_all"}),
        ("SELECT name FROM singer WHERE age > 40", set()),
        (
            "SELECT T2.name, COUNT(*) FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id "
            "GROUP BY T2.singer_id",
            set(),
        ),  # a key grouped after a join repeats
    ],
)
def test_probes_on_real_spider(spider, sql, failed):
    with ReadOnlyDatabase(spider.db_path("concert_singer")) as db:
        assert _failed_probes(db, sql) == failed
