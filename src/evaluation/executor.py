"""Safe, read-only execution of untrusted SQL against SQLite files.

Every query we run comes from a model or a sampler, so the executor assumes the worst:

* **read-only, four ways**: the file is opened with ``mode=ro`` (URI), ``PRAGMA query_only=ON``,
  the attached-database limit is 0 (no ``ATTACH``, no ``VACUUM INTO``), and an sqlite3
  authorizer allows only reads (``SELECT``, ``READ``, functions, recursive CTEs and a few
  introspection pragmas, also in table-valued form: ``SELECT * FROM pragma_table_info('t')``,
  ``json_each(...)``). Writes, schema changes, ``ATTACH``/``DETACH``, pragma writes and
  transactions are denied and come back as status ``"error"``.
* **a time limit that really fires**: a progress handler checks the clock every few thousand
  VM steps and interrupts the statement; the status is ``"timeout"``.
* **Ctrl-C is the user's, never a result**: SIGINT during a statement (which sqlite3 turns into
  an "interrupted" error) is raised as :class:`KeyboardInterrupt`, so the command aborts instead of
  recording a query error, a rejection or a verdict. A SIGINT that lands inside the authorizer
  callback is swallowed by sqlite3, which then *denies* the statement ("not authorized"); a denial
  is therefore checked once more (the authorizer is deterministic: a real one repeats), and one
  that does not repeat is raised as :class:`KeyboardInterrupt` too.
* **a row cap**: rows are fetched in chunks and fetching stops at ``max_rows + 1`` (``"too_large"``).
* **a memory bound (best effort)**: SQLite's page cache is capped per connection, SQLite's heap
  is capped with ``PRAGMA hard_heap_limit`` (process-wide, set once to the largest limit asked
  for), and the Python-side size of fetched rows is estimated while fetching.

SQL errors never raise: they are results with ``status == "error"``. A missing database file
raises :class:`~evaluation.errors.DataNotFoundError`.

This module is the only one that opens SQLite (``tests/test_layers.py`` checks it). SQL the project
writes itself goes through :func:`connect_readonly` (reading schemas and values, checking built
databases) and :func:`connect_writable` (building suite and demo databases).
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from evaluation.errors import ConfigError, DataNotFoundError, InputError

STATUSES = ("ok", "error", "timeout", "too_large")

# Introspection pragmas that only read; anything else (and any pragma with "=") is denied.
_READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "collation_list",
        "function_list",
        "database_list",
    }
)
_ALLOWED_ACTIONS = frozenset(
    code
    for code in (
        getattr(sqlite3, "SQLITE_SELECT", None),
        getattr(sqlite3, "SQLITE_READ", None),
        getattr(sqlite3, "SQLITE_FUNCTION", None),
        getattr(sqlite3, "SQLITE_RECURSIVE", None),
    )
    if code is not None
)
_DENIED = re.compile(r"not authorized( to use function: .+)?|access to .+ is prohibited")  # the authorizer said no
_FETCH_CHUNK = 1024
_PROGRESS_STEPS = 2000  # VM instructions between clock checks (~tens of microseconds)
_ROW_OVERHEAD = 56 + 8  # tuple header + slot, rough


@dataclass(frozen=True)
class Limits:
    """Bounds for one query. Defaults suit benchmark evaluation; synthesis may tighten them."""

    timeout_s: float = field(  # real interrupt via sqlite progress handler, not just "stop waiting"
        default=10.0, metadata={"help": "Seconds per query.", "option": "timeout"}
    )
    max_rows: int = 100_000  # more rows -> status "too_large"
    max_memory_mb: int = 512  # best-effort bound (page cache, SQLite heap, fetched rows)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ConfigError(f"Limits.timeout_s must be > 0, got {self.timeout_s}")
        if self.max_rows < 0:
            raise ConfigError(f"Limits.max_rows must be >= 0, got {self.max_rows}")
        if self.max_memory_mb <= 0:
            raise ConfigError(f"Limits.max_memory_mb must be > 0, got {self.max_memory_mb}")


#: The second look at a denial (:meth:`ReadOnlyDatabase.denial_is_real`): a real one is denied again
#: when the statement is prepared, before any step; anything else stops at once.
_RECHECK_LIMITS = Limits(timeout_s=0.05, max_rows=0)


@dataclass(frozen=True)
class ExecResult:
    """Outcome of running one query: an execution, not a verdict. ``rows`` is empty unless ``status == "ok"``.

    Judging compares two of these (the gold's and the prediction's) into an
    :class:`evaluation.verdict.Verdict`; :class:`evaluation.runner.ItemResult` holds one verdict per metric.
    """

    status: str  # "ok" | "error" | "timeout" | "too_large"
    rows: tuple[tuple, ...]
    columns: tuple[str, ...]
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _authorizer(action: int, arg1, arg2, dbname, source) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg2 is None and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS - {"database_list"}:
        # table_info(x) etc. pass the table name as arg2; still a read.
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


_TABLE_FUNCTIONS = frozenset({*(f"pragma_{p}" for p in _READ_PRAGMAS), "json_each", "json_tree"})
_TABLE_FUNCTION_NAME = re.compile(r"\b(pragma_[a-z_]+|json_each|json_tree)\b", re.IGNORECASE)


def is_denial(e: BaseException) -> bool:
    """``e`` is the authorizer's "no": ``not authorized`` (``DatabaseError``), ``not authorized to use
    function: f`` (``OperationalError``) or ``access to t.c is prohibited``."""
    return isinstance(e, sqlite3.DatabaseError) and _DENIED.fullmatch(str(e)) is not None


def _interrupted(e: BaseException) -> bool:
    """SQLite stopped the statement because the progress handler said so (our deadline, or a signal)."""
    return isinstance(e, sqlite3.OperationalError) and str(e) == "interrupted"


def error_message(e: BaseException) -> str:
    """An error result's ``message``: SQLite's own text for an ``OperationalError`` (what the official
    evaluators print), else prefixed by the exception type."""
    return str(e) if isinstance(e, sqlite3.OperationalError) else f"{type(e).__name__}: {e}"


def _table_functions_in(sql: str) -> set[str]:
    """Read-only table-valued functions (``pragma_table_info``, ``json_each``...) named in ``sql``."""
    low = sql.lower()
    if "pragma_" not in low and "json_" not in low:
        return set()
    return {m.lower() for m in _TABLE_FUNCTION_NAME.findall(sql)} & _TABLE_FUNCTIONS


def _lenient_text(b: bytes) -> str:
    # Some Spider databases hold invalid UTF-8; the official evaluator decodes with errors="ignore".
    return b.decode(errors="ignore")


_heap_limit_bytes = 0  # process-wide SQLite setting; only ever raised, never lowered below a caller's need


def _readonly_uri(db_path: Path) -> str:
    """``file:`` URI opening an existing file read-only (``mode=ro``); a missing file is an error here."""
    if not db_path.is_file():
        raise DataNotFoundError(f"database file not found: {db_path}")
    return f"file:{quote(str(db_path.resolve()))}?mode=ro"


def connect_readonly(db_path: str | Path) -> sqlite3.Connection:
    """A plain read-only connection (``mode=ro`` URI, sqlite3's defaults otherwise) for SQL this project
    writes itself: reading a schema, streaming a column's distinct values into the prompt's value
    index, checking a generated or demo database.

    Not :class:`ReadOnlyDatabase`: these callers run many small statements of their own, stream result
    sets that the row cap would refuse (a million values on the large BIRD database) and handle
    ``sqlite3`` errors themselves. Never pass it model or user SQL.
    """
    return sqlite3.connect(_readonly_uri(Path(db_path)), uri=True)


def connect_writable(db_path: str | Path, *, isolation_level: str | None = "") -> sqlite3.Connection:
    """A read-write connection (the file is created when missing) for code that builds databases:
    the random test-suite databases (``evaluation.suite``) and the bundled demo corpus.

    ``isolation_level`` is sqlite3's: ``""`` (its default, implicit transactions) or ``None``
    (autocommit, the caller issues ``BEGIN``/``COMMIT``). Not :class:`ReadOnlyDatabase`, which refuses
    every write by design; only SQL written by this project runs here.
    """
    return sqlite3.connect(db_path, isolation_level=isolation_level)


def _connect(db_path: Path, limits: Limits) -> sqlite3.Connection:
    global _heap_limit_bytes
    uri = _readonly_uri(db_path)
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = ON")
        # Cap the page cache (KiB, negative) at a quarter of the budget.
        conn.execute(f"PRAGMA cache_size = -{max(1024, limits.max_memory_mb * 256)}")
        conn.execute("PRAGMA temp_store = FILE")
        want = limits.max_memory_mb * 1024 * 1024
        if want > _heap_limit_bytes:
            conn.execute(f"PRAGMA hard_heap_limit = {want}")
            _heap_limit_bytes = want
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_authorizer)
    except sqlite3.DatabaseError as e:  # e.g. "file is not a database": the file, not the SQL, is bad
        conn.close()
        raise InputError(f"not a readable SQLite database ({e})", path=db_path) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _row_size(row: tuple) -> int:
    n = _ROW_OVERHEAD + 8 * len(row)
    for v in row:
        if isinstance(v, (str, bytes)):
            n += sys.getsizeof(v)
        else:
            n += 32
    return n


class ReadOnlyDatabase:
    """One read-only connection reused for many queries (synthesis validates thousands).

    >>> with ReadOnlyDatabase(path) as db:            # doctest: +SKIP
    ...     db.execute("SELECT count(*) FROM singer").rows
    ((6,),)
    """

    def __init__(self, db_path: str | Path, limits: Limits = Limits()) -> None:
        self.path = Path(db_path)
        self.limits = limits
        self._conn: sqlite3.Connection | None = _connect(self.path, limits)
        self._declared: set[str] = set()  # table-valued functions already declared on this connection

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def execute(self, sql: str, limits: Limits | None = None) -> ExecResult:
        """Run one statement; never raises for bad SQL, always returns an :class:`ExecResult`."""
        if self._conn is None:
            raise RuntimeError(f"ReadOnlyDatabase({self.path}) is closed")
        limits = limits or self.limits
        wanted = _table_functions_in(sql) - self._declared
        if wanted:
            self._declare(wanted)
        result = self._run(sql, limits)
        if result.status == "error" and "decode" in result.message.lower():
            self._conn.text_factory = _lenient_text
            try:
                result = self._run(sql, limits)
            finally:
                self._conn.text_factory = str
        return result

    def _declare(self, names: set[str]) -> None:
        """Declare read-only table-valued functions with the authorizer briefly off.

        The first use of ``pragma_table_info(...)`` or ``json_each(...)`` on a connection declares an
        eponymous virtual table, which SQLite reports to the authorizer as an ``UPDATE`` of
        ``sqlite_master`` — denied, rightly, for user SQL. Declaring only these known read-only
        functions here, by a fixed statement of ours, lets the user's query through with nothing but
        ``SELECT`` / ``READ`` / read-``PRAGMA`` checks; every write stays denied.
        """
        conn = self._conn
        assert conn is not None
        conn.set_authorizer(None)
        try:
            for name in sorted(names):
                try:
                    conn.execute(f"SELECT * FROM {name} LIMIT 0").fetchall()
                except sqlite3.Error:
                    pass  # not compiled into this SQLite: the query then fails as "no such table"
                self._declared.add(name)
        finally:
            conn.set_authorizer(_authorizer)

    def is_user_interrupt(self, sql: str, e: BaseException, *, recheck: bool = True) -> bool:
        """Whether the error ``e`` of ``sql`` is really a Ctrl-C that sqlite3 swallowed in one of our
        callbacks (the caller has ruled out its own deadline): an "interrupted" statement (the signal
        came in the progress handler), or -- with ``recheck`` -- a denial that does not repeat (it came
        in the authorizer). Raise :class:`KeyboardInterrupt` then: a user's interrupt aborts the
        command; it never becomes a query error, a rejection or a verdict."""
        if _interrupted(e):
            return True
        return recheck and is_denial(e) and not self.denial_is_real(sql, error_message(e))

    def denial_is_real(self, sql: str, message: str) -> bool:
        """Whether the authorizer denies ``sql`` again with ``message`` (:func:`error_message`). A Ctrl-C that lands inside the
        authorizer callback is swallowed by sqlite3 (which cannot pass an exception through SQLite)
        and turned into a denial; the authorizer itself is deterministic, so a real denial repeats and
        a swallowed Ctrl-C does not. Measured: 77 of 300 SIGINTs sent while fresh statements were
        prepared came back as denials before this check."""
        again = self._run(sql, _RECHECK_LIMITS, recheck=False)
        return again.status == "error" and again.message == message

    def _run(self, sql: str, limits: Limits, recheck: bool = True) -> ExecResult:
        conn = self._conn
        assert conn is not None
        start = time.perf_counter()
        deadline = start + limits.timeout_s
        clock = time.perf_counter

        timed_out = False  # set only by our own deadline check: any other "interrupted" is a signal

        def progress() -> int:
            nonlocal timed_out
            if clock() > deadline:
                timed_out = True
                return 1
            return 0

        conn.set_progress_handler(progress, _PROGRESS_STEPS)
        cur = conn.cursor()
        columns: tuple[str, ...] = ()
        try:
            cur.execute(sql)
            columns = tuple(d[0] for d in cur.description or ())
            rows: list[tuple] = []
            budget = limits.max_memory_mb * 1024 * 1024
            used = 0
            while True:
                chunk = cur.fetchmany(_FETCH_CHUNK)
                if not chunk:
                    break
                rows.extend(chunk)
                if len(rows) > limits.max_rows:
                    return self._fail("too_large", f"more than {limits.max_rows} rows", columns, start)
                used += sum(_row_size(r) for r in chunk)
                if used > budget:
                    return self._fail(
                        "too_large",
                        f"result exceeds about {limits.max_memory_mb} MB in memory",
                        columns,
                        start,
                    )
                if clock() > deadline:
                    return self._fail("timeout", f"exceeded {limits.timeout_s:g} s", columns, start)
            return ExecResult("ok", tuple(rows), columns, "", time.perf_counter() - start)
        except MemoryError:
            return self._fail("too_large", f"out of memory (limit about {limits.max_memory_mb} MB)", columns, start)
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as e:
            # OperationalError (SQL errors, "interrupted"), DatabaseError (authorizer denials),
            # ProgrammingError (two statements), Warning, ...
            if timed_out and _interrupted(e):
                return self._fail("timeout", f"exceeded {limits.timeout_s:g} s", columns, start)
            if self.is_user_interrupt(sql, e, recheck=recheck):
                raise KeyboardInterrupt from None  # a user's Ctrl-C is never a query error or a verdict
            return self._fail("error", error_message(e), columns, start)
        finally:
            cur.close()
            conn.set_progress_handler(None, 0)

    @staticmethod
    def _fail(status: str, message: str, columns: tuple[str, ...], start: float) -> ExecResult:
        return ExecResult(status, (), columns, message, time.perf_counter() - start)


def execute(db_path: str | Path, sql: str, limits: Limits = Limits()) -> ExecResult:
    """One-shot read-only execution (opens and closes a connection)."""
    with ReadOnlyDatabase(db_path, limits) as db:
        return db.execute(sql)
