"""Verdicts on real Spider dev pairs (concert_singer), each derived by hand from the data.

singer: Joe Sharp NL 52, Timbaland US 32, Justin Brown FR 29, Rose White FR 41,
John Nizinik FR 43, Tribal King FR 25.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.compare import bird_eq, remove_distinct, result_eq
from evaluation.errors import DataNotFoundError, UnknownNameError
from evaluation.ex import exec_match


@pytest.fixture(scope="module")
def cs(spider_root: Path) -> Path:
    return spider_root / "database" / "concert_singer" / "concert_singer.sqlite"


CASES = [
    # title, gold, pred, mode, keep_distinct, expected
    (
        "column permutation is accepted",
        "SELECT name ,  country ,  age FROM singer ORDER BY age DESC",
        "SELECT age, name, country FROM singer ORDER BY age DESC",
        "spider",
        False,
        True,
    ),
    (
        "row order ignored when gold has no ORDER BY",
        "SELECT country ,  count(*) FROM singer GROUP BY country",
        "SELECT country, count(*) FROM singer GROUP BY country ORDER BY count(*) DESC",
        "spider",
        False,
        True,
    ),
    (
        "row order compared when gold has ORDER BY",
        "SELECT name ,  country ,  age FROM singer ORDER BY age DESC",
        "SELECT name, country, age FROM singer ORDER BY age ASC",
        "spider",
        False,
        False,
    ),
    (
        "DISTINCT removed from gold: equal under default",
        "SELECT DISTINCT country FROM singer WHERE age  >  20",
        "SELECT country FROM singer WHERE age > 20",
        "spider",
        False,
        True,
    ),
    (
        "DISTINCT kept: 3 rows vs 6 rows",
        "SELECT DISTINCT country FROM singer WHERE age  >  20",
        "SELECT country FROM singer WHERE age > 20",
        "spider",
        True,
        False,
    ),
    (
        "DISTINCT added to pred: stripped, equal",
        "SELECT country FROM singer WHERE age > 20",
        "SELECT DISTINCT country FROM singer WHERE age > 20",
        "spider",
        False,
        True,
    ),
    (
        "count(DISTINCT) is stripped too (official quirk): 6 == 6",
        "SELECT count(DISTINCT country) FROM singer",
        "SELECT count(country) FROM singer",
        "spider",
        False,
        True,
    ),
    (
        "count(DISTINCT) kept: 3 != 6",
        "SELECT count(DISTINCT country) FROM singer",
        "SELECT count(country) FROM singer",
        "spider",
        True,
        False,
    ),
    (
        "LIMIT changed",
        "SELECT song_name ,  song_release_year FROM singer ORDER BY age LIMIT 1",
        "SELECT song_name, song_release_year FROM singer ORDER BY age LIMIT 2",
        "spider",
        False,
        False,
    ),
    (
        "empty equals empty",
        "SELECT name FROM singer WHERE age > 100",
        "SELECT country, age FROM singer WHERE age > 200",
        "spider",
        False,
        True,
    ),
    (
        "bags: duplicate count matters (spider)",
        "SELECT country FROM singer",
        "SELECT country FROM singer UNION ALL SELECT country FROM singer WHERE country = 'France'",
        "spider",
        False,
        False,
    ),
    (
        "sets: duplicates ignored (bird)",
        "SELECT country FROM singer",
        "SELECT country FROM singer UNION ALL SELECT country FROM singer WHERE country = 'France'",
        "bird",
        False,
        True,
    ),
    (
        "bird compares columns positionally",
        "SELECT name ,  country ,  age FROM singer ORDER BY age DESC",
        "SELECT age, name, country FROM singer ORDER BY age DESC",
        "bird",
        False,
        False,
    ),
    (
        "bird ignores order",
        "SELECT name FROM singer ORDER BY age DESC",
        "SELECT name FROM singer ORDER BY age ASC",
        "bird",
        False,
        True,
    ),
    (
        "spaced operators are closed up like the official script",
        "SELECT count(*) FROM singer WHERE age > = 41",
        "SELECT count(*) FROM singer WHERE age >= 41",
        "spider",
        False,
        True,
    ),
    (
        "different value",
        "SELECT count(*) FROM singer WHERE age > 40",
        "SELECT count(*) FROM singer WHERE age > 41",
        "spider",
        False,
        False,
    ),
]


@pytest.mark.parametrize("title,gold,pred,mode,keep,expected", CASES, ids=[c[0] for c in CASES])
def test_verdicts_on_dev_pairs(cs, title, gold, pred, mode, keep, expected) -> None:
    v = exec_match(cs, gold, pred, mode=mode, keep_distinct=keep)
    assert v.gold_status == "ok", v.message
    assert v.correct is expected, title
    assert v.reason == ("match" if expected else "mismatch")


def test_pred_error_is_incorrect_not_raised(cs) -> None:
    v = exec_match(cs, "SELECT count(*) FROM singer", "SELECT count(*) FROM singers")
    assert not v.correct and v.reason == "pred_error" and "no such table" in v.message
    assert (v.pred_status, v.gold_status) == ("error", "ok")


def test_failed_gold_never_counts_correct(cs) -> None:
    v = exec_match(cs, "SELECT nope FROM singer", "SELECT nope FROM singer")
    assert v.correct is False and v.reason == "gold_failed" and v.gold_status == "error"


def test_pred_timeout(cs) -> None:
    from evaluation.executor import Limits

    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    v = exec_match(cs, "SELECT 1", slow, limits=Limits(timeout_s=0.3))
    assert not v.correct and v.reason == "pred_timeout"


def test_missing_db_and_unknown_mode(cs, tmp_path) -> None:
    with pytest.raises(DataNotFoundError):
        exec_match(tmp_path / "x.sqlite", "SELECT 1", "SELECT 1")
    with pytest.raises(UnknownNameError, match="did you mean 'spider'"):
        exec_match(cs, "SELECT 1", "SELECT 1", mode="spidr")


def test_remove_distinct_respects_quotes() -> None:
    assert remove_distinct("SELECT DISTINCT a FROM t WHERE b = \"distinct\" AND c = 'Distinct'") == (
        "SELECT  a FROM t WHERE b = \"distinct\" AND c = 'Distinct'"
    )
    assert remove_distinct("select distinctive from t") == "select distinctive from t"


def test_result_eq_unit_cases() -> None:
    g = [(1, "a", 2.0, None), (2, "b", 3.0, None)]
    permuted = [(None, 2.0, "a", 1), (None, 3.0, "b", 2)]
    assert result_eq(g, permuted, order_matters=True)
    assert result_eq(g, list(reversed(permuted)), order_matters=False)
    assert not result_eq(g, list(reversed(permuted)), order_matters=True)
    assert not result_eq([(1,), (1,), (2,)], [(1,), (2,), (2,)], order_matters=False)
    assert not result_eq([(1, 2)], [(1,)], order_matters=False)
    # the same value multiset per row but no consistent column permutation
    assert not result_eq([(1, 2), (3, 4)], [(1, 2), (4, 3)], order_matters=False)
    assert bird_eq([(1,), (2,)], [(2,), (1,), (1,)])
