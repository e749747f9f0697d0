"""``evaluation.evaluate(gold, pred, config) -> Report``: the library call behind the ``evaluate`` command
(issue 12), its config, the shared CLI error decorator, and the package's public names."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import evaluation
from evaluation import EvalConfig, Item, Limits, Report, evaluate
from evaluation.errors import ConfigError, DataNotFoundError, SpftError, UnknownNameError
from evaluation.runner import work_units

SRC = Path(__file__).resolve().parents[2] / "src"


def _jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.fixture()
def files(tmp_path: Path):
    gold = _jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "db_id": "concert_singer", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "db_id": "concert_singer", "sql": "SELECT name FROM singer ORDER BY age DESC"},
            {"id": "c", "db_id": "wta_1", "sql": "SELECT count(*) FROM players"},
            {"id": "d", "db_id": "concert_singer", "sql": "SELECT name FROM singer WHERE age > 99"},
        ],
    )
    pred = _jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "b", "sql": "SELECT name FROM singer ORDER BY age"},
            {"id": "a", "db_id": "concert_singer", "sql": "SELECT count(*) FROM singer"},
            {"id": "c", "sql": "SELECT count(*) FROM players"},
            {"id": "d", "sql": "  "},
        ],
    )
    return gold, pred


def _without_seconds(path: Path) -> dict:
    d = json.loads(path.read_text())
    d.pop("seconds")
    return d


def test_library_call_returns_the_report_the_command_writes(files, spider_root: Path, tmp_path: Path) -> None:
    gold, pred = files
    config = EvalConfig(
        db_root=spider_root / "database", metrics="ex,ves", ves_timer="steps", workers=1, limits=Limits(timeout_s=30.0)
    )  # the command's --timeout default
    report = evaluate(gold, pred, config)

    assert isinstance(report, Report) and [r.id for r in report.items] == ["a", "b", "c", "d"]
    data = report.as_dict()
    assert data["scores"]["ex"]["by_hardness"]["all"] == {"count": 3, "correct": 2, "score": 2 / 3}
    assert data["ves"]["repeats"] == 1 and data["ves"]["timer"] == "steps"
    assert data["counts"]["skipped_missing_db"] == 1 and data["counts"]["empty_predictions"] == 1
    assert report.warnings == tuple(data["warnings"]) and any("wta_1" in w for w in report.warnings)
    assert "EXECUTION ACCURACY" in report.table() and "VALID EFFICIENCY SCORE" in report.table()

    report.write(tmp_path / "lib" / "report.json")
    report.write_details(tmp_path / "lib" / "items.jsonl")
    cli_rep, cli_det = tmp_path / "cli" / "report.json", tmp_path / "cli" / "items.jsonl"
    from evaluation.cli import main

    res = CliRunner().invoke(
        main,
        [
            "--metric",
            "ex,ves",
            "--ves-timer",
            "steps",
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--workers",
            "1",
            "--report",
            str(cli_rep),
            "--details",
            str(cli_det),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert report.table() in res.output
    assert all(f"Warning: {w}" in res.output for w in report.warnings)
    assert _without_seconds(cli_rep) == _without_seconds(tmp_path / "lib" / "report.json")
    assert cli_det.read_bytes() == (tmp_path / "lib" / "items.jsonl").read_bytes()


def test_loaded_pairs_and_progress(spider_root: Path) -> None:
    pairs = [
        Item(str(i), "concert_singer", "SELECT count(*) FROM singer", sql)
        for i, sql in enumerate(["SELECT count(*) FROM singer", "SELECT 1", "SELECT count(*) FROM stadium"])
    ]
    config = EvalConfig(db_root=spider_root / "database", workers=1)
    done: list[int] = []
    report = evaluate(None, None, config, items=pairs, progress=done.append)
    assert [r.verdicts["ex"].correct for r in report.items] == [True, False, False]
    assert sum(done) == work_units(pairs, config) == 3
    assert report.as_dict()["inputs"]["gold"] is None and report.warnings == ()
    with pytest.raises(TypeError):
        evaluate(None, None, config)


def test_evaluate_needs_no_click_and_never_prints(files, spider_root: Path) -> None:
    gold, pred = files
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from evaluation import EvalConfig, evaluate\n"
        f"config = EvalConfig(db_root=Path({str(spider_root / 'database')!r}), workers=1)\n"
        f"r = evaluate({str(gold)!r}, {str(pred)!r}, config)\n"
        "assert len(r.items) == 4\n"
        "sys.stderr.write(repr(sorted(m for m in ('click', 'tqdm') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and out.stderr == "[]"


def test_config_is_the_one_place_for_every_option(tmp_path: Path) -> None:
    from evaluation.steps import steps_timer
    from evaluation.ves import wall_timer

    c = EvalConfig(db_root=tmp_path, metrics="EX, ves", ves_repeats=0, ves_timer="steps")
    assert c.metrics == ("ex", "ves") and c.ves_repeats == 1 and c.timer is steps_timer
    assert EvalConfig(db_root=tmp_path).timer is wall_timer and not EvalConfig(db_root=tmp_path).only_predicted
    with pytest.raises(UnknownNameError, match="did you mean 'steps'"):
        EvalConfig(db_root=tmp_path, ves_timer="step")
    with pytest.raises(ConfigError, match="--ves-repeats"):
        EvalConfig(db_root=tmp_path, ves_repeats=0)


def test_folders_are_checked_before_anything_runs(files, tmp_path: Path) -> None:
    gold, pred = files
    with pytest.raises(DataNotFoundError, match="--db-root"):
        evaluate(gold, pred, EvalConfig(db_root=tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="--suite-dir"):
        evaluate(gold, pred, EvalConfig(db_root=tmp_path, metrics="ts", suite_dir=tmp_path / "nope"))


def test_only_predicted_comes_from_the_config(files, spider_root: Path, tmp_path: Path) -> None:
    gold, _ = files
    pred = _jsonl(tmp_path / "few.jsonl", [{"id": "a", "sql": "SELECT count(*) FROM singer"}])
    with pytest.raises(SpftError, match="no prediction"):
        evaluate(gold, pred, EvalConfig(db_root=spider_root / "database", workers=1))
    report = evaluate(gold, pred, EvalConfig(db_root=spider_root / "database", workers=1, only_predicted=True))
    assert [r.id for r in report.items] == ["a"]
    assert report.as_dict()["counts"]["gold_items"] == 4 and report.as_dict()["inputs"]["only_predicted"]


# ---- the one error decorator of every CLI ---------------------------------------------------------


def test_every_cli_command_is_wrapped_by_the_one_decorator() -> None:
    from evaluation.cli import main as evaluate_main
    from evaluation.cli_errors import friendly_errors
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    wrapper_code = friendly_errors(lambda: None).__code__
    commands = [
        evaluate_main,
        *evaluate_main.subcommands.values(),
        *synth_main.commands.values(),
        *train_main.commands.values(),
    ]
    for cmd in commands:
        f = cmd.callback
        while f.__code__ is not wrapper_code and hasattr(f, "__wrapped__"):
            f = f.__wrapped__
        assert f.__code__ is wrapper_code, f"{cmd.name} is not wrapped by evaluation.cli_errors.friendly_errors"


def test_errors_and_interrupts_become_messages_and_exit_codes() -> None:
    import click

    from evaluation.cli_errors import ABORTED_EXIT, friendly_errors

    @click.command()
    @click.option("--what")
    @friendly_errors
    def cmd(what: str) -> None:
        if what == "error":
            raise ConfigError("bad --thing")
        raise KeyboardInterrupt

    r = CliRunner().invoke(cmd, ["--what", "error"])
    assert r.exit_code == 1 and r.output == "Error: bad --thing\n"
    r = CliRunner().invoke(cmd, ["--what", "stop"])
    assert r.exit_code == ABORTED_EXIT == 130 and r.output == "\nAborted\n"


# ---- public names -----------------------------------------------------------------------------------


def test_every_public_name_resolves_and_modules_stay_modules() -> None:
    for name in evaluation.__all__:
        assert getattr(evaluation, name) is not None, name
    for name in (
        "evaluate",
        "EvalConfig",
        "Report",
        "ReadOnlyDatabase",
        "Limits",
        "GoldCache",
        "SpftError",
        "InputError",
        "DataNotFoundError",
        "UnknownNameError",
        "ConfigError",
    ):
        assert name in evaluation.__all__
    assert inspect.isfunction(evaluation.evaluate) and inspect.isclass(evaluation.Report)
    with pytest.raises(AttributeError):
        evaluation.no_such_name  # noqa: B018
    importlib.import_module("evaluation.hardness")
    assert inspect.ismodule(evaluation.hardness)  # a submodule name is never shadowed by an export


def test_package_is_marked_typed() -> None:
    assert (SRC / "evaluation" / "py.typed").is_file()


def test_command_defaults_are_the_library_configs():
    """`evaluate`'s option defaults come from EvalConfig (issue 12: defaults in one place); the
    library call and the command score with the same time limit unless told otherwise."""
    from evaluation.cli import main
    from evaluation.runner import EvalConfig

    defaults = {p.name: p.default for p in main.params}
    lib = EvalConfig(db_root=Path("."))
    assert defaults["metrics"] == ",".join(lib.metrics)
    assert defaults["compare"] == lib.compare and defaults["ves_repeats"] == lib.ves_repeats
    assert defaults["ves_timer"] == lib.ves_timer and defaults["workers"] == lib.workers
    assert defaults["timeout_s"] == lib.limits.timeout_s == 30.0
