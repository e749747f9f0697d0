"""Hardness as the official evaluation.py counts it; dev distribution equals the official one."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from evaluation.hardness import HardnessCounts, hardness, hardness_counts

# (dev index, sql, (component1, component2, others), level) — counted by hand with the official rules.
HAND_CHECKED = [
    (0, "SELECT count(*) FROM singer", (0, 0, 0), "easy"),
    (8, "SELECT DISTINCT country FROM singer WHERE age  >  20", (1, 0, 0), "easy"),
    (2, "SELECT name ,  country ,  age FROM singer ORDER BY age DESC", (1, 0, 1), "medium"),
    (4, "SELECT avg(age) ,  min(age) ,  max(age) FROM singer WHERE country  =  'France'", (1, 0, 2), "medium"),
    (20, "SELECT count(*) FROM concert WHERE YEAR  =  2014 OR YEAR  =  2015", (2, 0, 1), "medium"),
    (
        22,
        "SELECT T2.name ,  count(*) FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  T2.stadium_id "
        "GROUP BY T1.stadium_id",
        (2, 0, 1),
        "medium",
    ),
    (39, "SELECT name ,  country FROM singer WHERE song_name LIKE '%Hey%'", (2, 0, 1), "medium"),
    (12, "SELECT song_name FROM singer WHERE age  >  (SELECT avg(age) FROM singer)", (1, 1, 0), "hard"),
    (28, "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM concert)", (1, 1, 0), "hard"),
    (
        30,
        "SELECT country FROM singer WHERE age  >  40 INTERSECT SELECT country FROM singer WHERE age  <  30",
        (1, 1, 0),
        "hard",
    ),
    (
        37,
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id  =  T2.singer_id "
        "JOIN concert AS T3 ON T1.concert_id  =  T3.concert_id WHERE T3.year  =  2014",
        (3, 0, 0),
        "hard",
    ),
    (
        24,
        "SELECT T2.name ,  T2.capacity FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  T2.stadium_id "
        "WHERE T1.year  >=  2014 GROUP BY T2.stadium_id ORDER BY count(*) DESC LIMIT 1",
        (5, 0, 1),
        "extra",
    ),
    (
        None,
        'SELECT name FROM singer WHERE country = "France" UNION SELECT name FROM singer WHERE age > 40',
        (1, 1, 0),
        "hard",
    ),
    (None, "SELECT a FROM t WHERE b NOT IN (SELECT b FROM u) AND c NOT LIKE 'x%'", (2, 1, 2), "extra"),
]


@pytest.mark.parametrize("idx,sql,counts,level", HAND_CHECKED, ids=[f"{c[3]}-{c[0]}" for c in HAND_CHECKED])
def test_hand_checked(idx, sql, counts, level, spider_root) -> None:
    if idx is not None:
        dev = json.loads((spider_root / "dev.json").read_text())
        assert dev[idx]["query"] == sql
    c = hardness_counts(sql)
    assert (c.component1, c.component2, c.others) == counts
    assert hardness(sql) == level


def test_official_quirks() -> None:
    # an aggregate inside a one-condition HAVING is not counted; the AND of two conditions is
    assert hardness_counts("SELECT a FROM t GROUP BY a HAVING count(*) > 1").others == 0
    assert hardness_counts("SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1 AND sum(b) > 2").others == 2
    # only the first token of a select item decides whether it is an aggregate
    assert hardness_counts("SELECT max(a) - min(a), b FROM t").others == 1
    assert hardness_counts("SELECT max(a) - min(a), count(*) FROM t").others == 2


def test_level_rule_boundaries() -> None:
    assert HardnessCounts(1, 0, 0).level == "easy"
    assert HardnessCounts(2, 0, 1).level == "medium"
    assert HardnessCounts(1, 0, 2).level == "medium"
    assert HardnessCounts(2, 0, 3).level == "hard"
    assert HardnessCounts(3, 0, 2).level == "hard"
    assert HardnessCounts(1, 1, 0).level == "hard"
    assert HardnessCounts(1, 1, 1).level == "extra"
    assert HardnessCounts(4, 0, 0).level == "extra"


def test_unparsable_is_unknown() -> None:
    assert hardness("SELECT FROM WHERE (((") == "unknown"


def test_dev_distribution_equals_official(spider_root) -> None:
    """The official evaluation.py reports easy 248 / medium 446 / hard 174 / extra 166 on dev."""
    dev = json.loads((spider_root / "dev.json").read_text())
    got = Counter(hardness(ex["query"]) for ex in dev)
    assert got == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}


def test_a_parsed_tree_gives_the_same_level(spider_root) -> None:
    import json

    import sqlglot

    dev = json.loads((spider_root / "dev.json").read_text())[::5]
    for ex in dev:
        assert hardness(sqlglot.parse_one(ex["query"], read="sqlite")) == hardness(ex["query"]), ex["query"]
    assert hardness(None) == "unknown"
