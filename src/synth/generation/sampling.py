"""Candidate sampling: attempt ``i`` draws a template and a database with its own seeded generator,
fills the template and (:meth:`CandidateSampler.execute`) verifies the SQL on the database."""

from __future__ import annotations

import bisect
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.executor import Limits, ReadOnlyDatabase
from evaluation.schema import Schema
from synth.generation.config import GenerateConfig
from synth.generation.dedup import normalize_sql


@dataclass(frozen=True)
class Candidate:
    """The outcome of one attempt, before de-duplication (which needs the attempts before it)."""

    index: int
    db_id: str
    template_id: str
    sql: str = ""
    tables: tuple[str, ...] = ()
    key: str = ""
    reason: str = ""  # "" = executed fine with a non-empty result; else the rejection reason
    message: str = ""
    probes: tuple[tuple[str, str], ...] = ()  # semantic probes (synth.fill.checks) to run after execution
    row_checks: tuple[str, ...] = ()
    hardness: str = ""


def _attempt_rng(seed: int, index: int) -> random.Random:
    # One generator per attempt: attempts are independent, so workers can run them in any order.
    return random.Random(f"spft-sql/generate/{seed}/{index}")


def _is_empty(rows: Sequence[tuple]) -> bool:
    """No rows, or only rows of NULLs (e.g. MAX() over nothing): not a useful answer."""
    return all(all(v is None for v in row) for row in rows)


class CandidateSampler:
    """Draws and checks candidates; holds one read-only connection and value sampler per database.

    Used in-process (``workers == 1``) or once per worker process.
    """

    def __init__(
        self,
        schemas: Mapping[str, Schema],
        db_paths: Mapping[str, Path],
        templates: Sequence[Any],
        db_ids: Sequence[str],
        config: GenerateConfig,
    ) -> None:
        from synth.fill import FillConfig

        self.schemas = schemas
        self.db_paths = db_paths
        self.templates = list(templates)
        self.db_ids = list(db_ids)
        self.seed = config.seed
        self.limits = Limits(timeout_s=config.timeout_s, max_rows=config.max_rows)
        self.fill_config = config.fill_config if config.fill_config is not None else FillConfig()
        self._cum_templates = _cumulative(template_sampling_weights(self.templates, config.template_weights))
        db_weights = (
            [len(schemas[d].tables) for d in self.db_ids] if config.db_sampling == "tables" else [1] * len(self.db_ids)
        )
        self._cum_dbs = _cumulative(db_weights)
        self._dbs: dict[str, ReadOnlyDatabase] = {}
        self._values: dict[str, Any] = {}
        self.seconds: Counter[str] = Counter()

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()
        self._values.clear()

    def __enter__(self) -> CandidateSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def database(self, db_id: str) -> ReadOnlyDatabase:
        if db_id not in self._dbs:
            self._dbs[db_id] = ReadOnlyDatabase(self.db_paths[db_id], self.limits)
        return self._dbs[db_id]

    def values(self, db_id: str) -> Any:
        from synth.fill import ValueSampler

        if db_id not in self._values:
            self._values[db_id] = ValueSampler(self.database(db_id))
        return self._values[db_id]

    def fill(self, index: int) -> Candidate:
        """Draw template + database for attempt ``index`` and fill it (no execution yet)."""
        from synth.fill import FillError, fill_template

        rng = _attempt_rng(self.seed, index)
        template = self.templates[_pick(self._cum_templates, rng)]
        db_id = self.db_ids[_pick(self._cum_dbs, rng)]
        t0 = time.perf_counter()
        try:
            filled = fill_template(template, self.schemas[db_id], self.values(db_id), rng, self.fill_config)
        except FillError as e:
            self.seconds["fill"] += time.perf_counter() - t0
            reason = getattr(e, "reason", None) or "unknown"
            reason = reason if reason.startswith("semantic:") else f"fill:{reason}"
            return Candidate(index, db_id, template.id, reason=reason, message=str(e))
        except Exception as e:  # noqa: BLE001 - a filler bug on one template must not sink the run
            # Counted under its own reason (and its first message kept in the manifest) so it is
            # visible, not silently skipped.
            self.seconds["fill"] += time.perf_counter() - t0
            msg = f"{type(e).__name__}: {e} (template {template.id} on {db_id})"
            return Candidate(index, db_id, template.id, reason="internal_error:fill", message=msg)
        self.seconds["fill"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        key = normalize_sql(filled.sql)
        self.seconds["normalize"] += time.perf_counter() - t0
        return Candidate(
            index,
            db_id,
            template.id,
            filled.sql,
            tuple(filled.tables),
            key,
            probes=filled.probes,
            row_checks=filled.row_checks,
            hardness=filled.hardness,
        )

    def execute(self, cand: Candidate) -> Candidate:
        """Run a filled candidate; set ``reason`` when it fails verification."""
        t0 = time.perf_counter()
        res = self.database(cand.db_id).execute(cand.sql)
        self.seconds["execute"] += time.perf_counter() - t0
        if not res.ok:
            return dataclasses.replace(cand, reason=f"exec:{res.status}", message=res.message)
        if _is_empty(res.rows):
            return dataclasses.replace(cand, reason="empty_result")
        return self._semantic(cand, res.rows)

    def _semantic(self, cand: Candidate, rows: Sequence[tuple]) -> Candidate:
        """Row checks, then probes (:mod:`synth.fill.checks`); the first failure rejects."""
        from synth.fill.checks import failed_row_check

        t0 = time.perf_counter()
        try:
            for name in cand.row_checks:
                if failed_row_check(name, rows):
                    return dataclasses.replace(cand, reason=f"semantic:{name}")
            db = self.database(cand.db_id)
            for name, sql in cand.probes:
                res = db.execute(sql)
                if res.ok and res.rows and res.rows[0][0]:
                    return dataclasses.replace(cand, reason=f"semantic:{name}", message=sql)
            return cand
        finally:
            self.seconds["semantic"] += time.perf_counter() - t0

    def run(self, index: int) -> Candidate:
        cand = self.fill(index)
        return cand if cand.reason else self.execute(cand)


def template_sampling_weights(templates: Sequence[Any], factors: Mapping[str, float] | None) -> list[float]:
    """Per template: its training frequency times its factor in ``factors`` (1 when unlisted).

    >>> from types import SimpleNamespace as T
    >>> template_sampling_weights([T(id="ta", frequency=3), T(id="tb", frequency=1)], {"tb": 4.0})
    [3.0, 4.0]
    """
    factors = factors or {}
    return [max(t.frequency, 0) * float(factors.get(t.id, 1.0)) for t in templates]


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(cum: Sequence[float], rng: random.Random) -> int:
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)
