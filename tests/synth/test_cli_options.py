"""``synth generate``'s options come from GenerateConfig (issue 12): one place for help and defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from evaluation.cli_options import config_options, option_fields
from synth.cli import main
from synth.generation import GenerateConfig


def _help(*args: str) -> str:
    res = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    return res.output


def _option_line(help_text: str, option: str) -> str:
    """The help entry of ``option`` (its lines joined), from the option to the next option."""
    m = re.search(rf"^  ({re.escape(option)}[ /,].*?)(?=^  -|\Z)", help_text, re.MULTILINE | re.DOTALL)
    assert m, f"{option} not in --help"
    return " ".join(m.group(1).split())


def test_generate_help_lists_every_config_option_with_the_dataclass_default():
    text = _help("generate")
    fields = option_fields(GenerateConfig)
    assert {f.name for f in fields} >= {"db", "n", "seed", "timeout_s", "writer_options", "prompts", "cache_dir"}
    for f in fields:
        name = "--" + str(f.metadata.get("flag") or f.metadata.get("option") or f.name).replace("_", "-")
        line = _option_line(text, name)
        assert " ".join(f.metadata["help"].split()) in line, (name, line)
        if f.default is None or isinstance(f.default, (bool, tuple)):
            assert "[default:" not in line, line  # None / flags / empty lists: said in the help text
        else:
            assert f"[default: {f.default}]" in line, line


def test_generate_options_are_the_config_fields_plus_out_avoid_and_progress():
    cmd = main.commands["generate"]
    dests = {p.name for p in cmd.params}
    assert dests == {f.name for f in option_fields(GenerateConfig)} | {"out", "avoid", "progress"}
    no_cli = {f.name for f in dataclasses.fields(GenerateConfig)} - dests
    # library-only knobs; ``earlier`` is read from the --avoid files, ``held_out`` is train vbi's
    assert no_cli == {"template_weights", "fill_config", "prompt_config", "earlier", "held_out"}


def test_templates_shares_db_and_data_root_with_generate():
    gen, tpl = _help("generate"), _help("templates")
    for option in ("--db", "--data-root"):
        assert _option_line(gen, option) == _option_line(tpl, option)


def test_options_reach_the_config(tmp_path: Path, monkeypatch):
    seen = {}

    def fake_generate(config, progress=None):
        seen["config"], seen["progress"] = config, progress
        raise SystemExit(0)

    monkeypatch.setattr("synth.generation.generate", fake_generate)
    args = [
        "generate",
        "--db",
        "demo",
        "--n",
        "50",
        "--out",
        str(tmp_path / "o"),
        "--timeout",
        "1.5",
        "--db-ids",
        "a, b",
        "--writer-option",
        "k=3",
        "--no-prompts",
        "--db-sampling",
        "tables",
        "--no-progress",
    ]
    CliRunner().invoke(main, args)
    cfg = seen["config"]
    assert (cfg.db, cfg.n, cfg.timeout_s, cfg.db_ids, cfg.writer_options) == ("demo", 50, 1.5, ("a", "b"), {"k": 3})
    assert (cfg.prompts, cfg.db_sampling, cfg.cache_dir, seen["progress"]) == (
        False,
        "tables",
        tmp_path / "o" / ".cache",
        False,
    )
    assert cfg.val_size is None and cfg.seed == 0 and cfg.workers == 1


@dataclasses.dataclass
class _Demo:
    name: str = dataclasses.field(default="", metadata={"help": "Required."})
    flag: bool = dataclasses.field(default=False, metadata={"help": "A pair."})
    off: bool = dataclasses.field(default=True, metadata={"help": "One flag.", "flag": "no-off"})
    items: tuple[str, ...] = dataclasses.field(default=("a", "b"), metadata={"help": "Items."})
    kind: str = dataclasses.field(default="x", metadata={"help": "Kind.", "choices": ("x", "y")})
    lam: float | None = dataclasses.field(default=None, metadata={"help": "Renamed."})
    hidden: int = 3


def test_config_options_generic_rules():
    @click.command()
    @config_options(_Demo, renames={"lam": "lambda"})
    def cmd(**kw):
        click.echo(repr(sorted(kw.items())))

    runner = CliRunner()
    assert "[required]" in runner.invoke(cmd, ["--help"]).output  # "" default: required (the config checks it)
    out = runner.invoke(cmd, ["--name", "n", "--flag", "--no-off", "--items", "c, d", "--kind", "y", "--lambda", "0.5"])
    assert out.output.strip() == repr(
        sorted({"name": "n", "flag": True, "off": False, "items": ("c", "d"), "kind": "y", "lam": 0.5}.items())
    )
    defaults = runner.invoke(cmd, ["--name", "n"]).output
    assert "('items', ('a', 'b'))" in defaults and "('off', True)" in defaults and "('lam', None)" in defaults
    assert "--hidden" not in runner.invoke(cmd, ["--help"]).output  # no help text: not an option
    assert runner.invoke(cmd, ["--name", "n", "--kind", "z"]).exit_code == 2


@pytest.mark.parametrize("module", ["synth.cli_generate", "train.cli_common"])
def test_one_config_options_helper(module):
    """The helper is defined once (evaluation.cli_options); train.cli_common keeps only its rename table."""
    import importlib
    import inspect

    src = inspect.getsource(importlib.import_module(module))
    assert "def _option_for" not in src and "from evaluation.cli_options import" in src
