"""`synth prompt` and `synth build-prompts` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

import synth.cli_prompt  # noqa: F401  (registers the commands on `main`)
from synth.cli import main
from synth.prompt.format import text2sql_input

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "data_schemas" / "prompt_record.schema.json").read_text())


def test_help_texts():
    for cmd in ("prompt", "build-prompts"):
        r = CliRunner().invoke(main, [cmd, "--help"])
        assert r.exit_code == 0 and "--k1" in r.output and "--full-schema" in r.output


def test_prompt_prints_prompt_and_matches(data_root, tmp_path):
    r = CliRunner().invoke(
        main,
        ["prompt", "--db", "spider", "--data-root", str(data_root), "--cache-dir", str(tmp_path),
         "--db-id", "concert_singer", "--question", "How many singers are from Frence?", "--k1", "2"],
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith("database: concert_singer\n")
    assert "question: How many singers are from Frence?\nSQL:\n" in r.output
    assert "--   singer.Country = 'France'" in r.output


def test_prompt_unknown_db_id_is_a_clear_error(data_root, tmp_path):
    r = CliRunner().invoke(
        main, ["prompt", "--data-root", str(data_root), "--cache-dir", str(tmp_path), "--db-id", "concert_singers", "--question", "q"]
    )
    assert r.exit_code == 1
    assert "did you mean 'concert_singer'" in r.output and "Traceback" not in r.output


def test_build_prompts_writes_valid_records_and_counts_missing_dbs(data_root, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps([
        {"db_id": "concert_singer", "question": "How many singers do we have?", "query": "SELECT count(*) FROM singer"},
        {"db_id": "wta_1", "question": "How many players?", "query": "SELECT count(*) FROM players"},
        {"db_id": "car_1", "question": "Which makers are from France?", "query": "SELECT 1"},
    ]))
    out = tmp_path / "out" / "prompts.jsonl"
    r = CliRunner().invoke(
        main,
        ["build-prompts", "--data-root", str(data_root), "--cache-dir", str(tmp_path / "c"), "--data", str(data), "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    assert "skipped 1 examples whose database file is missing: wta_1 (1)" in r.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["id"] for x in records] == ["0", "2"]
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
        assert rec["prompt"] == text2sql_input(rec["schema_prompt"], rec["question"])
        assert (data_root / rec["db_path"]).is_file()
    assert records[1]["db_path"] == "spider/database/car_1/car_1.sqlite"
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_build_prompts_unknown_db_id_names_file_and_entry(data_root, tmp_path):
    data = tmp_path / "bad.json"
    data.write_text(json.dumps([{"db_id": "car_11", "question": "q", "query": "SELECT 1"}]))
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(
        main, ["build-prompts", "--data-root", str(data_root), "--cache-dir", str(tmp_path), "--data", str(data), "--out", str(out)]
    )
    assert r.exit_code == 1
    assert f"{data}:1, field 'db_id'" in r.output and "did you mean 'car_1'" in r.output
    assert not out.exists()


def test_build_prompts_finds_data_file_in_benchmark_folder(data_root, tmp_path):
    out = tmp_path / "dev.jsonl"
    r = CliRunner().invoke(
        main, ["build-prompts", "--data-root", str(data_root), "--cache-dir", str(tmp_path / "c"), "--data", "dev.json", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 1034 - 62
    assert "wta_1 (62)" in r.output
