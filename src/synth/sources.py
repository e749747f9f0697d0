"""Where data comes from: the data root, benchmark folders in Spider layout, the bundled demo corpus.

Resolution of ``--db``:

* ``demo``   -> the corpus bundled in this package (``synth/demo``), no download needed;
* ``spider`` (or any other known benchmark name) -> ``<data root>/<name>``;
* anything else is taken as a path to a folder in Spider layout.

The data root is ``--data-root`` if given, else ``$SPFT_DATA_ROOT``, else ``~/.cache/spft-sql/data``.

Spider layout: ``tables.json`` (optional: without it schemas are read from the SQLite files),
``train_spider.json`` / ``train.json`` (training pairs), ``dev.json``, and
``database/<db_id>/<db_id>.sqlite``.

BIRD layout (accepted too): ``dev_tables.json`` / ``train_tables.json`` (Spider's format; both are
merged when both exist and there is no ``tables.json``), ``dev_databases/`` / ``train_databases/``
(used when there is no ``database/``) holding ``<db_id>/<db_id>.sqlite`` and
``<db_id>/database_description/<table>.csv``, whose descriptions become column comments.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from evaluation.fileio import invalid_json, iter_jsonl
from evaluation.schema import (
    Schema,
    read_description_dir,
    schema_from_sqlite,
    schemas_from_tables_json,
    with_column_comments,
)

DEFAULT_DATA_ROOT = Path("~/.cache/spft-sql/data").expanduser()
DEMO_ROOT = Path(__file__).parent / "demo"
KNOWN_BENCHMARKS = ("spider", "bird")
TRAIN_FILES = ("train_spider.json", "train.json")
#: BIRD's split-specific schema files and database folders, used when Spider's are absent.
BIRD_TABLES_FILES = ("dev_tables.json", "train_tables.json")
BIRD_DATABASE_DIRS = ("dev_databases", "train_databases")
DESCRIPTION_DIR = "database_description"

_HOW_TO_GET = (
    "Get Spider 1.0 from https://yale-lily.github.io/spider, unpack it so that "
    "<root>/spider/tables.json and <root>/spider/database/<db_id>/<db_id>.sqlite exist, and pass "
    "--data-root <root> or set SPFT_DATA_ROOT=<root>. Use --db demo for the bundled demo corpus."
)


def resolve_data_root(cli_value: str | Path | None = None) -> Path:
    """``--data-root`` > ``$SPFT_DATA_ROOT`` > ``~/.cache/spft-sql/data`` (not required to exist)."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("SPFT_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_ROOT


@dataclass(frozen=True)
class Benchmark:
    """A folder in Spider (or BIRD) layout. ``data_root`` is what example ``db_path`` values are relative to."""

    name: str
    root: Path
    data_root: Path = field(compare=False)

    @property
    def tables_paths(self) -> tuple[Path, ...]:
        """Schema files in use: ``tables.json``, else BIRD's ``dev_tables.json`` / ``train_tables.json``."""
        spider = self.root / "tables.json"
        if spider.is_file():
            return (spider,)
        return tuple(self.root / n for n in BIRD_TABLES_FILES if (self.root / n).is_file())

    @property
    def tables_path(self) -> Path:
        """The first schema file in use (``tables.json`` when there is none, so messages name it)."""
        paths = self.tables_paths
        return paths[0] if paths else self.root / "tables.json"

    @property
    def database_dirs(self) -> tuple[Path, ...]:
        """``database/``, else BIRD's ``dev_databases/`` / ``train_databases/`` that exist."""
        spider = self.root / "database"
        if spider.is_dir():
            return (spider,)
        bird = tuple(self.root / n for n in BIRD_DATABASE_DIRS if (self.root / n).is_dir())
        return bird or (spider,)

    @property
    def database_dir(self) -> Path:
        return self.database_dirs[0]

    @cached_property
    def schemas(self) -> dict[str, Schema]:
        """All schemas, with ``db_path`` set where the SQLite file exists (``None`` where missing).

        Columns without a comment get one from BIRD's ``database_description/<table>.csv`` when present.
        """
        raw: dict[str, Schema] = {}
        if self.tables_paths:
            for path in self.tables_paths:
                for db_id, s in schemas_from_tables_json(path).items():
                    raw.setdefault(db_id, s)
        else:
            for p in self._sqlite_files():
                raw.setdefault(p.stem, schema_from_sqlite(p, p.stem))
        out = {}
        for db_id, s in sorted(raw.items()):
            p = self._find_sqlite(db_id)
            schema = Schema(s.db_id, s.tables, s.foreign_keys, db_path=p)
            if p is not None:
                schema = with_column_comments(schema, read_description_dir(p.parent / DESCRIPTION_DIR))
            out[db_id] = schema
        return out

    def _find_sqlite(self, db_id: str) -> Path | None:
        for d in self.database_dirs:
            p = d / db_id / f"{db_id}.sqlite"
            if p.is_file():
                return p
        return None

    def _sqlite_files(self) -> list[Path]:
        return sorted(p for d in self.database_dirs for p in d.glob("*/*.sqlite") if p.stem == p.parent.name)

    @property
    def db_ids(self) -> list[str]:
        return list(self.schemas)

    @property
    def available_db_ids(self) -> list[str]:
        """db ids whose SQLite file is present (Spider here lacks 3 of 166)."""
        return [d for d, s in self.schemas.items() if s.db_path is not None]

    @property
    def missing_db_ids(self) -> list[str]:
        return [d for d, s in self.schemas.items() if s.db_path is None]

    def schema(self, db_id: str) -> Schema:
        try:
            return self.schemas[db_id]
        except KeyError:
            raise UnknownNameError(f"db_id in {self.root}", db_id, self.schemas) from None

    def db_path(self, db_id: str) -> Path:
        """The SQLite file of ``db_id``; a clear error when the id is unknown or the file missing."""
        schema = self.schema(db_id)
        if schema.db_path is None:
            looked = " nor ".join(str(d / db_id / f"{db_id}.sqlite") for d in self.database_dirs)
            listed = " / ".join(str(p) for p in self.tables_paths) or str(self.tables_path)
            raise DataNotFoundError(f"database '{db_id}' is listed in {listed} but {looked} does not exist")
        return schema.db_path

    def relative_db_path(self, db_id: str) -> str:
        """Database path relative to the data root (what examples record), POSIX style."""
        p = self.db_path(db_id)
        try:
            return p.resolve().relative_to(self.data_root.resolve()).as_posix()
        except ValueError:
            return p.resolve().as_posix()

    @property
    def train_path(self) -> Path | None:
        for name in TRAIN_FILES:
            if (self.root / name).is_file():
                return self.root / name
        return None

    @property
    def dev_path(self) -> Path | None:
        p = self.root / "dev.json"
        return p if p.is_file() else None

    def train_examples(self) -> list[dict]:
        """Training pairs (``question``, ``query``/``SQL``, ``db_id``) with ``_line`` = 1-based index."""
        if self.train_path is None:
            raise DataNotFoundError(f"no training file in {self.root} (looked for {', '.join(TRAIN_FILES)})")
        return load_examples(self.train_path)


def load_examples(path: str | Path) -> list[dict]:
    """Read a Spider/BIRD style JSON list (or JSONL) of examples; checks required fields.

    Each returned dict gets ``_index`` (1-based position) so later errors can name the entry.
    BIRD's ``SQL`` field is accepted as ``query``.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        items = [value for _, value in iter_jsonl(path)]
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataNotFoundError(f"{path}: file not found") from None
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(invalid_json(e), path=path, line=e.lineno) from None
        if not isinstance(items, list):
            raise InputError("expected a JSON list of examples", path=path)
    out = []
    for i, ex in enumerate(items, start=1):
        if not isinstance(ex, dict):
            raise InputError(f"entry {i} is not an object", path=path)
        ex = dict(ex)
        if "query" not in ex and "SQL" in ex:
            ex["query"] = ex["SQL"]
        for key in ("query", "db_id"):
            if not isinstance(ex.get(key), str):
                raise InputError(f"entry {i} lacks a string '{key}'", path=path, field=key)
        ex["_index"] = i
        out.append(ex)
    return out


def resolve_benchmark(db: str, data_root: str | Path | None = None) -> Benchmark:
    """Turn ``--db`` into a :class:`Benchmark`, or raise one clear error saying where we looked."""
    root_dir = resolve_data_root(data_root)
    if db == "demo":
        return Benchmark("demo", DEMO_ROOT, data_root=DEMO_ROOT)
    if db in KNOWN_BENCHMARKS:
        root = root_dir / db
        source = (
            "--data-root"
            if data_root
            else ("$SPFT_DATA_ROOT" if os.environ.get("SPFT_DATA_ROOT") else "the default data root")
        )
        if not root.is_dir():
            raise DataNotFoundError(f"benchmark '{db}' not found: looked for {root} ({source}). {_HOW_TO_GET}")
        bench = Benchmark(db, root, data_root=root_dir)
    else:
        root = Path(db).expanduser()
        names = ("demo", *KNOWN_BENCHMARKS)
        if not root.is_dir() and difflib.get_close_matches(db, names, n=1, cutoff=0.6):
            raise UnknownNameError("benchmark", db, names)  # a typo ("spidr"): did you mean 'spider'?
        if not root.is_dir():
            raise DataNotFoundError(
                f"'{db}' is neither a known benchmark ({', '.join(('demo',) + KNOWN_BENCHMARKS)}) "
                f"nor a folder. {_HOW_TO_GET}"
            )
        bench = Benchmark(root.name, root, data_root=root.parent)
    if not bench.tables_paths and not bench.database_dir.is_dir():
        raise DataNotFoundError(
            f"{bench.root} has neither tables.json nor a database/ folder; expected Spider layout "
            f"(or BIRD's dev_tables.json and dev_databases/). {_HOW_TO_GET}"
        )
    return bench
