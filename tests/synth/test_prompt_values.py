"""Value retrieval (BM25 + fuzzy LCS) and the on-disk cache, on real Spider databases."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from synth.prompt import content as content_mod
from synth.prompt.content import cache_path, load_content
from synth.prompt.values import RetrievalConfig, ValueIndex, ValueMatch, fine_score, select_matches


@pytest.fixture(scope="module")
def world(spider, tmp_path_factory):
    schema = spider.schema("world_1")
    return load_content(schema.db_path, schema, tmp_path_factory.mktemp("cache")).index


def _values(matches):
    return [(m.table, m.column, m.value) for m in matches]


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Which cities are in Aruba?", ("country", "Name", "Aruba")),  # exact
        ("What is the surface area of the Carribean region?", ("country", "Region", "Caribbean")),  # typo
        ("How many people live in Frence?", ("country", "Name", "France")),  # typo
        ("List the Asian countries", ("country", "Continent", "Asia")),  # demonym: prefix of a word
        ("Which cities are in the district of North Carolina?", ("city", "District", "North Carolina")),
    ],
)
def test_question_naming_a_value_finds_it(world, question, expected):
    assert expected in _values(world.search(question))


def test_unrelated_question_matches_nothing(world):
    assert world.search("How many rows are there?") == ()


def test_at_most_k_values_per_column(world):
    cfg = RetrievalConfig(max_per_column=1, max_total=10)
    found = world.search("Compare Aruba, France, Germany and Spain", cfg)
    columns = [(m.table, m.column) for m in found]
    assert len(columns) == len(set(columns))
    assert len(world.search("Compare Aruba, France, Germany and Spain")) > len(found)


def test_fine_score_short_values_need_whole_words():
    q = "how many students own a cat or a dog?"
    assert fine_score("cat", q) == 1.0
    assert fine_score("at", q) == 0.0  # inside "cat", not a word
    assert fine_score("ca", q) == 0.0  # too short to match as the start of a word
    assert fine_score("dog", "list students with dogs") == 0.85  # plural
    assert fine_score("France", "singers from frence") == pytest.approx(0.8333, abs=1e-3)
    assert fine_score("A very long value that is not in the question", "a very") < 0.5


def test_select_matches_is_deterministic_and_capped():
    ms = [ValueMatch("t", "c", v, s) for v, s in [("b", 0.9), ("a", 0.9), ("c", 1.0), ("d", 0.95)]]
    out = select_matches(list(reversed(ms)), max_per_column=3, max_total=10)
    assert [m.value for m in out] == ["c", "d", "a"]
    assert select_matches(ms, 3, 10) == out


def test_index_round_trips_through_arrays(world):
    again = ValueIndex.from_arrays(world.to_arrays())
    q = "Which cities are in Frence or the Carribean?"
    assert again.search(q) == world.search(q)
    assert again.values == world.values


@pytest.fixture()
def db_copy(spider, tmp_path):
    src = spider.schema("concert_singer")
    dst = tmp_path / "concert_singer.sqlite"
    shutil.copyfile(src.db_path, dst)
    return src, dst


def test_cache_is_used_when_fresh(db_copy, tmp_path, monkeypatch):
    schema, db = db_copy
    first = load_content(db, schema, tmp_path / "cache")
    assert cache_path(db, tmp_path / "cache").is_file()

    def no_read(*a, **k):
        raise AssertionError("the database was read although the cache is fresh")

    monkeypatch.setattr(content_mod, "read_content", no_read)
    second = load_content(db, schema, tmp_path / "cache")
    assert second.index.values == first.index.values
    assert second.samples == first.samples


def test_cache_is_rebuilt_when_the_database_changes(db_copy, tmp_path):
    schema, db = db_copy
    cache = tmp_path / "cache"
    before = load_content(db, schema, cache)
    assert "Zanzibar" not in before.index.values
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO singer (Singer_ID, Name, Country, Song_Name, Song_release_year, Age, Is_male) "
        "VALUES (99, 'Ann Test', 'Zanzibar', 'x', '2001', 30, 'F')"
    )
    con.commit()
    con.close()
    after = load_content(db, schema, cache)
    assert "Zanzibar" in after.index.values
    assert after.fingerprint != before.fingerprint
    # and the rewritten cache now serves the new content
    assert "Zanzibar" in load_content(db, schema, cache).index.values


def test_corrupt_cache_file_is_rebuilt(db_copy, tmp_path):
    schema, db = db_copy
    cache = tmp_path / "cache"
    path = cache_path(db, cache)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz file")
    assert len(load_content(db, schema, cache).index) > 0


def test_long_values_are_not_indexed(db_copy, tmp_path):
    schema, db = db_copy
    long_value = "L" * (content_mod.MAX_VALUE_CHARS + 1)
    con = sqlite3.connect(db)
    con.execute("UPDATE singer SET Country = ? WHERE Singer_ID = 1", (long_value,))
    con.commit()
    con.close()
    assert long_value not in load_content(db, schema, tmp_path / "c").index.values
