"""``train spft``: thin click command over :func:`train.spft.run_spft` (options from :class:`SpftConfig`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from train.cli_common import apply_model_defaults, config_options, given_options
from train.spft_config import SpftConfig
from train.vbi import best_on_selection


@click.command(
    name="spft",
    help="The SPFT-SQL loop in one command: real + synthetic VBI-FT iterations, then self-play with the "
    "error-driven loss, for --rounds rounds (the self-play main starts the next round); the model returned "
    "in OUT/final/ is the last round's main (Alg. 1; --final selection: the best on a held-out selection split "
    "of the real pairs). Resumable after a kill.",
)
@config_options(SpftConfig)
@click.pass_context
@friendly_errors
def spft_cmd(ctx: click.Context, **kw: Any) -> None:
    from train.spft import run_spft
    from train.spft_config import with_preset
    from train.vbi_config import PRESETS

    apply_model_defaults(ctx, kw, "spft", skip=PRESETS.get(kw.get("preset"), {}))  # the preset's options win
    res = run_spft(with_preset(kw, given_options(ctx, kw)))  # what the user set wins over the preset
    for r in sorted({row["round"] for row in res.rows}):
        rows = [row for row in res.rows if row["round"] == r]
        best = best_on_selection(rows)
        click.echo(
            f"round {r}: best selection EX {best['selection_ex']} ({best['stage']} {best['model']}"
            f"{tie_note(rows, best)})"
        )
    stop = f" (stopped: {res.stopped})" if res.stopped else ""
    if res.final_by == "selection":
        how = f"best on the selection split{tie_note(res.rows, best_on_selection(res.rows))}"
    else:
        how = "the last round's main, --final last"
    click.echo(
        f"final model: {res.out / 'final'} (round {res.final['round']} {res.final['stage']} {res.final['model']}, "
        f"selection EX {res.final['selection_ex']}; {how}){stop}"
    )


def tie_note(rows: Sequence[Mapping[str, Any]], best: Mapping[str, Any]) -> str:
    """``"; tie with vbi m3, the later wins"`` when other rows scored what ``best`` scored, else ``""``.

    ``best`` is :func:`train.vbi.best_on_selection`'s pick, the model ``final/`` gets: on equal selection
    EX (anchor D_val EX without a selection split) the later row wins.

    >>> rows = [{"stage": "vbi", "model": "m1", "selection_ex": 0.1}, {"stage": "selfplay", "model": "m2", "selection_ex": 0.1}]
    >>> tie_note(rows, rows[1])
    '; tie with vbi m1, the later wins'
    >>> tie_note(rows[:1], rows[0])
    ''
    """
    key = "selection_ex" if any(r.get("selection_ex") is not None for r in rows) else "anchor_val_ex"
    score = best.get(key) or 0.0
    others = [f"{r['stage']} {r['model']}" for r in rows if r is not best and (r.get(key) or 0.0) == score]
    return f"; tie with {', '.join(others)}, the later wins" if others else ""
