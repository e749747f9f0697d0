"""``evaluate`` — score predictions against gold with EX / TS / VES: a thin layer over :func:`evaluation.evaluate`.

Library errors (:class:`~evaluation.errors.SpftError`) become ``Error: ...`` with exit code 1; a
Ctrl-C ends it with ``Aborted`` and exit code 130, writing nothing (:mod:`evaluation.cli_errors`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evaluation.cli_errors import friendly_errors
from evaluation.cli_options import config_options, field_option
from evaluation.cli_suite import build_suite_command
from evaluation.executor import Limits
from evaluation.runner import EvalConfig

#: The options' help and defaults are EvalConfig's fields (``--timeout`` is ``limits.timeout_s``): one
#: place, so the library call and the command agree. Only the paths' click type is the command's.
_PATH = click.Path(path_type=Path)


class _ScoreOrSubcommand(click.Command):
    """``evaluate [OPTIONS]`` scores; ``evaluate build-suite ...`` (a subcommand name first) runs that.

    Scoring stays a plain command (its options, its required ones, unchanged); subcommands are
    dispatched on the first argument before any parsing.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subcommands: dict[str, click.Command] = {}

    def add_command(self, cmd: click.Command) -> None:
        assert cmd.name is not None
        self.subcommands[cmd.name] = cmd

    def main(self, args=None, prog_name=None, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        if argv and argv[0] in self.subcommands:
            return self.subcommands[argv[0]].main(argv[1:], prog_name=f"{prog_name or self.name} {argv[0]}", **extra)
        return super().main(argv, prog_name=prog_name, **extra)

    def make_context(self, info_name, args, parent=None, **extra):
        if args and args[0] in self.subcommands:  # parse checks of `evaluate build-suite ...` lines
            return self.subcommands[args[0]].make_context(f"{info_name} {args[0]}", list(args[1:]), parent, **extra)
        return super().make_context(info_name, args, parent, **extra)


@click.command(name="evaluate", cls=_ScoreOrSubcommand, context_settings={"help_option_names": ["-h", "--help"]})
@field_option(EvalConfig, "metrics")
@click.option(
    "--gold",
    "gold",
    required=True,
    type=_PATH,
    help="Gold: JSONL (id, db_id, sql), Spider dev.json (ids are positions '0'..), or 'SQL<TAB>db_id' text.",
)
@click.option(
    "--pred",
    "pred",
    required=True,
    type=_PATH,
    help="Predictions: JSONL (id, sql, db_id?) paired by id, or one SQL per line paired by position.",
)
@field_option(EvalConfig, "db_root", type=_PATH)
@config_options(
    EvalConfig,
    fields=("compare", "keep_distinct", "suite_dir", "ves_repeats", "ves_timer"),
    overrides={"suite_dir": {"type": _PATH}},
)
@field_option(EvalConfig, "limits.timeout_s")
@click.option("--report", "report_path", type=_PATH, default=None, help="Write report JSON here.")
@click.option(
    "--details",
    "details_path",
    type=_PATH,
    default=None,
    help="Write one JSON line per item here (id, db_id, hardness, verdicts).",
)
@field_option(EvalConfig, "workers")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@field_option(EvalConfig, "only_predicted")
@friendly_errors
def main(
    metrics,
    gold,
    pred,
    db_root,
    compare,
    keep_distinct,
    suite_dir,
    ves_repeats,
    ves_timer,
    timeout_s,
    report_path,
    details_path,
    workers,
    no_progress,
    only_predicted,
) -> None:
    """Score predictions against gold SQL by executing both (read-only, time-limited).

    `evaluate build-suite --help`: build test-suite databases for --metric ts.
    """
    from evaluation.api import check_folders, evaluate, load_inputs
    from evaluation.runner import EvalConfig, parse_metrics, work_units

    metrics = parse_metrics(metrics)  # option mistakes are reported in this order: metric, folders, the rest
    check_folders(db_root, suite_dir)
    config = EvalConfig(
        db_root=db_root,
        metrics=metrics,
        compare=compare,
        keep_distinct=keep_distinct,
        suite_dir=suite_dir,
        ves_repeats=ves_repeats,
        limits=Limits(timeout_s=timeout_s),
        workers=workers,
        ves_timer=ves_timer,
        only_predicted=only_predicted,
    )
    paired = load_inputs(gold, pred, config)
    for w in paired.warnings:  # before the progress bar: they are about the inputs
        click.echo(f"Warning: {w}", err=True)
    total = work_units(paired.items, config)  # items, plus (item, suite file) runs for TS
    if not no_progress and total >= 200:
        from tqdm import tqdm

        unit = "run" if "ts" in metrics else "q"
        with tqdm(total=total, file=sys.stderr, unit=unit, desc="evaluate") as bar:
            report = evaluate(gold, pred, config, items=paired, progress=bar.update)
    else:
        report = evaluate(gold, pred, config, items=paired)
    for w in report.warnings[len(paired.warnings) :]:
        click.echo(f"Warning: {w}", err=True)
    click.echo(report.table())
    if report_path is not None:
        report.write(report_path)
    if details_path is not None:
        report.write_details(details_path)


main.add_command(build_suite_command)


if __name__ == "__main__":  # `python -m evaluation.cli`, like the other two CLIs
    main()
