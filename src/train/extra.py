"""What the ``train`` extra installs, and one check that says how to install it when it is missing.

``pip install -e .`` (or ``make demo``) gives ``synth`` and ``evaluate`` and the ``train`` command group,
but not torch or transformers. Every ``train`` command needs them, so it checks first -- before it
writes anything -- and a user without them reads one ``Error:`` line with the install command instead
of a ``No module named 'torch'`` traceback (and, for ``train spft``, a half-made run folder).
"""

from __future__ import annotations

import importlib.util

from evaluation.errors import MissingExtraError

__all__ = ["INSTALL_HINT", "TORCH_SPEC", "TRAIN_EXTRA_MODULES", "missing_modules", "require_train_extra"]

#: The modules of the ``train`` extra that the commands import (pyproject.toml, ``[train]``).
TRAIN_EXTRA_MODULES = ("torch", "transformers", "peft", "accelerate")
#: The torch the Makefile installs (``TORCH_SPEC``); tests/train/test_newcomer_23.py keeps the two equal.
TORCH_SPEC = "torch==2.13.0"
INSTALL_HINT = f'pip install {TORCH_SPEC} && pip install -e ".[train]" (README, "Install": CPU-only and CUDA builds)'


def missing_modules(names: tuple[str, ...] = TRAIN_EXTRA_MODULES) -> list[str]:
    """The ``names`` that cannot be imported, found without importing them (``train --help`` stays fast)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent that fails to import; a module without __spec__
            found = False
        if not found:
            missing.append(name)
    return missing


def require_train_extra(what: str = "train") -> None:
    """Raise :class:`MissingExtraError` naming the missing modules and the install command, if any is missing."""
    missing = missing_modules()
    if missing:
        raise MissingExtraError(f"{what} needs the train extra (missing: {', '.join(missing)}): {INSTALL_HINT}")
