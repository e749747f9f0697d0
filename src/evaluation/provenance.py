"""Provenance, in one place: what an output says about where it came from -- file hashes, the
versions of the software that shaped it, and when. ``synth generate``'s manifest, every ``train``
manifest, ``evaluate``'s report and ``evaluate build-suite``'s manifest read these, so two of them
never disagree about how a file was hashed or a version was read. Bottom layer: no torch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import sqlite3
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

#: recorded for a package that is asked for but not installed (``missing="record"``)
NOT_INSTALLED = "not installed"


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (model weights and databases do not fit in one read)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions(names: Iterable[str], *, missing: str = "record", sqlite: bool = False) -> dict[str, str]:
    """``{"python": ..., name: version, ...}`` for the installed distributions ``names``; a missing one is
    recorded as ``"not installed"`` (``missing="record"``) or left out (``missing="skip"``). ``sqlite``
    adds the SQLite library's version (it decides query results and speed).

    >>> list(package_versions(["no-such-package-xyz"]))
    ['python', 'no-such-package-xyz']
    >>> package_versions(["no-such-package-xyz"])["no-such-package-xyz"]
    'not installed'
    >>> "no-such-package-xyz" in package_versions(["no-such-package-xyz"], missing="skip")
    False
    """
    if missing not in ("record", "skip"):
        raise ValueError(f"missing must be 'record' or 'skip', got {missing!r}")
    out: dict[str, str] = {"python": platform.python_version()}
    if sqlite:
        out["sqlite"] = sqlite3.sqlite_version
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if missing == "record":
                out[name] = NOT_INSTALLED
    return out


def file_info(
    path: str | Path | None, *, relative_to: str | Path | None = None, resolve: bool = True, size: bool = False
) -> dict | None:
    """``{"path", "sha256"}`` of an input file (``"bytes"`` too with ``size``); ``None`` for no path.
    The path is made absolute (``resolve``), shown relative to ``relative_to`` when inside it; a path that
    is not a file gets ``sha256: None`` rather than an error (a report still says what it was given)."""
    if path is None:
        return None
    p = Path(path).resolve() if resolve else Path(path)
    shown = p.as_posix() if resolve else str(p)
    if relative_to is not None:
        try:
            shown = p.relative_to(Path(relative_to).resolve()).as_posix()
        except ValueError:
            pass
    is_file = p.is_file()
    info: dict = {"path": shown, "sha256": sha256_file(p) if is_file else None}
    if size:
        info["bytes"] = p.stat().st_size if is_file else None
    return info


def utc_timestamp() -> str:
    """Now, in UTC, to the second (ISO 8601): when a manifest was written."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
