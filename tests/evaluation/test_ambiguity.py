"""Ambiguous-gold flags on real dev queries (data checked by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.ambiguity import ambiguity_flags
from evaluation.executor import ReadOnlyDatabase


def _db(spider_root: Path, db_id: str) -> ReadOnlyDatabase:
    return ReadOnlyDatabase(spider_root / "database" / db_id / f"{db_id}.sqlite")


@pytest.mark.parametrize(
    "db_id,sql,flags",
    [
        # concerts: 2014 and 2015 both have 3 -> the top-1 year is a tie (dev 26)
        ("concert_singer", "SELECT YEAR FROM concert GROUP BY YEAR ORDER BY count(*) DESC LIMIT 1", ("limit_ties",)),
        # youngest singer is unique (Tribal King, 25) (dev 6)
        ("concert_singer", "SELECT song_name ,  song_release_year FROM singer ORDER BY age LIMIT 1", ()),
        # three employees aged 29 (dev 261): their order is arbitrary but compared
        ("employee_hire_evaluation", "SELECT name FROM employee ORDER BY age", ("order_ties",)),
        ("concert_singer", "SELECT name FROM singer LIMIT 2", ("limit_without_order",)),
        ("concert_singer", "SELECT count(*) FROM singer", ()),
    ],
)
def test_flags(spider_root: Path, db_id: str, sql: str, flags: tuple) -> None:
    with _db(spider_root, db_id) as db:
        assert ambiguity_flags(sql, db) == flags


def test_no_db_means_no_tie_check() -> None:
    assert ambiguity_flags("SELECT a FROM t ORDER BY b LIMIT 1") == ()
    assert ambiguity_flags("not sql at all (((") == ()
