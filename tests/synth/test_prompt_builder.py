"""Schema filtering, serialization and the PromptBuilder on real Spider databases."""

from __future__ import annotations

import dataclasses
import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, DataNotFoundError
from synth.prompt import (
    PROMPT_FORMAT_VERSION,
    LexicalScorer,
    PromptBuilder,
    PromptConfig,
    SchemaScores,
    sql2text_input,
    text2sql_input,
)
from synth.prompt import format as format_mod
from synth.prompt.gold import sql_items

DOC = Path(__file__).resolve().parents[2] / "docs" / "prompt.md"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("values")


def builder(spider, cache, db_id, **cfg):
    return PromptBuilder(spider.schema(db_id), PromptConfig(**cfg), cache)


def columns_of(schema_prompt: str) -> set[str]:
    return {
        line.strip().split(":", 1)[0] for line in schema_prompt.splitlines() if line.startswith("  ") and ": " in line
    }


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
    odd = sql_items('SELECT name FROM singer WHERE country = "x\'y" OR name = \'"z"\'', spider.schema("concert_singer"))
    assert odd.literals == ("x'y", '"z"')
    items = sql_items(
        "SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id "
        'WHERE country = "France"',
        spider.schema("concert_singer"),
    )
    assert items.tables == {"singer", "singer_in_concert"}
    assert items.columns == {
        ("singer", "name"),
        ("singer", "singer_id"),
        ("singer_in_concert", "singer_id"),
        ("singer", "country"),
    }
    assert items.literals == ("France",)


def test_format_doctests():
    assert doctest.testmod(format_mod).failed == 0


def test_the_documented_full_example_is_what_the_builder_prints(spider, cache):
    """docs/prompt.md's full example, byte for byte (guards the format and the docs together)."""
    documented = re.search(r"A full example .*?```\n(.*?)```", DOC.read_text(), re.S).group(1)
    p = builder(spider, cache, "car_1").build("Which car makers from Frence produce more than 3 models?")
    assert p.text == documented


def test_natural_names_and_comments_are_shown_when_they_say_more(spider, demo, cache):
    pets = builder(spider, cache, "pets_1", full_schema=True).build("How many students?").schema_prompt
    assert '  Student.LName: text, "last name"; values:' in pets
    assert "  Student.Age: number; values:" in pets  # "age" says nothing more than Age
    hs = builder(spider, cache, "network_1", full_schema=True).build("q").schema_prompt
    assert 'table Highschooler ("high schooler"):' in hs
    school = PromptBuilder(demo.schema("school_library"), PromptConfig(full_schema=True), cache).build("q")
    assert "  authors.name: text, comment: full name as printed on the cover; values:" in school.schema_prompt


def test_evidence_is_external_knowledge_searched_for_values(spider, cache):
    b = builder(spider, cache, "concert_singer", k1=1, k2=2)
    q = "How many male singers are there?"
    ev = "male refers to  Is_male = 'T'"
    plain, with_ev = b.build(q), b.build(q, evidence=ev)
    assert with_ev.schema_prompt.endswith("\nexternal knowledge:\n  male refers to Is_male = 'T'")
    assert with_ev.text == text2sql_input(with_ev.schema_prompt, q)
    assert "singer.Is_male = 'T'" not in plain.schema_prompt  # the value is named only by the evidence
    assert ("singer", "Is_male", "T") in {(m.table, m.column, m.value) for m in with_ev.matched_values}
    assert "external knowledge" not in plain.text
    # no (or blank) evidence: byte-identical to a prompt built without it
    assert b.build(q, evidence="  ") == b.build(q, evidence=None) == plain


def test_lexical_scorer_reused_across_schemas_scores_like_a_fresh_one(spider):
    shared = LexicalScorer()
    q = "Which singers from France performed in stadiums with capacity over 1000?"
    for db_id in ("concert_singer", "car_1", "concert_singer", "world_1"):
        schema = spider.schema(db_id)
        assert shared.score(q, schema) == LexicalScorer().score(q, schema)
    one_table = dataclasses.replace(spider.schema("car_1"), tables=spider.schema("car_1").tables[:1], foreign_keys=())
    assert shared.score(q, one_table) == LexicalScorer().score(q, one_table)
    assert set(shared.score(q, one_table).tables) == {"continents"}


_HASH_SEED_SCRIPT = """
import sys
from synth.sources import resolve_benchmark
from synth.prompt import PromptBuilder, PromptConfig
bench = resolve_benchmark("spider", sys.argv[1])
for db_id, q, sql in [
    ("world_1", "Which cities of Frence or the Carribean speak English?", None),
    ("car_1", "Which car makers from Frence produce more than 3 models?", "SELECT Maker FROM car_makers"),
    ("concert_singer", None, "SELECT T1.Name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Singer_ID = T2.Singer_ID"),
]:
    p = PromptBuilder(bench.schema(db_id), PromptConfig(k1=2, k2=3), sys.argv[2]).build(q, sql)
    sys.stdout.write(p.text + repr(p.matched_values))
"""


def test_prompts_do_not_depend_on_the_process_hash_seed(data_root, tmp_path):
    """Set iteration order changes with PYTHONHASHSEED; prompts must not (a fresh cache each time)."""
    outs = []
    for seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [sys.executable, "-c", _HASH_SEED_SCRIPT, str(data_root), str(tmp_path / seed)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and "matched values:" in outs[0]
