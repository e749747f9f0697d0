"""``run_experiment``: every arm of every seed, in dependency order, then the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from train.experiment.arms import ArmResult, SeedRun
from train.experiment.report import git_commit, plot_results, results_markdown, suite_summary
from train.experiment.split import build_split, build_test_suite, echo_step, loop_prompt_config, test_records
from train.experiment.stats import aggregate, contrasts
from train.experiment_config import ExperimentConfig
from train.io import read_jsonl, write_json

RESULTS_FORMAT = "1"
#: arms in dependency order (shared stages computed once per seed), the paper's main comparison first:
#: a sitting that ends early has zero-shot / sft / spft / vbift / sft-steps before the baselines
RUN_ORDER = ("zero-shot", "sft", "spft", "vbift", "sft-steps", "vbift+dpo", "dpo", "selfplay", "spin")


def run_experiment(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    on_arm: Callable[[ArmResult], None] | None = None,
    report_only: bool = False,
    archive: str | Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) every arm for every seed; writes ``results.json``, ``results.md``, ``results.png``.

    ``report_only``: train nothing; tabulate the (seed, arm) results already finished (a long run can
    be reported while it goes on); ``results.json`` then lists what is missing under ``missing``.
    ``archive``: a folder that outlives this machine (:mod:`train.experiment.archive`): its results are
    restored into ``out`` first, and ``out``'s are saved into it after every arm and at the end.
    """
    from train.experiment.archive import restore_archive, save_archive
    from train.manifest import hardware

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if archive is not None:
        restored = restore_archive(Path(archive), out)
        if restored:
            echo_step(f"restored {restored} result files from {archive}")
    split = build_split(cfg, out)
    tests = test_records(out, out / "cache", loop_prompt_config(cfg))
    suite = build_test_suite(cfg, out)
    results: list[ArmResult] = []
    rounds: dict[str, list[dict]] = {}
    writers: dict[str, Any] = {}
    order = [a for a in RUN_ORDER if a in cfg.arms]
    missing: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        run = SeedRun(cfg, out, seed, split, suite)
        for arm in order:
            if report_only and not (run.dir / "arms" / arm / "result.json").is_file():
                missing.append({"seed": seed, "arm": arm})
                continue
            res = run.run_arm(arm, tests)
            results.append(res)
            echo_step(f"seed {seed}: {arm}: test EX {res.ex:.3f}")
            if on_arm:
                on_arm(res)
            if archive is not None and not report_only:
                save_archive(out, Path(archive))
        if (run.dir / "spft" / "rounds.jsonl").is_file():
            rounds[str(seed)] = read_jsonl(run.dir / "spft" / "rounds.jsonl")
        if not report_only or (run.dir / "sft" / "model" / "manifest.json").is_file():
            quality = run.writer_quality()
            if quality is not None:
                writers[str(seed)] = quality
    hw = hardware()
    # wall time over every invocation of this folder (a resumed run adds to it)
    wall_file = out / "wall.json"
    walls = json.loads(wall_file.read_text(encoding="utf-8")) if wall_file.is_file() else []
    if not report_only:
        walls.append(round(time.time() - t0, 1))
        write_json(wall_file, walls)
    gpus = ", ".join(hw.get("gpus", [])) or "no GPU"
    doc = {
        "format": RESULTS_FORMAT,
        "name": cfg.name,
        "config_file": cfg.path,
        "commit": git_commit(),
        "hardware": f"{hw.get('cpu_count', '?')} CPU cores ({hw.get('torch_threads', '?')} torch threads), {gpus}, "
        f"{hw.get('machine', '')}",
        # an invocation killed at a session's end records no wall of its own, but its finished arms do
        "wall_s": round(
            max(sum(walls) + (time.time() - t0 if report_only else 0.0), sum(r.elapsed_s or 0.0 for r in results)), 1
        ),
        "invocations": len(walls),
        "seeds": list(cfg.seeds),
        "split": asdict(cfg.split),
        "counts": split["counts"],
        "model": asdict(cfg.model),
        "loop": cfg.loop,
        "sft": cfg.sft,
        "baseline_pairs": cfg.baseline_pairs,
        "arms": aggregate(cfg, results),
        "contrasts": contrasts(cfg, results),
        "ts": suite_summary(suite),
        "missing": missing,
        "writer_quality": writers,
    }
    write_json(out / "results.json", doc)
    (out / "results.md").write_text(results_markdown(doc), encoding="utf-8")
    plot_results(doc, rounds, out / "results.png")
    if archive is not None:
        save_archive(out, Path(archive))
    return doc
