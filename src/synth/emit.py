"""Writing what ``synth generate`` produces: atomic JSONL / JSON files and the run manifest.

Every file is written to a temporary file in the destination folder and moved into place with
:func:`os.replace`, so a crash (or Ctrl-C) never leaves a half-written file behind: readers see the
old file or the new one. :func:`write_all` stages every file first and only then moves them in,
manifest last, so a run either replaces its outputs or leaves the folder as it was.

JSONL rows are written with polars (``DataFrame.write_ndjson``): one compact JSON object per line,
UTF-8, keys in the order of the first record. The manifest is the run record of
:mod:`evaluation.run_record` (``synth.generation.output.build_manifest``), staged here with the other
files and written with sorted keys.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl

from evaluation import provenance
from evaluation.errors import SpftError
from evaluation.fileio import stage as _stage
from evaluation.provenance import sha256_bytes, sha256_file  # noqa: F401  (re-exported: synth's callers)

#: Identifies the manifest layout; bump when a field changes meaning.
MANIFEST_FORMAT = "spft-sql/synth-manifest/1"

#: Column order and types of example records (see data_schemas/example.schema.json).
EXAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String,
    "db_id": pl.String,
    "question": pl.String,
    "sql": pl.String,
    "prompt": pl.String,
    "schema_prompt": pl.String,
    "template_id": pl.String,
    "tables": pl.List(pl.String),
    "db_path": pl.String,
    "source": pl.String,
    "question_writer": pl.String,
}


def ndjson_bytes(records: Sequence[Mapping], schema: Mapping[str, pl.DataType] | None = None) -> bytes:
    """Records as JSONL bytes, via polars. ``schema`` fixes column order/types (needed when empty)."""
    if not records:
        return b""
    if schema is not None:
        cols = [c for c in schema if c in records[0]]
        df = pl.DataFrame([{c: r[c] for c in cols} for r in records], schema={c: schema[c] for c in cols})
    else:
        df = pl.DataFrame(list(records), infer_schema_length=None)
    return df.write_ndjson().encode("utf-8")


class OutputWriteError(SpftError):
    """The output folder cannot be written (permissions, disk full, a file where a folder should be)."""


def check_writable(out_dir: str | Path) -> None:
    """Fail early (before hours of work) when ``out_dir`` could not be created or written.

    Creates nothing: the nearest existing ancestor must be a writable folder.
    """
    p = Path(out_dir).absolute()
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputWriteError(f"cannot write to {p}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputWriteError(f"cannot write to {p}: {probe} is not writable")


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block is done, then raise it: the block -- moving staged files
    into place -- is all or nothing, and the interrupt still ends the command. Only the main thread
    can set signal handlers; elsewhere the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and previous is not signal.SIG_IGN:
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signal.SIGINT, None)  # a handler someone installed gets the signal it missed
        else:
            raise KeyboardInterrupt


def write_all(out_dir: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Stage every file in ``out_dir``, then move them into place in the given order.

    Nothing is replaced until every file has been staged, so a failure while writing (disk full,
    interrupt) leaves the previous contents of ``out_dir`` untouched; a Ctrl-C during the moves is
    held until all are done (then raised), so the folder is never half new. Put the manifest last.
    """
    out = Path(out_dir)
    staged: list[tuple[Path, Path]] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            staged.append((_stage(out / name, data), out / name))
        with interrupts_deferred():  # a Ctrl-C here would leave some files new and some old
            for tmp, dest in staged:
                os.replace(tmp, dest)
    except OSError as e:
        raise OutputWriteError(f"cannot write to {out}: {e.strerror or e}") from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [dest for _, dest in staged]


def package_versions(names: Iterable[str] = ("spft-sql", "sqlglot", "polars")) -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes the output, plus Python."""
    return provenance.package_versions(names)


def file_info(path: str | Path | None, data_root: Path | None = None) -> dict | None:
    """``{"path", "sha256", "bytes"}`` of an input file (``path`` relative to ``data_root`` when inside it)."""
    return provenance.file_info(path, relative_to=data_root, size=True)


def output_info(files: Mapping[str, bytes]) -> dict[str, dict]:
    """Per output file: SHA-256, byte size and line count (rows for JSONL)."""
    return {
        name: {"sha256": sha256_bytes(data), "bytes": len(data), "rows": data.count(b"\n")}
        for name, data in files.items()
    }
