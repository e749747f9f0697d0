"""The executor is the safety boundary: prove it cannot write, attach, or run forever."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, DataNotFoundError, InputError
from evaluation.executor import ExecResult, Limits, ReadOnlyDatabase, execute


@pytest.fixture()
def db_copy(spider_root: Path, tmp_path: Path) -> Path:
    src = spider_root / "database" / "concert_singer" / "concert_singer.sqlite"
    dst = tmp_path / "db" / "concert_singer.sqlite"
    dst.parent.mkdir()
    shutil.copy2(src, dst)
    return dst


def _fingerprint(path: Path) -> tuple[str, int, list[str]]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


HOSTILE = [
    "ATTACH DATABASE '{tmp}/evil.db' AS evil",
    "DETACH DATABASE main",
    "PRAGMA writable_schema = ON",
    "PRAGMA writable_schema",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = WAL",
    "DROP TABLE singer",
    "INSERT INTO singer (Singer_ID, Name) VALUES (99, 'x')",
    "UPDATE singer SET Name = 'x'",
    "DELETE FROM singer",
    "VACUUM INTO '{tmp}/copy.db'",
    "VACUUM",
    "CREATE TABLE t (a)",
    "CREATE TEMP TABLE t (a)",
    "CREATE INDEX i ON singer (Name)",
    "CREATE VIEW v AS SELECT 1",
    "ALTER TABLE singer ADD COLUMN z",
    "REINDEX",
    "ANALYZE",
    "BEGIN IMMEDIATE",
    "SELECT load_extension('/tmp/evil')",
    "SELECT 1; DROP TABLE singer",
    "SELECT * FROM pragma_writable_schema",
    "SELECT * FROM pragma_user_version",
    "SELECT * FROM pragma_journal_mode",
    "SELECT * FROM pragma_table_info('singer'); DROP TABLE singer",
    "UPDATE sqlite_master SET sql = 'x' WHERE name = 'singer'",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_statements_are_refused_and_file_untouched(db_copy: Path, sql: str) -> None:
    before = _fingerprint(db_copy)
    sql = sql.format(tmp=db_copy.parent)
    with ReadOnlyDatabase(db_copy) as db:
        res = db.execute(sql)
        # the connection keeps working and still sees the original data
        assert db.execute("SELECT count(*) FROM singer").rows == ((6,),)
    assert res.status == "error", (sql, res)
    assert res.rows == () and not res.ok
    assert _fingerprint(db_copy) == before  # same bytes, same mtime, no new file (-journal, evil.db...)


def test_select_returns_rows_and_columns(db_copy: Path) -> None:
    res = execute(db_copy, "SELECT Name, Age FROM singer ORDER BY Age DESC LIMIT 2")
    assert res.ok and res.status == "ok"
    assert res.columns == ("Name", "Age")
    assert res.rows == (("Joe Sharp", 52), ("John Nizinik", 43))
    assert res.elapsed_s >= 0


def test_sql_error_is_a_status_not_an_exception(db_copy: Path) -> None:
    res = execute(db_copy, "SELECT nope FROM singer")
    assert res.status == "error" and "no such column" in res.message


def test_missing_file_raises_data_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="missing.sqlite"):
        execute(tmp_path / "missing.sqlite", "SELECT 1")
    assert not (tmp_path / "missing.sqlite").exists()


def test_file_that_is_not_a_database_is_a_clear_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database " * 20)
    before = bad.read_bytes()
    with pytest.raises(InputError, match=r"notes.sqlite.*not a readable SQLite database"):
        execute(bad, "SELECT 1")
    assert bad.read_bytes() == before


@pytest.mark.parametrize(
    "sql",
    [
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e, singer f, "
        "singer g, singer h, singer i, singer j, singer k, singer l",
    ],
    ids=["recursive-cte", "cartesian"],
)
def test_timeout_really_interrupts(db_copy: Path, sql: str) -> None:
    t0 = time.perf_counter()
    res = execute(db_copy, sql, Limits(timeout_s=0.5))
    took = time.perf_counter() - t0
    assert res.status == "timeout", res
    assert took < 1.5


def test_row_cap(db_copy: Path) -> None:
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c"
    assert execute(db_copy, sql, Limits(max_rows=50)).status == "ok"
    res = execute(db_copy, sql, Limits(max_rows=49))
    assert res.status == "too_large" and res.rows == ()


def test_memory_bound_on_fetched_rows(db_copy: Path) -> None:
    sql = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000) "
        "SELECT x, printf('%.1000c', 'a') FROM c"
    )
    assert execute(db_copy, sql, Limits(max_memory_mb=1)).status == "too_large"
    assert execute(db_copy, sql, Limits(max_memory_mb=64)).status == "ok"


def test_limits_are_checked() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        Limits(timeout_s=0)
    with pytest.raises(ConfigError, match="max_rows"):
        Limits(max_rows=-1)


def test_invalid_utf8_is_decoded_leniently(tmp_path: Path) -> None:
    import sqlite3

    p = tmp_path / "bad.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (a TEXT)")
    con.execute("INSERT INTO t VALUES (CAST(x'61ff62' AS TEXT))")
    con.commit()
    con.close()
    res = execute(p, "SELECT a FROM t")
    assert res.ok and res.rows == (("ab",),)


def test_exec_result_ok_property() -> None:
    assert ExecResult("ok", (), ()).ok
    assert not ExecResult("timeout", (), ()).ok


def test_read_only_table_valued_pragmas_are_allowed(db_copy: Path) -> None:
    """Introspection in table-valued form works; the declaration it needs does not open any write."""
    before = _fingerprint(db_copy)
    with ReadOnlyDatabase(db_copy) as db:
        res = db.execute("SELECT name, pk FROM pragma_table_info('singer') ORDER BY cid LIMIT 2")
        assert res.status == "ok" and res.rows == (("Singer_ID", 1), ("Name", 0)), res
        joined = db.execute(
            "SELECT m.name, count(*) FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
            "WHERE m.type = 'table' GROUP BY m.name ORDER BY m.name"
        )
        assert joined.ok and dict(joined.rows)["singer"] == 7
        assert db.execute("SELECT count(*) FROM pragma_index_list('singer')").rows == ((1,),)
        assert db.execute("SELECT value FROM json_each('[4, 5]')").rows == ((4,), (5,))
        # after the declaration, writes are still refused on the same connection
        assert db.execute("PRAGMA writable_schema = ON").status == "error"
        assert db.execute("DROP TABLE singer").status == "error"
        assert db.execute("SELECT count(*) FROM singer").rows == ((6,),)
    assert _fingerprint(db_copy) == before
