"""Execution and scoring: the judge. Bottom layer — imports neither `synth` nor `train`.

The public API is :data:`__all__`: ``from evaluation import evaluate, EvalConfig`` scores a
prediction file as the ``evaluate`` command does and returns a :class:`Report`. The names are
imported on first use, so ``import evaluation`` (and every ``evaluation.<module>``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluation.api import check_folders, evaluate, load_inputs
    from evaluation.errors import ConfigError, DataNotFoundError, InputError, SpftError, UnknownNameError
    from evaluation.ex import GoldCache, exec_match, prepare_item
    from evaluation.executor import ExecResult, Limits, ReadOnlyDatabase, execute
    from evaluation.inputs import Item, LoadedItems, load_items
    from evaluation.report import Report, build_report, format_table
    from evaluation.runner import EvalConfig, ItemResult, evaluate_items, parse_metrics
    from evaluation.sql_analysis import SqlAnalysisError
    from evaluation.suite import SuiteConfig, build_suite
    from evaluation.verdict import Verdict

#: Public name -> the module that defines it (imported lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    "evaluate": "evaluation.api",
    "load_inputs": "evaluation.api",
    "check_folders": "evaluation.api",
    "EvalConfig": "evaluation.runner",
    "ItemResult": "evaluation.runner",
    "evaluate_items": "evaluation.runner",
    "parse_metrics": "evaluation.runner",
    "Report": "evaluation.report",
    "build_report": "evaluation.report",
    "format_table": "evaluation.report",
    "Item": "evaluation.inputs",
    "LoadedItems": "evaluation.inputs",
    "load_items": "evaluation.inputs",
    "ReadOnlyDatabase": "evaluation.executor",
    "ExecResult": "evaluation.executor",
    "Limits": "evaluation.executor",
    "execute": "evaluation.executor",
    "GoldCache": "evaluation.ex",
    "Verdict": "evaluation.verdict",
    "exec_match": "evaluation.ex",
    "prepare_item": "evaluation.ex",
    "SqlAnalysisError": "evaluation.sql_analysis",
    "SuiteConfig": "evaluation.suite",
    "build_suite": "evaluation.suite",
    "SpftError": "evaluation.errors",
    "InputError": "evaluation.errors",
    "DataNotFoundError": "evaluation.errors",
    "UnknownNameError": "evaluation.errors",
    "ConfigError": "evaluation.errors",
}

__all__ = [
    "ConfigError",
    "DataNotFoundError",
    "EvalConfig",
    "ExecResult",
    "GoldCache",
    "InputError",
    "ItemResult",
    "Limits",
    "Item",
    "LoadedItems",
    "ReadOnlyDatabase",
    "Report",
    "SpftError",
    "SqlAnalysisError",
    "SuiteConfig",
    "UnknownNameError",
    "Verdict",
    "build_report",
    "build_suite",
    "check_folders",
    "evaluate",
    "evaluate_items",
    "exec_match",
    "execute",
    "format_table",
    "load_inputs",
    "load_items",
    "parse_metrics",
    "prepare_item",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
