"""``train experiment``: does the toolkit make a model stronger? SPFT-SQL's arms on one split, several seeds.

Arms (paper rows in docs/results.md):

=============  ==========================================================================================
``sft``        SFT on the real training pairs only (best epoch by EX on the selection split)
``vbift``      VBI-FT without self-play: the best (on selection) VBI-FT model of the ``spft`` run's round 1
               when ``rounds = 1`` (identical computation), else its own ``train vbi`` run
``spft``       the full loop, ``train spft`` -> ``final/``
``selfplay``   SFT + error-driven self-play (``spft`` loss), no VBI-FT: pairs from the real training pairs
``spin``       SFT + SPIN (every opponent output a negative), pairs from the real training pairs
``dpo``        SFT + DPO (fixed reference = the SFT model; one step, as DPO is single-step)
``vbift+dpo``  the ``vbift`` model + DPO
=============  ==========================================================================================

Without VBI-FT there is no synthetic D_val, so the self-play baselines choose main / opponent and
roll back on the selection split (real held-out pairs, never trained on); they train on the real
training pairs (``pairs_from = train``).

**Split.** ``indomain``: the ``top_dbs`` Spider databases with the most training questions; each
database's questions are split by a seeded hash into test (``test_fraction``) and the rest, which
is the benchmark the loop sees (``OUT/split/bench/train.json``; the loop carves its selection split
from it). ``crossdomain``: Spider train -> Spider dev. Synthesis gets the test file as
``exclude_sql``: a synthetic query equal to a test query is dropped and counted. Test is read once
per finished arm: predictions are cached, nothing is chosen on them.

**Caching.** A seed's work lives in ``OUT/runs/<hash>-seed<s>/``, the hash covering split, model and
loop settings; every stage below it is resumable (``train sft`` / ``vbi`` / ``selfplay`` / ``spft``),
and each arm's test result is written last (``arms/<arm>/result.json``). The SFT model is shared by
``sft``, ``selfplay``, ``spin`` and ``dpo``; the ``spft`` run's VBI-FT by ``vbift`` and ``vbift+dpo``.

**Metrics.** EX (official Spider semantics, through ``evaluation``) overall and by Spider hardness;
mean ± sd over seeds; each arm's paired difference to ``sft`` with a 95 % bootstrap interval over
test questions (correctness averaged over seeds per question, questions resampled). TS needs a test
suite, which Spider does not ship for these splits, so one is built for the test questions with
``evaluate build-suite`` (``[split] suite_size`` databases per db_id, distilled to kill the gold
queries' neighbours; ``suite_size = 0``: no TS). ``train_steps`` counts the optimizer
steps of every text-to-SQL training stage behind an arm's model (equal-compute comparisons).
"""

from __future__ import annotations

from train.experiment.arms import ArmResult, SeedRun, baseline_questions, sft_optimiser, write_baseline_data
from train.experiment.report import plot_results, results_markdown
from train.experiment.runner import RESULTS_FORMAT, run_experiment
from train.experiment.split import (
    TRAINING_NEUTRAL_SPLIT_KEYS,
    build_split,
    build_test_suite,
    loop_prompt_config,
    test_records,
    test_suite_verdicts,
)
from train.experiment.stats import CONTRASTS, aggregate, contrasts, paired_bootstrap

__all__ = [
    "CONTRASTS",
    "RESULTS_FORMAT",
    "TRAINING_NEUTRAL_SPLIT_KEYS",
    "ArmResult",
    "SeedRun",
    "aggregate",
    "baseline_questions",
    "build_split",
    "build_test_suite",
    "contrasts",
    "loop_prompt_config",
    "paired_bootstrap",
    "plot_results",
    "results_markdown",
    "run_experiment",
    "sft_optimiser",
    "test_records",
    "test_suite_verdicts",
    "write_baseline_data",
]
