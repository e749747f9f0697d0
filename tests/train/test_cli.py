"""The ``train`` CLI: help text everywhere, fast help, and bad input -> ``Error: ...`` with exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from train.cli import main

COMMANDS = ("init-tiny", "import-gguf", "sft", "predict", "selfplay")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help(cmd):
    res = CliRunner().invoke(main, [cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output and len(main.commands[cmd].help) > 20
    for param in main.commands[cmd].params:
        if param.name != "help" and param.param_type_name == "option":  # arguments are named in the command help
            assert param.help, f"{cmd} --{param.name} has no help text"


def test_help_does_not_import_torch():
    code = "import sys; from train.cli import main; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _data(tmp_path: Path, *, val: bool = True, empty_train: bool = False) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    rec = '{"id": "a", "db_id": "d", "sql": "SELECT 1", "prompt": "p", "question": "q", "db_path": "x.sqlite"}\n'
    (d / "train.jsonl").write_text("" if empty_train else rec)
    if val:
        (d / "val.jsonl").write_text(rec)
    return d


def _err(args: list[str]) -> str:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, (res.exit_code, res.output, res.exception)
    assert res.output.startswith("Error: "), res.output
    assert "Traceback" not in res.output
    return res.output


def test_sft_unknown_model_path(tmp_path):
    out = _err(["sft", "--data", str(_data(tmp_path)), "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert "nope: no such model folder" in out


def test_sft_without_val_split(tmp_path):
    out = _err(["sft", "--data", str(_data(tmp_path, val=False)), "--model", "m", "--out", str(tmp_path / "o")])
    assert "val.jsonl" in out and "D_val" in out


def test_sft_with_empty_data(tmp_path):
    out = _err(["sft", "--data", str(_data(tmp_path, empty_train=True)), "--model", "m", "--out", str(tmp_path / "o")])
    assert "train.jsonl" in out and "no examples" in out


def test_selfplay_bad_options(tmp_path):
    d = str(_data(tmp_path))
    out = _err(["selfplay", "--data", d, "--model", "m", "--out", str(tmp_path / "o"), "--loss", "spfts"])
    assert "did you mean 'spft'" in out
    out = _err(["selfplay", "--data", d, "--out", str(tmp_path / "o")])
    assert "exactly one of pool" in out
    out = _err(["selfplay", "--data", d, "--model", "m", "--out", str(tmp_path / "o"), "--lambda", "0"])
    assert "lambda" in out
    out = _err(["selfplay", "--data", d, "--pool", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "pool.json" in out


def test_predict_unknown_model_and_missing_file(tmp_path):
    d = _data(tmp_path)
    assert "no such model folder" in _err(
        [
            "predict",
            "--model",
            str(tmp_path / "nope"),
            "--data",
            str(d / "val.jsonl"),
            "--out",
            str(tmp_path / "p.jsonl"),
        ]
    )
    assert "not found" in _err(
        ["predict", "--model", "x", "--data", str(d / "none.jsonl"), "--out", str(tmp_path / "p")]
    )


def test_init_tiny_bad_shape(tmp_path):
    out = _err(["init-tiny", "--data", str(_data(tmp_path)), "--out", str(tmp_path / "t"), "--hidden-size", "30"])
    assert "divisible" in out


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_is_in_the_cli_reference(cmd):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "train.md").read_text(encoding="utf-8")
    section = doc[doc.index("### CLI reference") :]
    assert f"`train {cmd}`" in section
    missing = [p.opts[0] for p in main.commands[cmd].params if p.name != "help" and f"`{p.opts[0]}`" not in section]
    assert not missing, f"docs/train.md CLI reference lacks {missing} of `train {cmd}`"


def test_selfplay_positive_sample_needs_samples(tmp_path):
    out = _err(
        [
            "selfplay",
            "--data",
            str(_data(tmp_path)),
            "--model",
            "m",
            "--out",
            str(tmp_path / "o"),
            "--positive",
            "sample",
        ]
    )
    assert "samples" in out
