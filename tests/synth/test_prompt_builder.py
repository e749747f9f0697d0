"""Schema filtering, serialization and the PromptBuilder on real Spider databases."""

from __future__ import annotations

import doctest

import pytest

from evaluation.errors import ConfigError, DataNotFoundError
from synth.prompt import (
    PROMPT_FORMAT_VERSION,
    PromptBuilder,
    PromptConfig,
    SchemaScores,
    sql2text_input,
    text2sql_input,
)
from synth.prompt import format as format_mod
from synth.prompt.gold import spider_quotes_to_sql, sql_items


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("values")


def builder(spider, cache, db_id, **cfg):
    return PromptBuilder(spider.schema(db_id), PromptConfig(**cfg), cache)


def columns_of(schema_prompt: str) -> set[str]:
    return {line.strip().split(":", 1)[0] for line in schema_prompt.splitlines() if line.startswith("  ") and ": " in line}


def test_filtering_keeps_join_keys(spider, cache):
    p = builder(spider, cache, "car_1", k1=2, k2=1).build("Which car makers are from France?")
    assert set(p.tables) == {"countries", "car_makers"}
    cols = columns_of(p.schema_prompt)
    # the FK edge between the kept tables, with both of its columns, although k2 = 1
    assert {"car_makers.Country", "countries.CountryId"} <= cols
    assert "car_makers.Country = countries.CountryId" in p.schema_prompt
    assert "countries.CountryName = 'france'" in p.schema_prompt  # value-matched column kept
    assert "cars_data" not in p.schema_prompt


def test_filtering_adds_the_bridge_table_between_relevant_tables(spider, cache):
    p = builder(spider, cache, "concert_singer", k1=2, k2=1).build(
        "What are the names of the singers who performed in a concert in 2014?"
    )
    assert set(p.tables) == {"singer", "concert", "singer_in_concert"}
    assert {"singer_in_concert.Singer_ID", "singer_in_concert.concert_ID"} <= columns_of(p.schema_prompt)


def test_padding_fills_up_to_k1_tables(spider, cache):
    p = builder(spider, cache, "car_1", k1=4, k2=2).build("How many rows?")
    assert len(p.tables) == 4


def test_full_schema_shows_everything(spider, cache):
    schema = spider.schema("car_1")
    p = builder(spider, cache, "car_1", full_schema=True).build("Which car makers are from France?")
    assert p.tables == tuple(t.name for t in schema.tables)
    assert len(columns_of(p.schema_prompt)) == len(schema.columns)


def test_metadata_in_the_prompt(spider, cache):
    p = builder(spider, cache, "concert_singer", full_schema=True).build("How many singers?")
    assert p.schema_prompt.startswith("database: concert_singer\ntable stadium:\n")
    assert "  singer.Singer_ID: number, primary key; values: 1, 2, 3" in p.schema_prompt
    assert "  singer.Country: text; values: 'France', 'Netherlands', 'United States'" in p.schema_prompt
    assert "foreign keys:\n  concert.Stadium_ID = stadium.Stadium_ID" in p.schema_prompt
    no_samples = builder(spider, cache, "concert_singer", full_schema=True, sample_values=0).build("How many singers?")
    assert "values:" not in no_samples.schema_prompt


def test_prompt_is_text2sql_input_of_schema_prompt(spider, cache):
    q = "How many singers are from France?"
    p = builder(spider, cache, "concert_singer").build(q)
    assert p.text == text2sql_input(p.schema_prompt, q)
    assert p.format_version == PROMPT_FORMAT_VERSION
    assert "question" not in p.schema_prompt


def test_sql_to_text_prompt_keeps_the_sql_items(spider, cache):
    sql = "SELECT T1.Maker FROM car_makers AS T1 JOIN countries AS T2 ON T1.Country = T2.CountryId WHERE T2.CountryName = 'france'"
    p = builder(spider, cache, "car_1", k1=1, k2=1).build(None, sql)
    assert {"car_makers", "countries"} <= set(p.tables)
    assert {"countries.CountryName", "car_makers.Maker"} <= columns_of(p.schema_prompt)
    assert p.text == sql2text_input(p.schema_prompt, sql)


def test_builds_are_deterministic_across_fresh_caches(spider, tmp_path):
    q = "List the names of singers from Frence ordered by age."
    a = PromptBuilder(spider.schema("concert_singer"), PromptConfig(), tmp_path / "a").build(q)
    b = PromptBuilder(spider.schema("concert_singer"), PromptConfig(), tmp_path / "b").build(q)
    c = PromptBuilder(spider.schema("concert_singer"), PromptConfig(), tmp_path / "a").build(q)  # from cache
    assert a == b == c


def test_custom_scorer_plugs_in(spider, cache):
    class OnlyStadium:
        def score(self, question, schema, matches=()):
            return SchemaScores(tables={"stadium": 1.0}, columns={("stadium", "capacity"): 1.0})

    p = PromptBuilder(spider.schema("concert_singer"), PromptConfig(k1=1, k2=1), cache, scorer=OnlyStadium()).build(
        "anything"
    )
    assert p.tables == ("stadium",)
    assert columns_of(p.schema_prompt) == {"stadium.Stadium_ID", "stadium.Capacity"}


def test_bad_config_and_missing_database(spider, cache):
    with pytest.raises(ConfigError, match="k1"):
        PromptConfig(k1=0)
    with pytest.raises(DataNotFoundError, match="wta_1"):
        PromptBuilder(spider.schema("wta_1"), PromptConfig(), cache)


def test_gold_items_treat_spider_double_quotes_as_strings(spider):
    assert spider_quotes_to_sql('SELECT a FROM t WHERE b = "x\'y" AND c = \'"z"\'') == (
        "SELECT a FROM t WHERE b = 'x''y' AND c = '\"z\"'"
    )
    items = sql_items(
        'SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id '
        'WHERE country = "France"',
        spider.schema("concert_singer"),
    )
    assert items.tables == {"singer", "singer_in_concert"}
    assert items.columns == {("singer", "name"), ("singer", "singer_id"), ("singer_in_concert", "singer_id"), ("singer", "country")}
    assert items.literals == ("France",)


def test_format_doctests():
    assert doctest.testmod(format_mod).failed == 0
