"""Shared fixtures. Real data comes from ``$SPFT_DATA_ROOT`` (CI: ``../shared/data``).

Real-data tests skip with a clear reason when the data root is absent on a developer machine;
``.ci/run`` refuses to run without it, so CI can never go green by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """A suite started in the background (``nohup make test &``) inherits SIGINT *ignored* from the shell,
    and Python then never installs its Ctrl-C handler -- the interrupt tests would test nothing. Give
    this process (and, through exec, the commands it starts) the default Ctrl-C behaviour back."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _data_root() -> Path:
    env = os.environ.get("SPFT_DATA_ROOT")
    return Path(env) if env else (REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if not (root / "spider" / "tables.json").is_file():
        if os.environ.get("SPFT_REQUIRE_DATA") == "1":  # set by `make test` / CI: never go green by skipping
            pytest.fail(f"SPFT_REQUIRE_DATA=1 but Spider data not found under {root}")
        pytest.skip(f"Spider data not found under {root} (set SPFT_DATA_ROOT to the folder holding spider/)")
    return root


@pytest.fixture(scope="session")
def spider_root(data_root: Path) -> Path:
    return data_root / "spider"


@pytest.fixture(scope="session")
def spider(data_root: Path):
    from synth.sources import resolve_benchmark

    return resolve_benchmark("spider", data_root)


@pytest.fixture(scope="session")
def demo():
    from synth.sources import resolve_benchmark

    return resolve_benchmark("demo")
