"""``synth generate`` output is pinned byte for byte: a refactor cannot change it silently (issue 12).

The hashes are those of ``synth generate --db demo --n 300 --val-size 40 --seed 0``. When a change
*means* to alter the output (a new rule, a sqlglot upgrade), say so in the commit, explain which
records changed and why, and store the new hashes here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from synth.cli import main

DEMO_SHA256 = {
    "train.jsonl": "d85d6ae186ff1856f38d925673636d63ba912850d38887bbe6e2c9be7b024f57",
    "val.jsonl": "0d5016fe2459dfd4a7e1af1e83037df815861fac93f35e0820e833d8b271dc69",
    "templates.jsonl": "83ec7ae6ef424d4c2abc45713e124c88dca7621f2407f63ef544837fb843c52a",
}


def test_demo_generate_output_is_byte_identical_to_the_stored_hashes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--db", "demo", "--n", "300", "--val-size", "40", "--seed", "0", "--out", str(out)]
    res = CliRunner().invoke(main, [*args, "--no-progress"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    got = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in DEMO_SHA256}
    assert got == DEMO_SHA256
