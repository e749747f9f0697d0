#!/usr/bin/env python3
"""The recipe sweep's table (experiments/smol-sweep.sh): selection-split EX after every epoch of every
finished or running point, wall time, and the chosen recipe (highest EX at any epoch; a tie goes to the
cheaper point, listed first). Reads SWEEP_DIR only; exit status 0 when CHOSEN (if given) is the choice.
    experiments/smol-sweep-table.py SWEEP_DIR [CHOSEN]"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(sweep: Path) -> list[dict]:
    out = []
    points = [p for p in sweep.iterdir() if (p / "trainer_log.jsonl").is_file()]
    for d in sorted(points, key=lambda p: p.stat().st_ctime):  # in the order they ran
        log = d / "trainer_log.jsonl"
        recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        ex = {int(round(r["epoch"])): r["eval_ex"] for r in recs if "eval_ex" in r}
        manifest = d / "manifest.json"
        wall = json.loads(manifest.read_text())["timings"]["total_s"] if manifest.is_file() else None
        out.append({"point": d.name, "ex": ex, "finished": manifest.is_file(), "wall_s": wall})
    return out


def main() -> int:
    sweep = Path(sys.argv[1])
    table = rows(sweep)
    zero = sweep / "zero-shot" / "report.json"
    print("| point | selection EX after epoch 1 / 2 / 3 | finished | wall |")
    print("|---|---|---|---|")
    if zero.is_file():
        z = json.loads(zero.read_text())["scores"]["ex"]["by_hardness"]["all"]
        print(f"| zero-shot (base model) | {z['correct']} of {z['count']} | yes | |")
    for r in table:
        cells = " / ".join(f"{100 * r['ex'][e]:.0f}" if e in r["ex"] else "-" for e in (1, 2, 3))
        wall = f"{r['wall_s'] / 60:.1f} min" if r["wall_s"] else ""
        print(f"| {r['point']} | {cells} % | {'yes' if r['finished'] else 'no'} | {wall} |")
    done = [r for r in table if r["finished"] and r["ex"]]
    if not done:
        return 1
    best = max(done, key=lambda r: max(r["ex"].values()))  # first of the ties: max keeps the first
    epoch = max(best["ex"], key=lambda e: (best["ex"][e], -e))
    print(f"\nchosen: {best['point']}, epoch {epoch} (selection EX {100 * best['ex'][epoch]:.0f} %)")
    return 0 if len(sys.argv) < 3 or sys.argv[2] == best["point"] else 2


if __name__ == "__main__":
    sys.exit(main())
