"""A deterministic efficiency measure: SQLite virtual-machine steps, for VES that repeats across machines.

BIRD's VES divides wall-clock times, so the same predictions score differently on two machines (and
on one machine under load). The number of VM instructions SQLite executes for a query on a database
is the same everywhere (same SQLite version, same file): counted with the progress handler, it is a
drop-in :data:`~evaluation.ves.Timer` (``evaluate --metric ves --ves-timer steps``), and one run
suffices instead of ``--ves-repeats``.

The handler fires every :data:`STEP` instructions, so the count is ``STEP * calls`` (at least
``STEP``, so that a ratio never divides by zero): finer counting costs a Python call per instruction.
"""

from __future__ import annotations

import itertools
import sqlite3
import time

from evaluation.executor import ReadOnlyDatabase

__all__ = ["STEP", "count_steps", "steps_timer"]

#: VM instructions between two calls of the counting handler.
STEP = 16

# SQLite counts toward the next handler call from the statement's lifetime VM-step counter, which a
# re-used (cached) prepared statement keeps: a unique leading comment makes every run a fresh statement.
_fresh = itertools.count()


def count_steps(db: ReadOnlyDatabase, sql: str, step: int = STEP) -> int:
    """VM instructions (rounded down to ``step``, at least ``step``) to run ``sql`` and fetch all rows.

    Runs on ``db``'s read-only connection (same authorizer, same time limit): a query past the time
    limit counts the steps done until then; one that fails raises :class:`ValueError` (VES only
    measures EX-correct queries, which ran).
    """
    conn = db._conn  # the executor's connection: its read-only guards stay in force
    if conn is None:
        raise RuntimeError(f"ReadOnlyDatabase({db.path}) is closed")
    calls = 0
    timed_out = False
    deadline = time.perf_counter() + db.limits.timeout_s

    def tick() -> int:
        nonlocal calls, timed_out
        calls += 1
        if (calls & 1023) == 0 and time.perf_counter() > deadline:
            timed_out = True
            return 1
        return 0

    conn.set_progress_handler(tick, step)
    try:
        cur = conn.execute(f"/* steps {next(_fresh)} */ {sql}")
        while cur.fetchmany(1024):
            pass
    except sqlite3.Error as e:
        if timed_out and str(e) == "interrupted":
            pass  # our deadline: the steps done until then count
        elif db.is_user_interrupt(sql, e):  # the user's Ctrl-C, as in the executor
            raise KeyboardInterrupt from None
        else:
            raise ValueError(f"cannot count steps of {sql!r}: {e}") from None
    finally:
        conn.set_progress_handler(None, 0)
    return max(step, calls * step)


def steps_timer(db: ReadOnlyDatabase, sql: str) -> float:
    """A :data:`~evaluation.ves.Timer` that measures VM steps instead of seconds."""
    return float(count_steps(db, sql))
