"""The deterministic efficiency measure: SQLite VM steps, and VES computed from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.cli import main
from evaluation.executor import Limits, ReadOnlyDatabase
from evaluation.steps import count_steps, steps_timer
from evaluation.ves import measure_ratio, ves_score

GOLD = "SELECT count(*) FROM city AS a JOIN city AS b ON a.ID = b.ID"
SLOW = "SELECT count(*) FROM city AS a JOIN city AS b ON a.ID + 0 = b.ID"  # same rows, no index on the join


@pytest.fixture()
def world(spider_root: Path) -> Path:
    return spider_root / "database" / "world_1" / "world_1.sqlite"


def test_step_counts_repeat_on_one_and_on_fresh_connections(world: Path) -> None:
    with ReadOnlyDatabase(world) as db:
        first = [count_steps(db, GOLD) for _ in range(5)]
    with ReadOnlyDatabase(world) as db:
        again = count_steps(db, GOLD)
        slow = count_steps(db, SLOW)
        assert count_steps(db, GOLD, step=1) > 0
    assert len(set(first)) == 1 and again == first[0]
    assert slow > first[0]


def test_steps_ves_is_100_for_gold_and_below_for_a_slowed_mutation(world: Path) -> None:
    with ReadOnlyDatabase(world) as db:
        assert ves_score(measure_ratio(db, GOLD, GOLD, 3, steps_timer), True) == 100.0
        assert ves_score(measure_ratio(db, GOLD, SLOW, 1, steps_timer), True) < 100.0


def test_a_runaway_query_stops_at_the_time_limit(world: Path) -> None:
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    with ReadOnlyDatabase(world, Limits(timeout_s=0.2)) as db:
        n = count_steps(db, endless)  # returns at all: without the time limit it never would
        assert n > 1000
        with pytest.raises(ValueError, match="no such table"):
            count_steps(db, "SELECT * FROM nope")


def test_cli_ves_timer_steps(spider_root: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": str(i), "db_id": "world_1", "sql": GOLD}) + "\n" for i in range(2)))
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"id": "0", "sql": GOLD}) + "\n" + json.dumps({"id": "1", "sql": SLOW}) + "\n")
    rep, det = tmp_path / "r.json", tmp_path / "d.jsonl"
    res = CliRunner().invoke(
        main,
        [
            "--metric",
            "ex,ves",
            "--ves-timer",
            "steps",
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--workers",
            "1",
            "--report",
            str(rep),
            "--details",
            str(det),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    report = json.loads(rep.read_text())
    assert report["ves"]["timer"] == "steps" and report["ves"]["repeats"] == 1
    items = {d["id"]: d for d in map(json.loads, det.read_text().splitlines())}
    assert items["0"]["ves"]["score"] == 100.0
    assert 0 < items["1"]["ves"]["score"] < 100.0
