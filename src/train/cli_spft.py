"""``train spft``: thin click command over :func:`train.spft.run_spft` (options from :class:`SpftConfig`)."""

from __future__ import annotations

from typing import Any

import click

from synth.cli import friendly_errors
from train.cli import config_options, main
from train.spft_config import SpftConfig


@main.command(
    "spft",
    help="The SPFT-SQL loop in one command: real + synthetic VBI-FT iterations, then self-play with the "
    "error-driven loss, for --rounds rounds (the self-play main starts the next round); the model returned "
    "in OUT/final/ is the best on a held-out selection split of the real pairs. Resumable after a kill.",
)
@config_options(SpftConfig)
@click.pass_context
@friendly_errors
def spft_cmd(ctx: click.Context, **kw: Any) -> None:
    from click.core import ParameterSource

    from train.spft import run_spft
    from train.spft_config import with_preset

    explicit = {name for name in kw if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    res = run_spft(with_preset(kw, explicit))
    for r in sorted({row["round"] for row in res.rows}):
        best = max((row for row in res.rows if row["round"] == r), key=lambda row: row["selection_ex"] or 0.0)
        click.echo(f"round {r}: best selection EX {best['selection_ex']} ({best['stage']} {best['model']})")
    stop = f" (stopped: {res.stopped})" if res.stopped else ""
    click.echo(f"final model: {res.out / 'final'} (selection EX {res.final['selection_ex']}){stop}")
