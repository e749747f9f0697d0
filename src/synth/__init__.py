"""Synthesis of verified question/SQL data and the single prompt builder. Needs no torch.

The public API is :data:`__all__`: ``from synth import generate, GenerateConfig`` gives the
``synth generate`` pipeline (:mod:`synth.generation`) as a function and its config. The names are
imported on first use, so ``import synth`` (and every ``synth.<module>``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluation.schema import Schema
    from synth.fill import FillConfig
    from synth.generation import (
        GenerateConfig,
        GenerateResult,
        NotEnoughExamplesError,
        generate,
        normalize_sql,
        split_val,
        write_outputs,
    )
    from synth.prompt import PromptBuilder, PromptConfig
    from synth.questions import QuestionWriter, get_writer, register_writer
    from synth.sources import Benchmark, resolve_benchmark
    from synth.validate import validate_path

#: Public name -> the module that defines it (imported lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    "generate": "synth.generation",
    "GenerateConfig": "synth.generation",
    "GenerateResult": "synth.generation",
    "NotEnoughExamplesError": "synth.generation",
    "normalize_sql": "synth.generation",
    "split_val": "synth.generation",
    "write_outputs": "synth.generation",
    "FillConfig": "synth.fill",
    "PromptBuilder": "synth.prompt",
    "PromptConfig": "synth.prompt",
    "QuestionWriter": "synth.questions",
    "get_writer": "synth.questions",
    "register_writer": "synth.questions",
    "Schema": "evaluation.schema",
    "Benchmark": "synth.sources",
    "resolve_benchmark": "synth.sources",
    "validate_path": "synth.validate",
}

__all__ = [
    "Benchmark",
    "FillConfig",
    "GenerateConfig",
    "GenerateResult",
    "NotEnoughExamplesError",
    "PromptBuilder",
    "PromptConfig",
    "QuestionWriter",
    "Schema",
    "generate",
    "get_writer",
    "normalize_sql",
    "register_writer",
    "resolve_benchmark",
    "split_val",
    "validate_path",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
