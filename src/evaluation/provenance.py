"""Provenance, in one place: what an output says about where it came from -- file hashes, the
versions of the software that shaped it, and when. ``synth generate``'s manifest, every ``train``
manifest, ``evaluate``'s report and ``evaluate build-suite``'s manifest read these, so two of them
never disagree about how a file was hashed or a version was read. Bottom layer: no torch.

It is also the one module that hashes (``tests/test_layers.py`` keeps ``hashlib`` out of the others):
cache and identity keys -- template ids, suite fingerprints, experiment and split keys, decoding
settings -- are :func:`digest` of text parts or :func:`json_digest` of canonical JSON. Their values
name folders and decide splits, so ``tests/test_keys.py`` pins each one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import sqlite3
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

#: recorded for a package that is asked for but not installed (``missing="record"``)
NOT_INSTALLED = "not installed"


def digest_iter(
    parts: Iterable[str | bytes],
    *,
    algorithm: str = "sha256",
    length: int | None = None,
    digest_size: int | None = None,
) -> str:
    """Hex digest of ``parts`` hashed in order, as if concatenated (``str`` as UTF-8), read one part at a
    time (records, file chunks: never all in memory). ``length`` keeps the first hex digits of the
    digest; ``digest_size`` is blake2's own output size in bytes (a different hash, not a truncation).
    ``algorithm`` is a :mod:`hashlib` name; keys that began with sha1 or blake2b keep them.

    >>> digest_iter(["ab", b"c"]) == digest("abc")
    True
    """
    h = hashlib.new(algorithm, **({} if digest_size is None else {"digest_size": digest_size}))
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()[:length]


def digest(
    *parts: str | bytes, algorithm: str = "sha256", length: int | None = None, digest_size: int | None = None
) -> str:
    """The project's one recipe for cache and identity keys: the hex digest of ``parts`` (see
    :func:`digest_iter` for the options).

    >>> digest("abc", length=12)
    'ba7816bf8f01'
    >>> digest("abc", algorithm="blake2b", digest_size=4)
    '63906248'
    """
    return digest_iter(parts, algorithm=algorithm, length=length, digest_size=digest_size)


def json_digest(
    obj: Any, *, length: int | None = None, ensure_ascii: bool = True, default: Callable[[Any], Any] | None = None
) -> str:
    """SHA-256 of ``obj`` as canonical JSON: ``json.dumps(obj, sort_keys=True)`` (``default=str`` turns
    values JSON cannot hold into text), so equal dicts give equal keys whatever their key order.

    >>> json_digest({"b": 1, "a": 2}) == json_digest({"a": 2, "b": 1}) == digest('{"a": 2, "b": 1}')
    True
    """
    return digest(json.dumps(obj, sort_keys=True, ensure_ascii=ensure_ascii, default=default), length=length)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return digest(data)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (model weights and databases do not fit in one read)."""
    with Path(path).open("rb") as f:
        return digest_iter(iter(lambda: f.read(chunk), b""))


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
