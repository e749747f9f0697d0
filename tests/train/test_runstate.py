"""The one resumable-run helper (train.runstate) that vbi, selfplay and spft load and save state with."""

from __future__ import annotations

import doctest

import pytest

from evaluation.errors import ConfigError, InputError


def test_new_run_save_load_and_mismatch(tmp_path):
    from train.runstate import load_state, save_state

    assert load_state(tmp_path, parameters={"lam": 0.1}) is None
    save_state(tmp_path, {"completed": 1, "parameters": {"lam": 0.1, "n": 3}})
    assert load_state(tmp_path, parameters={"lam": 0.1, "n": 3})["completed"] == 1
    with pytest.raises(ConfigError, match=r"lam: 0.1 -> 0.5.*only --rounds may change"):
        load_state(tmp_path, parameters={"lam": 0.5, "n": 3}, allowed="only --rounds may change")
    assert not list(tmp_path.glob("*.tmp*"))  # atomic writes leave no temp file


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_corrupt_state_is_a_clear_error_naming_the_file(tmp_path, text):
    from train.runstate import load_state

    (tmp_path / "state.json").write_text(text)
    with pytest.raises(InputError, match="state.json"):
        load_state(tmp_path)


@pytest.mark.parametrize("command", ["vbi", "spft", "selfplay"])
def test_every_loop_command_refuses_a_corrupt_state(tmp_path, command, demo):
    from click.testing import CliRunner

    from train.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text("{oops")
    data = tmp_path / "data"
    from synth.generate import GenerateConfig, generate, write_outputs

    write_outputs(generate(GenerateConfig(db="demo", n=12, val_size=2, prompts=True)), data)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # passes the path check; the state is read before any loading
    args = {"vbi": ["vbi", "--db", "demo", "--model", str(model), "--out", str(out)],
            "spft": ["spft", "--db", "demo", "--model", str(model), "--out", str(out)],
            "selfplay": ["selfplay", "--data", str(data), "--model", str(model), "--out", str(out)]}[command]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "Error: " in res.output and "state.json" in res.output, res.output
    assert (out / "state.json").read_text() == "{oops"  # left as it was


def test_docstring_examples():
    import train.runstate

    assert doctest.testmod(train.runstate).failed == 0
