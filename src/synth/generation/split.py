"""The D_val split of the accepted examples."""

from __future__ import annotations

import random
from collections.abc import Sequence


def split_val(records: Sequence[dict], val_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Split off ``val_size`` records as D_val, chosen by a seeded shuffle; both parts keep id order."""
    if val_size <= 0:
        return list(records), []
    order = list(range(len(records)))
    random.Random(f"spft-sql/val-split/{seed}").shuffle(order)
    val_idx = set(order[:val_size])
    train = [r for i, r in enumerate(records) if i not in val_idx]
    val = [r for i, r in enumerate(records) if i in val_idx]
    return train, val
