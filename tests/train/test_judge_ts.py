"""``--judge ts``: VBI-FT's y+/y- and self-play's R judged on a test suite built on the fly and cached.

The case: on the bundled demo database ``school_library`` no book was published in 1950, so
``published_year >= 1950`` returns exactly what the gold ``published_year > 1950`` returns -- EX calls
it correct. The suite built for the gold keeps a database with a 1950 book (the gold's own literal is
a boundary value), where the two differ: TS calls it wrong. The other prediction is right everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import synth
from evaluation.errors import ConfigError, UnknownNameError
from train.pool import PoolEntry
from train.scoring import Judge, judge_predictions

DEMO = Path(synth.__file__).parent / "demo"
DB_PATH = "database/school_library/school_library.sqlite"
GOLDS = ["SELECT title FROM books WHERE published_year > 1950", "SELECT count(*) FROM authors"]
PREDS = ["SELECT title FROM books WHERE published_year >= 1950", "SELECT count(*) FROM authors"]


def _examples() -> list[dict]:
    return [
        {
            "id": f"v{i}",
            "db_id": "school_library",
            "db_path": DB_PATH,
            "sql": g,
            "question": f"q{i}",
            "template_id": f"t{i}",
            "prompt": f"p{i}",
        }
        for i, g in enumerate(GOLDS)
    ]


@pytest.fixture()
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "suites")


def test_ex_correct_prediction_is_ts_wrong(cache: str) -> None:
    ex = judge_predictions(_examples(), PREDS, DEMO)
    assert [j.correct for j in ex] == [True, True]
    judge = Judge("ts", suite_cache=cache)
    ts = judge_predictions(_examples(), PREDS, DEMO, judge=judge)
    assert [j.correct for j in ts] == [False, True]
    assert [j.extra["ex_correct"] for j in ts] == [True, True]
    assert ts[0].reason == "mismatch" and ts[0].extra["failed_on"] not in ("", "00_original.sqlite")
    assert "failed_on" not in ts[1].extra
    assert (judge.flips, judge.ts_runs, judge.verdicts) == (1, 2, 2)


def test_ex_judge_changes_nothing(cache: str) -> None:
    plain = judge_predictions(_examples(), PREDS, DEMO)
    judge = Judge("ex", suite_cache=cache)
    assert judge_predictions(_examples(), PREDS, DEMO, judge=judge) == plain
    assert not Path(cache).exists()  # EX never builds a suite


def test_vbi_split_y_plus_under_ex_y_minus_under_ts(cache: str) -> None:
    from train.vbi import verify

    preds = [{"id": f"v{i}", "sql": p} for i, p in enumerate(PREDS)]
    default = verify(_examples(), preds, DEMO)
    assert [r["verdict"] for r in default] == ["y+", "y+"]
    assert verify(_examples(), preds, DEMO, Judge("ex")) == default  # default rows: byte-identical
    assert set(default[0]) == {"id", "db_id", "template_id", "question", "sql", "pred_sql", "verdict", "reason"}
    ts = verify(_examples(), preds, DEMO, Judge("ts", suite_cache=cache))
    assert [r["verdict"] for r in ts] == ["y-", "y+"]
    assert [r["ex_verdict"] for r in ts] == ["y+", "y+"]


def test_selfplay_reward_differs_under_ts(cache: str) -> None:
    from train.selfplay import build_pairs

    opponent = PoolEntry("m0", "model", "model", False, "start")
    preds = [{"id": f"v{i}", "sql": p} for i, p in enumerate(PREDS)]
    default = build_pairs(_examples(), preds, DEMO, opponent)
    assert [p["reward"] for p in default] == [0, 0]
    assert build_pairs(_examples(), preds, DEMO, opponent, judge=Judge("ex")) == default
    ts = build_pairs(_examples(), preds, DEMO, opponent, judge=Judge("ts", suite_cache=cache))
    assert [p["reward"] for p in ts] == [1, 0]
    assert [p["ex_reward"] for p in ts] == [0, 0]


def test_suite_is_cached_by_fingerprint(cache: str) -> None:
    first = Judge("ts", suite_cache=cache)
    judge_predictions(_examples(), PREDS, DEMO, judge=first)
    assert (first.cache.builds, first.cache.reuses) == (1, 0)
    judge_predictions(_examples(), PREDS, DEMO, judge=first)  # same process, same examples
    assert (first.cache.builds, first.cache.reuses) == (1, 1)
    second = Judge("ts", suite_cache=cache)  # a second run
    again = judge_predictions(_examples(), PREDS, DEMO, judge=second)
    assert (second.cache.builds, second.cache.reuses) == (0, 1)
    assert [j.correct for j in again] == [False, True]
    (name,) = second.last_suites
    info = json.loads((Path(cache) / name / "suite.json").read_text())
    assert name == f"school_library-{info['fingerprint'][:16]}"
    summary = second.summary()
    assert summary["suites"][name]["fingerprint"] == info["fingerprint"]
    other = Judge("ts", suite_size=3, suite_cache=cache)  # other suite parameters: another suite
    judge_predictions(_examples(), PREDS, DEMO, judge=other)
    assert other.cache.builds == 1 and other.last_suites != second.last_suites


def test_suite_does_not_depend_on_predictions(cache: str) -> None:
    a, b = Judge("ts", suite_cache=cache), Judge("ts", suite_cache=cache)
    judge_predictions(_examples(), PREDS, DEMO, judge=a)
    judge_predictions(_examples(), [GOLDS[0], "SELECT 1"], DEMO, judge=b)  # other EX-correct items
    assert a.last_suites == b.last_suites and b.cache.builds == 0


def test_changed_judge_is_a_resume_error(tmp_path: Path) -> None:
    from train.selfplay_config import SelfPlayConfig
    from train.vbi import check_judge_resume
    from train.vbi_config import VBIConfig

    cfg = VBIConfig(model="m", out=str(tmp_path), judge="ts")
    with pytest.raises(ConfigError, match="judge: 'ex' -> 'ts'"):  # a run saved before --judge existed
        check_judge_resume(tmp_path, {"parameters": {"seed": 0}}, cfg, "")
    with pytest.raises(ConfigError, match="suite_size: 10 -> 20"):
        check_judge_resume(tmp_path, {"parameters": {"judge": "ts", "suite_size": 10}}, cfg, "")
    check_judge_resume(tmp_path, {"parameters": {"judge": "ts", "suite_size": 20}}, cfg, "")
    sp = SelfPlayConfig(data="d", out="o", model="m", judge="ts")
    assert any(c.startswith("judge") for c in sp.resume_conflicts({"seed": 0}))
    assert any(c.startswith("judge") for c in sp.resume_conflicts({"judge": "ex"}))
    assert not SelfPlayConfig(data="d", out="o", model="m").resume_conflicts({"seed": 0})
    assert not sp.resume_conflicts({"judge": "ts", "suite_cache": "/elsewhere"})  # where, not what


def test_config_checks_the_judge() -> None:
    from train.vbi_config import VBIConfig

    with pytest.raises(UnknownNameError, match="judge"):
        VBIConfig(model="m", out="o", judge="tss")
    with pytest.raises(ConfigError, match="suite_size"):
        VBIConfig(model="m", out="o", judge="ts", suite_size=0)


def test_ts_pairs_and_rows_follow_their_schemas(cache: str) -> None:
    from synth.validate import _validator
    from train.selfplay import build_pairs
    from train.vbi import verify

    opponent = PoolEntry("m0", "model", "model", False, "start")
    preds = [{"id": f"v{i}", "sql": p} for i, p in enumerate(PREDS)]
    judge = Judge("ts", suite_cache=cache)
    pairs = build_pairs(_examples(), preds, DEMO, opponent, judge=judge)
    assert all(not list(_validator("preference_pair").iter_errors(p)) for p in pairs)
    verify(_examples(), preds, DEMO, judge)
    summary = judge.summary()
    assert summary["judge"] == "ts" and summary["flips"] == 2 and len(summary["suites"]) == 1


def _build_one(args: tuple[str, int]) -> tuple[str, ...]:
    """One process's view of the suite (for the concurrency test below)."""
    from evaluation.suite import SuiteConfig
    from evaluation.suite_cache import SuiteCache

    root, _ = args
    cache = SuiteCache(root, SuiteConfig(size=4, candidates=12))
    return cache.suite_for("school_library", DEMO / DB_PATH, GOLDS).files


def test_runs_sharing_the_cache_build_the_same_suite_at_once(tmp_path: Path) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(3) as pool:
        got = pool.map(_build_one, [(str(tmp_path), k) for k in range(3)])
    assert got[0] == got[1] == got[2]
    (folder,) = [p for p in tmp_path.iterdir()]  # one suite, no staging folder left behind
    assert (folder / "suite.json").is_file() and sorted(f.name for f in folder.glob("*.sqlite")) == sorted(got[0])


def test_a_suite_published_meanwhile_by_another_run_is_used(tmp_path: Path, monkeypatch) -> None:
    import evaluation.suite as suite_mod
    from evaluation.suite import SuiteConfig
    from evaluation.suite_cache import SuiteCache

    config = SuiteConfig(size=4, candidates=12)
    real = suite_mod.build_db_suite

    def slow_build(*args, **kwargs):
        rep = real(*args, **kwargs)
        monkeypatch.setattr(suite_mod, "build_db_suite", real)
        SuiteCache(tmp_path, config).suite_for("school_library", DEMO / DB_PATH, GOLDS)  # the other run wins
        return rep

    monkeypatch.setattr(suite_mod, "build_db_suite", slow_build)
    mine = SuiteCache(tmp_path, config)
    suite = mine.suite_for("school_library", DEMO / DB_PATH, GOLDS)
    assert (mine.builds, mine.reuses, suite.built) == (0, 1, False)
    assert len([p for p in tmp_path.iterdir()]) == 1 and all(p.is_file() for p in suite.paths)


def test_an_interrupted_build_is_built_again(tmp_path: Path) -> None:
    from evaluation.suite import SuiteConfig
    from evaluation.suite_cache import SuiteCache

    config = SuiteConfig(size=4, candidates=12)
    first = SuiteCache(tmp_path, config).suite_for("school_library", DEMO / DB_PATH, GOLDS)
    (first.folder / "suite.json").unlink()  # as an older version left a build it did not finish
    again = SuiteCache(tmp_path, config)
    suite = again.suite_for("school_library", DEMO / DB_PATH, GOLDS)
    assert again.builds == 1 and suite.files == first.files and (suite.folder / "suite.json").is_file()
