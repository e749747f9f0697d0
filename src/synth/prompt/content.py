"""What prompts need from a database's *rows*: the value index and a few sample values per column.

Read once per database and cached on disk (default ``~/.cache/spft-sql/values``), one ``.npz``
file per database path, holding the arrays of :class:`~synth.prompt.values.ValueIndex`, the sample
values and a fingerprint of the database file. The cache is used only when the fingerprint (file
size, ``mtime_ns``, SHA-256 of the first and last MiB, plus the same for a ``-wal`` file) and the
schema digest both match; otherwise the index is rebuilt and the cache rewritten atomically — never
served stale. Hashing 2 MiB instead of the whole file keeps opening a multi-GB BIRD database cheap;
a change that keeps size, mtime and both ends is not something SQLite writes produce.

Reading goes through :func:`evaluation.executor.connect_readonly` (a plain ``?mode=ro`` connection),
not :class:`~evaluation.executor.ReadOnlyDatabase`: building the index streams every distinct text
value (one million on the large benchmark database), which that class's row cap is there to refuse.

Indexed: distinct values of type TEXT in columns whose schema type is ``text`` or ``others``
(numbers, dates and booleans are matched by the model from the question directly), 1 to
:data:`MAX_VALUE_CHARS` characters long. Longer values are free text (descriptions, addresses,
comments): every string literal in Spider's training SQL is at most 37 characters, while long
values dominate index size and would be truncated in a prompt anyway.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation import provenance  # not `digest` itself: this module's functions name theirs `digest`
from evaluation.errors import DataNotFoundError, InputError
from evaluation.executor import connect_readonly
from evaluation.fileio import open_atomic
from evaluation.schema import Schema, quote_identifier
from synth.prompt.values import ValueIndex

CACHE_VERSION = 1
MAX_VALUE_CHARS = 80
SAMPLES_PER_COLUMN = 3  # most frequent values stored per column (prompt shows up to this many)
SAMPLE_ROWS = 100_000  # samples are counted over at most this many rows per table (bounded cost)
SAMPLE_CHARS = 40  # sample values are cut to this many characters
DEFAULT_CACHE_DIR = Path("~/.cache/spft-sql/values").expanduser()
_HASHED_BYTES = 1 << 20
INDEXED_TYPES = ("text", "others")


@dataclass(frozen=True)
class DatabaseContent:
    """Row-derived prompt material of one database (immutable once read)."""

    index: ValueIndex
    samples: Mapping[tuple[str, str], tuple[str, ...]]  # (table, column) lower-cased -> SQL literals
    fingerprint: Mapping[str, object]
    skipped_columns: tuple[str, ...] = ()  # "table.column" the schema names but the file lacks


def fingerprint(db_path: str | Path) -> dict[str, object]:
    """Size, mtime and a hash of both ends of the database file (and of its WAL file, if any)."""
    out: dict[str, object] = {}
    for suffix in ("", "-wal"):
        p = Path(f"{db_path}{suffix}")
        if not p.exists():
            continue
        st = p.stat()
        with open(p, "rb") as f:
            head = f.read(_HASHED_BYTES)
            if st.st_size > 2 * _HASHED_BYTES:
                f.seek(-_HASHED_BYTES, os.SEEK_END)
            ends = provenance.digest(head, f.read())
        out[f"file{suffix}"] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_ends": ends}
    return out


def schema_digest(schema: Schema) -> str:
    """What the index depends on from the schema: tables, columns and their types."""
    items = [[t.name, [[c.name, c.type] for c in t.columns]] for t in schema.tables]
    return provenance.json_digest(items, length=16)  # lists only: sort_keys changes nothing


def _connect(db_path: Path) -> sqlite3.Connection:
    con = connect_readonly(db_path)  # a missing file: DataNotFoundError("database file not found: ...")
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # some Spider files hold invalid UTF-8
    return con


def _display(value: object) -> str | None:
    """A sample as the prompt shows it: text as a single-quoted SQL literal, numbers bare."""
    if isinstance(value, bytes) or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    s = " ".join(str(value).split())
    if not s:
        return None
    if len(s) > SAMPLE_CHARS:
        s = s[: SAMPLE_CHARS - 3] + "..."
    return "'" + s.replace("'", "''") + "'" if isinstance(value, str) else s


def read_content(db_path: str | Path, schema: Schema) -> DatabaseContent:
    """Read the value index and sample values straight from the database (no cache)."""
    db_path = Path(db_path)
    fp = fingerprint(db_path) if db_path.is_file() else {}
    con = _connect(db_path)
    columns: list[tuple[str, str]] = []
    docs: list[tuple[int, str]] = []
    samples: dict[tuple[str, str], tuple[str, ...]] = {}
    skipped: list[str] = []
    try:
        for table in schema.tables:
            for col in table.columns:
                src = f"(SELECT {quote_identifier(col.name)} AS v FROM {quote_identifier(table.name)} LIMIT {SAMPLE_ROWS})"
                try:
                    rows = con.execute(
                        f"SELECT v, COUNT(*) AS n FROM {src} WHERE v IS NOT NULL "
                        f"GROUP BY v ORDER BY n DESC, v LIMIT {SAMPLES_PER_COLUMN * 2}"
                    ).fetchall()
                except sqlite3.OperationalError:
                    skipped.append(f"{table.name}.{col.name}")
                    continue
                shown = [d for d in (_display(v) for v, _ in rows) if d is not None]
                samples[col.key] = tuple(dict.fromkeys(shown))[:SAMPLES_PER_COLUMN]
                if col.type not in INDEXED_TYPES:
                    continue
                col_id = len(columns)
                columns.append((table.name, col.name))
                cur = con.execute(
                    f"SELECT DISTINCT {quote_identifier(col.name)} FROM {quote_identifier(table.name)} "
                    f"WHERE typeof({quote_identifier(col.name)}) = 'text' AND length({quote_identifier(col.name)}) BETWEEN 1 AND {MAX_VALUE_CHARS}"
                )
                for (v,) in cur:
                    if v.strip():
                        docs.append((col_id, v))
    except sqlite3.DatabaseError as e:
        raise InputError(f"not a readable SQLite database ({e})", path=db_path) from None
    finally:
        con.close()
    docs.sort(key=lambda d: (d[0], d[1]))  # deterministic document order whatever SQLite returns
    return DatabaseContent(ValueIndex.build(columns, docs), samples, fp, tuple(skipped))


def cache_path(db_path: str | Path, cache_dir: str | Path) -> Path:
    """One cache file per database *path*: ``<stem>-<hash of the absolute path>.npz``."""
    resolved = str(Path(db_path).resolve())
    return Path(cache_dir) / f"{Path(db_path).stem}-{provenance.digest(resolved, algorithm='sha1', length=12)}.npz"


def _meta(content: DatabaseContent, digest: str) -> dict:
    return {
        "cache_version": CACHE_VERSION,
        "max_value_chars": MAX_VALUE_CHARS,
        "schema_digest": digest,
        "fingerprint": content.fingerprint,
        "samples": [[t, c, list(v)] for (t, c), v in sorted(content.samples.items())],
        "skipped_columns": list(content.skipped_columns),
    }


def save_content(content: DatabaseContent, path: Path, digest: str) -> None:
    """Write the cache file atomically (temporary file in the same folder, then ``os.replace``)."""
    arrays = content.index.to_arrays()
    arrays["meta"] = np.frombuffer(json.dumps(_meta(content, digest), sort_keys=True).encode(), dtype=np.uint8)
    with open_atomic(path) as f:
        np.savez(f, **arrays)


def _load_cached(path: Path, fp: Mapping, digest: str) -> DatabaseContent | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None  # unreadable or foreign file: rebuild
    if (
        meta.get("cache_version") != CACHE_VERSION
        or meta.get("max_value_chars") != MAX_VALUE_CHARS
        or meta.get("schema_digest") != digest
        or meta.get("fingerprint") != fp
    ):
        return None
    samples = {(t, c): tuple(v) for t, c, v in meta["samples"]}
    return DatabaseContent(ValueIndex.from_arrays(arrays), samples, meta["fingerprint"], tuple(meta["skipped_columns"]))


def load_content(db_path: str | Path, schema: Schema, cache_dir: str | Path | None = None) -> DatabaseContent:
    """The database's content from the cache when it is fresh, else read it and refresh the cache."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise DataNotFoundError(f"database file of '{schema.db_id}' not found: {db_path}")
    cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    path = cache_path(db_path, cache_dir)
    fp = json.loads(json.dumps(fingerprint(db_path)))  # the JSON shape the cache stores
    digest = schema_digest(schema)
    if path.is_file():
        cached = _load_cached(path, fp, digest)
        if cached is not None:
            return cached
    content = read_content(db_path, schema)
    if json.loads(json.dumps(content.fingerprint)) == fp:  # unchanged while we read it
        save_content(content, path, digest)
    return content
