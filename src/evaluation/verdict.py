"""The one verdict type of a judged query: is the prediction correct, and why.

Three types, from the lowest level up:

* :class:`evaluation.executor.ExecResult` -- what running *one* query gave (status, rows, message);
* :class:`Verdict` -- a prediction judged against its gold: EX on one database
  (:func:`evaluation.ex.judge`), TS on a test suite, VES on top of EX (:mod:`evaluation.runner`), or a
  training signal (:func:`train.scoring.judge_predictions`);
* :class:`evaluation.runner.ItemResult` -- the record of one item: hardness, one :class:`Verdict` per
  metric, ambiguity flags.

``reason`` is the one name of the verdict vocabulary (:data:`REASONS`); ``pred_status`` and
``gold_status`` are executor statuses. The ``evaluate`` details write ``reason`` under the key
``"status"`` (:meth:`Verdict.to_json`), train's ``verified.jsonl`` under ``"reason"`` and self-play's
``pairs.jsonl`` under ``"verdict"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Why a verdict is what it is. ``pred_*`` name the executor status of a prediction that did not run;
#: ``gold_failed``: the gold itself did not run (never counted correct); ``no_suite``: TS without a suite
#: for the database; ``skipped``: the item's database file is missing.
REASONS = (
    "match",
    "mismatch",
    "pred_error",
    "pred_timeout",
    "pred_too_large",
    "gold_failed",
    "no_suite",
    "skipped",
)


@dataclass(frozen=True)
class Verdict:
    """One prediction judged against its gold.

    ``correct`` is ``None`` when the prediction could not be judged (``no_suite``, ``skipped``; train
    also for ``gold_failed``, which ``evaluation`` counts as wrong). ``message`` is the first failing
    execution's error (the prediction's, else the gold's), cut to 300 characters. ``extra`` holds what
    one metric or judge adds: VES ``time_ratio`` / ``score`` / ``reward``, TS ``suite_size`` /
    ``failed_on`` (the suite file where the prediction first disagreed), train's ``ex_correct`` (what EX
    alone said, under ``--judge ts``).

    >>> Verdict(False, "pred_error", "error", "ok", "no such table: t").to_json()
    {'correct': False, 'status': 'pred_error', 'pred_status': 'error', 'gold_status': 'ok',
     'message': 'no such table: t'}
    """

    correct: bool | None
    reason: str  # one of REASONS
    pred_status: str = ""  # an executor status, or evaluation.runner.EMPTY for a blank prediction
    gold_status: str = ""
    message: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"verdict reason {self.reason!r} is not one of {', '.join(REASONS)}")

    def to_json(self) -> dict:
        """The ``evaluate`` details record of one metric (``reason`` under the key ``"status"``)."""
        d = {"correct": self.correct, "status": self.reason}
        if self.pred_status:
            d["pred_status"] = self.pred_status
        if self.gold_status:
            d["gold_status"] = self.gold_status
        if self.message:
            d["message"] = self.message
        d.update(self.extra)
        return d
