"""One exception root for the whole project.

`evaluation` is the bottom layer, so the error types live here and `synth` / `train` import them.
Every user-facing error says *where* (file, line, field) and, for unknown names, *what was meant*
("did you mean ...?"). CLIs turn :class:`SpftError` into ``Error: ...`` and exit 1 — never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class SpftError(Exception):
    """Root of every error the project raises on purpose (bad input, missing data, bad config)."""


class InputError(SpftError):
    """Bad content in an input file: names the file, the 1-based line and the field when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataNotFoundError(SpftError):
    """A data set, database file or directory is missing; says where we looked and how to get it."""


class UnknownNameError(SpftError):
    """An unknown db id / metric / loss name, with close matches suggested."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(set(known))
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        msg = f"unknown {kind} '{name}'"
        if close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        elif len(known) <= 12:
            msg += f"; known: {', '.join(known)}"
        super().__init__(msg)


class ConfigError(SpftError):
    """Inconsistent parameters; the message names the parameters involved."""


class MissingExtraError(SpftError):
    """A command needs an optional dependency group (``pip install -e ".[train]"``) that is not installed;
    the message names the missing modules and the install command."""
