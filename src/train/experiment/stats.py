"""Statistics over arms and seeds: means, paired bootstrap intervals, the paper's ablation contrasts."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.hardness import LEVELS as HARDNESS  # Spider hardness levels, one definition
from train.experiment.arms import ArmResult
from train.experiment_config import ARM_RECORDS, ExperimentConfig


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over questions and its 95 % percentile interval (questions resampled with replacement).

    >>> paired_bootstrap([1, 1, 0, 1], [0, 1, 0, 0], resamples=200)[0]
    0.5
    """
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    rng = random.Random(f"spft-sql/bootstrap/{seed}")
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo, hi = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    return round(sum(d) / n, 6), round(lo, 6), round(hi, 6)


def aggregate(cfg: ExperimentConfig, results: Sequence[ArmResult]) -> dict[str, Any]:
    """Per arm: EX per seed, mean ± sd, by hardness, paired difference to ``sft`` with a bootstrap interval."""
    by_arm: dict[str, dict[int, ArmResult]] = defaultdict(dict)
    for r in results:
        by_arm[r.arm][r.seed] = r
    seeds = sorted({r.seed for r in results})
    out: dict[str, Any] = {}
    for arm in cfg.arms:
        runs = by_arm.get(arm, {})
        if not runs:
            continue
        exs = [runs[s].ex for s in seeds if s in runs]
        entry: dict[str, Any] = {
            "paper_row": ARM_RECORDS[arm].paper_row,
            "start": ARM_RECORDS[arm].start,
            "seeds": {
                str(s): {
                    "ex": runs[s].ex,
                    "train_steps": runs[s].train_steps,
                    "model": runs[s].model,
                    "by_hardness": runs[s].by_hardness,
                    "gold_failures": runs[s].gold_failures,
                    "ts": runs[s].ts,
                    "elapsed_s": runs[s].elapsed_s,
                    "commit": runs[s].commit,
                }
                for s in seeds
                if s in runs
            },
            "ex_mean": round(statistics.fmean(exs), 6),
            "ex_sd": round(statistics.stdev(exs), 6) if len(exs) > 1 else None,
            "by_hardness_mean": {h: _mean([runs[s].by_hardness[h]["ex"] for s in runs]) for h in HARDNESS},
            "train_steps_mean": round(statistics.fmean(runs[s].train_steps for s in runs), 1),
        }
        ts = [runs[s].ts for s in seeds if s in runs]
        if ts and all(v is not None for v in ts):
            entry["ts_mean"] = round(statistics.fmean(ts), 6)
            entry["ts_sd"] = round(statistics.stdev(ts), 6) if len(ts) > 1 else None
        for ref, key in (("sft", "diff_vs_sft"), ("sft-steps", "diff_vs_sft_steps")):
            base = by_arm.get(ref, {})
            common = [s for s in seeds if s in runs and s in base]
            if arm != ref and common:
                mean, lo, hi = _paired_difference(runs, base, common, cfg.bootstrap)
                wins, losses = _wins_losses(runs, base, common)
                entry[key] = {"mean": mean, "ci95": [lo, hi], "seeds": common, "wins": wins, "losses": losses}
        out[arm] = entry
    return out


def _paired_difference(
    a: Mapping[int, ArmResult], b: Mapping[int, ArmResult], seeds: Sequence[int], resamples: int
) -> tuple[float, float, float]:
    """Arm ``a`` minus arm ``b`` over questions (each question's correctness averaged over ``seeds``),
    with a bootstrap interval: the one paired comparison behind ``diff_vs_sft`` and the contrasts."""
    n = a[seeds[0]].n
    xs = [statistics.fmean(a[s].correct[i] for s in seeds) for i in range(n)]
    ys = [statistics.fmean(b[s].correct[i] for s in seeds) for i in range(n)]
    return paired_bootstrap(xs, ys, resamples=resamples)


def _wins_losses(a: Mapping[int, ArmResult], b: Mapping[int, ArmResult], seeds: Sequence[int]) -> tuple[int, int]:
    """Test questions ``a`` gets right and ``b`` wrong, and the reverse, summed over ``seeds``."""
    wins = sum(x and not y for s in seeds for x, y in zip(a[s].correct, b[s].correct, strict=True))
    losses = sum(y and not x for s in seeds for x, y in zip(a[s].correct, b[s].correct, strict=True))
    return wins, losses


#: the ablations of SPFT-SQL Table 2-3 as paired contrasts: (arm, against, what the difference measures)
CONTRASTS = (
    ("spft", "vbift", "self-play's effect (Table 2: w/o self-play)"),
    ("spft", "selfplay", "VBI-FT's effect (Table 2: w/o VBI-FT)"),
    ("vbift", "sft", "VBI-FT over SFT"),
    ("vbift+dpo", "vbift", "DPO instead of error-driven self-play after VBI-FT (Table 3)"),
    ("spft", "sft-steps", "the loop over SFT at equal optimizer steps (compute control)"),
)


def contrasts(cfg: ExperimentConfig, results: Sequence[ArmResult]) -> list[dict[str, Any]]:
    """Paired differences between the arms the paper's ablations compare (over the seeds both have):
    mean with a bootstrap interval over questions, and the questions one arm gets right and the other
    wrong (summed over seeds) -- at a small scale, where intervals are wide, the raw wins and losses
    show what the mean hides."""
    by: dict[str, dict[int, ArmResult]] = defaultdict(dict)
    for r in results:
        by[r.arm][r.seed] = r
    out = []
    for arm, other, meaning in CONTRASTS:
        common = sorted(set(by.get(arm, {})) & set(by.get(other, {})))
        if not common:
            continue
        mean, lo, hi = _paired_difference(by[arm], by[other], common, cfg.bootstrap)
        wins, losses = _wins_losses(by[arm], by[other], common)
        out.append(
            {
                "arm": arm,
                "against": other,
                "measures": meaning,
                "seeds": common,
                "mean": mean,
                "ci95": [lo, hi],
                "wins": wins,
                "losses": losses,
            }
        )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.fmean(vals), 6) if vals else None
