"""``synth generate | validate | templates`` through click's CliRunner: exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from synth.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    res = _run("generate", "--db", "demo", "--n", "40", "--out", str(out), "--seed", "0", "--val-size", "5")
    assert res.exit_code == 0, res.output
    assert "wrote 35 train + 5 val examples" in res.output
    return out


def test_generate_demo_writes_all_files(demo_out: Path):
    names = sorted(p.name for p in demo_out.iterdir() if not p.name.startswith("."))
    assert names == ["manifest.json", "templates.jsonl", "train.jsonl", "val.jsonl"]
    assert not [p for p in demo_out.iterdir() if p.name.endswith(".tmp")]
    manifest = json.loads((demo_out / "manifest.json").read_text())
    assert manifest["inputs"]["benchmark"] == "demo"
    assert manifest["counts"]["accepted"] == 40


def test_generate_demo_is_deterministic(demo_out: Path, tmp_path: Path):
    res = _run("generate", "--db", "demo", "--n", "40", "--out", str(tmp_path), "--seed", "0", "--val-size", "5")
    assert res.exit_code == 0, res.output
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert (tmp_path / name).read_bytes() == (demo_out / name).read_bytes(), name


def test_output_does_not_depend_on_the_process_hash_seed(demo_out: Path, tmp_path: Path):
    # set/dict iteration order of strings changes with PYTHONHASHSEED; the files must not.
    code = "from synth.cli import main; main()"
    args = ["generate", "--db", "demo", "--n", "40", "--out", str(tmp_path), "--seed", "0", "--val-size", "5"]
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert (tmp_path / name).read_bytes() == (demo_out / name).read_bytes(), name


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _run("generate", "--db", "demo", "--n", "10", "--out", str(blocker / "sub"))
    _assert_fails(res, "cannot write to")


def test_no_prompts_and_val_fraction(tmp_path: Path):
    res = _run(
        "generate", "--db", "demo", "--n", "20", "--out", str(tmp_path), "--no-prompts", "--val-fraction", "0.25"
    )
    assert res.exit_code == 0, res.output
    val = [json.loads(x) for x in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert len(val) == 5
    assert all("prompt" not in r and "schema_prompt" not in r for r in val)
    assert _run("validate", str(tmp_path)).exit_code == 0


def test_validate_accepts_generated_output(demo_out: Path):
    res = _run("validate", str(demo_out))
    assert res.exit_code == 0, res.output
    assert "train.jsonl (35)" in res.output and "manifest.json (1)" in res.output


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_validate_names_file_line_and_field_of_a_corrupted_record(demo_out: Path, tmp_path: Path):
    out = _copy(demo_out, tmp_path / "bad")
    lines = (out / "train.jsonl").read_text().splitlines()
    rec = json.loads(lines[2])
    rec["sql"] = ""  # too short
    del rec["db_id"]  # required
    lines[2] = json.dumps(rec)
    (out / "train.jsonl").write_text("\n".join(lines) + "\n")
    res = _run("validate", str(out))
    assert res.exit_code == 1
    assert "train.jsonl:3: field 'db_id'" in res.output
    assert "train.jsonl:3: field 'sql'" in res.output
    assert "Traceback" not in res.output


def test_validate_catches_broken_json_and_an_edited_file(demo_out: Path, tmp_path: Path):
    out = _copy(demo_out, tmp_path / "broken")
    with open(out / "val.jsonl", "a") as f:
        f.write('{"id": "syn-9", \n')
    res = _run("validate", str(out))
    assert res.exit_code == 1
    assert "val.jsonl:6: invalid JSON" in res.output

    out2 = _copy(demo_out, tmp_path / "edited")
    lines = (out2 / "train.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["question"] = "Something else entirely?"
    lines[0] = json.dumps(rec)
    (out2 / "train.jsonl").write_text("\n".join(lines) + "\n")
    res = _run("validate", str(out2))
    assert res.exit_code == 1
    assert "train.jsonl" in res.output and "differs from manifest.json" in res.output


def test_validate_single_file_and_unknown_schema(demo_out: Path, tmp_path: Path):
    assert _run("validate", str(demo_out / "val.jsonl")).exit_code == 0
    res = _run("validate", str(demo_out / "val.jsonl"), "--schema", "exampel")
    assert res.exit_code == 1 and "did you mean 'example'" in res.output
    res = _run("validate", str(tmp_path / "nope"))
    assert res.exit_code == 1 and "no such file" in res.output


def test_templates_prints_the_extraction_report():
    res = _run("templates", "--db", "demo", "--top", "3")
    assert res.exit_code == 0, res.output
    assert "training SQL ->" in res.output and "templates" in res.output
    res = _run("templates", "--db", "demo", "--json")
    report = json.loads(res.output)
    assert report["total"] == 41 and report["templates"] > 5


# ---- bad input: clear message, exit 1, no traceback, nothing written ----------------------------


def _assert_fails(res, *fragments: str, out: Path | None = None):
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: "), res.output
    for frag in fragments:
        assert frag in res.output, res.output
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_unknown_db_id_suggests_a_close_name(tmp_path: Path, data_root: Path):
    out = tmp_path / "out"
    res = _run(
        "generate",
        "--db",
        "spider",
        "--data-root",
        str(data_root),
        "--db-ids",
        "concert_singr",
        "--n",
        "5",
        "--out",
        str(out),
    )
    _assert_fails(res, "unknown db_id", "did you mean 'concert_singer'", out=out)


def test_missing_database_file(tmp_path: Path, data_root: Path):
    out = tmp_path / "out"
    res = _run(
        "generate", "--db", "spider", "--data-root", str(data_root), "--db-ids", "wta_1", "--n", "5", "--out", str(out)
    )
    _assert_fails(res, "wta_1", "does not exist", out=out)


def test_unknown_benchmark_and_missing_data_root(tmp_path: Path):
    out = tmp_path / "out"
    res = _run("generate", "--db", "spider", "--data-root", str(tmp_path / "nowhere"), "--n", "5", "--out", str(out))
    _assert_fails(res, "benchmark 'spider' not found", out=out)
    res = _run("generate", "--db", str(tmp_path / "no_such_folder"), "--n", "5", "--out", str(out))
    _assert_fails(res, "neither a known benchmark", out=out)


def _mini_benchmark(tmp_path: Path, demo, train: list[dict], tables_text: str | None = None) -> Path:
    bench = tmp_path / "mini"
    (bench / "database").mkdir(parents=True)
    (bench / "database" / "clinic").symlink_to(demo.root / "database" / "clinic")
    tables = json.loads((demo.root / "tables.json").read_text())
    (bench / "tables.json").write_text(
        tables_text if tables_text is not None else json.dumps([t for t in tables if t["db_id"] == "clinic"])
    )
    (bench / "train.json").write_text(json.dumps(train))
    return bench


def test_unreadable_tables_json(tmp_path: Path, demo):
    bench = _mini_benchmark(tmp_path, demo, [], tables_text='[{"db_id": "clinic", ')
    out = tmp_path / "out"
    res = _run("generate", "--db", str(bench), "--n", "5", "--out", str(out))
    _assert_fails(res, "tables.json", "not readable JSON", out=out)


def test_damaged_database_file_is_one_clear_error(tmp_path: Path, demo):
    # tables.json is fine, so the schema loads; the SQLite file itself is not a database
    bench = tmp_path / "mini"
    (bench / "database" / "clinic").mkdir(parents=True)
    (bench / "database" / "clinic" / "clinic.sqlite").write_text("not a database")
    tables = json.loads((demo.root / "tables.json").read_text())
    (bench / "tables.json").write_text(json.dumps([t for t in tables if t["db_id"] == "clinic"]))
    (bench / "train.json").write_text((demo.root / "train.json").read_text())
    out = tmp_path / "out"
    res = _run("generate", "--db", str(bench), "--n", "5", "--out", str(out))
    _assert_fails(res, "clinic.sqlite", "not a readable SQLite database", "--db-ids", out=out)


def test_broken_training_file_names_file_and_line(tmp_path: Path, demo):
    bench = _mini_benchmark(tmp_path, demo, [])
    (bench / "train.json").write_text('[{"db_id": "clinic", "query": "SELECT 1"},\n{"db_id": "clinic" "query": "x"}]')
    out = tmp_path / "out"
    res = _run("generate", "--db", str(bench), "--n", "5", "--out", str(out))
    _assert_fails(res, "train.json:2", "invalid JSON", out=out)


def test_unparseable_training_sql_is_a_counted_skip(tmp_path: Path, demo):
    train = json.loads((demo.root / "train.json").read_text())
    train = [e for e in train if e["db_id"] == "clinic"]
    train.append({"db_id": "clinic", "query": "SELEC name FRM doctors WHERE ((", "question": "?"})
    bench = _mini_benchmark(tmp_path, demo, train)
    out = tmp_path / "out"
    res = _run("generate", "--db", str(bench), "--n", "10", "--out", str(out), "--val-size", "2")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["parse_failures"] == 1
    assert manifest["counts"]["training_sql_total"] == len(train)


def test_n_larger_than_the_templates_can_yield(tmp_path: Path, demo):
    bench = _mini_benchmark(tmp_path, demo, [{"db_id": "clinic", "query": "SELECT count(*) FROM doctors"}])
    out = tmp_path / "out"
    res = _run("generate", "--db", str(bench), "--n", "30", "--out", str(out), "--max-attempts-factor", "3")
    _assert_fails(res, "only", "of --n 30", "duplicate", "Nothing was written", out=out)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--n", "10", "--val-size", "10"], "val_size"),
        (["--n", "10", "--val-size", "1", "--val-fraction", "0.1"], "either"),
        (["--n", "10", "--writer", "rule-basd"], "did you mean 'rule-based'"),
        (["--n", "10", "--timeout", "0"], "timeout"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], fragment: str):
    out = tmp_path / "out"
    res = _run("generate", "--db", "demo", "--out", str(out), *args)
    _assert_fails(res, fragment, out=out)


def test_every_command_has_help():
    for cmd in ("generate", "validate", "templates"):
        res = _run(cmd, "--help")
        assert res.exit_code == 0 and len(res.output) > 200, cmd
