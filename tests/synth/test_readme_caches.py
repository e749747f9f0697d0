"""Issue 13 point 10: the README names every cache location, and they are the ones the code writes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_names_the_value_index_cache_the_prompt_builder_uses():
    from synth.prompt.content import DEFAULT_CACHE_DIR

    assert "`~/.cache/spft-sql/values/`" in README
    assert DEFAULT_CACHE_DIR == Path("~/.cache/spft-sql/values").expanduser()


def test_generate_writes_its_caches_where_the_readme_says(tmp_path):
    from synth.cli import main

    assert "`OUT/.cache/`" in README and "`templates/<hash>.json`" in README and "`<db_id>-<hash>.npz`" in README
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["generate", "--db", "demo", "--n", "20", "--val-size", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert list((out / ".cache" / "templates").glob("*.json")), "no template cache under OUT/.cache/templates"
    assert list((out / ".cache").rglob("*-*.npz")), "no per-database value index under OUT/.cache"


def test_readme_names_the_suite_cache_judge_ts_uses():
    from evaluation.executor import Limits
    from evaluation.suite_cache import DEFAULT_SUITE_CACHE
    from synth.generation import GenerateConfig
    from synth.generation.novelty import SuiteNovelty

    assert "`~/.cache/spft-sql/suites/`" in README
    assert DEFAULT_SUITE_CACHE == Path("~/.cache/spft-sql/suites").expanduser()
    assert GenerateConfig(judge="ts").suite_cache is None  # None: the default folder
    novelty = SuiteNovelty({}, lambda _: None, suite_size=2, suite_cache=None, limits=Limits())
    assert novelty.cache.root == DEFAULT_SUITE_CACHE
