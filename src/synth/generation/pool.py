"""Worker processes that fill and execute candidates (``workers > 1``); the output does not depend on it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from synth.generation.sampling import Candidate, CandidateSampler

_WORKER: CandidateSampler | None = None  # per worker process only (set by the pool initializer)


def _worker_init(args: tuple) -> None:
    global _WORKER
    _WORKER = CandidateSampler(*args)


def _worker_run(indices: Sequence[int]) -> list[Candidate]:
    assert _WORKER is not None
    return [_WORKER.run(i) for i in indices]


def candidates_parallel(args: tuple, workers: int, limit: int, chunk: int = 64) -> Iterator[Candidate]:
    """Candidates ``0, 1, 2, ...`` in order, computed by a process pool (lazily, a few chunks ahead)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(args,)) as pool:
        pending: list[cf.Future] = []
        start = 0
        try:
            while True:
                while len(pending) < workers * 3 and start < limit:
                    pending.append(pool.submit(_worker_run, range(start, min(start + chunk, limit))))
                    start += chunk
                if not pending:
                    return
                yield from pending.pop(0).result()
        finally:
            for f in pending:
                f.cancel()
