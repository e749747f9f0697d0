"""``evaluate`` — score predictions against gold with EX / TS / VES (a thin layer over the library).

Library errors (:class:`~evaluation.errors.SpftError`) become ``Error: ...`` with exit code 1; a Ctrl-C
ends it with ``Aborted`` and exit code 130, writing nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from evaluation.errors import SpftError
from evaluation.executor import Limits

#: Exit status of a command the user interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
ABORTED_EXIT = 130


def abort_on_interrupt() -> None:
    """Say ``Aborted`` and exit 130: a Ctrl-C ends a command; it is never a result or an error.

    Shared by every CLI (``synth`` and ``train`` through ``friendly_errors``).
    """
    click.echo("\nAborted", err=True)
    sys.exit(ABORTED_EXIT)


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
@click.option("--metric", "metric", default="ex", show_default=True, help="Comma-separated metrics: ex, ts, ves.")
@click.option("--gold", "gold", required=True, type=click.Path(path_type=Path),
              help="Gold: JSONL (id, db_id, sql), Spider dev.json (ids are positions '0'..), or 'SQL<TAB>db_id' text.")
@click.option("--pred", "pred", required=True, type=click.Path(path_type=Path),
              help="Predictions: JSONL (id, sql, db_id?) paired by id, or one SQL per line paired by position.")
@click.option("--db-root", "db_root", required=True, type=click.Path(path_type=Path),
              help="Folder of <db_id>/<db_id>.sqlite (e.g. spider/database).")
@click.option("--compare", type=click.Choice(["spider", "bird"]), default="spider", show_default=True,
              help="spider: bag of rows, column permutations, order iff gold has ORDER BY; bird: set equality.")
@click.option("--keep-distinct", is_flag=True, help="Spider mode: do not strip DISTINCT before executing.")
@click.option("--suite-dir", type=click.Path(path_type=Path), default=None,
              help="TS: folder of <db_id>/*.sqlite test-suite databases.")
@click.option("--ves-repeats", type=int, default=100, show_default=True, help="VES: timed runs per query.")
@click.option("--ves-timer", type=click.Choice(["wall", "steps"]), default="wall", show_default=True,
              help="VES cost: wall-clock seconds (BIRD) or SQLite VM steps (same on every machine; one run).")
@click.option("--timeout", "timeout", type=float, default=30.0, show_default=True, help="Seconds per query.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None, help="Write report JSON here.")
@click.option("--details", "details_path", type=click.Path(path_type=Path), default=None,
              help="Write one JSON line per item here (id, db_id, hardness, verdicts).")
@click.option("--workers", type=int, default=0, show_default=True, help="Processes (0 = all CPUs, 1 = in-process).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--only-predicted", is_flag=True,
              help="Score only the gold ids present in the (JSONL) predictions, e.g. after `--limit N`; "
              "the report says how many gold items were left out.")
def main(metric, gold, pred, db_root, compare, keep_distinct, suite_dir, ves_repeats, ves_timer, timeout,
         report_path, details_path, workers, no_progress, only_predicted) -> None:
    """Score predictions against gold SQL by executing both (read-only, time-limited).

    `evaluate build-suite --help`: build test-suite databases for --metric ts.
    """
    try:
        _run(metric, gold, pred, db_root, compare, keep_distinct, suite_dir, ves_repeats, timeout,
             report_path, details_path, workers, no_progress, only_predicted, ves_timer)
    except SpftError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:  # Ctrl-C: no report, no details (nothing half-written)
        abort_on_interrupt()


def _run(metric, gold, pred, db_root, compare, keep_distinct, suite_dir, ves_repeats, timeout,
         report_path, details_path, workers, no_progress, only_predicted=False, ves_timer="wall") -> None:
    from evaluation.errors import DataNotFoundError
    from evaluation.inputs import load_pairs
    from evaluation.report import build_report, format_table, write_details, write_json_atomic
    from evaluation.runner import EvalConfig, evaluate_pairs, parse_metrics, work_units
    from evaluation.steps import steps_timer
    from evaluation.ves import wall_timer

    timer = steps_timer if ves_timer == "steps" else wall_timer
    if ves_timer == "steps":
        ves_repeats = 1  # a step count does not vary between runs

    metrics = parse_metrics(metric)
    if not db_root.is_dir():
        raise DataNotFoundError(f"--db-root {db_root}: not a directory (expected <db_id>/<db_id>.sqlite inside)")
    if suite_dir is not None and not suite_dir.is_dir():
        raise DataNotFoundError(f"--suite-dir {suite_dir}: not a directory")
    config = EvalConfig(db_root=db_root, metrics=metrics, compare=compare, keep_distinct=keep_distinct,
                        suite_dir=suite_dir, ves_repeats=ves_repeats, limits=Limits(timeout_s=timeout),
                        workers=workers)
    # EX/VES skip items whose database file is missing; their predictions may be absent too.
    missing_db = None if not ({"ex", "ves"} & set(metrics)) else (lambda g: not config.db_path(g.db_id).is_file())
    paired = load_pairs(gold, pred, unjudgeable=missing_db, only_predicted=only_predicted)
    for w in paired.warnings:
        click.echo(f"Warning: {w}", err=True)
    t0 = time.perf_counter()
    total = work_units(paired.pairs, config)  # items, plus (item, suite file) runs for TS
    if not no_progress and total >= 200:
        from tqdm import tqdm

        unit = "run" if "ts" in metrics else "q"
        with tqdm(total=total, file=sys.stderr, unit=unit, desc="evaluate") as bar:
            results = evaluate_pairs(paired.pairs, config, timer=timer, progress=bar.update)
    else:
        results = evaluate_pairs(paired.pairs, config, timer=timer)
    seconds = time.perf_counter() - t0
    report = build_report(results, config, gold_path=gold, pred_path=pred, pairing=paired.pairing,
                          warnings=paired.warnings, seconds=seconds, gold_items=paired.gold_items,
                          only_predicted=paired.only_predicted)
    if "ves" in report:
        report["ves"]["timer"] = ves_timer
    for w in report["warnings"][len(paired.warnings):]:
        click.echo(f"Warning: {w}", err=True)
    click.echo(format_table(report))
    if report_path is not None:
        write_json_atomic(report_path, report)
    if details_path is not None:
        write_details(details_path, results)


from evaluation.cli_suite import build_suite_command  # noqa: E402  (registered on the group above)

main.add_command(build_suite_command)
