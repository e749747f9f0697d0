"""evaluation.executor's plain connections for the project's own SQL: connect_readonly, connect_writable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evaluation.errors import DataNotFoundError
from evaluation.executor import connect_readonly, connect_writable


def _make(path: Path) -> Path:
    con = connect_writable(path)
    con.execute("CREATE TABLE t (a INTEGER)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    return path


def test_connect_writable_creates_the_file_with_sqlite3s_transaction_modes(tmp_path: Path) -> None:
    path = _make(tmp_path / "new.sqlite")
    assert path.is_file()
    con = connect_writable(path)
    assert con.isolation_level == ""  # sqlite3's default: implicit transactions
    con.execute("INSERT INTO t VALUES (2)")
    assert con.in_transaction
    con.rollback()
    con.close()
    con = connect_writable(path, isolation_level=None)  # autocommit: the suite issues BEGIN itself
    con.execute("INSERT INTO t VALUES (3)")
    assert not con.in_transaction
    con.close()
    assert [r[0] for r in connect_readonly(path).execute("SELECT a FROM t ORDER BY a")] == [1, 3]


@pytest.mark.parametrize("name", ["plain.sqlite", "odd ?#%20name.sqlite"])
def test_connect_readonly_reads_and_refuses_writes(tmp_path: Path, name: str) -> None:
    path = _make(tmp_path / name)
    con = connect_readonly(path)
    try:
        assert con.execute("SELECT a FROM t").fetchall() == [(1,)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            con.execute("INSERT INTO t VALUES (2)")
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no stray file from a misread URI


def test_connect_readonly_never_creates_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="not found"):
        connect_readonly(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
