"""Training output that reads like the tools people know: one progress bar per stage with the current
loss on the terminal, and the Trainer's raw log dicts in the run's log file instead.

transformers prints every log dict to stdout when its own bars are off (``PrinterCallback``); a
VBI-FT iteration or a self-play round trains several models, so the terminal filled with dicts.
:func:`attach_progress` swaps that for :class:`StageProgress`: a tqdm bar on stderr (shown on a
terminal, silent in a pipe or CI log) and ``trainer_log.jsonl`` beside the model, one JSON object
per log call (appended, so a resumed stage keeps its history).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAINER_LOG = "trainer_log.jsonl"


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class StageProgress(_callback_base()):  # type: ignore[misc]
    """A tqdm bar over the stage's optimizer steps (postfix: last loss) + the raw logs to a JSONL file."""

    def __init__(self, log_path: str | Path, desc: str, *, show: bool | None = None) -> None:
        self.log_path, self.desc, self.show = Path(log_path), desc, show
        self.bar: Any = None

    def on_train_begin(self, args, state, control, **kwargs):
        from evaluation.console import progress_bar

        self.bar = progress_bar(
            total=state.max_steps or None,
            initial=state.global_step,
            desc=self.desc,
            unit="step",
            show=self.show,
            leave=False,
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(dict(logs, step=state.global_step), default=str) + "\n")
        if self.bar is not None and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def attach_progress(trainer: Any, log_path: str | Path, desc: str) -> StageProgress:
    """Replace the Trainer's printing callbacks with :class:`StageProgress`."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    cb = StageProgress(log_path, desc)
    trainer.add_callback(cb)
    return cb
