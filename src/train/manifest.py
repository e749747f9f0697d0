"""Train manifests: what went in (with hashes), the parameters, seed, versions, hardware, counts, timings,
results -- the run record of :mod:`evaluation.run_record` with a train run's own sections."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from evaluation.provenance import file_info, package_versions
from evaluation.run_record import build_record, write_record

MANIFEST_FORMAT = "spft-sql/train-manifest/1"
#: ``train vbi``'s synthesized data of one iteration (``iter-G/data/manifest.json``, :func:`train.vbi.synthesize`).
VBI_DATA_FORMAT = "spft-sql/vbi-data-manifest/1"
#: A data folder's manifest: the real pairs (``OUT/real/``), SFT and self-play data, an experiment's split
#: (:func:`write_data_manifest`).
DATA_FORMAT = "spft-sql/data-manifest/1"
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


def write_manifest(
    path: str | Path,
    *,
    command: str,
    config: Any,
    inputs: dict[str, Any],
    seed: int | None,
    counts: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    results: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``path``: the run record (``config`` field by field as its parameters, stamped ``created``)
    with ``hardware`` and ``results``. Returns the manifest."""
    manifest = build_record(
        format=MANIFEST_FORMAT,
        command=command,
        created=True,
        inputs=inputs,
        parameters=config,
        seed=seed,
        versions=versions(),
        counts=counts or {},
        timings=timings or {},
        sections={"hardware": hardware(), "results": results or {}},
    )
    write_record(path, manifest)
    return manifest


def write_data_manifest(
    path: str | Path,
    *,
    command: str,
    data_root: str | Path,
    inputs: dict[str, Any] | None = None,
    parameters: Any = None,
    counts: dict[str, Any],
    seed: int | None = None,
    timings: dict[str, float] | None = None,
    sections: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a data folder's ``manifest.json`` (format :data:`DATA_FORMAT`, stamped ``created``): the run
    record with ``inputs.data_root`` first -- what ``train sft`` / ``train selfplay --data`` resolve the
    examples' ``db_path`` against (:func:`train.io.data_root_for`) -- then ``inputs``; ``parameters`` is what
    decided the content. Returns the manifest."""
    manifest = build_record(
        format=DATA_FORMAT,
        command=command,
        created=True,
        inputs={"data_root": str(data_root), **(inputs or {})},
        parameters=parameters or {},
        seed=seed,
        versions=versions(),
        counts=counts,
        timings=timings,
        sections=sections,
    )
    write_record(path, manifest)
    return manifest
