"""``synth generate --judge ts``: "is it new?" judged on a test suite (issue 11).

The default (``ex``) is pinned byte for byte by test_output_hash.py; here: what ``ts`` flips and what
it must not, that it is deterministic for any ``--workers``, that suites are cached, the manifest.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError, UnknownNameError
from evaluation.executor import Limits, ReadOnlyDatabase
from synth.cli import main
from synth.generation import GenerateConfig, generate, write_outputs
from synth.generation.novelty import SuiteNovelty, bag_key, ex_equal

DB = "school_library"


@pytest.fixture()
def novelty(tmp_path, demo):
    path = demo.db_path(DB)
    db = ReadOnlyDatabase(path, Limits())
    yield SuiteNovelty({DB: path}, lambda _: db, suite_size=20, suite_cache=tmp_path / "suites", limits=Limits())
    db.close()


def test_the_same_question_in_another_column_order_is_flipped(novelty):
    assert novelty.check(DB, "SELECT title, genre FROM books") == ""
    why = novelty.check(DB, "SELECT genre, title FROM books")
    assert why.startswith("returns what syn-000001 returns on every database of their test suites")
    assert novelty.report()["flipped"] == 1
    assert novelty.report()["flips"] == [
        {"db_id": DB, "sql": "SELECT genre, title FROM books", "same_as": "syn-000001"}
    ]


def test_a_different_question_with_the_same_answer_here_is_kept(novelty):
    # 12 authors, and every author has a book: EX-equal on the demo database, not on random ones
    assert novelty.check(DB, "SELECT COUNT(*) FROM authors") == ""
    assert novelty.check(DB, "SELECT COUNT(DISTINCT author_id) FROM books") == ""
    rep = novelty.report()
    assert (rep["ex_equal"], rep["ts_checks"], rep["flipped"]) == (1, 1, 0)
    # random valid databases of school_library already tell the two apart: no pair suite needed
    assert (rep["separated_by_db_suite"], rep["pair_suites"]) == (1, 0)
    assert novelty.cache.builds == 1


def test_a_pair_equal_on_the_shared_suite_goes_to_its_own_suite(novelty):
    novelty.check(DB, "SELECT title, genre FROM books")
    novelty.check(DB, "SELECT genre, title FROM books")
    rep = novelty.report()
    assert (rep["separated_by_db_suite"], rep["pair_suites"], rep["flipped"]) == (0, 1, 1)
    assert novelty.cache.builds == 2  # the database's shared suite and the pair's


def test_distinct_and_order_by_make_different_questions(novelty):
    for sql in ("SELECT genre FROM books", "SELECT DISTINCT genre FROM books"):
        assert novelty.check(DB, sql) == ""
    for sql in ("SELECT title FROM books", "SELECT title FROM books ORDER BY title"):
        assert novelty.check(DB, sql) == ""
    assert novelty.report()["flipped"] == 0


def test_ids_count_accepted_examples_of_every_database(tmp_path, demo):
    paths = {d: demo.db_path(d) for d in (DB, "clinic")}
    dbs = {d: ReadOnlyDatabase(p, Limits()) for d, p in paths.items()}
    n = SuiteNovelty(paths, dbs.__getitem__, suite_size=5, suite_cache=tmp_path, limits=Limits())
    assert n.check("clinic", "SELECT name FROM departments") == ""
    assert n.check(DB, "SELECT name, country FROM authors") == ""
    assert "syn-000002" in n.check(DB, "SELECT country, name FROM authors")
    for db in dbs.values():
        db.close()


def test_bag_key_is_a_necessary_condition_of_ex_equality():
    a, b = [(1, "x"), (2, "y")], [("y", 2.0), ("x", 1)]
    assert bag_key(a) == bag_key(b)
    assert bag_key(a) != bag_key([(1, "x")]) and bag_key(a) != bag_key([(1, "x"), (1, "x")])
    assert bag_key([(None,)]) != bag_key([(0,)])


def test_ex_equal_is_both_ways(demo):
    with ReadOnlyDatabase(demo.db_path(DB), Limits()) as db:
        plain, ordered = "SELECT title FROM books", "SELECT title FROM books ORDER BY title DESC"
        a, b = db.execute(plain), db.execute(ordered)
        # one way (gold without ORDER BY) the evaluator accepts any order; both ways it does not
        assert not ex_equal(plain, a, ordered, b)
        assert ex_equal(plain, a, plain, a)


def _config(tmp_path: Path, **kw) -> GenerateConfig:
    base = dict(db="demo", n=300, val_size=40, seed=0, suite_cache=tmp_path / "suites", cache_dir=None)
    return GenerateConfig(**(base | kw))


def test_generate_ts_is_deterministic_cached_and_recorded(tmp_path):
    first = generate(_config(tmp_path, judge="ts"))
    c = first.manifest["counts"]
    assert c["judge"]["flipped"] == c["rejections"]["duplicate_ts"] >= 1
    assert c["judge"]["ex_equal"] >= c["judge"]["flipped"]
    assert first.manifest["parameters"]["judge"] == "ts" and "suite_cache" not in first.manifest["parameters"]
    assert first.manifest["cache"]["suites_built"] >= 1
    assert c["judge"]["ts_checks"] == c["judge"]["separated_by_db_suite"] + c["judge"]["pair_suites"]
    assert "judge_s" in first.manifest["timings"]
    ids = {r["id"]: r["sql"] for r in (*first.train, *first.val)}
    for flip in c["judge"]["flips"]:  # each flipped query is really missing, the one it repeats kept
        assert flip["same_as"] in ids and flip["sql"] not in ids.values()

    again = generate(_config(tmp_path, judge="ts", workers=2))
    assert again.manifest["cache"]["suites_built"] == 0
    built, reused = first.manifest["cache"]["suites_built"], first.manifest["cache"]["suites_reused"]
    assert again.manifest["cache"]["suites_reused"] == built + reused
    a, b = first.files(), again.files()
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert a[name] == b[name]
    assert first.manifest["counts"] == again.manifest["counts"]

    # ts only ever removes: every ex example it keeps is where ex put it, the flipped ones are replaced
    plain = generate(_config(tmp_path, judge="ex"))
    assert "judge" not in plain.manifest["counts"] and "suites_built" not in plain.manifest["cache"]

    def in_order(result) -> list[tuple[str, str]]:
        return [(r["db_id"], r["sql"]) for r in sorted((*result.train, *result.val), key=lambda r: r["id"])]

    assert len(c["judge"]["flips"]) == c["judge"]["flipped"]  # all listed (fewer than FLIPS_SHOWN)
    flipped = {(f["db_id"], f["sql"]) for f in c["judge"]["flips"]}
    kept = [x for x in in_order(plain) if x not in flipped]
    assert len(kept) == 300 - len(flipped)
    assert in_order(first)[: len(kept)] == kept


def test_manifest_validates(tmp_path):
    result = generate(_config(tmp_path, judge="ts", n=60, val_size=6))
    out = tmp_path / "out"
    write_outputs(result, out)
    res = CliRunner().invoke(main, ["validate", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_bad_judge_settings_are_clear_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="--judge"):
        _config(tmp_path, judge="tss")
    with pytest.raises(ConfigError, match="--suite-size"):
        _config(tmp_path, judge="ts", suite_size=0)
    assert replace(_config(tmp_path), judge="ts").judge == "ts"


def test_cli_judge_ts(tmp_path):
    out = tmp_path / "out"
    args = ["generate", "--db", "demo", "--n", "60", "--val-size", "6", "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(main, [*args, "--judge", "ts", "--suite-cache", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["judge"] == "ts" and manifest["parameters"]["suite_size"] == 20
    assert manifest["cache"]["suites_dir"] == (tmp_path / "s").resolve().as_posix()
    res = CliRunner().invoke(main, [*args, "--judge", "xx"])
    assert res.exit_code == 2 and "xx" in res.output


# ---- examples made before the run (GenerateConfig.earlier; train vbi's two shares) ----------------


def test_an_earlier_examples_twin_is_flipped_naming_it(novelty):
    novelty.add_earlier(DB, "SELECT title, genre FROM books", "earlier example 1")
    why = novelty.check(DB, "SELECT genre, title FROM books")
    assert why.startswith("returns what earlier example 1 returns on every database of their test suites")
    assert novelty.check(DB, "SELECT name FROM authors") == ""
    assert "syn-000001" in novelty.check(DB, "SELECT name FROM authors ")  # this run's ids start at 1
    assert novelty.report()["flips"][0]["same_as"] == "earlier example 1"


def _pairs(result) -> list[tuple[str, str]]:
    return [(r["db_id"], r["sql"]) for r in sorted((*result.train, *result.val), key=lambda r: r["id"])]


@pytest.mark.parametrize("judge", ["ex", "ts"])
def test_earlier_examples_are_never_repeated_and_others_take_their_place(tmp_path, judge):
    from synth.generation import normalize_sql

    before = generate(_config(tmp_path, judge=judge))
    earlier = _pairs(before)
    # the same seed draws the same candidates first: every one is a repeat, so all 100 are others
    after = generate(_config(tmp_path, judge=judge, n=100, val_size=10, earlier=earlier))
    assert len(_pairs(after)) == 100
    parallel = generate(_config(tmp_path, judge=judge, n=100, val_size=10, earlier=earlier, workers=2))
    assert parallel.files()["train.jsonl"] == after.files()["train.jsonl"]  # same for any --workers
    assert not {(d, normalize_sql(s)) for d, s in _pairs(after)} & {(d, normalize_sql(s)) for d, s in earlier}
    counts = after.manifest["counts"]
    assert counts["rejections"]["duplicate"] >= 100
    assert after.manifest["parameters"]["earlier"]["count"] == 300
    assert len(after.manifest["parameters"]["earlier"]["digest"]) == 64
    assert before.manifest["parameters"]["earlier"]["count"] == 0
    if judge == "ts":  # twins of earlier examples (column order, ...) are caught too, and named
        flips = counts["judge"]["flips"]
        assert flips and all(f["same_as"].startswith(("earlier example ", "syn-")) for f in flips)
        assert any(f["same_as"].startswith("earlier example ") for f in flips)
        for f in flips:
            if f["same_as"].startswith("earlier example "):
                assert earlier[int(f["same_as"].rsplit(" ", 1)[1]) - 1][0] == f["db_id"]
    write_outputs(after, tmp_path / "out")  # the manifest, "earlier example N" and all, is valid
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_earlier_must_be_db_id_sql_pairs(tmp_path):
    with pytest.raises(ConfigError, match=r"earlier\[1\] must be a \(db_id, sql\) pair"):
        _config(tmp_path, earlier=[("clinic", "SELECT 1"), ("clinic",)])
    assert _config(tmp_path, earlier=[["clinic", "SELECT 1"]]).earlier == (("clinic", "SELECT 1"),)


def test_cli_avoid_makes_none_of_an_earlier_runs_examples(tmp_path):
    from synth.generation import normalize_sql

    def run(out: Path, *extra: str):
        args = ["generate", "--db", "demo", "--n", "60", "--val-size", "6", "--out", str(out), "--no-progress"]
        return CliRunner().invoke(main, [*args, *extra])

    first, second = tmp_path / "first", tmp_path / "second"
    assert run(first).exit_code == 0
    res = run(second, "--avoid", str(first / "train.jsonl"), "--avoid", str(first / "val.jsonl"))
    assert res.exit_code == 0, res.output

    def keys(out: Path) -> set[tuple[str, str]]:
        rows = [json.loads(line) for name in ("train.jsonl", "val.jsonl") for line in (out / name).open()]
        return {(r["db_id"], normalize_sql(r["sql"])) for r in rows}

    assert len(keys(second)) == 60 and not keys(first) & keys(second)
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["parameters"]["earlier"]["count"] == 60
    assert manifest["counts"]["rejections"]["duplicate"] >= 60  # the same seed: its first 60 were repeats

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"db_id": "clinic", "sql": "SELECT 1"}\n{"db_id": "clinic"}\n')
    res = run(tmp_path / "third", "--avoid", str(bad))
    assert res.exit_code == 1 and f"{bad}:2, field 'sql'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "third").exists()
    res = run(tmp_path / "third", "--avoid", str(tmp_path / "missing.jsonl"))
    assert res.exit_code != 0 and "missing.jsonl" in res.output
