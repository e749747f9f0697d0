"""Issue 23: what a new user still hit in `train` -- summaries that print internal scores, commands that
need the train extra, init-tiny defaults outside `train sft`, and predict's resume granularity."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from train.extra import TORCH_SPEC


@pytest.mark.slow
def test_sft_summary_prints_d_val_ex_and_loss_not_the_internal_score(
    tiny_data: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23.7: the summary said `best metric -4.87e-07` (the Trainer's EX - 1e-7 x loss). 23.6: with stderr
    no terminal, training printed nothing between loading and the end; now a line per interval."""
    pytest.importorskip("torch")
    from train.cli import main

    monkeypatch.setenv("SPFT_PROGRESS_INTERVAL", "0")  # a line per step; the default is every 30 s

    out = tmp_path / "ckpt"
    args = ["sft", "--data", str(tiny_data), "--model", str(tiny_model), "--out", str(out), "--epochs", "1"]
    res = CliRunner().invoke(main, [*args, "--eval-ex-limit", "2", "--max-new-tokens", "8", "--max-length", "512"])
    assert res.exit_code == 0, res.output
    last = res.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"best model written to {re.escape(str(out))} \(D_val EX 0\.\d{{3}}, loss \d+\.\d\d\)", last)
    assert "best metric" not in res.output
    assert re.search(r"^sft text2sql: \d+/\d+ step \(\d+%\), .* step/s", res.stderr, re.M), res.stderr


BLOCK_TRAIN_EXTRA = """
import sys
# as after `pip install -e .`: the train extra's modules cannot be imported
sys.modules.update(torch=None, transformers=None, peft=None, accelerate=None)
from train.cli import main
main(sys.argv[1:], prog_name="train")
"""


def _train_without_extra(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TRAIN_EXTRA, *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize(
    "args",
    [
        ["init-tiny", "--data", "out", "--out", "made"],
        ["sft", "--data", "out", "--model", "models/tiny", "--out", "made"],
        ["predict", "--model", "ckpt", "--data", "dev.jsonl", "--out", "made"],
        ["selfplay", "--data", "out", "--model", "ckpt", "--out", "made"],
        ["spft", "--db", "demo", "--model", "models/tiny", "--out", "made"],
        ["vbi", "--db", "demo", "--model", "models/tiny", "--out", "made"],
        ["experiment", "experiments/tiny-indomain.toml", "--out", "made"],
    ],
    ids=lambda a: a[0],
)
def test_train_without_the_train_extra_says_what_to_install_and_writes_nothing(args: list[str], tmp_path: Path) -> None:
    """23.2: after `pip install -e .` these ended in `No module named 'torch'` tracebacks (spft: plus a
    half-made run folder)."""
    res = _train_without_extra(args, tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stderr == (
        f"Error: train {args[0]} needs the train extra (missing: torch, transformers, peft, accelerate): "
        f'pip install {TORCH_SPEC} && pip install -e ".[train]" (README, "Install": CPU-only and CUDA builds)\n'
    )
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert _train_without_extra([args[0], "--help"], tmp_path).returncode == 0  # help needs no torch


@pytest.mark.parametrize("writer", ["model", "few-shot"])
def test_synth_model_writers_without_the_train_extra_say_what_to_install(writer: str, tmp_path: Path) -> None:
    """The writers are train's plugins of `synth generate`: without the extra they raised a traceback."""
    code = BLOCK_TRAIN_EXTRA.replace("from train.cli import main", "from synth.cli import main").replace(
        'prog_name="train"', 'prog_name="synth"'
    )
    args = ["generate", "--db", "demo", "--n", "5", "--out", "made", "--writer", writer]
    args += ["--writer-option", "path=models/tiny", "--writer-option", "examples_file=x.jsonl"]
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.startswith(
        f"Error: synth generate --writer {writer} needs the train extra (missing: torch, transformers"
    ), res.stderr
    assert "Traceback" not in res.stderr and list(tmp_path.iterdir()) == []


def test_the_install_hint_names_the_makefiles_torch() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert f"TORCH_SPEC ?= {TORCH_SPEC}\n" in makefile


class _Captured(Exception):
    pass


def _capture(monkeypatch: pytest.MonkeyPatch, module: str, func: str) -> list:
    """Replace ``module.func`` (run_vbi, run_spft, run_selfplay) by a recorder of the config it gets."""
    import importlib

    from evaluation.errors import SpftError

    calls: list = []

    def record(cfg):
        calls.append(cfg)
        raise SpftError("captured")

    monkeypatch.setattr(importlib.import_module(module), func, record)
    return calls


@pytest.mark.parametrize("command", ["spft", "vbi"])
def test_loop_commands_apply_init_tiny_defaults_to_both_sft_stages(
    command: str, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23.3: `train spft --model models/tiny` trained the random model at the fine-tuning lr 2e-5."""
    pytest.importorskip("torch")
    from train.cli import main
    from train.models.tiny import FROM_SCRATCH_DEFAULTS as OWN

    calls = _capture(monkeypatch, f"train.{command}", f"run_{command}")
    base = [command, "--db", "demo", "--model", str(tiny_model), "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(main, base)
    assert res.output.endswith("Error: captured\n"), res.output
    cfg = calls[-1]
    assert (cfg.learning_rate, cfg.epochs, cfg.batch_size) == (OWN["learning_rate"], OWN["epochs"], OWN["batch_size"])
    assert (cfg.sql2text_learning_rate, cfg.sql2text_epochs) == (OWN["learning_rate"], OWN["epochs"])
    assert f"[{command}] {tiny_model} is a `train init-tiny` model" in res.stderr
    assert "--sql2text-learning-rate 0.003" in res.stderr
    if command == "spft":  # self-play starts from the SFT stage's output, no longer random
        assert cfg.selfplay_learning_rate < OWN["learning_rate"]

    res = CliRunner().invoke(main, [*base, "--learning-rate", "1e-4", "--sql2text-epochs", "2"])
    cfg = calls[-1]
    assert (cfg.learning_rate, cfg.sql2text_epochs, cfg.epochs) == (1e-4, 2, OWN["epochs"])  # what is given wins
    assert "--learning-rate 0.003" not in res.stderr and "--sql2text-learning-rate 0.003" in res.stderr


def test_spft_preset_wins_over_the_init_tiny_defaults(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from train.cli import main

    calls = _capture(monkeypatch, "train.spft", "run_spft")
    args = ["spft", "--db", "demo", "--model", str(tiny_model), "--out", str(tmp_path / "r"), "--preset", "paper"]
    res = CliRunner().invoke(main, args)
    cfg = calls[-1]
    assert (cfg.learning_rate, cfg.epochs) == (2e-4, 3.0)  # SPFT-SQL A.4
    assert "--learning-rate" not in res.stderr


def test_selfplay_applies_init_tiny_defaults_only_to_an_init_tiny_model(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from train.cli import main
    from train.models.tiny import FROM_SCRATCH_DEFAULTS as OWN
    from train.selfplay_config import SelfPlayConfig

    calls = _capture(monkeypatch, "train.selfplay", "run_selfplay")
    base = ["selfplay", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "sp")]
    res = CliRunner().invoke(main, [*base, "--model", str(tiny_model)])
    assert calls[-1].learning_rate == OWN["learning_rate"] and "[selfplay]" in res.stderr
    trained = tmp_path / "ckpt"  # an SFT output: no training_defaults.json, the fine-tuning defaults
    trained.mkdir()
    res = CliRunner().invoke(main, [*base, "--model", str(trained)])
    assert calls[-1].learning_rate == SelfPlayConfig.learning_rate and "init-tiny" not in res.stderr


def test_predict_on_a_data_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    """23.9: `train predict --data out/` said "file not found"."""
    from train.cli import main

    data = tmp_path / "out"
    data.mkdir()
    (data / "val.jsonl").write_text('{"id": "a", "prompt": "p"}\n')
    res = CliRunner().invoke(main, ["predict", "--model", str(tmp_path), "--data", str(data), "--out", "p.jsonl"])
    assert res.exit_code == 1
    assert res.output == f"Error: {data}: a folder, not a JSONL file; name a file (JSONL files: {data / 'val.jsonl'})\n"


@pytest.mark.slow
def test_predict_resume_keeps_every_finished_batch(
    tiny_data: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23.9: a killed `train predict` kept nothing before 64 predictions (chunks of max(4 x batch, 64))."""
    pytest.importorskip("torch")
    import json

    import train.models.decoding as decoding
    from train.cli import main

    real_predict, asked = decoding.predict, []

    def killed_after_one_batch(generator, tokenizer, examples, **kw):
        asked.append(len(examples))
        if sum(asked) > 2:  # Ctrl-C once more than one batch of 2 was asked for
            raise KeyboardInterrupt
        return real_predict(generator, tokenizer, examples, **kw)

    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(tiny_model), "--data", str(tiny_data / "val.jsonl"), "--out", str(out)]
    args += ["--batch-size", "2", "--max-new-tokens", "4"]
    monkeypatch.setattr(decoding, "predict", killed_after_one_batch)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 130 and not out.exists(), res.output
    kept = [json.loads(line) for line in decoding.partial_path(out).read_text().splitlines()]
    assert len(kept) == 2  # the first batch survived the kill

    monkeypatch.setattr(decoding, "predict", real_predict)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 8 and preds[:2] == kept and not decoding.partial_path(out).exists()


def _help(command: str) -> str:
    from train.cli import main

    res = CliRunner().invoke(main, [command, "--help"], terminal_width=1000)
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


def test_help_texts_say_what_the_commands_do_now() -> None:
    """23.8: spft's --out described train vbi's folder; --exclude-sql said matches are dropped (they are
    replaced at generation); experiment's help left out the sft-steps arm."""
    from train.experiment_config import ARMS

    spft = _help("spft")
    out_help = spft.split("--out TEXT", 1)[1].split(" --", 1)[0]
    assert "round-r/" in out_help and "final/" in out_help and "vbi/" in out_help
    for command in ("spft", "vbi"):
        exclude = _help(command).split("--exclude-sql TEXT", 1)[1].split(" --", 1)[0]
        assert "replaced at generation" in exclude and "dropped" not in exclude
    experiment = _help("experiment")
    assert "sft-steps" in ARMS and all(arm in experiment for arm in ARMS)
