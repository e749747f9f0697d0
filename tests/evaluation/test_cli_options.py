"""``evaluate`` and ``evaluate build-suite`` options come from EvalConfig / SuiteConfig (issue 12): each
option of a config field takes its name, help and default from the field, so they live in one place."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from evaluation.cli import main
from evaluation.cli_options import field_option, option_fields
from evaluation.cli_suite import build_suite_command
from evaluation.executor import Limits
from evaluation.runner import EvalConfig
from evaluation.suite import SuiteConfig

#: What each command declares by hand: inputs, outputs and display, not config fields.
EVALUATE_OWN = {"gold", "pred", "report_path", "details_path", "no_progress"}
SUITE_OWN = {"db_root", "gold", "out", "no_progress"}


def _config_field(cls: type, dotted: str) -> tuple[dataclasses.Field, object]:
    """The field that ``dotted`` names (``"limits.timeout_s"`` is Limits's) and the default ``cls`` gives it."""
    defaults: object = cls(db_root=Path(".")) if cls is EvalConfig else cls()
    *outer, name = dotted.split(".")
    for part in outer:
        cls, defaults = type(getattr(defaults, part)), getattr(defaults, part)
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f, (dataclasses.MISSING if f.default is dataclasses.MISSING and not outer else getattr(defaults, name))


def _config_params(cmd: click.Command, cls: type, own: set[str]) -> dict[str, str]:
    """param name -> the config field it comes from (the nested ``limits.timeout_s`` for ``evaluate``)."""
    names = {p.name for p in cmd.params if p.name != "help"} - own
    nested = {"timeout_s": "limits.timeout_s"} if cls is EvalConfig else {}
    return {n: nested.get(n, n) for n in names}


@pytest.mark.parametrize(
    ("cmd", "cls", "own"), [(main, EvalConfig, EVALUATE_OWN), (build_suite_command, SuiteConfig, SUITE_OWN)]
)
def test_options_of_config_fields_take_name_help_and_default_from_the_field(cmd, cls, own):
    params = _config_params(cmd, cls, own)
    # every option field of the config is an option, and every other option is one the command owns
    assert {d for d in params.values() if "." not in d} == {f.name for f in option_fields(cls)}
    by_name = {p.name: p for p in cmd.params}
    for name, dotted in params.items():
        f, default = _config_field(cls, dotted)
        p = by_name[name]
        assert p.help == f.metadata["help"], name
        option = "--" + str(f.metadata.get("flag") or f.metadata.get("option") or f.name).replace("_", "-")
        assert option in p.opts, (name, p.opts)
        if default is dataclasses.MISSING:
            assert p.required, name
        elif isinstance(default, tuple):
            assert p.default == ",".join(default), name
        else:
            assert p.default == default and not p.required, name
        if "choices" in f.metadata:
            assert list(p.type.choices) == list(f.metadata["choices"]), name


def test_evaluate_timeout_is_limits_help_with_eval_config_default():
    p = next(p for p in main.params if p.name == "timeout_s")
    limits = dataclasses.fields(Limits)[0]
    assert limits.name == "timeout_s" and p.help == limits.metadata["help"]
    assert p.default == EvalConfig(db_root=Path(".")).limits.timeout_s == 30.0 != limits.default


def _help_entry(text: str, option: str) -> str:
    m = re.search(rf"^  ({re.escape(option)}[ /,].*?)(?=^  -|\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, f"{option} not in --help"
    return " ".join(m.group(1).split())


@pytest.mark.parametrize(
    ("args", "cls", "own"), [([], EvalConfig, EVALUATE_OWN), (["build-suite"], SuiteConfig, SUITE_OWN)]
)
def test_help_shows_the_field_help_and_default(args, cls, own):
    res = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    cmd = main.subcommands[args[0]] if args else main
    for dotted in _config_params(cmd, cls, own).values():
        f, default = _config_field(cls, dotted)
        option = "--" + str(f.metadata.get("flag") or f.metadata.get("option") or f.name).replace("_", "-")
        entry = _help_entry(res.output, option)
        assert f.metadata["help"] in entry, entry
        if default is not dataclasses.MISSING and default is not None and not isinstance(default, bool):
            shown = ",".join(default) if isinstance(default, tuple) else default
            assert f"[default: {shown}]" in entry, entry


def test_evaluate_without_db_root_stops_in_click():
    """``db_root`` has no default: the option is required, as when it was written by hand."""
    res = CliRunner().invoke(main, ["--gold", "g", "--pred", "p"])
    assert res.exit_code == 2 and "Missing option '--db-root'" in res.output, res.output


def test_build_suite_options_reach_the_config(tmp_path: Path, monkeypatch):
    seen = {}

    def fake_build(db_root, gold, out, config, progress=None):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("evaluation.cli_suite.build_suite", fake_build)
    args = ["--db-root", str(tmp_path), "--gold", str(tmp_path / "g.jsonl"), "--out", str(tmp_path / "o")]
    args += ["--size", "5", "--timeout", "0.5", "--compare", "bird", "--keep-distinct", "--no-progress"]
    res = CliRunner().invoke(build_suite_command, args)
    assert res.exit_code == 0, res.output
    cfg = seen["config"]
    assert (cfg.size, cfg.timeout_s, cfg.compare, cfg.keep_distinct) == (5, 0.5, "bird", True)
    assert dataclasses.replace(cfg, size=20, timeout_s=2.0, compare="spider", keep_distinct=False) == SuiteConfig()


def test_evaluate_options_reach_the_config(tmp_path: Path, monkeypatch):
    seen = {}

    def fake_load(gold, pred, config):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("evaluation.api.load_inputs", fake_load)
    (tmp_path / "suite").mkdir()
    args = ["--gold", "g", "--pred", "p", "--db-root", str(tmp_path), "--metric", "EX, ts", "--timeout", "3"]
    args += ["--suite-dir", str(tmp_path / "suite"), "--keep-distinct", "--only-predicted", "--ves-timer", "steps"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    cfg = seen["config"]
    assert (cfg.metrics, cfg.limits, cfg.keep_distinct, cfg.only_predicted) == (("ex", "ts"), Limits(3.0), True, True)
    assert (cfg.db_root, cfg.suite_dir, cfg.ves_timer, cfg.ves_repeats) == (tmp_path, tmp_path / "suite", "steps", 1)
    assert (cfg.compare, cfg.workers) == ("spider", 0)
    assert (
        CliRunner()
        .invoke(main, [*args[:6], "--metric", " , "])
        .output.endswith("Error: --metric: give at least one of ex, ts, ves\n")
    )


@dataclasses.dataclass(frozen=True)
class _Inner:
    rows: int = dataclasses.field(default=5, metadata={"help": "Rows.", "option": "max-rows"})


@dataclasses.dataclass(frozen=True)
class _Outer:
    root: str = dataclasses.field(metadata={"help": "Root."})
    inner: _Inner = dataclasses.field(default_factory=lambda: _Inner(rows=9))


def test_nested_field_and_no_default():
    @click.command()
    @field_option(_Outer, "root")
    @field_option(_Outer, "inner.rows")
    def cmd(**kw):
        click.echo(repr(sorted(kw.items())))

    runner = CliRunner()
    text = runner.invoke(cmd, ["--help"]).output
    assert "[required]" in _help_entry(text, "--root")  # no default: required
    assert "[default: 9]" in _help_entry(text, "--max-rows")  # the outer field's default, not _Inner's 5
    assert runner.invoke(cmd, ["--root", "r"]).output.strip() == repr([("root", "r"), ("rows", 9)])
    assert runner.invoke(cmd, ["--max-rows", "2"]).exit_code == 2  # --root missing
    with pytest.raises(TypeError, match="no config default"):
        field_option(_Outer, "root.x")
