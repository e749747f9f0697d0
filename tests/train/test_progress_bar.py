"""Issue 13 point 7: one progress bar per training stage, on stderr, named by the stage and showing
the current loss; the raw log dicts go to the run's log file only."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest


def test_stage_bar_shows_the_stage_the_steps_and_the_current_loss(tmp_path, capsys):
    pytest.importorskip("transformers")
    from train.progress import StageProgress

    progress = StageProgress(tmp_path / "trainer_log.jsonl", "sft text2sql", show=True)
    state = SimpleNamespace(max_steps=4, global_step=0)
    progress.on_train_begin(None, state, None)
    progress.bar.mininterval = 0  # render every update (tqdm throttles to 0.1 s by default)
    for step, loss in ((1, 6.5), (2, 4.25), (3, 2.125)):
        state.global_step = step
        progress.on_log(None, state, None, logs={"loss": loss, "learning_rate": 1e-3})
        progress.on_step_end(None, state, None)
        time.sleep(0.01)
    err = capsys.readouterr().err
    progress.on_train_end(None, state, None)
    assert "sft text2sql" in err and "3/4" in err and "loss=2.125" in err
    assert "{'loss'" not in err and "learning_rate" not in err  # the dicts are not on the terminal
    rows = [json.loads(x) for x in (tmp_path / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == [6.5, 4.25, 2.125] and [r["step"] for r in rows] == [1, 2, 3]


def test_bar_is_silent_when_asked(tmp_path, capsys):
    pytest.importorskip("transformers")
    from train.progress import StageProgress

    progress = StageProgress(tmp_path / "log.jsonl", "selfplay round-1", show=False)
    state = SimpleNamespace(max_steps=2, global_step=0)
    progress.on_train_begin(None, state, None)
    state.global_step = 1
    progress.on_log(None, state, None, logs={"loss": 1.0})
    progress.on_step_end(None, state, None)
    progress.on_train_end(None, state, None)
    assert "selfplay" not in capsys.readouterr().err
    assert (tmp_path / "log.jsonl").read_text().count("\n") == 1
