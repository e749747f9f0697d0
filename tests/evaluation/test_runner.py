"""Batch evaluation: gold-vs-gold on Spider dev, TS with a hand-made suite, VES arithmetic, skips."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, UnknownNameError
from evaluation.inputs import Item
from evaluation.runner import EvalConfig, evaluate_items, parse_metrics, split_tasks
from evaluation.ves import clean_outliers, rves_reward, time_ratio, ves_score


def test_gold_vs_gold_is_perfect_on_every_present_dev_db(spider_root: Path) -> None:
    dev = json.loads((spider_root / "dev.json").read_text())
    pairs = [Item(str(i), ex["db_id"], ex["query"], ex["query"]) for i, ex in enumerate(dev)]
    config = EvalConfig(db_root=spider_root / "database", metrics=("ex",), workers=2)
    results = evaluate_items(pairs, config)
    assert [r.id for r in results] == [p.id for p in pairs]
    judged = [r for r in results if not r.skipped]
    skipped = [r for r in results if r.skipped]
    assert len(judged) == 972 and {r.db_id for r in skipped} == {"wta_1"} and len(skipped) == 62
    bad = [(r.id, r.verdicts["ex"].reason) for r in judged if not r.verdicts["ex"].correct]
    assert bad == []
    # bird semantics too
    bird = evaluate_items(pairs[:200], EvalConfig(db_root=spider_root / "database", compare="bird", workers=1))
    assert all(r.verdicts["ex"].correct for r in bird)


@pytest.fixture()
def suite(spider_root: Path, tmp_path: Path) -> Path:
    """concert_singer twice: the original and a copy where Rose White is 47 instead of 41."""
    src = spider_root / "database" / "concert_singer" / "concert_singer.sqlite"
    d = tmp_path / "suite" / "concert_singer"
    d.mkdir(parents=True)
    shutil.copy(src, d / "concert_singer.sqlite")
    shutil.copy(src, d / "mutated.sqlite")
    con = sqlite3.connect(d / "mutated.sqlite")
    con.execute("UPDATE singer SET Age = 47 WHERE Name = 'Rose White'")
    con.commit()
    con.close()
    return tmp_path / "suite"


def test_test_suite_catches_a_lucky_prediction(spider_root: Path, suite: Path) -> None:
    gold = "SELECT name FROM singer WHERE age > 45"  # original: Joe Sharp (52) only
    pairs = [
        Item("lucky", "concert_singer", gold, "SELECT name FROM singer WHERE age > 50"),
        Item("right", "concert_singer", gold, "SELECT name FROM singer WHERE 45 < age"),
        Item("nosuite", "pets_1", "SELECT count(*) FROM pets", "SELECT count(*) FROM pets"),
    ]
    config = EvalConfig(db_root=spider_root / "database", metrics=("ex", "ts"), suite_dir=suite, workers=1)
    r = {x.id: x for x in evaluate_items(pairs, config)}
    assert r["lucky"].verdicts["ex"].correct is True
    assert r["lucky"].verdicts["ts"].correct is False
    assert r["lucky"].verdicts["ts"].extra["failed_on"] == "mutated.sqlite"
    assert r["right"].verdicts["ts"].correct is True and r["right"].verdicts["ts"].extra["suite_size"] == 2
    # no suite: reported, never replaced by the EX verdict
    assert r["nosuite"].verdicts["ex"].correct is True
    assert r["nosuite"].verdicts["ts"].correct is None and r["nosuite"].verdicts["ts"].reason == "no_suite"

    from evaluation.report import build_report

    rep = build_report(list(r.values()), config)
    assert rep["scores"]["ts"]["by_hardness"]["all"] == {"count": 2, "correct": 1, "score": 0.5}
    assert rep["scores"]["ts"]["no_suite"] == {"items": 1, "db_ids": ["pets_1"]}
    assert rep["scores"]["ex"]["by_hardness"]["all"]["correct"] == 3
    assert any("no test suite" in w for w in rep["warnings"])


def test_ts_requires_suite_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--suite-dir"):
        EvalConfig(db_root=tmp_path, metrics=("ts",))


def fixed_timer(db, sql: str) -> float:
    """Pred queries (containing 'Age >') take 0.25 s, gold 1.0 s: ratio exactly 4."""
    return 0.25 if "Age >" in sql else 1.0


def test_ves_with_injected_timings(spider_root: Path) -> None:
    pairs = [
        Item(
            "fast",
            "concert_singer",
            "SELECT count(*) FROM singer WHERE age > 30",
            "SELECT count(*) FROM singer WHERE Age > 30",
        ),
        Item("wrong", "concert_singer", "SELECT count(*) FROM singer", "SELECT count(*) FROM singer WHERE Age > 99"),
    ]
    config = EvalConfig(db_root=spider_root / "database", metrics=("ves",), ves_repeats=5, workers=1)
    r = evaluate_items(pairs, config, timer=fixed_timer)
    fast, wrong = (x.verdicts["ves"] for x in r)
    assert fast.extra == {"time_ratio": 4.0, "score": 200.0, "reward": 1.25}
    assert wrong.correct is False and wrong.extra == {"time_ratio": 0.0, "score": 0.0, "reward": 0.0}

    from evaluation.report import build_report

    rep = build_report(r, config)
    assert rep["scores"]["ves"]["by_hardness"]["all"]["score"] == 100.0  # (200 + 0) / 2
    assert rep["scores"]["ves"]["by_hardness"]["all"]["rves"] == 62.5  # (1.25 + 0) / 2 * 100
    assert rep["ves"]["repeats"] == 5 and "sqlite" in rep["ves"]["machine"]


def test_ves_arithmetic() -> None:
    assert clean_outliers([1.0] * 20 + [100.0]) == [1.0] * 20
    assert clean_outliers([2.0, 2.0]) == [2.0, 2.0]
    assert time_ratio([2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0]) == 2.0
    assert time_ratio([1.0] * 20 + [1.0], [1.0] * 20 + [0.01]) == 1.0  # the 100x outlier is dropped
    assert ves_score(0.25, True) == 50.0 and ves_score(4.0, False) == 0.0
    assert math.isclose(ves_score(2.0, True), 141.4213562373095)
    assert [rves_reward(x, True) for x in (3, 2, 1.5, 1, 0.7, 0.5, 0.3, 0.25, 0.1)] == [
        1.25,
        1.25,
        1,
        1,
        0.75,
        0.75,
        0.5,
        0.5,
        0.25,
    ]
    assert rves_reward(3, False) == 0


def test_gold_runs_once_per_db(spider_root: Path, monkeypatch) -> None:
    from evaluation import executor

    calls: list[str] = []
    real = executor.ReadOnlyDatabase.execute

    def spy(self, sql, limits=None):
        calls.append(sql)
        return real(self, sql, limits)

    monkeypatch.setattr(executor.ReadOnlyDatabase, "execute", spy)
    gold = "SELECT count(*) FROM singer"
    pairs = [Item(str(i), "concert_singer", gold, f"SELECT count(*) FROM singer WHERE {i} = {i}") for i in range(5)]
    evaluate_items(pairs, EvalConfig(db_root=spider_root / "database", workers=1, flag_ambiguous=False))
    assert calls.count(gold) == 1 and len(calls) == 6


def test_split_tasks_keeps_same_gold_together() -> None:
    pairs = [Item(str(i), "a", f"g{i % 3}", "p") for i in range(200)] + [Item("b0", "b", "g", "p")]
    tasks = split_tasks(pairs, size=10)
    for t in tasks:
        assert len({p.db_id for p in t}) == 1
    owner = {}
    for k, t in enumerate(tasks):
        for p in t:
            assert owner.setdefault((p.db_id, p.gold_sql), k) == k
    assert sum(len(t) for t in tasks) == 201


def test_parse_metrics() -> None:
    assert parse_metrics("ex, ts,ex") == ("ex", "ts")
    with pytest.raises(UnknownNameError, match="did you mean 'ves'"):
        parse_metrics("ex,vse")


def _tiny_db(path: Path, ages: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE person (name TEXT, age INT)")
    con.executemany("INSERT INTO person VALUES (?, ?)", [(f"p{i}", a) for i, a in enumerate(ages)])
    con.commit()
    con.close()


@pytest.fixture()
def wide_suite(tmp_path: Path) -> tuple[Path, Path]:
    """db 'people': the main file plus a suite of 7 files; file s05 breaks 'age > 40' == 'age >= 41'."""
    root, suite = tmp_path / "db", tmp_path / "suite"
    _tiny_db(root / "people" / "people.sqlite", [30, 45, 50])
    for k in range(7):
        _tiny_db(suite / "people" / f"s{k:02d}.sqlite", [30 + k, 45, 50, 20 + k] + ([40.5] if k == 5 else []))
    return root, suite


def test_ts_is_sharded_over_suite_files_with_gold_cached(wide_suite, monkeypatch) -> None:
    from evaluation import executor
    from evaluation.runner import plan_tasks, work_units

    root, suite = wide_suite
    gold = "SELECT name FROM person WHERE age > 40"
    pairs = [
        Item("same", "people", gold, "SELECT name FROM person WHERE 40 < age"),
        Item("lucky", "people", gold, "SELECT name FROM person WHERE age >= 41"),
        Item("wrong", "people", gold, "SELECT name FROM person"),
    ]
    config = EvalConfig(db_root=root, metrics=("ex", "ts"), suite_dir=suite, workers=1, flag_ambiguous=False)
    tasks = plan_tasks(pairs, config, workers=3)
    shards = sorted(t.suite for t in tasks if t.suite)
    assert len(shards) == 6 and sorted(p for s in shards for p in s) == sorted((suite / "people").glob("*.sqlite"))
    assert work_units(pairs, config) == 3 + 3 * 7

    calls: list[tuple[str, str]] = []
    real = executor.ReadOnlyDatabase.execute

    def spy(self, sql, limits=None):
        calls.append((self.path.name, sql))
        return real(self, sql, limits)

    monkeypatch.setattr(executor.ReadOnlyDatabase, "execute", spy)
    done: list[int] = []
    r = {x.id: x for x in evaluate_items(pairs, config, progress=done.append)}
    assert sum(done) == work_units(pairs, config)
    gold_runs = Counter(name for name, sql in calls if sql == gold)
    assert gold_runs == Counter({"people.sqlite": 1, **{f"s{k:02d}.sqlite": 1 for k in range(7)}})
    assert r["same"].verdicts["ts"].to_json() == {
        "correct": True,
        "status": "match",
        "pred_status": "ok",
        "gold_status": "ok",
        "suite_size": 7,
    }
    assert r["lucky"].verdicts["ex"].correct is True
    assert r["lucky"].verdicts["ts"].correct is False and r["lucky"].verdicts["ts"].extra == {
        "suite_size": 7,
        "failed_on": "s05.sqlite",
    }
    assert r["wrong"].verdicts["ts"].extra["failed_on"] == "s00.sqlite"  # the first failing file in suite order
    monkeypatch.undo()
    pooled = evaluate_items(pairs, replace(config, workers=2))
    assert [x.to_json() for x in pooled] == [r[p.id].to_json() for p in pairs]
