"""Scale-out is real: ``train sft`` under ``accelerate launch`` with the repository's DDP config, two CPU
processes (gloo), ends with the loss curve of one process at the same global batch.

Tolerance: every logged training loss and the D_val loss within 1e-3 relative (measured: 5e-5; the two
runs differ only in the order of float sums, across processes and inside the batch)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "accelerate"


def _losses(out: Path) -> tuple[list[float], float]:
    rows = [json.loads(x) for x in (out / "log_history.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r], next(r["eval_loss"] for r in rows if "eval_loss" in r)


@pytest.mark.slow
def test_two_processes_give_the_one_process_loss_curve(tiny_model, tiny_data, tmp_path):
    from click.testing import CliRunner

    from train.cli import main

    common = ["--data", str(tiny_data), "--model", str(tiny_model), "--epochs", "1", "--learning-rate", "3e-3"]
    common += ["--max-length", "512", "--no-eval-ex", "--logging-steps", "1", "--dtype", "fp32"]
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_PORT=str(29500 + os.getpid() % 1000))
    two = tmp_path / "two"
    cmd = [launcher, "launch", "--config_file", str(CONFIGS / "ddp.yaml"), "--num_processes", "2"]
    cmd += ["--main_process_port", env["MASTER_PORT"], "-m", "train.cli", "sft", *common]
    run = subprocess.run([*cmd, "--batch-size", "2", "--out", str(two)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = json.loads((two / "manifest.json").read_text())
    assert manifest["counts"]["global_batch"] == 4 and manifest["counts"]["steps"] == 6  # 24 examples / 4

    one = tmp_path / "one"  # the same command in this process, batch 4
    res = CliRunner().invoke(main, ["sft", *common, "--batch-size", "4", "--out", str(one)])
    assert res.exit_code == 0, res.output
    (curve_one, val_one), (curve_two, val_two) = _losses(one), _losses(two)
    assert len(curve_one) == 6
    assert curve_two == pytest.approx(curve_one, rel=1e-3)
    assert val_two == pytest.approx(val_one, rel=1e-3)


def test_accelerate_configs_are_complete():
    """The three documented configs exist and name the launch mode they are for."""
    import yaml

    kinds = {"ddp.yaml": "MULTI_GPU", "deepspeed-zero2.yaml": "DEEPSPEED", "fsdp.yaml": "FSDP"}
    for name, kind in kinds.items():
        cfg = yaml.safe_load((CONFIGS / name).read_text())
        assert cfg["distributed_type"] == kind and cfg["num_machines"] == 1, name
    assert yaml.safe_load((CONFIGS / "deepspeed-zero2.yaml").read_text())["deepspeed_config"]["zero_stage"] == 2
    fsdp = yaml.safe_load((CONFIGS / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # OUT stays an ordinary model folder
