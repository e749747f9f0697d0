"""The learning test of issue 22: a short LoRA SFT of SmolLM2-135M-Instruct on a few hundred in-domain
Spider pairs gives clearly more EX than the model's zero-shot EX on held-out questions of the same
databases -- a test that the real training path learns, not a timing test.

Everything goes through the user's commands (``synth build-prompts``, ``train predict``, ``train sft``,
``evaluate``), in this process. The held-out questions are split off by distinct gold SQL: no held-out
query (nor its paraphrase, Spider asks every query twice) is trained on.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

#: three small Spider training databases (3-4 tables each), 292 question/SQL pairs, 146 distinct queries
DB_IDS = ("movie_1", "flight_1", "allergy_1")
#: every HOLDOUT_EVERY-th distinct gold query is held out; the others are trained on
HOLDOUT_EVERY = 5
#: short prompts for a small model: 3 tables, 4 columns each, no sample values
PROMPT_ARGS = ("--k1", "3", "--k2", "4", "--sample-values", "0")
SFT_ARGS = (
    "--lora",
    "--lora-targets",
    "all-linear",
    "--learning-rate",
    "2e-3",
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--grad-accum",
    "2",
    "--max-length",
    "384",
    "--dtype",
    "auto",
    "--no-eval-ex",
    "--keep-epoch",
    "last",
    "--logging-steps",
    "5",
    "--save-total-limit",
    "1",
)
MAX_NEW_TOKENS = 64


def _invoke(cli, args) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def split_pairs(spider_root: Path) -> tuple[list[dict], list[dict]]:
    """(train, held-out) Spider pairs of :data:`DB_IDS`, one question per distinct gold SQL (Spider asks each
    twice; the first is kept), split by SQL: no held-out query is trained on. Deterministic."""
    rows = [r for r in json.loads((spider_root / "train_spider.json").read_text()) if r["db_id"] in DB_IDS]
    first: dict[str, dict] = {}
    for r in rows:
        first.setdefault(" ".join(r["query"].split()), r)
    queries = sorted(first)
    held = set(queries[::HOLDOUT_EVERY])
    return [first[q] for q in queries if q not in held], [first[q] for q in queries if q in held]


def ex_of(report: Path) -> tuple[float, int]:
    """(EX, predictions that ran: correct or wrong result, not an error) of an ``evaluate`` report."""
    ex = json.loads(report.read_text())["scores"]["ex"]
    return ex["by_hardness"]["all"]["score"], ex["statuses"].get("match", 0) + ex["statuses"].get("mismatch", 0)


def run_learning(
    work: Path, data_root: Path, model: Path, sft_args=SFT_ARGS, max_new_tokens: int = MAX_NEW_TOKENS
) -> dict:
    """Prompts -> zero-shot EX -> LoRA SFT -> EX after; returns the figures and the CPU seconds of each stage
    (process time: on a shared machine, what the stage costs a core of its own)."""
    from evaluation.cli import main as evaluate_main
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    spider = data_root / "spider"
    train, test = split_pairs(spider)
    data = work / "data"
    data.mkdir(parents=True)
    seconds = {}
    t0 = time.process_time()
    for name, rows in (("train", train), ("test", test)):
        (work / f"{name}.json").write_text(json.dumps(rows))
        out = data / f"{name}.jsonl"
        _invoke(
            synth_main,
            ["build-prompts", "--db", "spider", "--data-root", data_root, "--data", work / f"{name}.json"]
            + ["--out", out, *PROMPT_ARGS],
        )
    # D_val of the SFT: 8 training pairs (only its loss is logged; --keep-epoch last)
    (data / "val.jsonl").write_text("".join((data / "train.jsonl").read_text().splitlines(True)[:8]))
    seconds["prompts"] = time.process_time() - t0

    def ex(model_dir: Path, tag: str) -> tuple[float, int]:
        t = time.process_time()
        preds, report = work / f"preds-{tag}.jsonl", work / f"report-{tag}.json"
        _invoke(
            train_main,
            ["predict", "--model", model_dir, "--data", data / "test.jsonl", "--out", preds]
            + ["--max-new-tokens", max_new_tokens, "--gen-batch-size", 8, "--dtype", "auto"],
        )
        _invoke(
            evaluate_main,
            ["--metric", "ex", "--gold", data / "test.jsonl", "--pred", preds]
            + ["--db-root", spider / "database", "--report", report],
        )
        seconds[f"predict+evaluate {tag}"] = time.process_time() - t
        return ex_of(report)

    zero, zero_ran = ex(model, "zero-shot")
    t = time.process_time()
    _invoke(
        train_main,
        ["sft", "--data", data, "--data-root", data_root, "--model", model, "--out", work / "ckpt", *sft_args],
    )
    seconds["sft"] = time.process_time() - t
    after, after_ran = ex(work / "ckpt", "after")
    return {
        "train": len(train),
        "test": len(test),
        "zero_shot_ex": zero,
        "ex_after": after,
        "zero_shot_ran": zero_ran,
        "after_ran": after_ran,
        "seconds": seconds,
    }


def test_lora_sft_on_in_domain_pairs_beats_zero_shot(smollm2: Path, data_root: Path, tmp_path: Path) -> None:
    """116 training pairs, 30 held-out questions (movie_1, flight_1, allergy_1), LoRA all-linear, lr 2e-3,
    1 epoch = 15 steps of 4 x 2, bf16 autocast (``--dtype auto`` on this CPU). Measured with
    :func:`run_learning` and these settings, one torch thread (the script is in docs/train.md, "The
    learning test"): zero-shot EX 0/30 (1 prediction ran, 29 were prose or ``CREATE TABLE``), after the
    SFT 4/30 = 13.3 % (9 ran); CPU seconds: zero-shot 39, SFT 328, after 33, total 400 -- under heavy
    load (load average 13-16 on 2 cores, 1152 s wall; CPU time under contention is itself inflated).
    This test, run by pytest: the same EX, 303 s wall at load average ~4, 282 s at ~2 (CPU s: 35 + 207 + 38)."""
    res = run_learning(tmp_path, data_root, smollm2)
    print(json.dumps(res, indent=1))
    assert res["ex_after"] >= res["zero_shot_ex"] + 0.1, res  # 3 more of 30 correct at least (measured: 4)
    assert res["after_ran"] >= res["zero_shot_ran"] + 5, res  # it writes SQL of these schemas (measured: 9 vs 1)
