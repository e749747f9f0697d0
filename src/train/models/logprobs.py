"""Sequence log-probabilities summed over answer tokens, and the per-round reference cache.

The reference (opponent) log-probs of every pair are computed ONCE per round and stored on disk,
keyed by the hash of the pairs and the fingerprint of the reference checkpoint, so a resumed round
or a second epoch never runs the reference model again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError
from train.models.formatting import IGNORE_INDEX, pad_batch


def answer_targets(labels: Any) -> Any:
    """The answer token ids a causal LM must predict, row-major: ``labels[:, 1:]`` without the -100s."""
    shifted = labels[:, 1:]
    return shifted[shifted != IGNORE_INDEX]


def output_head(model: Any) -> Any:
    """The module that turns hidden states into logits (``lm_head``), through DDP/FSDP/DeepSpeed wrappers."""
    inner = model
    while not hasattr(inner, "get_output_embeddings") and hasattr(inner, "module"):
        inner = inner.module
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    if head is None:
        raise ConfigError(f"{type(inner).__name__} has no output embeddings (lm_head): not a causal LM")
    return head


@contextmanager
def answer_positions_only(model: Any, labels: Any) -> Iterator[None]:
    """While active, the model's ``lm_head`` sees only the positions that predict an answer token.

    A forward of the model then returns ``logits`` of shape ``(1, N, vocab)``, N = the answer tokens of
    the batch in row-major order (the order of :func:`answer_targets`), instead of ``(batch, seq,
    vocab)``: with a 49k-150k vocabulary the full fp32 logits, their log-softmax and their gradient
    were most of a training step's memory (SmolLM2, batch 8 x 512: 2.9 GB of 10.5 GB), while the loss
    needs a few dozen SQL tokens per row. The hook sits on the head itself, so the wrapper's forward
    (PEFT, DDP, FSDP) runs as usual and any elementwise logit post-processing (soft-capping, scaling)
    still applies.
    """
    import torch

    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX

    def gather(_module: Any, args: tuple) -> tuple:
        hidden = args[0]
        if hidden.shape[:2] != keep.shape:
            raise ConfigError(
                f"lm_head got hidden states of shape {tuple(hidden.shape)} for labels {tuple(keep.shape)}"
            )
        return (hidden[keep].unsqueeze(0), *args[1:])

    handle = output_head(model).register_forward_pre_hook(gather)
    try:
        yield
    finally:
        handle.remove()


def sequence_logps(model: Any, input_ids: Any, attention_mask: Any, labels: Any) -> Any:
    """``sum_t log p(y_t | x, y_<t)`` over positions whose label is not -100; one value per row.

    Logits and log-softmax are computed only on the answer positions (:func:`answer_positions_only`),
    not on the whole prompt: with a 150k vocabulary and 2k-token prompts the full ``(batch, seq,
    vocab)`` fp32 tensor would take tens of GB.
    """
    import torch

    with answer_positions_only(model, labels):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[0]
    targets = answer_targets(labels)
    picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    rows = (labels[:, 1:] != IGNORE_INDEX).nonzero(as_tuple=True)[0]
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
