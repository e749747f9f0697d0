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
    tiny_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """23.7: the summary said `best metric -4.87e-07` (the Trainer's EX - 1e-7 x loss)."""
    pytest.importorskip("torch")
    from train.cli import main

    out = tmp_path / "ckpt"
    args = ["sft", "--data", str(tiny_data), "--model", str(tiny_model), "--out", str(out), "--epochs", "1"]
    res = CliRunner().invoke(main, [*args, "--eval-ex-limit", "2", "--max-new-tokens", "8", "--max-length", "512"])
    assert res.exit_code == 0, res.output
    last = res.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"best model written to {re.escape(str(out))} \(D_val EX 0\.\d{{3}}, loss \d+\.\d\d\)", last)
    assert "best metric" not in res.output


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


def test_the_install_hint_names_the_makefiles_torch() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert f"TORCH_SPEC ?= {TORCH_SPEC}\n" in makefile
