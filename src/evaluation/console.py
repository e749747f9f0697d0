"""The one place library code writes to the terminal: progress lines on stderr, flushed at once.

Library functions return data; a long job still has to say where it is (stage, round, iteration).
Those lines go through :func:`echo`, so stdout stays the commands' own output and ruff's
print ban holds everywhere else (CLI modules print their results themselves).
"""

from __future__ import annotations

import sys


def echo(message: str) -> None:
    """One progress line on stderr (shown at once, also when stderr is a pipe or a log file)."""
    print(message, file=sys.stderr, flush=True)
