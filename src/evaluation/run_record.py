"""The run record: the one skeleton of every manifest the project writes, and the one manifest writer.

``synth generate``'s ``manifest.json``, every ``train`` manifest, ``evaluate``'s report,
``evaluate build-suite``'s manifest and ``train vbi``'s synthesized-data manifest all start with the
same keys, built here, in one order::

    format, command, created, inputs, parameters, seed, versions, counts, timings, <own sections>, outputs

:data:`REQUIRED_KEYS` are in every record; ``created``, ``seed``, ``timings`` and ``outputs`` only where
the writer has them (``synth generate`` and ``evaluate`` leave ``created`` out: their files are equal
between two runs apart from their timings). Each writer adds only its own sections (``hardware`` and
``results`` of a train run, ``scores`` of a report, ``cache`` of a synthesis, ...). File hashes,
versions and timestamps come from :mod:`evaluation.provenance`. Bottom layer: no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evaluation.fileio import json_text, write_json
from evaluation.provenance import utc_timestamp

#: The skeleton's keys, in the order every record has them (own sections go between ``timings`` and ``outputs``).
SKELETON_KEYS = ("format", "command", "created", "inputs", "parameters", "seed", "versions", "counts", "timings")
#: The keys every record has; the others of :data:`SKELETON_KEYS` (and ``outputs``) only when given.
REQUIRED_KEYS = ("format", "command", "inputs", "parameters", "versions", "counts")


def config_dict(config: Any) -> dict[str, Any]:
    """The parameters of a run's config -- a dataclass (field by field) or a mapping -- JSON-ready:
    tuples as lists and paths as strings, at any depth.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     out: Path = Path("runs/a")
    ...     targets: tuple = ("q", "v")
    >>> config_dict(C())
    {'out': 'runs/a', 'targets': ['q', 'v']}
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    return {k: _jsonable(v) for k, v in dict(config).items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def build_record(
    *,
    format: str,
    command: str,
    inputs: Mapping[str, Any],
    parameters: Any,
    versions: Mapping[str, str],
    counts: Mapping[str, Any],
    seed: int | None = None,
    timings: Mapping[str, float] | None = None,
    created: bool = False,
    sections: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A manifest: the skeleton's keys in :data:`SKELETON_KEYS` order, then the writer's own ``sections``,
    then ``outputs``. ``parameters`` is the run's config (dataclass or mapping, see :func:`config_dict`);
    ``created`` stamps the record with :func:`~evaluation.provenance.utc_timestamp`; ``seed``, ``timings``
    and ``outputs`` are left out when ``None``. A section may not reuse a skeleton key.

    >>> r = build_record(format="spft-sql/x/1", command="x", inputs={}, parameters={"n": 1},
    ...                  versions={"python": "3"}, counts={}, seed=0, sections={"scores": {}})
    >>> list(r)
    ['format', 'command', 'inputs', 'parameters', 'seed', 'versions', 'counts', 'scores']
    """
    own = dict(sections or {})
    clash = sorted(set(own) & {*SKELETON_KEYS, "outputs"})
    if clash:
        raise ValueError(f"sections may not reuse the skeleton's keys: {clash}")
    values = {
        "format": format,
        "command": command,
        "created": utc_timestamp() if created else None,
        "inputs": dict(inputs),
        "parameters": config_dict(parameters),
        "seed": seed,
        "versions": dict(versions),
        "counts": dict(counts),
        "timings": dict(timings) if timings is not None else None,
    }
    record = {k: values[k] for k in SKELETON_KEYS if k in REQUIRED_KEYS or values[k] is not None}
    record.update(own)
    if outputs is not None:
        record["outputs"] = dict(outputs)
    return record


def record_bytes(record: Mapping[str, Any], *, sort_keys: bool = False) -> bytes:
    """A record as the bytes :func:`write_record` writes (for writers that stage their files together,
    like ``synth generate``). ``sort_keys`` only for a manifest compared byte for byte."""
    return json_text(record, sort_keys=sort_keys).encode("utf-8")


def write_record(path: str | Path, record: Mapping[str, Any], *, sort_keys: bool = False) -> Path:
    """Write a record atomically (a reader never sees half a file): two-space indent, UTF-8, in the
    record's key order unless ``sort_keys``."""
    return write_json(path, record, sort_keys=sort_keys)
