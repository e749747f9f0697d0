"""SFT, prediction and self-play fine-tuning (torch / transformers / peft, optional extra `train`)."""

from train import writer as _writer  # noqa: E402,F401  - registers the "model" question writer with synth
