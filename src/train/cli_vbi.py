"""``train vbi``: thin click command over :func:`train.vbi.run_vbi` (options from :class:`VBIConfig`)."""

from __future__ import annotations

import json
from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from train.cli_common import apply_model_defaults, config_options
from train.vbi_config import VBIConfig


@click.command(
    name="vbi",
    help="Verification-based iterative fine-tuning (SPFT-SQL §3.1): synthesize, SFT text-to-SQL, verify on D_val, "
    "SFT SQL-to-Text on the verified pairs, upweight failed templates; every iteration's model joins OUT/pool.json "
    "(for `train selfplay --pool OUT`). Resumable.",
)
@config_options(VBIConfig)
@click.pass_context
@friendly_errors
def vbi_cmd(ctx: click.Context, **kw: Any) -> None:
    from train.vbi import run_vbi

    apply_model_defaults(ctx, kw, "vbi")

    res = run_vbi(VBIConfig(**kw))
    for row in res.rows:
        click.echo(
            f"iteration {row['iteration']}: D_val EX {row['val_ex']:.3f} (anchor {row['anchor_val_ex']:.3f}), "
            f"selection EX {'-' if row.get('selection_ex') is None else format(row['selection_ex'], '.3f')}, "
            f"y+ {row['positives']}, y- {row['negatives']}, writer {row['writer']}"
        )
    best = res.pool.main()
    tie = res.pool.tie_note(best)
    click.echo(
        f"pool: {res.out / 'pool.json'} ({len(res.pool.entries)} models; best on D_val {best.id} = {best.path}"
        f"{f'; {tie}' if tie else ''})"
    )
    chosen = json.loads((res.out / "manifest.json").read_text(encoding="utf-8"))["results"]["best"]
    click.echo(f"result (best on the held-out selection split): {chosen['id']} = {chosen['path']}")
