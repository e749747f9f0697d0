"""`evaluate build-suite`: generator constraints, neighbours, distillation, determinism, the CLI."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.cli import main
from evaluation.executor import ReadOnlyDatabase
from evaluation.schema import schema_from_database
from evaluation.suite import (
    ORIGINAL_NAME,
    SuiteConfig,
    build_suite,
    check_database,
    distil,
    generate_database,
    gold_literals,
    neighbours,
    value_pools,
    view_and_index_sql,
)

FIXTURE_SQL = """
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, born DATE);
CREATE TABLE child (pid INTEGER NOT NULL REFERENCES parent(id), tag TEXT NOT NULL, n INT,
                    PRIMARY KEY (pid, tag));
CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp(id), name TEXT);
CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id));
CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));
CREATE TABLE doc (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO parent VALUES (1, 'ann', 1.5, '2001-02-03'), (2, 'bob', 2.5, '1999-12-31'), (3, 'cy', NULL, '2010-06-01');
INSERT INTO child VALUES (1, 'x', 3), (1, 'y', 4), (2, 'x', 5);
INSERT INTO emp VALUES (1, NULL, 'boss'), (2, 1, 'worker');
INSERT INTO a VALUES (1, 1); INSERT INTO b VALUES (1, 1);
INSERT INTO doc VALUES (1, '{"k": 1}'), (2, '{"k": 2}');
"""


@pytest.fixture()
def fixture_root(tmp_path: Path) -> Path:
    root = tmp_path / "dbs"
    (root / "fx").mkdir(parents=True)
    conn = sqlite3.connect(root / "fx" / "fx.sqlite")
    conn.executescript(FIXTURE_SQL)
    conn.close()
    return root


def _generate(db_path: Path, out: Path, k: int, golds=("SELECT name FROM parent WHERE score > 2",)) -> Path:
    with ReadOnlyDatabase(db_path) as db:
        schema, extra = schema_from_database(db), view_and_index_sql(db)
        pools = value_pools(db, schema, gold_literals(list(golds), schema))
    return generate_database(out, schema, extra, pools, random.Random(k), max_rows=12), schema


def test_generated_databases_keep_pk_fk_not_null_and_types(fixture_root: Path, tmp_path: Path) -> None:
    for k in range(8):
        path, tables = _generate(fixture_root / "fx" / "fx.sqlite", tmp_path / f"g{k}.sqlite", k)
        assert check_database(path, tables) == []
        conn = sqlite3.connect(path)
        # checked here with plain SQL, independently of check_database
        assert conn.execute(
            "SELECT count(*) FROM (SELECT pid, tag FROM child GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM child WHERE pid IS NULL OR tag IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM parent WHERE name IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM child WHERE pid NOT IN (SELECT id FROM parent)").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM emp WHERE boss IS NOT NULL AND boss NOT IN (SELECT id FROM emp)"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM a WHERE b_id IS NOT NULL AND b_id NOT IN (SELECT id FROM b)"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM b WHERE a_id IS NOT NULL AND a_id NOT IN (SELECT id FROM a)"
        ).fetchone() == (0,)
        types = {
            r[0] for r in conn.execute("SELECT typeof(score) FROM parent UNION SELECT typeof(name) || '!' FROM parent")
        }
        assert types <= {"real", "integer", "null", "text!"}
        assert conn.execute("SELECT count(*) FROM parent").fetchone()[0] >= 1
        conn.close()


def test_generated_databases_on_spider_are_valid(spider_root: Path, tmp_path: Path) -> None:
    for db_id in ("student_transcripts_tracking", "dog_kennels", "car_1"):
        for k in range(3):
            path, tables = _generate(
                spider_root / "database" / db_id / f"{db_id}.sqlite", tmp_path / f"{db_id}{k}.sqlite", k
            )
            assert check_database(path, tables) == [], db_id


def test_gold_literals_read_spider_quotes_against_the_schema() -> None:
    """A double-quoted name is a column when one is in scope (SQLite's rule, via sql_analysis.parse),
    else one of Spider's strings: only the string is a literal to build boundary values from."""
    schema = {"singer": ["Name", "Country"]}
    lits = gold_literals(['SELECT "Name" FROM singer WHERE Country = "France"'], schema)
    assert "France" in lits["*"] and "Name" not in lits["*"]
    assert lits["country"] == ["France"] and "name" not in lits
    # single quotes, numbers and a qualified name read as before; an unparsable gold is skipped
    lits = gold_literals(
        ["SELECT T1.\"Name\" FROM singer AS T1 WHERE T1.Country = 'Spain' AND age > 30", "SELECT FROM"], schema
    )
    assert lits["*"] == ["Spain", 30] and lits["country"] == ["Spain"]


def test_check_database_reports_violations(fixture_root: Path, tmp_path: Path) -> None:
    path, tables = _generate(fixture_root / "fx" / "fx.sqlite", tmp_path / "g.sqlite", 0)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM parent")  # every child row is now an orphan
    conn.execute("INSERT INTO parent VALUES (1, 'z', 'not a number', NULL)")
    conn.commit()
    conn.close()
    bad = check_database(path, tables)
    assert any("child.pid" in b and "not in parent.id" in b for b in bad)
    assert any("parent.score" in b and "kind float" in b for b in bad)


def test_neighbours_cover_the_mutation_kinds(spider_root: Path) -> None:
    with ReadOnlyDatabase(spider_root / "database" / "concert_singer" / "concert_singer.sqlite") as db:
        tables = schema_from_database(db)
    gold = "SELECT name FROM singer WHERE age > 20 AND country = 'France' ORDER BY age DESC LIMIT 3"
    out = neighbours(gold, tables)
    expected = [
        "SELECT name FROM singer WHERE age >= 20 AND country = 'France' ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer WHERE age < 20 AND country = 'France' ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer WHERE age > 20 OR country = 'France' ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer WHERE age > 20 ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer WHERE age > 20 AND country = 'France' ORDER BY age ASC LIMIT 3",
        "SELECT name FROM singer WHERE age > 20 AND country = 'France' ORDER BY age DESC LIMIT 4",
        "SELECT DISTINCT name FROM singer WHERE age > 20 AND country = 'France' ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer WHERE age > 20 AND country <> 'France' ORDER BY age DESC LIMIT 3",
    ]
    for e in expected:
        assert e in out
    assert any(n.startswith("SELECT Country FROM singer") or n.startswith("SELECT Song_Name FROM") for n in out)
    joined = neighbours(
        "SELECT max(T1.age) FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id", tables
    )
    assert any("LEFT JOIN" in n for n in joined) and any("MIN(T1.age)" in n for n in joined)
    assert gold not in out and len(out) == len(set(out))


def test_distil_is_greedy_and_bounded() -> None:
    import doctest

    import evaluation.suite as suite

    assert doctest.testmod(suite).failed == 0
    kills = [frozenset({1}), frozenset({1, 2, 3}), frozenset({4}), frozenset()]
    assert distil(kills, 10) == [1, 2]  # candidate 0 adds nothing once 1 is kept
    assert distil(kills, 2) == [1, 2]
    assert distil([frozenset({5}), frozenset({5})], 3) == [0]  # ties broken by the lower index
    assert distil([frozenset(), frozenset()], 5) == []


def _gold_file(tmp_path: Path, items: list[tuple[str, str]]) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("".join(json.dumps({"id": str(i), "db_id": d, "sql": s}) + "\n" for i, (d, s) in enumerate(items)))
    return p


def test_same_seed_same_suite_and_gold_failures_drop_databases(fixture_root: Path, tmp_path: Path) -> None:
    gold = _gold_file(
        tmp_path,
        [
            ("fx", "SELECT name FROM parent WHERE score > 2"),
            ("fx", "SELECT json_extract(body, '$.k') FROM doc"),  # fails on a perturbed (non-JSON) body
            ("fx", "SELECT T1.name, count(*) FROM parent AS T1 JOIN child AS T2 ON T1.id = T2.pid GROUP BY T1.id"),
        ],
    )
    cfg = SuiteConfig(size=5, candidates=12, seed=3)
    m1 = build_suite(fixture_root, gold, tmp_path / "s1", cfg)
    m2 = build_suite(fixture_root, gold, tmp_path / "s2", cfg)
    m3 = build_suite(fixture_root, gold, tmp_path / "s3", SuiteConfig(size=5, candidates=12, seed=4))
    assert m1["outputs"] == m2["outputs"] and m1["counts"] == m2["counts"]
    assert m1["outputs"] != m3["outputs"]
    fx = m1["counts"]["per_db"]["fx"]
    assert fx["dropped_gold_failed"] > 0 and fx["candidates"] == 12
    assert fx["files"][0] == ORIGINAL_NAME and fx["suite_size"] == len(fx["files"]) <= 5
    assert fx["killed"] <= fx["distinguishable"] <= fx["neighbours"]
    assert sorted(p.name for p in (tmp_path / "s1" / "fx").glob("*.sqlite")) == fx["files"]


def test_cli_builds_a_suite_that_evaluate_reads(spider_root: Path, tmp_path: Path) -> None:
    gold_items = [
        ("concert_singer", "SELECT count(*) FROM concert WHERE YEAR = 2014 OR YEAR = 2015"),
        ("concert_singer", "SELECT name FROM singer WHERE age > 40"),
        ("wta_1", "SELECT count(*) FROM players"),  # database missing here: a counted skip
    ]
    gold = _gold_file(tmp_path, gold_items)
    out = tmp_path / "suite"
    db_root = spider_root / "database"
    res = CliRunner().invoke(
        main,
        [
            "build-suite",
            "--db-root",
            str(db_root),
            "--gold",
            str(gold),
            "--out",
            str(out),
            "--candidates",
            "20",
            "--no-progress",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert "concert_singer" in res.output and "overall" in res.output and "wta_1" in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["missing_db_ids"] == ["wta_1"] and manifest["parameters"]["candidates"] == 20
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        json.dumps({"id": "0", "sql": "SELECT count(*) FROM concert"})
        + "\n"  # EX-right, TS-wrong
        + json.dumps({"id": "1", "sql": "SELECT name FROM singer WHERE age > 40"})
        + "\n"
        + json.dumps({"id": "2", "sql": "SELECT 1"})
        + "\n"
    )
    rep = tmp_path / "r.json"
    det = tmp_path / "d.jsonl"
    res = CliRunner().invoke(
        main,
        [
            "--metric",
            "ex,ts",
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(db_root),
            "--suite-dir",
            str(out),
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
    items = {d["id"]: d for d in map(json.loads, det.read_text().splitlines())}
    assert items["0"]["ex"]["correct"] is True and items["0"]["ts"]["correct"] is False
    assert items["1"]["ts"]["correct"] is True


def test_cli_errors_name_the_option(tmp_path: Path) -> None:
    gold = _gold_file(tmp_path, [("x", "SELECT 1")])
    res = CliRunner().invoke(
        main, ["build-suite", "--db-root", str(tmp_path / "nope"), "--gold", str(gold), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1 and "Error: --db-root" in res.output
    res = CliRunner().invoke(
        main,
        ["build-suite", "--db-root", str(tmp_path), "--gold", str(gold), "--out", str(tmp_path / "o"), "--size", "0"],
    )
    assert res.exit_code == 1 and "--size must be >= 1" in res.output


def test_build_suite_help_and_scoring_help() -> None:
    res = CliRunner().invoke(main, ["build-suite", "--help"])
    assert res.exit_code == 0 and "Usage: evaluate build-suite" in res.output and "--size" in res.output
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0 and "--ves-timer" in res.output and "build-suite" in res.output


def test_pad_fills_the_suite_with_valid_random_databases(fixture_root: Path, tmp_path: Path) -> None:
    """A gold with no neighbour left alive after the original gets the original alone; ``pad`` adds
    further valid candidates (index order) up to ``size``, after the distilled ones, deterministically,
    and the gold still runs on all of them."""
    from evaluation.suite import build_db_suite
    from evaluation.suite_cache import suite_fingerprint

    db = fixture_root / "fx" / "fx.sqlite"
    golds = ["SELECT count(*) FROM parent"]
    plain = build_db_suite("fx", db, golds, tmp_path / "plain", SuiteConfig(size=5, candidates=8))
    assert plain.suite_size == 1 and plain.padded == 0
    cfg = SuiteConfig(size=5, candidates=8, pad=True)
    padded = build_db_suite("fx", db, golds, tmp_path / "pad", cfg)
    again = build_db_suite("fx", db, golds, tmp_path / "pad2", cfg)
    assert padded.suite_size == 5 and padded.padded == 4 and padded.files[0] == ORIGINAL_NAME
    assert padded.files == again.files and padded.killed == plain.killed
    for name in padded.files:
        assert (tmp_path / "pad" / name).read_bytes() == (tmp_path / "pad2" / name).read_bytes()
        with ReadOnlyDatabase(tmp_path / "pad" / name) as d:
            assert d.execute(golds[0]).ok
    # a different count of parents on some padded database: what the original alone cannot show
    counts = set()
    for name in padded.files:
        with ReadOnlyDatabase(tmp_path / "pad" / name) as d:
            counts.add(d.execute(golds[0]).rows)
    assert len(counts) > 1
    # with neighbours alive, distilled databases come first, padding after them
    mixed = build_db_suite(
        "fx", db, ["SELECT name FROM parent WHERE score > 2"], tmp_path / "mixed", SuiteConfig(size=6, candidates=8)
    )
    mixed_pad = build_db_suite(
        "fx",
        db,
        ["SELECT name FROM parent WHERE score > 2"],
        tmp_path / "mixed-pad",
        SuiteConfig(size=6, candidates=8, pad=True),
    )
    assert mixed_pad.files[: mixed.suite_size] == mixed.files
    assert mixed_pad.suite_size == 6 and mixed_pad.padded == 6 - mixed.suite_size
    # pad off keeps the fingerprints of suites cached before the option existed; pad on is another suite
    assert suite_fingerprint("ab", golds, SuiteConfig()) != suite_fingerprint("ab", golds, SuiteConfig(pad=True))
