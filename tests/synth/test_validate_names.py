"""`synth validate` on the README Quickstart's outputs, and the schema names when it cannot guess (issue 23.8/23.9)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from synth.cli import main
from synth.validate import available_schemas

SCHEMA_README = Path(__file__).resolve().parents[2] / "data_schemas" / "README.md"


def test_validate_guesses_the_quickstart_prediction_file(tmp_path: Path) -> None:
    preds = tmp_path / "preds.jsonl"  # `train predict --out preds.jsonl`, as the Quickstart writes it
    preds.write_text(
        json.dumps({"id": "a", "db_id": "d", "sql": "SELECT 1", "raw": "SELECT 1", "gen_hash": "x"}) + "\n"
    )
    res = CliRunner().invoke(main, ["validate", str(preds)])
    assert res.exit_code == 0, res.output
    assert "ok: " in res.output and "preds.jsonl (1)" in res.output


def test_validate_lists_the_schema_names_when_it_cannot_guess(tmp_path: Path) -> None:
    odd = tmp_path / "mine.jsonl"
    odd.write_text('{"id": "a"}\n')
    res = CliRunner().invoke(main, ["validate", str(odd)])
    assert res.exit_code == 1
    assert res.output == (
        f"Error: {odd}: no schema is chosen by this file name; pass --schema, one of: "
        f"{', '.join(available_schemas())}\n"
    )


def test_schema_readme_counts_the_run_record_schemas_it_lists() -> None:
    """It said "The three schemas that describe them" and listed four."""
    text = " ".join(SCHEMA_README.read_text(encoding="utf-8").split())
    m = re.search(r"The (\w+) schemas that describe them \(([^)]*)\)", text)
    assert m, "the run-record sentence moved"
    words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
    assert words[m.group(1)] == len(re.findall(r"`\w+`", m.group(2)))
