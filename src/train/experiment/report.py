"""The experiment's report: the Markdown table, the plot, the suite summary and the commit."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _diff_cell(d: Mapping[str, Any] | None) -> str:
    """``+1.5 [-0.5, +3.5] 12/6``: a paired difference in points with its interval, then wins / losses."""
    if not d:
        return "–"
    wl = f" {d['wins']}/{d['losses']}" if "wins" in d else ""
    return f"{100 * d['mean']:+.1f} [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]{wl}"


def results_markdown(doc: Mapping[str, Any]) -> str:
    lines = [
        f"# {doc['name']}: EX on the test split (%, {doc['counts']['test']} questions)",
        "",
        f"Split: {doc['split']['kind']} ({doc['counts']['dbs']} databases, {doc['counts']['train']} real "
        f"train questions, selection carved from them by the loop); seeds {', '.join(map(str, doc['seeds']))}; "
        f"commit {doc['commit']}; wall {doc['wall_s'] / 60:.1f} min on {doc['hardware']}.",
        "",
        "| arm | paper row | starts from | EX mean ± sd | per seed | Δ vs sft [95% CI] W/L | Δ vs sft-steps [95% CI] W/L | TS mean ± sd | easy | medium | hard | extra | train steps | wall min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, e in doc["arms"].items():
        sd = f" ± {_pct(e['ex_sd'])}" if e["ex_sd"] is not None else ""
        per = ", ".join(_pct(v["ex"]) for v in e["seeds"].values())
        diff, diff_steps = (_diff_cell(e.get(key)) for key in ("diff_vs_sft", "diff_vs_sft_steps"))
        walls = [v.get("elapsed_s") for v in e["seeds"].values()]
        wall = f"{statistics.fmean(walls) / 60:.0f}" if walls and all(w is not None for w in walls) else "–"
        h = e["by_hardness_mean"]
        ts = (
            "–"
            if e.get("ts_mean") is None
            else _pct(e["ts_mean"]) + (f" ± {_pct(e['ts_sd'])}" if e.get("ts_sd") is not None else "")
        )
        lines.append(
            f"| `{arm}` | {e['paper_row']} | {e.get('start', '–')} | {_pct(e['ex_mean'])}{sd} | {per} | {diff} | "
            f"{diff_steps} | {ts} | {_pct(h['easy'])} | {_pct(h['medium'])} | {_pct(h['hard'])} | {_pct(h['extra'])} | "
            f"{e['train_steps_mean']:.0f} | {wall} |"
        )
    if doc.get("contrasts"):
        lines += [
            "",
            "Paired contrasts (the paper's ablations; over the seeds both arms have; wins / losses = test "
            "questions one arm gets right and the other wrong, summed over seeds):",
            "",
            "| arm | vs | measures | Δ EX [95% CI] | wins / losses | seeds |",
            "|---|---|---|---|---|---|",
        ]
        for c in doc["contrasts"]:
            lines.append(
                f"| `{c['arm']}` | `{c['against']}` | {c['measures']} | {100 * c['mean']:+.1f} "
                f"[{100 * c['ci95'][0]:+.1f}, {100 * c['ci95'][1]:+.1f}] | {c['wins']} / {c['losses']} | "
                f"{', '.join(map(str, c['seeds']))} |"
            )
    walls: dict[str, float] = defaultdict(float)
    for e in doc["arms"].values():
        for s, v in e["seeds"].items():
            walls[s] += v.get("elapsed_s") or 0.0
    if walls:
        lines += [
            "",
            "Wall time per seed (all its arms, shared stages counted once): "
            + ", ".join(f"seed {s} {v / 60:.0f} min" for s, v in sorted(walls.items()))
            + ".",
        ]
    commits: dict[str, list[str]] = defaultdict(list)
    for arm, e in doc["arms"].items():
        for s, v in e["seeds"].items():
            commits[v.get("commit") or "not recorded"].append(f"{arm} {s}")
    if set(commits) != {doc["commit"]}:  # made by other code than this report's
        lines += [
            "",
            "Code that made each result (commit: arm seed; a run resumed over sessions spans several): "
            + "; ".join(f"{c}: {', '.join(v)}" for c, v in sorted(commits.items()))
            + ".",
        ]
    if doc.get("missing"):
        lines += [
            "",
            "**Partial:** not finished yet (seed: arm): "
            + ", ".join(f"{m['seed']}: {m['arm']}" for m in doc["missing"])
            + ".",
        ]
    suite = doc.get("ts")
    lines += [
        "",
        (
            f"TS: on a test suite built by `evaluate build-suite` ({suite['databases']} databases for "
            f"{suite['db_ids']} db_ids, {suite['killed']} of {suite['distinguishable']} distinguishable neighbour "
            "queries killed)."
            if suite
            else "TS: not computed (`[split] suite_size = 0`)."
        ),
        "",
    ]
    lines += writer_quality_markdown(doc.get("writer_quality") or {})
    return "\n".join(lines)


def writer_quality_markdown(writers: Mapping[str, Any]) -> list[str]:
    """The writer per VBI-FT iteration (SPFT-SQL Table 12's question, answered by execution) and the
    sampled (SQL, question) pairs of the first seed."""
    if not writers:
        return []
    lines = [
        "",
        "SQL-to-Text writer per VBI-FT iteration of the `spft` run (SPFT-SQL Table 12's question, "
        "answered by execution): the share of its D_val questions answered correctly by the iteration's "
        "own model and by the fixed `sft` model:",
        "",
        "| seed | iteration | writer | questions | answered (own model) | answered (`sft` model) | = rule-based |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, w in writers.items():
        for r in w["iterations"]:
            writer = r["writer"].split(":", 1)[0] + (
                ":" + Path(r["writer"].split(":", 1)[1]).name if ":" in r["writer"] else ""
            )
            lines.append(
                f"| {seed} | {r['iteration']} | {writer} | {r['questions']} | {_pct(r['val_ex'])} | "
                f"{_pct(r['sft_ex'])} | {r['equal_to_rule_based'] if r['equal_to_rule_based'] is not None else '–'} |"
            )
    seed, first = next(iter(writers.items()))
    lines += ["", f"{len(first['samples'])} sampled (SQL, question) pairs of seed {seed}'s D_vals:", ""]
    lines += ["| it. | db | SQL | question |", "|---|---|---|---|"]
    for x in first["samples"]:
        sql, q = (t.replace("|", "\\|").replace("\n", " ") for t in (x["sql"], x["question"]))
        lines.append(f"| {x['iteration']} | {x['db_id']} | `{sql}` | {q} |")
    lines.append("")
    return lines


def plot_results(doc: Mapping[str, Any], rounds: Mapping[str, list[dict]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(doc["arms"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    means = [100 * doc["arms"][a]["ex_mean"] for a in arms]
    sds = [100 * (doc["arms"][a]["ex_sd"] or 0.0) for a in arms]
    ax.bar(range(len(arms)), means, yerr=sds, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right")
    ax.set_ylabel("test EX (%)")
    ax.set_title("EX per arm (mean ± sd over seeds)")
    for seed, rows in rounds.items():
        best: dict[int, float] = {}
        for r in rows:
            if r.get("selection_ex") is not None:
                best[r["round"]] = max(best.get(r["round"], 0.0), r["selection_ex"])
        if best:
            bx.plot(sorted(best), [100 * best[k] for k in sorted(best)], "o-", label=f"spft seed {seed}")
    bx.set_xlabel("round")
    bx.set_ylabel("selection EX (%)")
    bx.set_title("spft: best selection EX per round")
    if rounds:
        bx.legend(fontsize=8)
    from train.plot import save_figure

    return save_figure(fig, path)


def suite_summary(suite: Path | None) -> dict[str, Any] | None:
    if suite is None:
        return None
    m = json.loads((suite / "manifest.json").read_text(encoding="utf-8"))
    o = m["counts"]["overall"]
    return {
        "dir": str(suite),
        "databases": o.get("suite_size"),
        "db_ids": o.get("databases"),
        "killed": o.get("killed"),
        "distinguishable": o.get("distinguishable"),
        "overall": o,
    }


def git_commit(code: Path | None = None) -> str:
    """The short commit of the code that runs (``code``: a folder of it; default this package's source
    root), with ``+dirty`` when its tracked source files differ from that commit: a result made by
    uncommitted code must not claim a commit. Files outside ``code`` (an archive in the repository)
    do not count. ``unknown`` outside a git checkout."""
    where = code or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=where
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            check=True,
            cwd=where,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}+dirty" if changed else sha
