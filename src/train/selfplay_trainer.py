"""One round of self-play training: pair encoding, the pair collator, and a Trainer with our loss.

Built on transformers' Trainer so ``accelerate launch`` distributes it unchanged; the loss is
:func:`train.losses.preference_loss` on summed answer-token log-probs of chosen and rejected SQL
(one forward pass over both), with the reference log-probs precomputed per round.
"""

from __future__ import annotations

from typing import Any

from train.models.formatting import encode_prompt_answer, pad_batch, render_prompt


def encode_pairs(tokenizer: Any, pairs: list[dict[str, Any]], max_length: int) -> list[dict[str, Any]]:
    """Token ids of chosen and rejected answers after the same rendered prompt."""
    out = []
    for p in pairs:
        prompt = render_prompt(tokenizer, p["prompt"])
        c = encode_prompt_answer(tokenizer, prompt, p["chosen"], max_length)
        r = encode_prompt_answer(tokenizer, prompt, p["rejected"], max_length)
        out.append({"chosen": c.as_dict(), "rejected": r.as_dict(), "reward": float(p["reward"])})
    return out


class PairCollator:
    """Stacks chosen rows then rejected rows, right-padded to one width, plus rewards and ref log-probs."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows = [f["chosen"] for f in features] + [f["rejected"] for f in features]
        padded = pad_batch(rows, self.pad_id, keys=("input_ids", "attention_mask", "labels"))
        batch = {k: torch.tensor(v, dtype=torch.long) for k, v in padded.items()}
        for key in ("reward", "ref_chosen_logps", "ref_rejected_logps"):
            batch[key] = torch.tensor([f[key] for f in features], dtype=torch.float32)
        return batch


def make_selfplay_trainer_class():
    from transformers import Trainer

    from train.losses import preference_loss
    from train.models.logprobs import sequence_logps

    class SelfPlayTrainer(Trainer):
        """Trainer whose loss is the self-play/preference loss of one variant; logs margins."""

        def __init__(self, *a, variant: str, lam: float, **kw):
            super().__init__(*a, **kw)
            self.variant, self.lam = variant, lam
            self.loss_is_scaled_for_ga = False  # our loss is a per-batch mean: let Trainer divide by GA
            self.model_accepts_loss_kwargs = False
            self._stats: list[tuple[float, float, float]] = []  # since the last log line
            #: (margin, Δ+, Δ−) of every training step, for the per-round metrics whatever logging_steps is
            self.step_stats: list[tuple[float, float, float]] = []

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            n = inputs["reward"].shape[0]
            logps = sequence_logps(model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
            loss, stats = preference_loss(
                logps[:n],
                logps[n:],
                inputs["ref_chosen_logps"],
                inputs["ref_rejected_logps"],
                inputs["reward"],
                variant=self.variant,
                lam=self.lam,
            )
            kept = stats["kept"]
            if kept.any() and model.training:
                self._stats.append(
                    (
                        stats["margins"][kept].mean().item(),
                        stats["chosen_rewards"][kept].mean().item(),
                        stats["rejected_rewards"][kept].mean().item(),
                    )
                )
                self.step_stats.append(self._stats[-1])
            return (loss, {"logps": logps}) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if self._stats and "loss" in logs:
                k = len(self._stats)
                logs["margin"] = sum(s[0] for s in self._stats) / k
                logs["delta_chosen"] = sum(s[1] for s in self._stats) / k
                logs["delta_rejected"] = sum(s[2] for s in self._stats) / k
                self._stats.clear()
            return super().log(logs, *args, **kwargs)

    return SelfPlayTrainer
