"""Sequence log-probabilities summed over answer tokens, and the per-round reference cache.

The reference (opponent) log-probs of every pair are computed ONCE per round and stored on disk,
keyed by the hash of the pairs and the fingerprint of the reference checkpoint, so a resumed round
or a second epoch never runs the reference model again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.models.formatting import IGNORE_INDEX, pad_batch


def sequence_logps(model: Any, input_ids: Any, attention_mask: Any, labels: Any) -> Any:
    """``sum_t log p(y_t | x, y_<t)`` over positions whose label is not -100; one value per row.

    The log-softmax runs only on the answer positions (a few dozen SQL tokens), not on the whole
    prompt: with a 150k vocabulary and 2k-token prompts the full ``(batch, seq, vocab)`` fp32 tensor
    would take tens of GB.
    """
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1, :]
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    picked = torch.log_softmax(logits[mask].float(), dim=-1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    rows = mask.nonzero(as_tuple=True)[0]
    return torch.zeros(labels.shape[0], dtype=picked.dtype, device=picked.device).index_add(0, rows, picked)


def batched_logps(model: Any, encoded: list[dict[str, list[int]]], pad_id: int, batch_size: int = 8) -> list[float]:
    """Log-probs of many encoded sequences without gradients (eval mode), in input order."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[float] = []
    try:
        with torch.no_grad():
            for s in range(0, len(encoded), batch_size):
                b = pad_batch(encoded[s : s + batch_size], pad_id, keys=("input_ids", "attention_mask", "labels"))
                t = {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in b.items()}
                out.extend(sequence_logps(model, t["input_ids"], t["attention_mask"], t["labels"]).tolist())
    finally:
        if was_training:
            model.train()
    return out


def cached_reference_logps(
    cache_dir: Path, pairs_hash: str, ref_fingerprint: str, compute: Any
) -> tuple[list[float], list[float], bool]:
    """``(chosen, rejected, from_cache)``; ``compute()`` returns the two lists when not cached yet."""
    import json

    from train.io import write_json

    path = Path(cache_dir) / f"ref-logps-{pairs_hash[:16]}-{ref_fingerprint[:16]}.json"
    if path.is_file():
        d = json.loads(path.read_text(encoding="utf-8"))
        return d["chosen"], d["rejected"], True
    chosen, rejected = compute()
    write_json(
        path, {"pairs_hash": pairs_hash, "ref_fingerprint": ref_fingerprint, "chosen": chosen, "rejected": rejected}
    )
    return chosen, rejected, False
