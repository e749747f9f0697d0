"""An independent restatement of test-suite-sql-eval's execution verdict, used only as a test oracle.

Written from the documented behaviour of the official ``exec_eval.py`` (Zhong et al., 2020), not from
our implementation, so that tests can compare the two verdict by verdict:

* ``postprocess``: ``> =`` / ``< =`` / ``! =`` closed up;
* ``remove_distinct`` (unless keep_distinct): the tokens of the *first* SQL statement, with every
  token spelled ``distinct`` (any case) dropped; quoted strings/identifiers and comments are tokens;
* order matters iff ``'order by' in gold.lower()`` (after the rewrites);
* execution: ``YEAR(CURDATE())`` -> ``2020``, ``fetchall`` with lenient UTF-8; any exception = wrong;
* ``result_eq``: the official algorithm, including its random 20-row pruning of column permutations
  for more than 3 columns (seeded here).
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import defaultdict
from itertools import product
from pathlib import Path


def _tokens(sql: str) -> list[str]:
    """A small SQL scanner: quoted runs, comments, words, whitespace runs, single characters."""
    out, i, n = [], 0, len(sql)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        c = sql[i]
        if c in closers:
            j = i + 1
            while j < n:
                if sql[j] == closers[c]:
                    if c in "'\"" and j + 1 < n and sql[j + 1] == c:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j])
            i = j
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(sql[i:j])
            i = j
        elif c.isspace():
            j = i
            while j < n and sql[j].isspace():
                j += 1
            out.append(sql[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return out


def remove_distinct(sql: str) -> str:
    kept = []
    for t in _tokens(sql):
        if t.lower() == "distinct":
            continue
        kept.append(t)
        if t == ";":
            break
    return "".join(kept)


def postprocess(sql: str) -> str:
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def run(db: Path, sql: str) -> tuple[str, object]:
    sql = re.sub(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", "2020", sql, flags=re.IGNORECASE)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode(errors="ignore")
    try:
        return "result", con.execute(sql).fetchall()
    except Exception as e:  # noqa: BLE001 - the official code treats every failure alike
        return "exception", e
    finally:
        con.close()


def _unorder(row: tuple) -> tuple:
    return tuple(sorted(row, key=lambda x: str(x) + str(type(x))))


def _quick(r1: list, r2: list, ordered: bool) -> bool:
    a, b = [_unorder(r) for r in r1], [_unorder(r) for r in r2]
    return a == b if ordered else set(a) == set(b)


def _multiset_eq(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    d: dict = defaultdict(int)
    for e in a:
        d[e] += 1
    for e in b:
        d[e] -= 1
        if d[e] < 0:
            return False
    return True


def _perms(col_sets: list[set], r2: list, rng: random.Random):
    n = len(r2[0])
    allowed = [set(range(n)) for _ in range(n)]
    if n <= 3:
        return product(*allowed)
    for _ in range(20):
        row = rng.choice(r2)
        for c1 in range(n):
            for c2 in set(allowed[c1]):
                if row[c2] not in col_sets[c1]:
                    allowed[c1].remove(c2)
    return product(*allowed)


def result_eq(r1: list, r2: list, ordered: bool, seed: int = 0) -> bool:
    if not r1 and not r2:
        return True
    if len(r1) != len(r2):
        return False
    n = len(r1[0])
    if len(r2[0]) != n:
        return False
    if not _quick(r1, r2, ordered):
        return False
    col_sets = [{row[i] for row in r1} for i in range(n)]
    for perm in _perms(col_sets, r2, random.Random(seed)):
        if len(set(perm)) != len(perm):
            continue
        p2 = r2 if n == 1 else [tuple(row[i] for i in perm) for row in r2]
        if ordered:
            if r1 == p2:
                return True
        elif set(r1) == set(p2) and _multiset_eq(r1, p2):
            return True
    return False


def prepare(gold: str, pred: str, keep_distinct: bool) -> tuple[str, str, bool]:
    gold, pred = postprocess(gold), postprocess(pred)
    if not keep_distinct:
        gold, pred = remove_distinct(gold), remove_distinct(pred)
    return gold, pred, "order by" in gold.lower()


def verdict(db: Path, gold: str, pred: str, keep_distinct: bool = False, gold_cache: dict | None = None) -> bool | None:
    """1/0 as the official ``eval_exec_match`` (``None`` where the official script would crash: gold fails)."""
    g, p, ordered = prepare(gold, pred, keep_distinct)
    key = (db, g)
    if gold_cache is not None and key in gold_cache:
        g_flag, g_rows = gold_cache[key]
    else:
        g_flag, g_rows = run(db, g)
        if gold_cache is not None:
            gold_cache[key] = (g_flag, g_rows)
    if g_flag == "exception":
        return None
    p_flag, p_rows = run(db, p)
    if p_flag == "exception":
        return False
    return result_eq(g_rows, p_rows, ordered)
