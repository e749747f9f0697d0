"""``train vbi``: thin click command over :func:`train.vbi.run_vbi` (options from :class:`VBIConfig`)."""

from __future__ import annotations

import json
from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from train.cli_common import apply_model_defaults, config_options, given_options
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
    from train.vbi_config import PRESETS, apply_preset

    apply_model_defaults(ctx, kw, "vbi", skip=PRESETS.get(kw.get("preset"), {}))  # the preset's options win
    res = run_vbi(apply_preset(VBIConfig, kw, given_options(ctx, kw)))  # what the user set wins over the preset
    for row in res.rows:
        click.echo(
            f"iteration {row['iteration']}: D_val EX {row['val_ex']:.3f} (anchor {row['anchor_val_ex']:.3f}), "
            f"selection EX {'-' if row.get('selection_ex') is None else format(row['selection_ex'], '.3f')}, "
            f"y+ {row['positives']}, y- {row['negatives']}, writer {row['writer']}"
        )
    top = res.pool.main()
    tie = res.pool.tie_note(top)
    click.echo(
        f"pool: {res.out / 'pool.json'} ({len(res.pool.entries)} models; best on D_val {top.id} = {top.path}"
        f"{f'; {tie}' if tie else ''})"
    )
    results = json.loads((res.out / "manifest.json").read_text(encoding="utf-8"))["results"]
    best, final = results["best"], results["final"]
    click.echo(f"best on the held-out selection split: {best['id']} = {best['path']}")
    how = "the last iteration's model" if results["final_by"] == "last" else "best on the selection split"
    click.echo(f"result ({how}, --final {results['final_by']}): {final['id']} = {final['path']}")
