"""Result comparison: when do two query results count as "the same answer"?

Two conventions, both reproduced from the official scripts:

* **spider** — test-suite-sql-eval's ``result_eq`` (Zhong et al., 2020): results are *bags* of rows;
  any permutation of the columns is accepted; row order matters only when the gold SQL contains
  ``ORDER BY``; two empty results are equal. Before executing, ``DISTINCT`` is removed from both
  queries (unless ``keep_distinct``; like the official sqlparse-based removal this keeps only the
  first statement), ``> =``/``< =``/``! =`` are closed up and ``YEAR(CURDATE())`` becomes ``2020``,
  as the official ``eval_exec_match`` / ``exec_on_db`` do. "Gold has ORDER BY" is, officially, the
  text ``order by`` (one space, any case) anywhere in the gold after those rewrites.
* **bird** — BIRD's ``set(pred) == set(gold)``: duplicates and row order are ignored, columns are
  compared positionally.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import product

MODES = ("spider", "bird")

# Quoted runs (strings, quoted identifiers) and comments; the bare word DISTINCT; a statement end.
_TOKENS = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/)|\b(distinct)\b|(;)""",
    re.IGNORECASE | re.DOTALL,
)
_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def postprocess(sql: str) -> str:
    """The official evaluator's clean-up: ``> =`` -> ``>=`` and friends."""
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def replace_cur_year(sql: str) -> str:
    """Official ``exec_on_db``: MySQL's ``YEAR(CURDATE())`` becomes the constant ``2020``."""
    return _CUR_YEAR.sub("2020", sql)


def remove_distinct(sql: str) -> str:
    """Drop every ``DISTINCT`` keyword outside quotes — including ``count(DISTINCT x)``.

    That is what the official ``remove_distinct`` does: it flattens the sqlparse tokens of the
    *first* statement only, so anything after the first ``;`` outside quotes is dropped too.

    >>> remove_distinct("SELECT DISTINCT name, count(DISTINCT a) FROM t WHERE b = 'distinct'")
    "SELECT  name, count( a) FROM t WHERE b = 'distinct'"
    >>> remove_distinct("SELECT a FROM t; DROP TABLE t")
    'SELECT a FROM t;'
    """
    out: list[str] = []
    pos = 0
    for m in _TOKENS.finditer(sql):
        if m.group(2) is not None:
            out.append(sql[pos : m.start()])
            pos = m.end()
        elif m.group(3) is not None:
            out.append(sql[pos : m.end()])
            return "".join(out)
    out.append(sql[pos:])
    return "".join(out)


def order_matters(gold_sql: str) -> bool:
    """Row order is compared only when the gold contains ``order by`` (one space, any case, anywhere).

    The official test is a plain substring check, so ``ORDER  BY`` (two spaces) or ``ORDER\nBY``
    does *not* make order matter there; we keep that for identical verdicts.
    """
    return "order by" in gold_sql.lower()


def _sort_key(x: object) -> str:
    return str(x) + str(type(x))


def _unorder_row(row: tuple) -> tuple:
    return tuple(sorted(row, key=_sort_key))


def _quick_reject(r1: list[tuple], r2: list[tuple], ordered: bool) -> bool:
    s1 = [_unorder_row(r) for r in r1]
    s2 = [_unorder_row(r) for r in r2]
    return s1 == s2 if ordered else set(s1) == set(s2)


def _candidate_permutations(col_sets: list[set], result2: list[tuple]) -> product:
    """Column permutations consistent with every value of ``result2`` (official: 20 random rows).

    Checking a sound, deterministic sample keeps the verdict reproducible; it only prunes
    permutations that cannot work, so the answer equals the official one.
    """
    n = len(col_sets)
    allowed = [set(range(n)) for _ in range(n)]
    if n > 3:
        step = max(1, len(result2) // 64)
        for row in result2[::step]:
            for c1 in range(n):
                for c2 in list(allowed[c1]):
                    if row[c2] not in col_sets[c1]:
                        allowed[c1].discard(c2)
    return product(*allowed)


def result_eq(result1: list[tuple] | tuple, result2: list[tuple] | tuple, order_matters: bool) -> bool:
    """Official Spider/test-suite denotation equality (gold = ``result1``, prediction = ``result2``)."""
    result1, result2 = list(result1), list(result2)
    if not result1 and not result2:
        return True
    if len(result1) != len(result2):
        return False
    num_cols = len(result1[0])
    if len(result2[0]) != num_cols:
        return False
    if not _quick_reject(result1, result2, order_matters):
        return False
    col_sets = [{row[i] for row in result1} for i in range(num_cols)]
    counts1 = None if order_matters else Counter(result1)
    set1 = None if order_matters else set(result1)
    for perm in _candidate_permutations(col_sets, result2):
        if len(set(perm)) != len(perm):
            continue
        permuted = result2 if num_cols == 1 else [tuple(row[i] for i in perm) for row in result2]
        if order_matters:
            if result1 == permuted:
                return True
        elif set1 == set(permuted) and counts1 == Counter(permuted):
            return True
    return False


def bird_eq(gold: list[tuple] | tuple, pred: list[tuple] | tuple) -> bool:
    """BIRD's official check: ``set(predicted_res) == set(ground_truth_res)``."""
    return set(pred) == set(gold)


def results_match(gold_rows, pred_rows, *, mode: str, ordered: bool) -> bool:
    """Dispatch on ``mode`` (``spider`` | ``bird``)."""
    if mode == "spider":
        return result_eq(gold_rows, pred_rows, ordered)
    if mode == "bird":
        return bird_eq(gold_rows, pred_rows)
    raise ValueError(f"unknown comparison mode {mode!r}")
