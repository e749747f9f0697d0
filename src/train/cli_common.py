"""What the ``train`` command modules share: config-driven options and which options the user gave.

Command modules (:mod:`train.cli_vbi`, :mod:`train.cli_spft`, ...) import from here, never from
:mod:`train.cli`, the group that imports and registers them.
"""

from __future__ import annotations

from typing import Any

import click

from evaluation.cli_options import config_options as _config_options

RENAMES = {"lam": "lambda"}


def config_options(cls: type):
    """Decorator adding one click option per field of a config dataclass (in field order)."""
    return _config_options(cls, renames=RENAMES)


def given_options(ctx: click.Context, kw: dict[str, Any]) -> set[str]:
    """Names of the options the user set (command line, environment, a default map), not click's defaults."""
    from click.core import ParameterSource

    return {name for name in kw if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)}
