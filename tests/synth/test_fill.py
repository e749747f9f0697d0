"""Template filling on real Spider databases and on small schemas built here."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

import pytest
import sqlglot
from sqlglot import exp

from evaluation.errors import ConfigError
from evaluation.executor import ReadOnlyDatabase
from evaluation.schema import Column, ForeignKey, Schema, Table
from synth.fill import FillConfig, FillError, ValueSampler, fill_template, table_weight
from synth.fill.joins import with_same_name_joins
from synth.fill.render import build_from
from synth.fill.values import literal
from synth.templates import Template, extract_templates
from synth.templates.qualify_columns import SOURCE, qualify_columns


def _sources(sql: str, schema: Schema) -> exp.Expression:
    """Parse a filled SQL and resolve every column to (table, column) in ``meta[SOURCE]``."""
    return qualify_columns(sqlglot.parse_one(sql, read="sqlite"), schema)


def _fk_pairs(schema: Schema) -> set[frozenset]:
    return {
        frozenset({(fk.table.lower(), fk.column.lower()), (fk.ref_table.lower(), fk.ref_column.lower())})
        for fk in schema.foreign_keys
    }


def _key(col: exp.Column) -> tuple[str, str]:
    t, c = col.meta[SOURCE]
    return (t.lower(), c.lower())


# ---- a chain schema A - B - C plus an isolated D, with a real SQLite file -----------------------


@pytest.fixture()
def chain(tmp_path) -> tuple[Schema, ValueSampler]:
    def table(name, cols):
        return Table(name, name, tuple(Column(name, c, c, t, c == "id") for c, t in cols))

    schema = Schema(
        "chain",
        (
            table("a", [("id", "number"), ("a_text", "text"), ("a_time", "time")]),
            table("b", [("id", "number"), ("a_id", "number"), ("b_text", "text")]),
            table("c", [("id", "number"), ("b_id", "number"), ("c_text", "text")]),
            table("d", [("id", "number"), ("d_text", "text"), ("d_flag", "boolean"), ("d_blob", "others")]),
        ),
        (ForeignKey("b", "a_id", "a", "id"), ForeignKey("c", "b_id", "b", "id")),
    )
    path = tmp_path / "chain.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE a (id INTEGER PRIMARY KEY, a_text TEXT, a_time TEXT);
        CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id), b_text TEXT);
        CREATE TABLE c (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id), c_text TEXT);
        CREATE TABLE d (id INTEGER PRIMARY KEY, d_text TEXT, d_flag BOOLEAN, d_blob BLOB);
        INSERT INTO a VALUES (1, 'O''Brien', '2020-01-01'), (2, 'plain', '2021-05-05');
        INSERT INTO b VALUES (1, 1, 'b1'), (2, 2, 'b2');
        INSERT INTO c VALUES (1, 1, 'c1');
        INSERT INTO d VALUES (1, 'd1', 1, NULL);
        """
    )
    con.commit()
    con.close()
    sampler = ValueSampler(path)
    yield schema, sampler
    sampler.close()


def test_table_weights_hand_computed(chain):
    schema, _ = chain
    w = lambda t, tree, ref=(), max_tables=4: table_weight(schema, t, tree, ref, 0.5, max_tables)  # noqa: E731
    assert [w(t, ["a"]) for t in "abcd"] == [1.0, 0.5, 0.25, 0.0]
    assert [w(t, ["a", "b"]) for t in "abcd"] == [1.0, 1.0, 0.5, 0.0]
    assert w("c", ["a"], max_tables=2) == 0.0  # a + b (intermediate) + c would be 3 tables
    assert w("b", ["a"], max_tables=2) == 0.5
    assert [w(t, [], ref=["c"]) for t in "abcd"] == [0.25, 0.5, 1.0, 0.0]  # subquery: distance to outer FROM
    assert [w(t, []) for t in "abcd"] == [1.0] * 4  # nothing chosen yet


def test_column_choice_follows_the_weights(chain):
    schema, values = chain
    # c0 can only be a.a_time, so c1's table is drawn with weights a:1, b:0.5, c:0.25, d:0
    template = Template.from_text("SELECT {c0:time}, {c1:text} FROM {tables}")
    rng = random.Random(7)
    config = FillConfig(distance_decay=0.5, roles=False)  # the weights alone (c.c_text is a constant column)
    counts = Counter()
    for _ in range(3500):
        q = fill_template(template, schema, values, rng, config)
        counts[q.tables[-1]] += 1
    total = sum(counts.values())
    assert counts["d"] == 0
    for table, expected in {"a": 1 / 1.75, "b": 0.5 / 1.75, "c": 0.25 / 1.75}.items():
        assert abs(counts[table] / total - expected) < 0.03, (table, counts)


def test_two_hop_choice_brings_the_intermediate_table(chain):
    schema, values = chain
    template = Template.from_text("SELECT {c0:time}, {c1:text} FROM {tables}")
    rng = random.Random(1)
    for _ in range(200):
        q = fill_template(template, schema, values, rng, FillConfig(distance_decay=0.5, roles=False))
        if "c_text" in q.sql:
            assert q.tables == ("a", "b", "c")
            assert q.sql == (
                "SELECT T1.a_time, T3.c_text FROM a AS T1 JOIN b AS T2 ON T2.a_id = T1.id "
                "JOIN c AS T3 ON T3.b_id = T2.id"
            )
            break
    else:
        pytest.fail("never picked c_text")


def test_rejections_name_their_reason(chain):
    schema, values = chain
    rng = random.Random(0)

    def reason(text: str, **config) -> str:
        config.setdefault("roles", False)  # the tiny tables make most columns constant
        with pytest.raises(FillError) as e:
            fill_template(Template.from_text(text), schema, values, rng, FillConfig(**config))
        return e.value.reason

    # AVG wants a measure; the text columns are names or constants
    assert reason("SELECT AVG({c0:text}) FROM {tables}", roles=True) == "no_column_of_role"

    # c0 is a.a_time; the only boolean column is in d, which no FK reaches
    assert reason("SELECT {c0:time}, {c1:boolean} FROM {tables}") == "no_join_path"
    # a has one number column; the second needs another table, which max_tables=1 forbids
    assert reason("SELECT {c0:time}, {c1:number}, {c2:number} FROM {tables}", max_tables=1) == "too_many_tables"
    assert reason("SELECT {c0:boolean}, {c1:boolean} FROM {tables}") == "no_column_of_type"
    assert reason("SELECT {c0:text:fk} FROM {tables}") == "no_fk_column"
    assert reason("SELECT {c0:others} FROM {tables} WHERE {c0:others} = {v0:others}") == "no_value"  # all NULL
    assert reason("SELECT {c0:time} FROM {tables} WHERE") == "bad_template"


def test_string_values_are_escaped_and_executable(chain, tmp_path):
    schema, values = chain
    template = Template.from_text("SELECT {c0:time} FROM {tables} WHERE {c1:text} = {v0:text}")
    rng = random.Random(3)
    seen = set()
    with ReadOnlyDatabase(tmp_path / "chain.sqlite") as db:
        for _ in range(40):
            q = fill_template(template, schema, values, rng)
            result = db.execute(q.sql)
            assert result.ok and result.rows, q.sql
            seen.add(q.sql)
    assert "SELECT a_time FROM a WHERE a_text = 'O''Brien'" in seen
    assert literal("O'Brien").sql(dialect="sqlite") == "'O''Brien'"
    assert literal("ab", like=True).sql(dialect="sqlite") == "'%ab%'"
    assert literal(3).sql(dialect="sqlite") == "3" and literal(2.5).sql(dialect="sqlite") == "2.5"


def test_fill_config_is_checked():
    with pytest.raises(ConfigError, match="distance_decay"):
        FillConfig(distance_decay=0)
    with pytest.raises(ConfigError, match="max_tables"):
        FillConfig(max_tables=0)


# ---- real Spider databases ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates(spider) -> tuple[Template, ...]:
    return extract_templates(spider.train_examples()[::4], spider.schemas).templates


@pytest.fixture(scope="module")
def samplers(spider):
    opened: dict[str, tuple[ReadOnlyDatabase, ValueSampler]] = {}

    def get(db_id: str) -> tuple[ReadOnlyDatabase, ValueSampler]:
        if db_id not in opened:
            db = ReadOnlyDatabase(spider.db_path(db_id))
            opened[db_id] = (db, ValueSampler(db))
        return opened[db_id]

    yield get
    for db, _ in opened.values():
        db.close()


def test_join_path_rebuild_on_spider(spider):
    schema = spider.schema("concert_singer")
    edges = schema.join_path(["singer", "concert"])
    from_, joins, alias = build_from(["singer", "concert"], edges)
    select = exp.select("*")
    select.set("from_" if "from_" in exp.Select.arg_types else "from", from_)
    select.set("joins", joins)
    sql = select.sql(dialect="sqlite")
    assert sql == (
        "SELECT * FROM singer AS T1 JOIN singer_in_concert AS T2 ON T2.Singer_ID = T1.Singer_ID "
        "JOIN concert AS T3 ON T2.concert_ID = T3.concert_ID"
    )
    assert alias == {"singer": "T1", "singer_in_concert": "T2", "concert": "T3"}


def test_filled_joins_use_real_foreign_keys(spider, samplers):
    template = Template.from_text(
        "SELECT {c0:text}, {c1:number} FROM {tables} WHERE {c2:text} = {v0:text} ORDER BY {c1:number} DESC LIMIT 1"
    )
    rng = random.Random(11)
    joined = 0
    for db_id in ["concert_singer", "college_2", "department_store", "flight_1", "hospital_1"]:
        schema = spider.schema(db_id)
        fks = _fk_pairs(with_same_name_joins(schema))  # declared FKs + same-name key joins
        for _ in range(30):
            try:
                q = fill_template(template, schema, samplers(db_id)[1], rng)
            except FillError:
                continue
            ast = _sources(q.sql, schema)
            joins = ast.args.get("joins") or []
            assert len(q.tables) == len(joins) + 1 <= FillConfig().max_tables
            for join in joins:
                joined += 1
                for eq in join.args["on"].find_all(exp.EQ):
                    assert frozenset({_key(eq.this), _key(eq.expression)}) in fks, q.sql
    assert joined > 10


def test_fk_slot_pairs_map_to_real_foreign_keys(spider, samplers):
    template = Template.from_text(
        "SELECT {c0:text} FROM {tables} WHERE NOT {c1:number:fk=c2} IN (SELECT {c2:number:fk=c1} FROM {tables})"
    )
    rng = random.Random(5)
    filled = 0
    for db_id in ["concert_singer", "farm", "college_2", "department_store", "flight_1", "wine_1", "store_1"]:
        schema = spider.schema(db_id)
        for _ in range(10):
            try:
                q = fill_template(template, schema, samplers(db_id)[1], rng)
            except FillError as e:
                assert e.reason in {"no_fk_pair", "no_fk_column", "no_column_of_type", "no_join_path"}
                continue
            filled += 1
            ast = _sources(q.sql, schema)
            in_ = ast.find(exp.In)
            inner = in_.args["query"].this.expressions[0]
            assert frozenset({_key(in_.this), _key(inner)}) in _fk_pairs(schema), q.sql
    assert filled >= 30


def test_values_come_from_the_compared_column(spider, samplers):
    templates = [
        Template.from_text("SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}"),
        Template.from_text("SELECT {c0:text} FROM {tables} WHERE {c1:number} > {v0:number}"),
        Template.from_text("SELECT {c0:text} FROM {tables} WHERE {c1:text} LIKE {v0:text}"),
    ]
    rng = random.Random(2)
    checked = 0
    for db_id in ["concert_singer", "pets_1", "car_1", "employee_hire_evaluation"]:
        schema = spider.schema(db_id)
        db = samplers(db_id)[0]
        for template in templates:
            for _ in range(8):
                try:
                    q = fill_template(template, schema, samplers(db_id)[1], rng)
                except FillError:
                    continue
                ast = _sources(q.sql, schema)
                pred = ast.args["where"].this
                col, lit = pred.this, pred.expression
                table, column = col.meta[SOURCE]
                if isinstance(pred, exp.Like):
                    assert lit.is_string and lit.this.startswith("%") and lit.this.endswith("%")
                    value = lit.this[1:-1]
                    cond = f"CAST(\"{column}\" AS TEXT) = '{value.replace(chr(39), chr(39) * 2)}'"
                elif schema.column(table, column).type == "number":
                    assert not lit.is_string, q.sql
                    cond = f'"{column}" = {lit.sql(dialect="sqlite")}'
                else:
                    cond = f'"{column}" = {lit.sql(dialect="sqlite")}'
                result = db.execute(f'SELECT count(*) FROM "{table}" WHERE {cond}')
                assert result.ok and result.rows[0][0] > 0, q.sql
                checked += 1
    assert checked >= 60


def test_many_fills_parse_and_mostly_return_rows(spider, samplers, templates, record_property):
    rng = random.Random(0)
    dbs = [d for d in spider.available_db_ids][::6]
    weights = [t.frequency for t in templates]
    status = Counter()
    attempts = 400
    for _ in range(attempts):
        template = rng.choices(templates, weights)[0]
        db_id = rng.choice(dbs)
        db, values = samplers(db_id)
        try:
            q = fill_template(template, spider.schema(db_id), values, rng)
        except FillError as e:
            status["rejected:" + e.reason] += 1
            continue
        sqlglot.parse_one(q.sql, read="sqlite")  # raises if not parseable
        result = db.execute(q.sql)
        nonempty = result.ok and any(v is not None for row in result.rows for v in row)
        status["nonempty" if nonempty else ("empty" if result.ok else result.status)] += 1
    record_property("fill_status", dict(status))
    print("fill status over", attempts, "attempts:", dict(status))
    assert status["error"] <= 0.02 * attempts, status
    assert status["nonempty"] >= 0.6 * attempts, status


def test_filling_is_deterministic(spider, samplers, templates):
    def run(seed: int) -> list[str]:
        rng = random.Random(seed)
        out = []
        for template in templates[:40]:
            for db_id in ["concert_singer", "college_2"]:
                try:
                    out.append(fill_template(template, spider.schema(db_id), samplers(db_id)[1], rng).sql)
                except FillError as e:
                    out.append("rejected:" + e.reason)
        return out

    first = run(42)
    assert first == run(42)
    assert first != run(43)
