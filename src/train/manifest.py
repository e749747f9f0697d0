"""Run manifests: what went in (with hashes), the parameters, seed, versions, hardware, counts, timings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from train.io import sha256_file, write_json

MANIFEST_FORMAT = "spft-sql/train-manifest/1"
PACKAGES = ("spft-sql", "torch", "transformers", "peft", "accelerate", "tokenizers", "trl")


def versions() -> dict[str, str]:
    """Python and the installed packages that matter (absent ones are left out)."""
    out: dict[str, str] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> dict[str, Any]:
    """Where the run ran: platform, CPU count and torch threads, CUDA devices."""
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine()}
    try:
        import os

        import torch

        info["cpu_count"] = os.cpu_count()
        info["torch_threads"] = torch.get_num_threads()  # CPU results are bit-identical only at equal threads
        info["cuda"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:  # pragma: no cover
        pass
    return info


def file_inputs(paths: dict[str, str | Path]) -> dict[str, dict[str, str]]:
    """``{name: {"path", "sha256"}}`` for the input files of a run."""
    return {k: {"path": str(Path(p).resolve()), "sha256": sha256_file(p)} for k, p in paths.items()}


def config_dict(config: Any) -> dict[str, Any]:
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def write_manifest(
    path: str | Path,
    *,
    command: str,
    config: Any,
    inputs: dict[str, Any],
    seed: int,
    counts: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    results: dict[str, Any] | None = None,
) -> dict[str, Any]:
    manifest = {
        "format": MANIFEST_FORMAT,
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
        "parameters": config_dict(config),
        "seed": seed,
        "versions": versions(),
        "hardware": hardware(),
        "counts": counts or {},
        "timings": timings or {},
        "results": results or {},
    }
    write_json(path, manifest)
    return manifest
