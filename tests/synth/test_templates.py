"""Template normalization: golden Spider cases, the record format, and the whole train set."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import jsonschema
import pytest

import synth.templates.pipeline as pipeline_module
from evaluation.schema import Column, ForeignKey, Schema, Table
from synth.templates import Slot, Template, extract_templates, normalize, slots_of, template_id
from synth.templates.model import TemplateError

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "data_schemas" / "template.schema.json"


def _golden_cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for block in (FIXTURES / "spider_train.sql").read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.strip().splitlines()
        title = lines[0].removeprefix("-- title:").strip()
        db_id = lines[1].removeprefix("-- db:").strip()
        cases.append((title, db_id, lines[2], lines[3]))
    return cases


GOLDEN = _golden_cases()


@pytest.mark.parametrize("title,db_id,sql,expected", GOLDEN, ids=[c[0] for c in GOLDEN])
def test_golden_spider_templates(spider, title, db_id, sql, expected):
    text, slots = normalize(sql, spider.schema(db_id))
    assert text == expected
    assert slots == slots_of(expected)


def test_golden_file_has_a_dozen_cases():
    assert len(GOLDEN) >= 12


def test_pipeline_doctest():
    assert doctest.testmod(pipeline_module).failed == 0


# ---- a tiny hand-built schema -------------------------------------------------------------------


@pytest.fixture()
def shop() -> Schema:
    customer = Table(
        "customer",
        "customer",
        (
            Column("customer", "id", "id", "number", True),
            Column("customer", "name", "name", "text"),
            Column("customer", "city", "city", "text"),
        ),
    )
    orders = Table(
        "orders",
        "orders",
        (
            Column("orders", "id", "id", "number", True),
            Column("orders", "customer_id", "customer id", "number"),
            Column("orders", "amount", "amount", "number"),
            Column("orders", "placed", "placed", "time"),
        ),
    )
    return Schema("shop", (customer, orders), (ForeignKey("orders", "customer_id", "customer", "id"),))


def test_quoted_name_that_is_a_column_stays_a_column(shop):
    text, _ = normalize('SELECT "name" FROM customer WHERE city = "name"', shop)
    # "name" in SELECT resolves to a column; compared with city it is still the column (it exists)
    assert text == "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {c0:text}"
    text, _ = normalize('SELECT name FROM customer WHERE city = "Paris"', shop)
    assert text == "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}"


def test_join_marks_fk_and_case_insensitive_names(shop):
    sql = (
        "select T1.NAME, sum(t2.amount) from Customer as t1 join ORDERS as T2 on t1.id = T2.Customer_ID group by T1.id"
    )
    text, slots = normalize(sql, shop)
    assert text == "SELECT {c0:text}, SUM({c1:number}) FROM {tables} GROUP BY {c2:number:fk}"
    assert Slot("c2", "column", "number", fk=True) in slots


def test_negative_number_and_time_value(shop):
    text, slots = normalize("SELECT id FROM orders WHERE amount > -5 AND placed < '2020-01-01'", shop)
    assert text == "SELECT {c0:number} FROM {tables} WHERE {c1:number} > {v0:number} AND {c2:time} < {v1:time}"
    assert [s.type for s in slots if s.kind == "value"] == ["number", "time"]


def test_output_alias_is_kept(shop):
    text, _ = normalize("SELECT city, count(*) AS n FROM customer GROUP BY city ORDER BY n DESC", shop)
    assert text == "SELECT {c0:text}, COUNT(*) AS n FROM {tables} GROUP BY {c0:text} ORDER BY n DESC"


@pytest.mark.parametrize(
    "sql,reason",
    [
        ("SELECT FROM WHERE", "parse_error"),
        ("SELECT name FROM nowhere", "unknown_table"),
        ("SELECT nickname FROM customer", "unknown_column"),
        ("SELECT T1.amount FROM customer AS T1", "unknown_column"),
    ],
)
def test_failure_reasons(shop, sql, reason):
    with pytest.raises(TemplateError) as e:
        normalize(sql, shop)
    assert e.value.reason == reason


def test_extract_merges_counts_and_reports_failures(shop):
    examples = [
        {"db_id": "shop", "query": "SELECT name FROM customer WHERE city = 'Paris'"},
        {"db_id": "shop", "query": "SELECT city FROM customer WHERE name = 'Ann'"},
        {"db_id": "shop", "query": "SELECT count(*) FROM orders"},
        {"db_id": "shop", "query": "SELECT nope FROM orders"},
        {"db_id": "other", "query": "SELECT 1"},
    ]
    report = extract_templates(examples, {"shop": shop})
    assert report.total == 5
    assert [(t.text, t.frequency) for t in report.templates] == [
        ("SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}", 2),
        ("SELECT COUNT(*) FROM {tables}", 1),
    ]
    assert report.templates[0].examples == tuple(e["query"] for e in examples[:2])
    assert [(f["index"], f["reason"]) for f in report.failures] == [(4, "unknown_column"), (5, "unknown_db")]
    assert report.failure_reasons == {"unknown_column": 1, "unknown_db": 1}


def test_template_record_roundtrip_and_schema():
    t = Template.from_text(
        "SELECT {c0:text} FROM {tables} WHERE NOT {c1:number:fk=c2} IN (SELECT {c2:number:fk=c1} FROM {tables}) AND {c0:text} = {v0:text}",
        frequency=3,
        examples=("SELECT ...",),
    )
    assert t.id == template_id(t.text) and t.id.startswith("t") and len(t.id) == 11
    assert t.slots == (
        Slot("c0", "column", "text"),
        Slot("c1", "column", "number", True),
        Slot("c2", "column", "number", True),
        Slot("v0", "value", "text"),
    )
    assert t.fk_pairs == (("c1", "c2"),)
    d = json.loads(json.dumps(t.to_dict()))
    jsonschema.validate(d, json.loads(SCHEMA_FILE.read_text()))
    assert Template.from_dict(d) == t


# ---- the whole Spider training set ---------------------------------------------------------------


@pytest.fixture(scope="module")
def spider_report(spider):
    return extract_templates(spider.train_examples(), spider.schemas)


def test_spider_train_failure_rate_below_one_percent(spider_report):
    assert spider_report.total == 7000
    assert len(spider_report.failures) / spider_report.total < 0.01
    assert all(set(f) >= {"index", "db_id", "sql", "reason"} for f in spider_report.failures)


def test_spider_train_templates_are_consistent(spider_report):
    templates = spider_report.templates
    assert sum(t.frequency for t in templates) == spider_report.total - len(spider_report.failures)
    assert [(-t.frequency, t.id) for t in templates] == sorted((-t.frequency, t.id) for t in templates)
    assert len({t.id for t in templates}) == len(templates)
    assert templates[0].text == "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}"
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    for t in templates:
        assert t.slots == slots_of(t.text)
        assert "__" not in t.text and ":p" not in t.text  # no internal markers leak
        validator.validate(t.to_dict())
    # a good share of join-derived templates carry FK slots
    assert sum(t.frequency for t in templates if ":fk" in t.text) > 500


def test_spider_extraction_is_deterministic(spider, spider_report):
    examples = spider.train_examples()[:800]
    a = extract_templates(examples, spider.schemas)
    b = extract_templates(examples, spider.schemas)
    assert [t.to_dict() for t in a.templates] == [t.to_dict() for t in b.templates]
    full = {t.id for t in spider_report.templates}
    assert {t.id for t in a.templates} <= full
