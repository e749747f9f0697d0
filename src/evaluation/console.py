"""The one place library code writes to the terminal: progress lines and bars on stderr.

Library functions return data; a long job still has to say where it is (stage, round, iteration).
Those lines go through :func:`echo`, so stdout stays the commands' own output and ruff's
print ban holds everywhere else (CLI modules print their results themselves).
"""

from __future__ import annotations

import sys
from typing import Any


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

    ``show``: ``None`` = only when stderr is a terminal (silent in a pipe, a log file, CI), ``True`` /
    ``False`` = always / never. ``leave=False`` clears the bar when done (stages that come and go).
    Use it as tqdm: iterate it, or ``with progress_bar(total=n) as bar: bar.update(k)``.
    """
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
