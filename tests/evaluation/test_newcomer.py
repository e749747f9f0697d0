"""What a new user hits in `evaluate` (issue 13): empty predictions, --only-predicted, one percent
scale in the table, and an empty --suite-dir."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from evaluation.cli import main

SCHEMAS = Path(__file__).resolve().parents[2] / "data_schemas"
DB = "concert_singer"


def _jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _run(args: list[str]):
    return CliRunner().invoke(main, [*args, "--workers", "1", "--no-progress"])


@pytest.fixture()
def gold(tmp_path: Path) -> Path:
    return _jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "db_id": DB, "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "db_id": DB, "sql": "SELECT name FROM singer WHERE age > 1000"},  # empty result
            {"id": "c", "db_id": DB, "sql": "SELECT name FROM singer ORDER BY age DESC"},
            {"id": "d", "db_id": DB, "sql": "SELECT count(*) FROM concert"},
        ],
    )


def test_empty_predictions_are_marked_counted_and_warned(tmp_path: Path, gold: Path, spider_root: Path) -> None:
    pred = _jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "a", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "sql": ""},  # matches the empty gold result under the official rules
            {"id": "c", "sql": "   \n "},
            {"id": "d", "sql": "SELECT count(*) FROM concert"},
        ],
    )
    rep, det = tmp_path / "r.json", tmp_path / "d.jsonl"
    res = _run(
        [
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--report",
            str(rep),
            "--details",
            str(det),
        ]
    )
    assert res.exit_code == 0, res.output
    assert "Warning: 2 empty prediction(s)" in res.output and "1 of them count as correct" in res.output
    report = json.loads(rep.read_text())
    jsonschema.validate(report, json.loads((SCHEMAS / "eval_report.schema.json").read_text()))
    assert report["counts"]["empty_predictions"] == 2
    assert report["scores"]["ex"]["by_hardness"]["all"]["correct"] == 3  # the official verdict is kept
    items = {json.loads(x)["id"]: json.loads(x) for x in det.read_text().splitlines()}
    item_schema = json.loads((SCHEMAS / "eval_item.schema.json").read_text())
    for it in items.values():
        jsonschema.validate(it, item_schema)
    assert items["b"]["ex"] == {"correct": True, "status": "match", "pred_status": "empty", "gold_status": "ok"}
    assert items["c"]["ex"]["pred_status"] == "empty" and items["c"]["ex"]["correct"] is False
    assert items["a"]["ex"]["pred_status"] == "ok"


def test_only_predicted_scores_the_predicted_ids_and_says_so(tmp_path: Path, gold: Path, spider_root: Path) -> None:
    pred = _jsonl(
        tmp_path / "pred.jsonl", [{"id": "a", "sql": "SELECT count(*) FROM singer"}, {"id": "d", "sql": "SELECT 0"}]
    )
    args = ["--gold", str(gold), "--pred", str(pred), "--db-root", str(spider_root / "database")]
    res = _run(args)
    assert res.exit_code == 1 and "no prediction for 2 gold id(s)" in res.output  # the default stays strict
    rep = tmp_path / "r.json"
    res = _run([*args, "--only-predicted", "--report", str(rep)])
    assert res.exit_code == 0, res.output
    assert "scored 2 of 4 gold items (--only-predicted" in res.output
    assert "2 of the 4 in" in res.output  # the warning line
    report = json.loads(rep.read_text())
    assert report["inputs"]["only_predicted"] is True
    assert report["counts"]["items"] == 2 and report["counts"]["gold_items"] == 4
    assert report["scores"]["ex"]["by_hardness"]["all"] == {"count": 2, "correct": 1, "score": 0.5}
    # an id the gold does not have is still an error
    _jsonl(pred, [{"id": "zz", "sql": "SELECT 1"}])
    res = _run([*args, "--only-predicted"])
    assert res.exit_code == 1 and "not in the gold" in res.output
    # plain-text predictions carry no ids
    txt = tmp_path / "pred.sql"
    txt.write_text("SELECT 1\n")
    res = _run(
        ["--gold", str(gold), "--pred", str(txt), "--db-root", str(spider_root / "database"), "--only-predicted"]
    )
    assert res.exit_code == 1 and "needs JSONL predictions" in res.output


def test_table_uses_one_labelled_percent_scale(tmp_path: Path, gold: Path, spider_root: Path) -> None:
    pred = _jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "a", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "sql": "SELECT name FROM singer WHERE age > 1000"},
            {"id": "c", "sql": "SELECT name FROM singer ORDER BY age DESC"},
            {"id": "d", "sql": "SELECT 1"},
        ],
    )
    res = _run(
        [
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--metric",
            "ex,ves",
            "--ves-repeats",
            "2",
        ]
    )
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line.split()[2:] for line in res.output.splitlines() if "(%)" in line}
    assert set(rows) == {"execution", "ves", "r-ves"}
    assert rows["execution"][-1] == "75.0"  # 3 of 4, in percent (was 0.750)
    assert float(rows["ves"][-1]) > 10  # VES is on the same 0..100+ scale


def test_empty_suite_dir_is_an_error(tmp_path: Path, gold: Path, spider_root: Path) -> None:
    pred = _jsonl(tmp_path / "pred.jsonl", [{"id": k, "sql": "SELECT 1"} for k in "abcd"])
    (tmp_path / "suites").mkdir()
    res = _run(
        [
            "--gold",
            str(gold),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--metric",
            "ts",
            "--suite-dir",
            str(tmp_path / "suites"),
        ]
    )
    assert res.exit_code == 1
    assert "no test-suite databases for any of the 1 database(s)" in res.output
    assert f"{tmp_path / 'suites'}/<db_id>/*.sqlite for {DB}" in res.output


DEMO = Path(__file__).resolve().parents[2] / "src" / "synth" / "demo"


def _demo_items(tmp_path: Path, db_ids: list[str]) -> tuple[Path, Path]:
    recs = [{"id": str(i), "db_id": d, "sql": "SELECT 1"} for i, d in enumerate(db_ids)]
    return _jsonl(tmp_path / "gold.jsonl", recs), _jsonl(tmp_path / "pred.jsonl", recs)


def test_db_root_without_any_item_database_is_an_error_naming_the_layout(tmp_path: Path) -> None:
    """Issue 23.5: `--db-root spider` instead of `spider/database` judged 0 items and exited 0."""
    gold, pred = _demo_items(tmp_path, ["clinic", "school_library"])
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", str(DEMO)])
    assert res.exit_code == 1, res.output
    msg = res.output.strip().splitlines()[-1]
    assert msg.startswith("Error: --db-root") and "<db-root>/<db_id>/<db_id>.sqlite" in msg
    assert str(DEMO / "clinic" / "clinic.sqlite") in msg and f"did you mean --db-root {DEMO / 'database'}?" in msg


def test_db_root_missing_some_databases_stays_a_warning(tmp_path: Path) -> None:
    gold, pred = _demo_items(tmp_path, ["clinic", "no_such_db"])
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", str(DEMO / "database")])
    assert res.exit_code == 0, res.output
    assert "Warning:" in res.output and "no_such_db" in res.output


def test_truncated_prediction_line_reports_pythons_message_with_column(tmp_path: Path) -> None:
    """Issue 23.9: a line cut inside a string said `invalid JSON (Invalid control character at)`:
    the line break was parsed as part of the string."""
    gold, _ = _demo_items(tmp_path, ["clinic", "clinic"])
    pred = tmp_path / "pred.jsonl"
    pred.write_text('{"id": "0", "sql": "SELECT 1"}\n{"id": "1", "sql": "SELE\n')
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", str(DEMO / "database")])
    assert res.exit_code == 1
    assert res.output == f"Error: {pred}:2: invalid JSON (Unterminated string starting at: column 20)\n"
