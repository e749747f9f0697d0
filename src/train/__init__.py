"""SFT, prediction and self-play fine-tuning (torch / transformers / peft, optional extra `train`)."""
