"""No import cycles between CLI modules (issue 12): a command module defines a plain click command and never
imports its group; the group module imports the command modules and registers them with ``add_command``."""

from __future__ import annotations

import subprocess
import sys

import pytest

GROUP_OF = {
    "synth.cli_generate": "synth.cli",
    "synth.cli_prompt": "synth.cli",
    "synth.cli_roles": "synth.cli",
    "train.cli_vbi": "train.cli",
    "train.cli_spft": "train.cli",
    "train.cli_experiment": "train.cli",
    "train.cli_common": "train.cli",
    "evaluation.cli_suite": "evaluation.cli",
}

# In registration order (`main.commands`); `--help` lists them sorted by name.
COMMANDS = {
    "synth.cli": ["generate", "validate", "templates", "prompt", "build-prompts", "roles"],
    "train.cli": ["init-tiny", "import-gguf", "sft", "predict", "selfplay", "experiment", "spft", "vbi"],
    "evaluation.cli": ["build-suite"],
}


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("module", sorted(GROUP_OF))
def test_command_module_does_not_import_its_group(module):
    group = GROUP_OF[module]
    assert _python(f"import sys, {module}; print({group!r} in sys.modules)") == "False"


def test_groups_list_the_same_commands():
    code = (
        "from synth.cli import main as s; from train.cli import main as t; from evaluation.cli import main as e; "
        "print(list(s.commands)); print(list(t.commands)); print(list(e.subcommands))"
    )
    synth, train, evaluate = _python(code).splitlines()
    assert synth == repr(COMMANDS["synth.cli"])
    assert train == repr(COMMANDS["train.cli"])
    assert evaluate == repr(COMMANDS["evaluation.cli"])


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_command_modules_define_plain_commands(group):
    """Every registered command is a module-level ``click.Command`` of a command module (not of the group)."""
    import importlib

    main = importlib.import_module(group).main
    commands = main.subcommands if group == "evaluation.cli" else main.commands
    for name, cmd in commands.items():
        module = cmd.callback.__module__  # friendly_errors and click.pass_context keep it (functools.wraps)
        assert module == group or GROUP_OF.get(module) == group, (name, module)
