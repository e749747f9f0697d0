"""What a new user hits in `synth` (issue 13): `--db spidr`, a pipeable `synth prompt`,
`build-prompts --limit`, and missing databases named by `synth generate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from synth.cli import main


@pytest.mark.parametrize(
    "cmd", [["prompt", "--db-id", "x", "--question", "q"], ["templates"], ["generate", "--out", "OUT"]]
)
def test_misspelt_benchmark_gets_did_you_mean(cmd, tmp_path, data_root):
    args = [a if a != "OUT" else str(tmp_path / "o") for a in cmd]
    r = CliRunner().invoke(main, [*args, "--db", "spidr", "--data-root", str(data_root)])
    assert r.exit_code == 1
    assert "Error: unknown benchmark 'spidr'; did you mean 'spider'?" in r.output
    assert "Traceback" not in r.output


def test_unknown_folder_still_explains_the_layout(tmp_path, data_root):
    r = CliRunner().invoke(main, ["templates", "--db", str(tmp_path / "nowhere"), "--data-root", str(data_root)])
    assert r.exit_code == 1 and "is neither a known benchmark" in r.output


def test_prompt_prints_only_the_prompt_on_stdout(data_root, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "prompt",
            "--db",
            "spider",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path),
            "--db-id",
            "concert_singer",
            "--question",
            "How many singers are from Frence?",
        ],
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("database: concert_singer\n")
    assert r.stdout.endswith("question: How many singers are from Frence?\nSQL:\n")  # pipe it into a model
    assert "-- matched values" not in r.stdout
    assert "--   singer.Country = 'France'" in r.stderr


def test_build_prompts_limit_takes_the_first_n(data_root, tmp_path):
    out = tmp_path / "dev_prompts.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "build-prompts",
            "--db",
            "spider",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path / "c"),
            "--data",
            "dev.json",
            "--out",
            str(out),
            "--limit",
            "5",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "--limit 5: the first 5 of 1034 examples" in r.stderr
    records = [json.loads(x) for x in out.read_text().splitlines()]
    dev = json.loads((data_root / "spider" / "dev.json").read_text())
    assert [x["id"] for x in records] == ["0", "1", "2", "3", "4"]
    assert [x["question"] for x in records] == [d["question"] for d in dev[:5]]
    r = CliRunner().invoke(
        main, ["build-prompts", "--db", "demo", "--data", "dev.json", "--out", str(out), "--limit", "0"]
    )
    assert r.exit_code == 2 and "--limit" in r.output


def test_generate_names_the_missing_databases(tmp_path: Path, data_root: Path) -> None:
    """Spider here lacks some database files: `synth generate` says which, on the terminal."""
    from synth.sources import resolve_benchmark

    missing = resolve_benchmark("spider", data_root).missing_db_ids
    if not missing:
        pytest.skip("this copy of Spider has every database file")
    r = CliRunner().invoke(
        main,
        [
            "generate",
            "--db",
            "spider",
            "--data-root",
            str(data_root),
            "--n",
            "30",
            "--out",
            str(tmp_path / "o"),
            "--no-prompts",
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    assert f"skipped {len(missing)} database(s) whose SQLite file is missing: {', '.join(missing)}" in r.stderr
