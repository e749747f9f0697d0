"""Every command of the three CLIs has help text, and ``python -m`` reaches the same commands."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner


def _commands(group: click.Command, prefix: tuple[str, ...] = ()):
    yield prefix, group
    if isinstance(group, click.Group):
        for name, cmd in sorted(group.commands.items()):
            yield from _commands(cmd, prefix + (name,))


def _entry_points():
    from evaluation.cli import main as evaluate_main
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    return {"synth": synth_main, "train": train_main, "evaluate": evaluate_main}


@pytest.mark.parametrize("program", ["synth", "train", "evaluate"])
def test_every_command_has_help_text(program):
    root = _entry_points()[program]
    seen = 0
    for path, cmd in _commands(root):
        assert (cmd.help or "").strip(), f"{program} {' '.join(path)} has no help text"
        res = CliRunner().invoke(root, [*path, "--help"])
        assert res.exit_code == 0, res.output
        assert "Usage:" in res.output
        seen += 1
    assert seen >= (1 if program == "evaluate" else 4)


@pytest.mark.parametrize(
    ("module", "command"), [("synth.cli", "generate"), ("train.cli", "selfplay"), ("train.cli", "vbi")]
)
def test_python_dash_m_lists_the_registered_commands(module, command):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert command in out.stdout
