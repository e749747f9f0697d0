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
    from synth.generation import GenerateConfig, generate, write_outputs

    write_outputs(generate(GenerateConfig(db="demo", n=12, val_size=2, prompts=True)), data)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # passes the path check; the state is read before any loading
    args = {
        "vbi": ["vbi", "--db", "demo", "--model", str(model), "--out", str(out)],
        "spft": ["spft", "--db", "demo", "--model", str(model), "--out", str(out)],
        "selfplay": ["selfplay", "--data", str(data), "--model", str(model), "--out", str(out)],
    }[command]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "Error: " in res.output and "state.json" in res.output, res.output
    assert (out / "state.json").read_text() == "{oops"  # left as it was


def test_docstring_examples():
    import train.runstate

    assert doctest.testmod(train.runstate).failed == 0


def test_training_prints_no_log_dicts_and_keeps_them_in_the_run_log(tmp_path):
    """Issue 13 point 7: the Trainer's raw dicts go to OUT/trainer_log.jsonl, not to the terminal."""
    import json

    from click.testing import CliRunner

    from synth.generation import GenerateConfig, generate, write_outputs
    from train.cli import main
    from train.models.tiny import TinyConfig, init_tiny

    write_outputs(generate(GenerateConfig(db="demo", n=24, val_size=4, seed=1)), tmp_path / "data")
    tiny = init_tiny(tmp_path / "data", tmp_path / "tiny", TinyConfig(vocab_size=500, seed=0))
    res = CliRunner().invoke(
        main,
        [
            "sft",
            "--data",
            str(tmp_path / "data"),
            "--model",
            str(tiny),
            "--out",
            str(tmp_path / "ck"),
            "--epochs",
            "2",
            "--logging-steps",
            "1",
            "--max-length",
            "256",
            "--max-new-tokens",
            "8",
            "--eval-ex-limit",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "{'loss'" not in res.output and "'eval_loss'" not in res.output
    rows = [json.loads(x) for x in (tmp_path / "ck" / "trainer_log.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in rows) and any("eval_ex" in r for r in rows) and all("step" in r for r in rows)
