"""Our Spider EX verdicts equal the official test-suite-sql-eval semantics, quirks included.

The oracle (:mod:`tests.evaluation.official_reference`) restates the official logic independently.
The predictions are *not* gold-vs-gold: every present Spider dev question gets mutated predictions
(another question's gold on the same database, DISTINCT dropped/added, LIMIT changed, columns
permuted, ORDER BY dropped or flipped, a column cast to text or scaled to float, a second statement
appended, MySQL's YEAR(CURDATE())), judged with and without ``keep_distinct``.
"""

from __future__ import annotations

import doctest
import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from evaluation import compare
from evaluation.compare import remove_distinct, result_eq
from evaluation.inputs import Item
from evaluation.runner import EvalConfig, evaluate_items
from tests.evaluation import official_reference as official


def _reselect(sql: str, edit) -> str | None:
    """Apply ``edit`` to the top-level SELECT of ``sql`` (None when not a plain SELECT)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (sqlglot.errors.SqlglotError, RecursionError):
        return None
    if not isinstance(tree, exp.Select):
        return None
    out = edit(tree)
    return None if out is None else out.sql(dialect="sqlite")


def _permute(tree: exp.Select):
    if len(tree.expressions) < 2:
        return None
    cols = list(tree.expressions)
    return tree.select(*(cols[1:] + cols[:1]), append=False)


def _drop_order(tree: exp.Select):
    if tree.args.get("order") is None:
        return None
    tree.set("order", None)
    return tree


def _cast_text(tree: exp.Select):
    cols = list(tree.expressions)
    first = cols[0].unalias() if isinstance(cols[0], exp.Alias) else cols[0]
    return tree.select(exp.cast(first.copy(), "TEXT"), *cols[1:], append=False)


def _as_float(tree: exp.Select):
    cols = list(tree.expressions)
    if isinstance(cols[0], exp.Star):
        return None
    first = cols[0].unalias() if isinstance(cols[0], exp.Alias) else cols[0]
    return tree.select(exp.Mul(this=first.copy(), expression=exp.Literal.number("1.0")), *cols[1:], append=False)


def mutations(gold: str, other_gold: str) -> list[tuple[str, str, bool]]:
    """(kind, predicted SQL, keep_distinct) for one gold query."""
    out = [("swap", other_gold, False)]
    if re.search(r"\bdistinct\b", gold, re.I):
        dropped = re.sub(r"\bdistinct\b", "", gold, flags=re.I)
        out += [("drop_distinct", dropped, False), ("drop_distinct", dropped, True)]
    else:
        added = re.sub(r"^\s*select\b", "SELECT DISTINCT", gold, count=1, flags=re.I)
        out += [("add_distinct", added, False), ("add_distinct", added, True)]
    m = re.search(r"\blimit\s+(\d+)", gold, re.I)
    if m:
        out.append(("limit", gold[: m.start(1)] + str(int(m.group(1)) + 1) + gold[m.end(1) :], False))
    elif not re.search(r"\b(union|intersect|except)\b", gold, re.I):
        out.append(("limit", gold.rstrip().rstrip(";") + " LIMIT 1", False))
    for kind, edit in (
        ("permute", _permute),
        ("drop_order", _drop_order),
        ("cast_text", _cast_text),
        ("as_float", _as_float),
    ):
        sql = _reselect(gold, edit)
        if sql is not None:
            out.append((kind, sql, False))
    if re.search(r"\b(asc|desc)\b", gold, re.I):
        flipped = re.sub(
            r"\b(asc|desc)\b", lambda x: "ASC" if x.group(1).lower() == "desc" else "DESC", gold, flags=re.I
        )
        out.append(("flip_order", flipped, False))
    out += [("second_statement", gold + " ; SELECT 1", False), ("second_statement", gold + " ; SELECT 1", True)]
    return out


def _dev_mutations(spider_root: Path, step: int) -> list[tuple[Item, bool, str]]:
    dev = json.loads((spider_root / "dev.json").read_text())
    by_db: dict[str, list[int]] = {}
    for i, ex in enumerate(dev):
        by_db.setdefault(ex["db_id"], []).append(i)
    out = []
    for i, ex in enumerate(dev[::step]):
        i *= step
        db_id = ex["db_id"]
        if not (spider_root / "database" / db_id / f"{db_id}.sqlite").is_file():
            continue
        same = by_db[db_id]
        other = dev[same[(same.index(i) + 1) % len(same)]]["query"]
        for k, (kind, sql, keep) in enumerate(mutations(ex["query"], other)):
            out.append((Item(f"{i}-{k}-{kind}-{int(keep)}", db_id, ex["query"], sql), keep, kind))
    return out


def test_mutated_dev_predictions_get_the_official_verdicts(spider_root: Path) -> None:
    items = _dev_mutations(spider_root, step=3)  # every third dev question: ~325 questions, ~2700 pairs
    db_root = spider_root / "database"
    ours: dict[str, bool | None] = {}
    for keep in (False, True):
        pairs = [p for p, k, _ in items if k is keep]
        config = EvalConfig(db_root=db_root, keep_distinct=keep, workers=2, flag_ambiguous=False)
        for r in evaluate_items(pairs, config):
            ours[r.id] = r.verdicts["ex"].correct
    cache: dict = {}
    disagreements = []
    tally: Counter = Counter()
    for p, keep, kind in items:
        ref = official.verdict(db_root / p.db_id / f"{p.db_id}.sqlite", p.gold_sql, p.pred_sql, keep, cache)
        assert ref is not None, f"gold fails on {p.db_id}: {p.gold_sql}"
        tally[(kind, ref)] += 1
        if ours[p.id] is not ref:
            disagreements.append((p.id, p.pred_sql, ours[p.id], ref))
    assert disagreements == []
    # the mutations exercise both verdicts for each kind that can go either way
    for kind in (
        "swap",
        "drop_distinct",
        "add_distinct",
        "limit",
        "drop_order",
        "as_float",
        "flip_order",
        "second_statement",
    ):
        assert tally[(kind, True)] > 0 and tally[(kind, False)] > 0, (kind, tally)
    assert tally[("permute", True)] > 100 and tally[("permute", False)] == 0  # any column order is accepted
    assert tally[("cast_text", False)] > 100  # '6' is not 6
    assert len(items) > 2500


_VALUES = [1, 1.0, 2, 2.5, "1", "a", "b", None, 0, "1.0"]


def _random_result(rng: random.Random, rows: int, cols: int) -> list[tuple]:
    return [tuple(rng.choice(_VALUES) for _ in range(cols)) for _ in range(rows)]


def _variant(rng: random.Random, r: list[tuple]) -> list[tuple]:
    r = list(r)
    kind = rng.randrange(6)
    if kind == 0 and r:  # permute columns
        perm = list(range(len(r[0])))
        rng.shuffle(perm)
        return [tuple(row[i] for i in perm) for row in r]
    if kind == 1:  # reorder rows
        rng.shuffle(r)
        return r
    if kind == 2 and r:  # change one value
        i, j = rng.randrange(len(r)), rng.randrange(len(r[0]))
        row = list(r[i])
        row[j] = rng.choice(_VALUES)
        r[i] = tuple(row)
        return r
    if kind == 3 and r:  # duplicate one row in place of another
        r[rng.randrange(len(r))] = r[rng.randrange(len(r))]
        return r
    if kind == 4 and r:  # permute values within one row only
        i = rng.randrange(len(r))
        row = list(r[i])
        rng.shuffle(row)
        r[i] = tuple(row)
        return r
    return _random_result(rng, len(r), len(r[0]) if r else 1)


def test_result_eq_matches_the_official_algorithm_on_random_results() -> None:
    """Strings vs numbers, 1 vs 1.0, NULLs, duplicates, 1..6 columns, ordered and not."""
    rng = random.Random(0)
    seen = Counter()
    for _ in range(4000):
        cols, rows = rng.randint(1, 6), rng.randint(0, 6)
        g = _random_result(rng, rows, cols)
        p = _variant(rng, g)
        for ordered in (False, True):
            expected = official.result_eq(g, p, ordered)
            assert result_eq(g, p, ordered) is expected, (g, p, ordered)
            seen[expected] += 1
    assert seen[True] > 1000 and seen[False] > 1000


@pytest.mark.parametrize(
    "gold,pred,ordered,expected",
    [
        ([(1,)], [(1.0,)], False, True),  # Python equality: 6 == 6.0
        ([(1,)], [("1",)], False, False),  # text is not a number
        ([(None,)], [(None,)], False, True),
        ([(None,)], [], False, False),  # max() over nothing is a NULL row, not an empty result
        ([(1, "1.5")], [("1.5", 1.0)], False, False),  # official quick check sorts by str+type: 1 vs 1.0 differ
        ([(1, "1.5")], [("1.5", 1)], False, True),
        ([(1, 2, 3, 4), (5, 6, 7, 8)], [(4, 3, 2, 1), (8, 7, 6, 5)], True, True),  # >3 columns: pruned search
    ],
)
def test_result_eq_quirks(gold, pred, ordered, expected) -> None:
    assert official.result_eq(gold, pred, ordered) is expected
    assert result_eq(gold, pred, ordered) is expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT a, count(DISTINCT b) FROM t WHERE c = 'distinct' AND d = \"Distinct\"",
        "select distinctive, [distinct], `distinct` from t -- distinct\n",
        "SELECT DISTINCT a FROM t; SELECT DISTINCT b FROM t",
        "SELECT a FROM t WHERE b = 'x;y'; DROP TABLE t",
        "SELECT a /* ; distinct */ FROM t",
        "SELECT 'it''s distinct' FROM t",
    ],
)
def test_remove_distinct_matches_the_oracle(sql: str) -> None:
    assert remove_distinct(sql) == official.remove_distinct(sql)


def test_order_by_is_the_official_substring_test() -> None:
    assert compare.order_matters("SELECT a FROM t order by a")
    assert not compare.order_matters("SELECT a FROM t ORDER  BY a")  # two spaces: officially unordered
    assert official.prepare("SELECT a FROM t ORDER  BY a", "x", False)[2] is False


def test_compare_doctests() -> None:
    assert doctest.testmod(compare).failed == 0
