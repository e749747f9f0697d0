"""Issue 23.6: where stderr is no terminal (a log file, CI), long commands print a progress line at a
steady interval; before, `synth generate --n 20000` printed nothing for 401 s."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from evaluation.console import ProgressLines

BIN = Path(sys.executable).parent


def test_generate_prints_progress_lines_into_a_log(tmp_path: Path) -> None:
    env = {**os.environ, "SPFT_PROGRESS_INTERVAL": "0"}  # a line per update; the default is every 30 s
    with (tmp_path / "log.txt").open("w") as log:  # stderr is a file, as under nohup or in CI
        r = subprocess.run(
            [BIN / "synth", "generate", "--db", "demo", "--n", "40", "--val-size", "5", "--out", tmp_path / "o"],
            stderr=log,
            stdout=subprocess.PIPE,
            env=env,
            timeout=300,
        )
    text = (tmp_path / "log.txt").read_text()
    assert r.returncode == 0, text
    assert re.search(r"^verified: \d+/40 ex \(\d+%\), [\d.e+]+ ex/s(, ETA \d+[smh])?", text, re.M), text
    assert "\r" not in text and "done" in text


def test_progress_lines_are_quiet_within_one_interval(capsys) -> None:
    with ProgressLines(total=10, desc="stage", unit="step", interval=3600) as bar:
        for _ in range(10):
            bar.update(1)
    assert capsys.readouterr().err == ""
    bar = ProgressLines(range(3), desc="stage", unit="q", interval=0)
    bar.set_postfix(loss="1.500", refresh=False)
    assert list(bar) == [0, 1, 2]
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("stage: 1/3 q (33%), ") and "ETA" in lines[0] and lines[0].endswith("loss 1.500")
    assert lines[-1].startswith("stage: 3/3 q (100%)") and lines[-1].endswith(" done")
