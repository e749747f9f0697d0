"""Issue 13 point 8: init-tiny models carry from-scratch training defaults that `train sft` applies to
the options the user did not give (and says so, and records); ties of the pool and of `train spft`
are named in the summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evaluation.errors import InputError
from train.pool import Pool, PoolEntry


def _capture_sft(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Replace run_sft by a recorder: the CLI's effective config without any training."""
    import train.sft
    from train.sft import SFTResult

    calls: list[tuple[Any, Any]] = []

    def fake_run_sft(cfg, *, training_defaults=None):
        calls.append((cfg, training_defaults))
        return SFTResult(Path(cfg.out), None, None, None, None)

    monkeypatch.setattr(train.sft, "run_sft", fake_run_sft)
    return calls


def test_init_tiny_writes_its_training_defaults(tiny_model: Path) -> None:
    from train.models.tiny import FROM_SCRATCH_DEFAULTS, TRAINING_DEFAULTS_FILE, training_defaults

    on_disk = json.loads((tiny_model / TRAINING_DEFAULTS_FILE).read_text())
    assert on_disk == FROM_SCRATCH_DEFAULTS
    assert training_defaults(tiny_model) == FROM_SCRATCH_DEFAULTS
    assert training_defaults("Qwen/Qwen2.5-Coder-1.5B-Instruct") == {}  # a hub id has no such file


def test_sft_cli_applies_the_defaults_only_to_options_not_given(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from train.cli import main
    from train.models.tiny import FROM_SCRATCH_DEFAULTS
    from train.sft_config import SFTConfig

    calls = _capture_sft(monkeypatch)
    base = ["sft", "--data", str(tmp_path / "d"), "--model", str(tiny_model), "--out", str(tmp_path / "o")]
    runner = CliRunner()

    res = runner.invoke(main, base)
    assert res.exit_code == 0, res.output
    cfg, recorded = calls[-1]
    for name, value in FROM_SCRATCH_DEFAULTS.items():
        assert getattr(cfg, name) == value != getattr(SFTConfig, name)
    assert recorded["applied"] == FROM_SCRATCH_DEFAULTS and recorded["file"].endswith("training_defaults.json")
    assert "init-tiny" in res.stderr and "--learning-rate 0.003" in res.stderr

    res = runner.invoke(main, [*base, "--learning-rate", "1e-4", "--batch-size", "16"])  # what is given wins
    assert res.exit_code == 0, res.output
    cfg, recorded = calls[-1]
    assert (cfg.learning_rate, cfg.batch_size) == (1e-4, 16)
    assert "learning_rate" not in recorded["applied"] and "batch_size" not in recorded["applied"]
    assert cfg.epochs == FROM_SCRATCH_DEFAULTS["epochs"] == recorded["applied"]["epochs"]
    assert "--learning-rate" not in res.stderr and "--epochs" in res.stderr

    every = [a for k, v in FROM_SCRATCH_DEFAULTS.items() for a in (f"--{k.replace('_', '-')}", str(v * 2))]
    res = runner.invoke(main, [*base, *every])
    assert res.exit_code == 0, res.output
    cfg, recorded = calls[-1]
    assert recorded is None and "init-tiny" not in res.stderr
    assert all(getattr(cfg, k) == v * 2 for k, v in FROM_SCRATCH_DEFAULTS.items())

    plain = tmp_path / "pretrained"  # a model folder without training_defaults.json: the dataclass defaults
    plain.mkdir()
    res = runner.invoke(main, ["sft", "--data", "d", "--model", str(plain), "--out", "o"])
    assert res.exit_code == 0, res.output
    cfg, recorded = calls[-1]
    assert recorded is None and all(getattr(cfg, k) == getattr(SFTConfig, k) for k in FROM_SCRATCH_DEFAULTS)


def test_library_callers_get_exactly_what_they_pass(tiny_model: Path) -> None:
    """run_sft(SFTConfig(...)) (the experiment runner, VBI-FT) never picks up the model's file."""
    from train.sft_config import SFTConfig

    cfg = SFTConfig(data="d", model=str(tiny_model), out="o")
    assert (cfg.learning_rate, cfg.epochs) == (SFTConfig.learning_rate, SFTConfig.epochs) == (2e-5, 3.0)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{not json", None),
        ('{"learning_rate": "fast"}', "learning_rate"),
        ('{"lr": 0.1}', "lr"),
        ('{"batch_size": 2.5}', "batch_size"),
        ("[1, 2]", None),
    ],
)
def test_a_bad_training_defaults_file_is_named(tmp_path: Path, content: str, field: str | None) -> None:
    from train.models.tiny import TRAINING_DEFAULTS_FILE, training_defaults

    (tmp_path / TRAINING_DEFAULTS_FILE).write_text(content)
    with pytest.raises(InputError) as e:
        training_defaults(tmp_path)
    assert e.value.path == str(tmp_path / TRAINING_DEFAULTS_FILE) and e.value.field == field


def _entry(i: int, ex: float | None) -> PoolEntry:
    return PoolEntry(f"m{i}", f"/models/{i}", "base", False, "test", ex, "h")


def test_round_summary_says_tie_where_the_rule_chose(capsys: pytest.CaptureFixture[str]) -> None:
    from train.roles import pick_roles, role_ties
    from train.selfplay import _round_line

    pool = Pool((_entry(0, 0.0), _entry(1, 0.0), _entry(2, 0.0)))
    roles = pick_roles(pool, "spft")
    assert (roles.main.id, roles.opponent.id) == ("m2", "m0")
    ties = role_ties(pool, "spft", roles)
    assert ties == {"main": "tie with m0, m1, newest wins", "opponent": "tie with m1, oldest wins"}
    row = {
        "round": 1,
        "main": "m2",
        "opponent": "m0",
        "main_val_ex": 0.0,
        "opponent_val_ex": 0.0,
        "pairs": 4,
        "wrong_pairs": 4,
        "new_model": "m3",
        "new_val_ex": 0.025,
    }
    _round_line(row, 2, ties)
    line = capsys.readouterr().err
    assert "main m2 (0.000; tie with m0, m1, newest wins) vs opponent m0 (0.000; tie with m1, oldest wins)" in line

    # m0 is used: the opponent is m1, the only candidate left, so no tie decided it; main m2 still tied
    ties = role_ties(pool, "spft", pick_roles(pool, "spft", used_opponents={"m0"}), used_opponents={"m0"})
    assert ties == {"main": "tie with m0, m1, newest wins"}
    clear = Pool((_entry(0, 0.1), _entry(1, 0.3)))
    assert role_ties(clear, "spft", pick_roles(clear, "spft")) == {}
    _round_line(row, 2, {})
    assert "tie" not in capsys.readouterr().err
    # SPIN continues the previous round's model: not chosen by EX, so never a tie
    assert role_ties(pool, "spin", pick_roles(pool, "spin", previous="m1"), previous="m1") == {}


def test_spft_summary_picks_like_final_and_says_tie() -> None:
    from train.cli_spft import tie_note
    from train.vbi import best_on_selection

    rows = [
        {"round": 1, "stage": "vbi", "model": "m1", "selection_ex": 0.02},
        {"round": 1, "stage": "selfplay", "model": "m2", "selection_ex": 0.02},
        {"round": 1, "stage": "vbi", "model": "m0", "selection_ex": 0.0},
    ]
    best = best_on_selection(rows)
    assert best["model"] == "m2"  # the later of the tied rows, the one final/ gets
    assert tie_note(rows, best) == "; tie with vbi m1, the later wins"
    assert tie_note(rows[1:], best_on_selection(rows[1:])) == ""


@pytest.mark.slow
def test_demo_corpus_loss_falls_with_the_defaults(tmp_path: Path) -> None:
    """`make demo`'s corpus + `train init-tiny` + `train sft` with only what the CLI needs: the model's own
    defaults make the loss fall clearly within one epoch (with the fine-tuning ones it stays near 6.4)."""
    pytest.importorskip("torch")
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    runner = CliRunner()
    data, model, out = tmp_path / "demo", tmp_path / "tiny", tmp_path / "sft"
    res = runner.invoke(
        synth_main, ["generate", "--db", "demo", "--n", "300", "--val-size", "40", "--out", str(data), "--seed", "0"]
    )
    assert res.exit_code == 0, res.output
    assert runner.invoke(train_main, ["init-tiny", "--data", str(data), "--out", str(model)]).exit_code == 0
    res = runner.invoke(
        train_main,
        [
            "sft",
            "--data",
            str(data),
            "--model",
            str(model),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--no-eval-ex",
            "--logging-steps",
            "5",
        ],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert "learning_rate" in manifest["inputs"]["training_defaults"]["applied"]
    assert "epochs" not in manifest["inputs"]["training_defaults"]["applied"]  # given on the command line
    losses = [h["loss"] for h in map(json.loads, (out / "log_history.jsonl").read_text().splitlines()) if "loss" in h]
    assert losses[0] > 5.5 and losses[-1] < 0.55 * losses[0], losses
