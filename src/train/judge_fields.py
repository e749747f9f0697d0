"""The ``--judge`` option group, declared once for ``train vbi``, ``train spft`` and ``train selfplay``.

Who decides that a prediction is correct for a *training signal* (VBI-FT's y+ / y-, self-play's
reward R): ``ex`` on the example's one database (the default, every output as before) or ``ts`` on
a test suite built for the judged examples and cached by database fingerprint
(:mod:`evaluation.suite_cache`; docs/vbi.md, docs/train.md). Model selection (pool D_val EX,
selection EX) stays EX under both, so scores compare across runs.
"""

from __future__ import annotations

from typing import Any

from evaluation.suite_cache import DEFAULT_SUITE_SIZE, check_judge_settings
from train.fields import help_field

#: name -> (help text, default); ``{signal}`` is filled in per command.
JUDGE_GROUP: dict[str, tuple[str, object]] = {
    "judge": (
        (
            "Who judges {signal}: ex (the result on the example's database) or ts (the results on every "
            "database of a test suite built for the judged examples' gold SQL and cached by database "
            "fingerprint: correct only if correct on every one). Model selection stays EX."
        ),
        "ex",
    ),
    "suite_size": (
        ("--judge ts: most databases per test suite, the original included (as `evaluate build-suite --size`)."),
        DEFAULT_SUITE_SIZE,
    ),
    "suite_cache": (
        "--judge ts: folder of cached test suites, shared by runs (default ~/.cache/spft-sql/suites).",
        None,
    ),
}


def judge_field(name: str, signal: str = "the training signal"):
    """The field ``name`` of :data:`JUDGE_GROUP` (``judge: str = judge_field("judge", "y+ / y-")``)."""
    text, default = JUDGE_GROUP[name]
    return help_field(text.format(signal=signal), default)


def check_judge_fields(cfg: Any) -> None:
    """``judge`` is a judge and ``suite_size`` >= 1 (errors name the option)."""
    check_judge_settings(cfg.judge, cfg.suite_size)
