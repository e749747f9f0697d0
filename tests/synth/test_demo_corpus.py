"""The bundled demo corpus: reproducible from its build script, valid Spider layout, gold SQL that runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from evaluation.schema import sqlite_type_to_column_type
from synth.demo import build_demo
from synth.sources import DEMO_ROOT, resolve_benchmark

DB_IDS = ("city_transit", "clinic", "school_library")
TEXT_FILES = ("tables.json", "train.json", "dev.json", "dev_gold.sql")


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)


def _db_file(root: Path, db_id: str) -> Path:
    return root / "database" / db_id / f"{db_id}.sqlite"


def _dump(path: Path) -> list[str]:
    con = _connect_ro(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _tables_json() -> dict[str, dict]:
    return {e["db_id"]: e for e in json.loads((DEMO_ROOT / "tables.json").read_text(encoding="utf-8"))}


def _gold_pairs() -> list[tuple[str, dict]]:
    out = []
    for name in ("train.json", "dev.json"):
        out += [(name, e) for e in json.loads((DEMO_ROOT / name).read_text(encoding="utf-8"))]
    return out


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert build_demo.main([str(out)]) == 0
    return out


# ---- reproducibility --------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEXT_FILES)
def test_rebuild_reproduces_committed_text_files(rebuilt: Path, name: str):
    assert (rebuilt / name).read_bytes() == (DEMO_ROOT / name).read_bytes(), (
        f"{name} differs from a fresh build: rerun `python -m synth.demo.build_demo`"
    )


@pytest.mark.parametrize("db_id", DB_IDS)
def test_rebuild_reproduces_committed_databases(rebuilt: Path, db_id: str):
    assert _dump(_db_file(rebuilt, db_id)) == _dump(_db_file(DEMO_ROOT, db_id))


def test_committed_corpus_has_exactly_the_expected_files():
    found = sorted(p.relative_to(DEMO_ROOT).as_posix() for p in DEMO_ROOT.rglob("*.sqlite"))
    assert found == [f"database/{d}/{d}.sqlite" for d in DB_IDS]
    for db_id in DB_IDS:
        assert _db_file(DEMO_ROOT, db_id).stat().st_size < 100_000


def test_build_fails_on_a_gold_query_with_no_rows(tmp_path: Path):
    build_demo.build(tmp_path)
    paths = {d: _db_file(tmp_path, d) for d in DB_IDS}
    bad = build_demo.Pair("train", "clinic", "q", "SELECT name FROM departments WHERE floor = 99")
    with pytest.raises(build_demo.DemoBuildError, match="no rows"):
        build_demo.check_pairs([bad], paths)
    broken = build_demo.Pair("train", "clinic", "q", "SELECT nope FROM departments")
    with pytest.raises(build_demo.DemoBuildError, match="no such column"):
        build_demo.check_pairs([broken], paths)


# ---- gold SQL ---------------------------------------------------------------------------------


def test_pair_counts_and_gold_file_match_dev():
    train = json.loads((DEMO_ROOT / "train.json").read_text(encoding="utf-8"))
    dev = json.loads((DEMO_ROOT / "dev.json").read_text(encoding="utf-8"))
    assert 35 <= len(train) <= 50 and 15 <= len(dev) <= 25
    assert {e["db_id"] for e in train} == set(DB_IDS) == {e["db_id"] for e in dev}
    for e in train + dev:
        assert set(e) == {"db_id", "query", "question"}
        assert '"' not in e["query"], "our own SQL uses single-quoted literals"
    gold = (DEMO_ROOT / "dev_gold.sql").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t") for line in gold] == [[e["query"], e["db_id"]] for e in dev]


@pytest.mark.parametrize("split_and_pair", _gold_pairs(), ids=lambda p: f"{p[0]}-{p[1]['db_id']}-{p[1]['query'][:40]}")
def test_every_gold_query_returns_rows(split_and_pair):
    _, pair = split_and_pair
    con = _connect_ro(_db_file(DEMO_ROOT, pair["db_id"]))
    try:
        rows = con.execute(pair["query"]).fetchall()
    finally:
        con.close()
    assert rows and any(v is not None for row in rows for v in row)


def test_gold_queries_cover_the_required_constructs():
    sql = " ".join(p["query"].upper() for _, p in _gold_pairs())
    for construct in (
        "COUNT(",
        "AVG(",
        "MAX(",
        "GROUP BY",
        "HAVING",
        "ORDER BY",
        "LIMIT",
        " JOIN ",
        " NOT IN (SELECT",
        " IN (SELECT",
        " UNION ",
        " INTERSECT ",
        " EXCEPT ",
        " LIKE ",
        " BETWEEN ",
        " IS NULL",
    ):
        assert construct in sql, construct


# ---- tables.json agrees with the databases ----------------------------------------------------


@pytest.mark.parametrize("db_id", DB_IDS)
def test_tables_json_is_spider_format(db_id: str):
    e = _tables_json()[db_id]
    n = len(e["column_names_original"])
    assert e["column_names_original"][0] == [-1, "*"] and e["column_names"][0] == [-1, "*"]
    assert len(e["column_names"]) == len(e["column_types"]) == len(e["column_descriptions"]) == n
    assert len(e["table_names"]) == len(e["table_names_original"])
    assert set(e["column_types"]) <= {"text", "number", "time", "boolean", "others"}
    assert any(e["column_descriptions"])
    for a, b in e["foreign_keys"]:
        assert 0 < a < n and 0 < b < n


@pytest.mark.parametrize("db_id", DB_IDS)
def test_tables_json_columns_types_and_keys_match_sqlite(db_id: str):
    e = _tables_json()[db_id]
    con = _connect_ro(_db_file(DEMO_ROOT, db_id))
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY rowid")]
        assert names == e["table_names_original"]
        cols, pks, fks, counts = [[-1, "*"]], set(), set(), {}
        types = ["text"]
        for ti, t in enumerate(names):
            info = con.execute(f"PRAGMA table_info({t})").fetchall()
            for r in info:
                if r[5]:
                    pks.add((t, r[1]))
                cols.append([ti, r[1]])
                types.append(sqlite_type_to_column_type(r[2]))
            for r in con.execute(f"PRAGMA foreign_key_list({t})").fetchall():
                fks.add((t, r[3], r[2], r[4]))
            counts[t] = con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
    finally:
        con.close()
    assert e["column_names_original"] == cols
    assert e["column_types"] == types
    orig = e["column_names_original"]

    def name(i: int) -> tuple[str, str]:
        return (names[orig[i][0]], orig[i][1])

    json_pks = {name(i) for pk in e["primary_keys"] for i in (pk if isinstance(pk, list) else [pk])}
    assert json_pks == pks
    assert {(*name(a), *name(b)) for a, b in e["foreign_keys"]} == fks
    assert len(fks) >= 3
    assert all(10 <= c <= 60 for c in counts.values()), counts


def test_databases_hold_nulls_dates_and_mixed_case_text():
    con = _connect_ro(_db_file(DEMO_ROOT, "school_library"))
    try:
        assert con.execute("SELECT COUNT(*) FROM loans WHERE return_date IS NULL").fetchone()[0] > 0
        dates = [r[0] for r in con.execute("SELECT loan_date FROM loans")]
        assert all(len(d) == 10 and d[4] == d[7] == "-" for d in dates)
        assert con.execute("SELECT COUNT(*) FROM books WHERE genre = 'Science Fiction'").fetchone()[0] > 0
    finally:
        con.close()


# ---- the loader accepts it --------------------------------------------------------------------


def test_resolve_benchmark_loads_all_demo_schemas_with_foreign_keys(demo):
    assert demo.db_ids == sorted(DB_IDS) == demo.available_db_ids
    for db_id in DB_IDS:
        schema = demo.schema(db_id)
        assert schema.foreign_keys and schema.db_path == _db_file(DEMO_ROOT, db_id)
    assert demo.schema("clinic").column("doctors", "salary").comment == "yearly gross salary in dollars"
    assert demo.schema("city_transit").table("line_stops").primary_key == ("line_id", "station_id")
    assert len(demo.train_examples()) == len(json.loads((DEMO_ROOT / "train.json").read_text()))


def test_join_path_crosses_two_hop_chains(demo):
    lib = demo.schema("school_library")
    path = lib.join_path(["loans", "authors"])
    assert [(fk.table, fk.ref_table) for fk in path] == [("loans", "books"), ("books", "authors")]
    assert lib.distance("loans", "authors") == 2
    transit = demo.schema("city_transit")
    path = transit.join_path(["trips", "lines"])
    assert [(fk.table, fk.ref_table) for fk in path] == [("trips", "vehicles"), ("vehicles", "lines")]
    clinic = demo.schema("clinic")
    assert clinic.distance("prescriptions", "departments") == 3


def test_resolve_benchmark_demo_ignores_data_root(tmp_path: Path):
    assert resolve_benchmark("demo", tmp_path).root == DEMO_ROOT
