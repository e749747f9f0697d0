"""SFT, prediction and self-play fine-tuning (torch / transformers / peft, optional extra `train`).

The public API is :data:`__all__`: each stage's config and its ``run_*`` function. ``import train``
imports no torch: the names are imported on first use, and torch / transformers only when a
``run_*`` function runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from train import writer as _writer  # noqa: F401  - registers the "model" question writer with synth

if TYPE_CHECKING:
    from train.experiment import run_experiment
    from train.experiment_config import ExperimentConfig
    from train.models.backend_config import GenerationBackendConfig
    from train.selfplay import run_selfplay
    from train.selfplay_config import SelfPlayConfig
    from train.sft import run_sft
    from train.sft_config import SFTConfig
    from train.spft import run_spft
    from train.spft_config import SpftConfig
    from train.vbi import run_vbi
    from train.vbi_config import VBIConfig

#: Public name -> the module that defines it (imported lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    "SFTConfig": "train.sft_config",
    "run_sft": "train.sft",
    "SelfPlayConfig": "train.selfplay_config",
    "run_selfplay": "train.selfplay",
    "VBIConfig": "train.vbi_config",
    "run_vbi": "train.vbi",
    "SpftConfig": "train.spft_config",
    "run_spft": "train.spft",
    "ExperimentConfig": "train.experiment_config",
    "run_experiment": "train.experiment",
    "GenerationBackendConfig": "train.models.backend_config",
}

__all__ = [
    "ExperimentConfig",
    "GenerationBackendConfig",
    "SFTConfig",
    "SelfPlayConfig",
    "SpftConfig",
    "VBIConfig",
    "run_experiment",
    "run_selfplay",
    "run_sft",
    "run_spft",
    "run_vbi",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'train' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
