"""Per-round self-play plot (matplotlib Agg: works headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_rounds(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Left: D_val EX of main (before), new model (after) and opponent; right: loss, margin, share of R = 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    rounds = [r["round"] for r in rows]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax.plot(rounds, [r["main_val_ex"] for r in rows], "o--", label="main (before)")
    ax.plot(rounds, [r.get("new_val_ex") for r in rows], "o-", label="new model (after)")
    ax.plot(rounds, [r["opponent_val_ex"] for r in rows], "x:", label="opponent")
    ax.set_ylabel("D_val EX")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("execution accuracy")
    bx.plot(rounds, [r.get("train_loss") for r in rows], "o-", label="train loss")
    bx.plot(rounds, [r.get("mean_margin") for r in rows], "s--", label="mean margin")
    bx.plot(rounds, [r.get("wrong_share") for r in rows], "x:", label="share R = 1")
    bx.set_title("training")
    for a in (ax, bx):
        a.set_xlabel("round")
        a.set_xticks(rounds)
        a.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Write a figure atomically (a temp file renamed: a kill never leaves half a PNG) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
