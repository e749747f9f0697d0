"""The one place library code writes to the terminal: progress lines and bars on stderr.

Library functions return data; a long job still has to say where it is (stage, round, iteration).
Those lines go through :func:`echo`, so stdout stays the commands' own output and ruff's
print ban holds everywhere else (CLI modules print their results themselves).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

#: Seconds between two progress lines where stderr is no terminal (``SPFT_PROGRESS_INTERVAL`` overrides).
LINE_INTERVAL_S = 30.0


def echo(message: str) -> None:
    """One progress line on stderr (shown at once, also when stderr is a pipe or a log file)."""
    print(message, file=sys.stderr, flush=True)


def progress_bar(
    iterable: Any = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    show: bool | None = None,
    initial: int = 0,
    leave: bool = True,
) -> Any:
    """The one kind of progress bar library code shows: tqdm on stderr, so stdout stays the command's.

    ``show``: ``None`` = a bar on a terminal, and where stderr is none (a pipe, a log file, CI) a
    :class:`ProgressLines` line at a steady interval; ``True`` / ``False`` = a bar always / nothing.
    ``leave=False`` clears the bar when done (stages that come and go). Use it as tqdm: iterate it, or
    ``with progress_bar(total=n) as bar: bar.update(k)``.
    """
    if show is None and not sys.stderr.isatty():
        return ProgressLines(iterable, total=total, desc=desc, unit=unit, initial=initial)
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=leave,
        dynamic_ncols=True,
        disable=None if show is None else not show,
    )


class ProgressLines:
    """tqdm's interface (iterate, ``update``, ``set_postfix``, ``close``, ``n``, ``total``) printing one line
    every ``interval`` seconds, as tqdm-less logs do: ``verified: 120/3000 ex (4%), 3.1 ex/s, ETA 15m28s``.

    For stderr that is no terminal, where a bar would be silent (or ``\\r`` noise) and a long stage looked
    hung. A stage shorter than one interval prints nothing; one that printed ends with a last line.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        interval: float | None = None,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = self._start = initial
        env = os.environ.get("SPFT_PROGRESS_INTERVAL")
        self.interval = interval if interval is not None else float(env) if env else LINE_INTERVAL_S
        self.postfix: dict[str, Any] = {}
        self._t0 = self._last = time.monotonic()
        self._printed = False

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            echo(self.line(now))
            self._printed = True

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def close(self) -> None:
        if self._printed:
            echo(self.line(time.monotonic()) + " done")
            self._printed = False

    def line(self, now: float) -> str:
        """``desc: done/total unit (pct%), rate unit/s, ETA 1m05s[, key value...]``."""
        done, elapsed = self.n - self._start, max(now - self._t0, 1e-9)
        rate = done / elapsed
        parts = [
            f"{self.n:g}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
            if self.total
            else f"{self.n:g} {self.unit}"
        ]
        parts.append(f"{rate:.3g} {self.unit}/s")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"ETA {_duration((self.total - self.n) / rate)}")
        parts += [f"{k} {v}" for k, v in self.postfix.items()]
        return f"{self.desc}: {', '.join(parts)}" if self.desc else ", ".join(parts)


def _duration(seconds: float) -> str:
    """``45s``, ``15m28s``, ``2h03m``.

    >>> _duration(45.2), _duration(928), _duration(7390)
    ('45s', '15m28s', '2h03m')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
