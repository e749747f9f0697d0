"""Atomic file writes, JSON and JSON Lines writing and reading: the one copy every layer uses.

Writes go to a temporary file in the destination folder (same filesystem, so :func:`os.replace` is
atomic), are fsynced, then moved into place: a reader sees the old file or the new one, and a crash,
full disk or Ctrl-C never leaves half a file or a stray temporary file behind. Files get mode
``0o644`` (``mkstemp``'s ``0o600`` would hide outputs from other users).

JSON Lines are written by :func:`jsonl_text` / :func:`write_jsonl` (``synth generate``'s outputs are the
one exception: ``synth.emit`` writes them with polars, for typed columns) and read line by line (split on ``\\n`` only, so a raw U+2028 inside a string stays in its
line); blank lines are skipped and every error names ``file:line``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from evaluation.errors import DataNotFoundError, InputError

#: Permissions of written files.
FILE_MODE = 0o644


def _open_temp_beside(path: Path) -> tuple[IO[bytes], Path]:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    f = os.fdopen(fd, "wb")
    try:
        os.fchmod(f.fileno(), FILE_MODE)
    except BaseException:
        f.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    return f, Path(tmp)


def _finish(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())


def stage(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and return it (not yet moved into place).

    For writing several files all-or-nothing: stage each, then ``os.replace`` them in order. The
    temporary file is removed when writing fails; the caller removes it when a later step fails.
    """
    f, tmp = _open_temp_beside(Path(path))
    try:
        with f:
            f.write(data)
            _finish(f)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextmanager
def staged_folder(path: str | Path) -> Iterator[Path]:
    """A hidden staging folder beside ``path`` that becomes ``path`` when the block ends without an exception.

    For outputs made of many files written by other libraries (a model folder): a reader sees no
    folder or the whole one. ``path`` must not exist; when the block raises, the staging folder is
    removed and nothing is left behind.
    """
    import shutil

    path = Path(path)
    if path.exists():
        raise InputError("already exists; choose another folder (nothing was written)", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp's 0o700 would hide the folder from other users
        os.rename(staging, path)  # fails if path appeared meanwhile
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def open_atomic(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` when the block ends without an exception.

    For writers that stream (``np.savez``, row by row); when the block raises, ``path`` keeps its
    old content and the temporary file is removed. Creates the parent folders.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f, tmp = _open_temp_beside(path)
    try:
        with f:
            yield f
            _finish(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` is encoded as UTF-8) to ``path`` atomically; returns ``path``.

    >>> import tempfile; d = tempfile.TemporaryDirectory()
    >>> write_atomic(Path(d.name) / "a.txt", "héllo\\n").read_text(encoding="utf-8")
    'héllo\\n'
    >>> d.cleanup()
    """
    path = Path(path)
    with open_atomic(path) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def json_text(obj: Any, *, sort_keys: bool = False) -> str:
    """The project's one JSON document layout: two-space indent, UTF-8 kept (no ``\\u`` escapes), a
    trailing newline; ``sort_keys`` for files compared byte for byte (``synth generate``'s manifest);
    values JSON cannot hold (paths, dates) as their ``str``.

    >>> print(json_text({"b": 1, "a": "é"}, sort_keys=True), end="")
    {
      "a": "é",
      "b": 1
    }
    """
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=sort_keys, default=str) + "\n"


def write_json(path: str | Path, obj: Any, *, sort_keys: bool = False) -> Path:
    """:func:`json_text` of ``obj`` written atomically: a reader never sees half a file, a kill never leaves one."""
    return write_atomic(path, json_text(obj, sort_keys=sort_keys))


def jsonl_text(rows: Iterable[Any]) -> str:
    """The project's one JSON Lines layout: one value per line, UTF-8 kept (no ``\\u`` escapes), default
    separators, keys in the rows' order, ``\\n`` after every line (``""`` for no rows); values JSON cannot
    hold (paths, dates) as their ``str``.

    >>> print(jsonl_text([{"b": 1, "a": "é"}, [1, None]]), end="")
    {"b": 1, "a": "é"}
    [1, null]
    """
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """:func:`jsonl_text` of ``rows`` written atomically (all lines or the old file); returns ``path``."""
    return write_atomic(path, jsonl_text(rows))


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSON Lines file (1-based numbers).

    A missing file raises :class:`DataNotFoundError` at once (not at the first ``next``); a line that
    is not UTF-8 or not JSON raises :class:`InputError` naming the file and line.
    """
    path = Path(path)
    if path.is_dir():  # `train predict --data out/`: a data folder where one of its files was meant
        inside = ", ".join(str(p) for p in sorted(path.glob("*.jsonl"))[:3]) or "none here"
        raise DataNotFoundError(f"{path}: a folder, not a JSONL file; name a file (JSONL files: {inside})")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    return _iter_lines(path)


def invalid_json(e: json.JSONDecodeError) -> str:
    """Python's own message and column for a JSON error (the caller names file and line): a truncated
    line reads ``invalid JSON (Unterminated string starting at: column 7)``, not a bare fragment.
    Lines are parsed without their line break, so the column is the line's."""
    return f"invalid JSON ({e.msg}: column {e.colno})"


def _iter_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"not UTF-8 text ({e.reason})", path=path, line=lineno) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))  # a line cut in a string: "Unterminated string"
            except json.JSONDecodeError as e:
                raise InputError(invalid_json(e), path=path, line=lineno) from None
            yield lineno, value


def iter_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """As :func:`iter_jsonl`, and every line must hold a JSON object."""
    return _objects(Path(path), iter_jsonl(path))


def _objects(path: Path, values: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, value in values:
        if not isinstance(value, dict):
            raise InputError("expected a JSON object", path=path, line=lineno)
        yield lineno, value
