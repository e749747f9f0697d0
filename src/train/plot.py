"""Per-round self-play plot (matplotlib Agg: works headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_rounds(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """D_val EX of the main model before each round and of the model the round produced."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    rounds = [r["round"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(rounds, [r["main_val_ex"] for r in rows], "o--", label="main (before)")
    ax.plot(rounds, [r.get("new_val_ex") for r in rows], "o-", label="new model (after)")
    ax.plot(rounds, [r["opponent_val_ex"] for r in rows], "x:", label="opponent")
    ax.set_xlabel("round")
    ax.set_ylabel("D_val EX")
    ax.set_xticks(rounds)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("self-play")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
