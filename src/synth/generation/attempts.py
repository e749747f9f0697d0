"""The attempt loop and its budget: attempts in order until ``n`` are accepted, de-duplicated per
database, or the budget (``ceil(n * max_attempts_factor)``) is spent or :func:`out_of_reach`."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from evaluation.schema import Schema
from synth.generation.config import GenerateConfig, NotEnoughExamplesError
from synth.generation.dedup import collision_key, normalize_sql
from synth.generation.pool import candidates_parallel
from synth.generation.sampling import Candidate, CandidateSampler
from synth.sources import Benchmark

#: Attempts between two checks of :func:`out_of_reach` (and progress-bar updates).
CHECK_EVERY = 256
#: Checks in the window whose acceptance rate :func:`out_of_reach` projects (8 x 256 = 2048 attempts).
WINDOW_CHECKS = 8


def out_of_reach(checkpoints: Sequence[int], n: int, attempts: int, max_attempts: int) -> str:
    """Why ``n`` accepted examples cannot be reached within the budget, or ``""`` to go on.

    ``checkpoints[k]`` is the accepted count after ``k * CHECK_EVERY`` attempts. The acceptance
    rate of the last ``WINDOW_CHECKS * CHECK_EVERY`` attempts is projected over the remaining
    budget, generously: with ``r`` accepted in the window, the rate is taken as
    ``(r + 2 * sqrt(r) + 2) / window`` (about two standard deviations above the observed rate).
    The real rate only falls as the run goes on (more candidates turn out to be duplicates), so
    when even that cannot reach ``n`` the run is stopped now rather than after the whole budget
    (``--n`` far above what the templates can yield would otherwise spin for an hour). Depends only
    on attempt counts, so it is as deterministic as the rest of the run.
    """
    if len(checkpoints) <= WINDOW_CHECKS:
        return ""
    window = WINDOW_CHECKS * CHECK_EVERY
    accepted = checkpoints[-1]
    recent = accepted - checkpoints[-1 - WINDOW_CHECKS]
    remaining = max_attempts - attempts
    optimistic = (recent + 2 * math.sqrt(recent) + 2) / window
    if accepted + optimistic * remaining >= n:
        return ""
    return (
        f"the last {window} attempts gave {recent} new examples, so the remaining "
        f"{remaining} attempts would give about {round(recent / window * remaining)} more, "
        f"{n - accepted} short"
    )


def sample_accepted(
    bench: Benchmark,
    schemas: Mapping[str, Schema],
    templates: Sequence[Any],
    db_ids: Sequence[str],
    config: GenerateConfig,
    progress: bool | None,
    facts: dict | None = None,
) -> tuple[list[Candidate], dict, Counter]:
    """Attempts in order until ``n`` are accepted or the budget is spent; counts every rejection.

    ``facts`` (optional) receives what may differ between two runs of the same seed -- under
    ``--judge ts``, the suite cache's folder and how many suites were built or reused."""
    from evaluation.console import progress_bar
    from synth.generation.novelty import SuiteNovelty

    db_paths = {d: bench.db_path(d) for d in db_ids}
    sub_schemas = {d: schemas[d] for d in db_ids}
    rejections: Counter[str] = Counter()
    first_message: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    accepted: list[Candidate] = []
    attempts = 0
    checkpoints = [0]  # accepted count after every CHECK_EVERY attempts
    stalled = ""
    bar = progress_bar(total=config.n, desc="verified", unit="ex", show=progress, leave=False)
    sampler = CandidateSampler(sub_schemas, db_paths, templates, db_ids, config)
    novelty = (
        SuiteNovelty(
            db_paths,
            sampler.database,
            suite_size=config.suite_size,
            suite_cache=config.suite_cache,
            limits=sampler.limits,
        )
        if config.judge == "ts"
        else None
    )
    for i, (db_id, sql) in enumerate(config.earlier):  # made before this run: never new again
        if db_id in db_paths:
            seen.add((db_id, normalize_sql(sql)))
            if novelty is not None:
                novelty.add_earlier(db_id, sql, f"earlier example {i + 1}")
    stream: Iterator[Candidate] = iter(())
    try:
        if config.workers > 1:
            stream = candidates_parallel(
                (sub_schemas, db_paths, templates, db_ids, config), config.workers, config.max_attempts
            )
            execute_here = False
        else:
            stream = (sampler.fill(i) for i in range(config.max_attempts))
            execute_here = True
        for cand in stream:
            attempts += 1
            if cand.sql:  # filled; workers have also executed it (then ``reason`` may be exec/empty)
                # De-duplicate before looking at the execution verdict, as the in-process path
                # does before executing: every filled query counts once by its own verdict, and
                # later copies count as ``duplicate`` -- so counts match for any --workers.
                key = (cand.db_id, cand.key)
                if key in seen:
                    cand = dataclasses.replace(cand, reason="duplicate", message="")
                elif config.held_out and (cand.db_id, collision_key(cand.sql)) in config.held_out:
                    # no SQL in the message: it would put a held-out (test) query into the manifest
                    cand = dataclasses.replace(cand, reason="held_out", message="matches a held-out query")
                else:
                    seen.add(key)
                    if execute_here:
                        cand = sampler.execute(cand)
                    if novelty is not None and not cand.reason:
                        why = novelty.check(cand.db_id, cand.sql)
                        if why:
                            cand = dataclasses.replace(cand, reason="duplicate_ts", message=why)
            if cand.reason:
                rejections[cand.reason] += 1
                first_message.setdefault(cand.reason, cand.message[:300])
            else:
                accepted.append(cand)
                bar.update(1)
                if len(accepted) >= config.n:
                    break
            if attempts % CHECK_EVERY == 0:
                bar.set_postfix(attempts=attempts, refresh=False)
                checkpoints.append(len(accepted))
                stalled = out_of_reach(checkpoints, config.n, attempts, config.max_attempts)
                if stalled:
                    break
    finally:
        # Close the candidate stream now: a break leaves the parallel generator suspended, and
        # only closing it cancels the pending chunks and joins the worker processes.
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        bar.close()
        sampler.close()
    counts = {
        "attempts": attempts,
        "max_attempts": config.max_attempts,
        "accepted": len(accepted),
        "acceptance_rate": round(len(accepted) / attempts, 6) if attempts else 0.0,
        "rejections": dict(sorted(rejections.items())),
        "rejected": sum(rejections.values()),
        "rejection_examples": dict(sorted(first_message.items())),
        "accepted_by_db": dict(sorted(Counter(c.db_id for c in accepted).items())),
    }
    if novelty is not None:
        counts["judge"] = novelty.report()
        sampler.seconds["judge"] += novelty.seconds
        if facts is not None:
            facts.update(novelty.cache_report())
    if len(accepted) < config.n:
        top = ", ".join(f"{r} {c}" for r, c in rejections.most_common(6)) or "none"
        why = (
            f"stopped early: {stalled}"
            if stalled
            else f"budget: --n x --max-attempts-factor {config.max_attempts_factor:g}"
        )
        raise NotEnoughExamplesError(
            f"only {len(accepted)} of --n {config.n} verified examples could be made in "
            f"{attempts} attempts ({why}); rejections: {top}. The templates cannot yield that many "
            f"distinct verified queries on these databases: use more databases (--db-ids), more "
            f"training SQL, a larger --max-attempts-factor or a smaller --n. Nothing was written."
        )
    return accepted, counts, sampler.seconds
