"""Run manifests: what went in (with hashes), the parameters, seed, versions, hardware, counts, timings."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

from evaluation.provenance import file_info, package_versions, utc_timestamp
from train.io import write_json

MANIFEST_FORMAT = "spft-sql/train-manifest/1"
PACKAGES = ("spft-sql", "torch", "transformers", "peft", "accelerate", "tokenizers", "trl")


def versions() -> dict[str, str]:
    """Python and the installed packages that matter (absent ones are left out)."""
    return package_versions(PACKAGES, missing="skip")


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
    return {k: file_info(p) for k, p in paths.items()}


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
        "created": utc_timestamp(),
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
