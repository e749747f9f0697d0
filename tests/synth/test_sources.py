"""Data root and benchmark resolution: clear errors that say where we looked."""

from __future__ import annotations

import pytest

from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from synth.sources import load_examples, resolve_benchmark, resolve_data_root


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SPFT_DATA_ROOT", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "cli") == tmp_path / "cli"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv("SPFT_DATA_ROOT")
    assert resolve_data_root(None).name == "data"


def test_spider_resolves_and_counts_missing_databases(spider, data_root):
    assert len(spider.db_ids) == 166
    assert sorted(spider.missing_db_ids) == ["baseball_1", "soccer_1", "wta_1"]
    assert spider.relative_db_path("concert_singer") == "spider/database/concert_singer/concert_singer.sqlite"
    with pytest.raises(DataNotFoundError, match="wta_1"):
        spider.db_path("wta_1")
    with pytest.raises(UnknownNameError, match="did you mean 'concert_singer'"):
        spider.db_path("concert_singers")
    assert len(spider.train_examples()) == 7000
    assert spider.tables_paths == (spider.root / "tables.json",)  # BIRD files are only a fallback
    assert spider.database_dirs == (spider.root / "database",)
    assert str(spider.root / "tables.json") in str(pytest.raises(DataNotFoundError, spider.db_path, "wta_1").value)


def test_missing_benchmark_says_where_it_looked(tmp_path):
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "spider")):
        resolve_benchmark("spider", tmp_path)
    with pytest.raises(DataNotFoundError, match="neither a known benchmark"):
        resolve_benchmark(str(tmp_path / "nope"), tmp_path)


def test_folder_without_tables_json_reads_sqlite(tmp_path, spider_root):
    import shutil

    d = tmp_path / "mine" / "database" / "concert_singer"
    d.mkdir(parents=True)
    shutil.copy(spider_root / "database" / "concert_singer" / "concert_singer.sqlite", d)
    bench = resolve_benchmark(str(tmp_path / "mine"))
    assert bench.db_ids == ["concert_singer"]
    assert bench.schema("concert_singer").has_table("singer")


def test_load_examples_reports_line_of_bad_jsonl(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"query": "SELECT 1", "db_id": "a"}\n{oops\n')
    with pytest.raises(InputError, match=r"x.jsonl:2"):
        load_examples(p)
    p.write_text('{"query": "SELECT 1"}\n')
    with pytest.raises(InputError, match=r"field 'db_id'"):
        load_examples(p)
