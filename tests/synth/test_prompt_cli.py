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
            "--k1",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith("database: concert_singer\n")
    assert "question: How many singers are from Frence?\nSQL:\n" in r.output
    assert "--   singer.Country = 'France'" in r.output


def test_prompt_unknown_db_id_is_a_clear_error(data_root, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "prompt",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path),
            "--db-id",
            "concert_singers",
            "--question",
            "q",
        ],
    )
    assert r.exit_code == 1
    assert "did you mean 'concert_singer'" in r.output and "Traceback" not in r.output


def test_build_prompts_writes_valid_records_and_counts_missing_dbs(data_root, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(
        json.dumps(
            [
                {
                    "db_id": "concert_singer",
                    "question": "How many singers do we have?",
                    "query": "SELECT count(*) FROM singer",
                },
                {"db_id": "wta_1", "question": "How many players?", "query": "SELECT count(*) FROM players"},
                {"db_id": "car_1", "question": "Which makers are from France?", "query": "SELECT 1"},
            ]
        )
    )
    out = tmp_path / "out" / "prompts.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "build-prompts",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path / "c"),
            "--data",
            str(data),
            "--out",
            str(out),
        ],
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
        main,
        [
            "build-prompts",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path),
            "--data",
            str(data),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 1
    assert f"{data}, field 'db_id': entry 1: unknown db_id" in r.output and "did you mean 'car_1'" in r.output
    assert not out.exists()


def test_build_prompts_finds_data_file_in_benchmark_folder(data_root, tmp_path):
    out = tmp_path / "dev.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "build-prompts",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path / "c"),
            "--data",
            "dev.json",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 1034 - 62
    assert "wta_1 (62)" in r.output


def _bird_style(tmp_path):
    """A BIRD-format dev file (question_id, SQL, evidence) over Spider databases."""
    data = tmp_path / "bird_dev.json"
    data.write_text(
        json.dumps(
            [
                {
                    "question_id": 7,
                    "db_id": "concert_singer",
                    "question": "How many male singers are there?",
                    "evidence": "male refers to Is_male = 'T'",
                    "SQL": "SELECT count(*) FROM singer WHERE Is_male = 'T'",
                    "difficulty": "simple",
                },
                {
                    "question_id": 8,
                    "db_id": "car_1",
                    "question": "How many car makers are there?",
                    "evidence": "",
                    "SQL": "SELECT count(*) FROM car_makers",
                    "difficulty": "simple",
                },
                {
                    "question_id": 9,
                    "db_id": "car_1",
                    "question": "How many countries are there?",
                    "SQL": "SELECT count(*) FROM countries",
                },
            ]
        )
    )
    return data


def _build(data_root, tmp_path, data, out, *extra):
    return CliRunner().invoke(
        main,
        [
            "build-prompts",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path / "c"),
            "--data",
            str(data),
            "--out",
            str(out),
            *extra,
        ],
    )


def test_build_prompts_bird_format_puts_evidence_in_the_prompt(data_root, tmp_path):
    out = tmp_path / "bird.jsonl"
    r = _build(data_root, tmp_path, _bird_style(tmp_path), out)
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
        assert rec["prompt"] == text2sql_input(rec["schema_prompt"], rec["question"])
    first, second, third = records
    assert [x["id"] for x in records] == ["7", "8", "9"]
    assert first["sql"] == "SELECT count(*) FROM singer WHERE Is_male = 'T'"
    assert first["evidence"] == "male refers to Is_male = 'T'"
    assert "external knowledge:\n  male refers to Is_male = 'T'\n\nquestion: How many male singers" in first["prompt"]
    assert ["singer", "Is_male", "T"] in first["matched_values"]  # found through the evidence
    for rec in (second, third):  # empty or absent evidence: no section, no field
        assert "external knowledge" not in rec["prompt"] and "evidence" not in rec

    plain = tmp_path / "plain.jsonl"
    r = _build(data_root, tmp_path, _bird_style(tmp_path), plain, "--no-evidence")
    assert r.exit_code == 0, r.output
    no_ev = json.loads(plain.read_text().splitlines()[0])
    assert "external knowledge" not in no_ev["prompt"] and "evidence" not in no_ev
    assert ["singer", "Is_male", "T"] not in no_ev["matched_values"]


def test_build_prompts_bad_evidence_keeps_the_previous_output(data_root, tmp_path):
    data = tmp_path / "bad.json"
    data.write_text(
        json.dumps(
            [
                {"question_id": 1, "db_id": "car_1", "question": "q", "SQL": "SELECT 1", "evidence": "ok"},
                {"question_id": 2, "db_id": "car_1", "question": "q", "SQL": "SELECT 1", "evidence": ["not", "text"]},
            ]
        )
    )
    out = tmp_path / "o.jsonl"
    out.write_text("previous\n")
    r = _build(data_root, tmp_path, data, out)
    assert r.exit_code == 1
    assert f"{data}, field 'evidence': entry 2: 'evidence' must be a string, got list" in r.output
    assert "Traceback" not in r.output
    assert out.read_text() == "previous\n"


def test_prompt_cli_takes_evidence(data_root, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "prompt",
            "--data-root",
            str(data_root),
            "--cache-dir",
            str(tmp_path),
            "--db-id",
            "concert_singer",
            "--question",
            "How many male singers?",
            "--evidence",
            "male refers to Is_male = 'T'",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "external knowledge:\n  male refers to Is_male = 'T'\n\nquestion: How many male singers?\nSQL:\n" in r.output
    assert "--   singer.Is_male = 'T'" in r.output


def test_build_prompts_missing_data_file_says_where_it_looked(data_root, tmp_path):
    r = _build(data_root, tmp_path, "no_such_dev.json", tmp_path / "o.jsonl")
    assert r.exit_code == 1
    assert "no_such_dev.json: file not found (also looked for" in r.output
    assert str(data_root / "spider" / "no_such_dev.json") in r.output
