"""Issue 23: what a new user still hit in `train` -- summaries that print internal scores, commands that
need the train extra, init-tiny defaults outside `train sft`, and predict's resume granularity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner


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
