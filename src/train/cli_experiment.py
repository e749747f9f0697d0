"""``train experiment``: thin click command over :func:`train.experiment.run_experiment`."""

from __future__ import annotations

import click

from evaluation.cli_errors import friendly_errors
from train.experiment_config import ARMS


@click.command(
    name="experiment",
    help=f"Run SPFT-SQL's comparison arms ({', '.join(ARMS)}; sft-steps = SFT for as many optimizer steps as "
    "spft, the equal-compute control) from a TOML config over its seeds; writes OUT/results.json, results.md and "
    "results.png. Cached and resumable: rerun the same command after a kill. See experiments/*.toml and "
    "docs/results.md.",
)
@click.argument("config", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Experiment folder (split, runs per seed, results).")
@click.option("--smoke", is_flag=True, help="Apply the config's [smoke] section: one seed, a handful of steps.")
@click.option("--seeds", default="", help="Comma-separated seeds to run instead of the config's (e.g. 0 or 0,1).")
@click.option(
    "--arms",
    default="",
    help="Comma-separated arms to run instead of the config's (e.g. the core arms of every seed first; "
    "finished arms are reused, the report covers the arms run).",
)
@click.option(
    "--report-only", is_flag=True, help="Train nothing: tabulate the arms already finished (while a run goes on)."
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False),
    default=None,
    help="A folder that outlives this machine (e.g. in your repository): finished results (never weights) "
    "are restored from it first and saved into it after every arm, so a run can go on on a fresh machine.",
)
@friendly_errors
def experiment_cmd(
    config: str, out: str, smoke: bool, seeds: str, arms: str, report_only: bool, archive: str | None
) -> None:
    import dataclasses

    from train.experiment import run_experiment
    from train.experiment_config import load_experiment

    cfg = load_experiment(config)
    if smoke:
        cfg = cfg.smoked()
    if seeds.strip():
        try:
            chosen = tuple(int(s) for s in seeds.split(",") if s.strip())
        except ValueError:
            raise click.BadParameter(
                f"not a comma-separated list of integers: {seeds!r}", param_hint="--seeds"
            ) from None
        cfg = dataclasses.replace(cfg, seeds=chosen)
    if arms.strip():
        from evaluation.errors import UnknownNameError

        chosen_arms = tuple(a.strip() for a in arms.split(",") if a.strip())
        for a in chosen_arms:
            if a not in ARMS:
                raise UnknownNameError("arm (--arms)", a, ARMS)
        cfg = dataclasses.replace(cfg, arms=chosen_arms)
    doc = run_experiment(cfg, out, report_only=report_only, archive=archive)
    click.echo((__import__("pathlib").Path(out) / "results.md").read_text(encoding="utf-8"))
    click.echo(f"results: {out}/results.json, results.md, results.png ({doc['wall_s'] / 60:.1f} min)")
