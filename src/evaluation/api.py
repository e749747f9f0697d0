"""``evaluate(gold, pred, config) -> Report``: one scoring run as a library call.

The ``evaluate`` command is a thin click layer over this module: it builds an
:class:`~evaluation.runner.EvalConfig` from its options, prints the warnings and the table and
writes the files that :class:`~evaluation.report.Report` holds. A caller that wants to see the
pairing (its warnings, the amount of work) before scoring calls :func:`load_inputs` first and
passes the result as ``items``::

    config = EvalConfig(db_root=Path("spider/database"), metrics="ex,ts", suite_dir=Path("suites"))
    report = evaluate("spider/dev.json", "preds.jsonl", config)
    print(report.table()); report.write("report.json")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from evaluation.errors import DataNotFoundError
from evaluation.inputs import GoldRecord, Item, LoadedItems, load_items
from evaluation.report import Report, build_report
from evaluation.runner import EvalConfig, evaluate_items

__all__ = ["check_folders", "check_some_database", "evaluate", "load_inputs"]


def check_folders(db_root: Path, suite_dir: Path | None = None) -> None:
    """A database root (and a suite folder) that is not a directory is a mistake in the command, not
    an all-skipped report: raise, naming the option."""
    if not db_root.is_dir():
        raise DataNotFoundError(f"--db-root {db_root}: not a directory (expected <db_id>/<db_id>.sqlite inside)")
    if suite_dir is not None and not suite_dir.is_dir():
        raise DataNotFoundError(f"--suite-dir {suite_dir}: not a directory")


def load_inputs(gold: str | Path, pred: str | Path, config: EvalConfig) -> LoadedItems:
    """Read gold and predictions and pair them (by id, or by line position for plain text).

    For EX/VES a gold item whose database file is missing may lack a prediction (it becomes a
    counted skip); ``config.only_predicted`` scores only the gold ids the predictions have.
    """
    check_folders(config.db_root, config.suite_dir)
    missing_db: Callable[[GoldRecord], bool] | None = None
    if {"ex", "ves"} & set(config.metrics):

        def missing_db(g: GoldRecord) -> bool:
            return not config.db_path(g.db_id).is_file()

    loaded = load_items(gold, pred, unjudgeable=missing_db, only_predicted=config.only_predicted)
    if missing_db is not None:
        check_some_database(config, loaded.items)
    return loaded


def check_some_database(config: EvalConfig, items: Sequence[Item]) -> None:
    """No database of any item under ``--db-root`` is a wrong root, not a report of 0 judged: raise,
    naming where it looked. Some missing (Spider lacks a few) stays a counted skip and a warning."""
    if not items or any(config.db_path(it.db_id).is_file() for it in items):
        return
    root = config.db_root
    example = config.db_path(items[0].db_id)
    hint = ""
    for sub in ("database", "dev_databases", "databases"):
        if (root / sub).is_dir() and (root / sub / items[0].db_id / example.name).is_file():
            hint = f"; did you mean --db-root {root / sub}?"
            break
    raise DataNotFoundError(
        f"--db-root {root}: none of the {len(items)} items' databases is there (looked for "
        f"<db-root>/<db_id>/<db_id>.sqlite, e.g. {example}){hint}"
    )


def evaluate(
    gold: str | Path | None,
    pred: str | Path | None,
    config: EvalConfig,
    *,
    items: LoadedItems | Sequence[Item] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Score the predictions ``pred`` against ``gold`` under ``config``.

    ``gold``/``pred`` are file paths (recorded in the report with their sha256). ``items``: the
    items already loaded (:func:`load_inputs`, or plain :class:`~evaluation.inputs.Item` objects, when
    the paths may be ``None``) instead of reading the files again. ``progress(n)`` is called as work
    finishes, with the units done (:func:`evaluation.runner.work_units` counts them in advance).
    Raises :class:`~evaluation.errors.SpftError` for bad inputs or folders; never prints.
    """
    check_folders(config.db_root, config.suite_dir)
    if items is None:
        if gold is None or pred is None:
            raise TypeError("evaluate: give the gold and prediction paths, or the loaded items")
        items = load_inputs(gold, pred, config)
    elif not isinstance(items, LoadedItems):
        items = LoadedItems(tuple(items), "by_id", ())
    t0 = time.perf_counter()
    results = evaluate_items(items.items, config, progress=progress)
    seconds = time.perf_counter() - t0
    data = build_report(
        results,
        config,
        gold_path=gold,
        pred_path=pred,
        pairing=items.pairing,
        warnings=items.warnings,
        seconds=seconds,
        gold_items=items.gold_items,
        only_predicted=items.only_predicted,
    )
    return Report(data, tuple(results))
