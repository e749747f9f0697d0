"""On-disk cache of template extraction results (Spider's 7,000 queries take ~10-20 s to normalise).

An entry is keyed by everything extraction reads, so a stale entry can never be returned:

* the training SQL (each example's position, ``db_id`` and query text),
* the schemas (tables, columns with their types and keys, foreign keys; not the database path),
* the template code version (:func:`code_version`): a hash of the source of every module in
  ``synth.templates``, of the bottom-layer modules extraction runs (``evaluation.sql_analysis``,
  ``evaluation.hardness``) and the sqlglot version, so any change to a rule invalidates old entries
  without anyone having to remember to bump a number.

Entries are JSON files ``<cache_dir>/templates/<key>.json``, written atomically. An unreadable or
mismatching entry is ignored (and replaced on the next save): a cache never changes a result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import evaluation.hardness
import evaluation.sql_analysis
from evaluation.fileio import write_atomic
from evaluation.provenance import digest, digest_iter
from evaluation.schema import Schema
from synth.templates.model import ExtractionReport, Template

log = logging.getLogger(__name__)

CACHE_FORMAT = "spft-sql/templates-cache/1"
SUBDIR = "templates"


@lru_cache(maxsize=1)
def code_version() -> str:
    """12 hex digits identifying the template code: its module sources and the sqlglot version."""
    import sqlglot

    paths = sorted(Path(__file__).resolve().parent.glob("*.py"))
    paths += [Path(m.__file__).resolve() for m in (evaluation.sql_analysis, evaluation.hardness)]
    parts = [f"sqlglot={sqlglot.__version__}\n"]
    for path in paths:
        parts += [path.name, b"\0", path.read_bytes(), b"\0"]
    return digest(*parts, length=12)


def _schema_payload(schema: Schema) -> list:
    return [
        schema.db_id,
        [[t.name, [[c.name, c.type, c.is_primary_key] for c in t.columns]] for t in schema.tables],
        [[fk.table, fk.column, fk.ref_table, fk.ref_column] for fk in schema.foreign_keys],
    ]


def cache_key(examples: Iterable[Mapping], schemas: Mapping[str, Schema]) -> str:
    """SHA-256 over the training SQL, the schemas and :func:`code_version` (see module docstring)."""
    return digest_iter(_key_lines(examples, schemas))


def _key_lines(examples: Iterable[Mapping], schemas: Mapping[str, Schema]) -> Iterable[str]:
    yield f"{CACHE_FORMAT}\ncode={code_version()}\n"
    for position, ex in enumerate(examples, start=1):
        sql = ex.get("query") or ex.get("sql") or ex.get("SQL") or ""
        row = [ex.get("_index", position), ex.get("db_id", ""), sql]
        yield json.dumps(row, ensure_ascii=False) + "\n"
    yield "schemas\n"
    for db_id in sorted(schemas):
        yield json.dumps(_schema_payload(schemas[db_id]), ensure_ascii=False) + "\n"


def entry_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / SUBDIR / f"{key[:32]}.json"


def load_report(cache_dir: str | Path | None, key: str) -> ExtractionReport | None:
    """The cached report for ``key``, or ``None`` (no cache, no entry, or an unusable entry)."""
    if cache_dir is None:
        return None
    path = entry_path(cache_dir, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT or data.get("key") != key:
            return None
        return ExtractionReport(
            templates=tuple(Template.from_dict(t) for t in data["templates"]),
            total=int(data["total"]),
            failures=tuple(data["failures"]),
            hardness={str(k): int(v) for k, v in data["hardness"].items()},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("ignoring unusable template cache entry %s (%s)", path, e)
        return None


def save_report(cache_dir: str | Path | None, key: str, report: ExtractionReport) -> Path | None:
    """Store ``report`` under ``key`` (atomic write); returns the entry's path (``None``: no cache)."""
    if cache_dir is None:
        return None
    data = {
        "format": CACHE_FORMAT,
        "key": key,
        "code_version": code_version(),
        "total": report.total,
        "templates": [t.to_dict() for t in report.templates],
        "failures": list(report.failures),
        "hardness": dict(report.hardness),
    }
    return write_atomic(entry_path(cache_dir, key), json.dumps(data, ensure_ascii=False).encode("utf-8"))
