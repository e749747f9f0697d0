"""The `evaluate` command: formats, pairing, errors that name file/line/id, outputs valid by schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from evaluation.cli import main

SCHEMAS = Path(__file__).resolve().parents[2] / "data_schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def _jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.fixture()
def files(tmp_path: Path):
    gold = _jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "db_id": "concert_singer", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "db_id": "concert_singer", "sql": "SELECT name FROM singer ORDER BY age DESC"},
            {"id": "c", "db_id": "wta_1", "sql": "SELECT count(*) FROM players"},
        ],
    )
    pred = _jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "b", "sql": "SELECT name FROM singer ORDER BY age"},
            {"id": "a", "db_id": "concert_singer", "sql": "SELECT count(*) FROM singer"},
            {"id": "c", "sql": "SELECT count(*) FROM players"},
        ],
    )
    return gold, pred


def _run(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_jsonl_report_details_and_schemas(files, spider_root: Path, tmp_path: Path) -> None:
    gold, pred = files
    rep, det = tmp_path / "out" / "report.json", tmp_path / "out" / "items.jsonl"
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
            "--workers",
            "1",
        ]
    )
    assert res.exit_code == 0, res.output
    assert "EXECUTION ACCURACY" in res.output and "easy" in res.output
    assert "wta_1" in res.output  # the skip is announced (stderr is mixed in by CliRunner)
    report = json.loads(rep.read_text())
    jsonschema.validate(report, _schema("eval_report.schema.json"))
    assert report["counts"]["skipped_missing_db"] == 1 and report["counts"]["missing_db_ids"] == ["wta_1"]
    assert report["scores"]["ex"]["by_hardness"]["all"] == {"count": 2, "correct": 1, "score": 0.5}
    assert report["inputs"]["pairing"] == "by_id" and len(report["inputs"]["gold"]["sha256"]) == 64
    items = [json.loads(x) for x in det.read_text().splitlines()]
    for it in items:
        jsonschema.validate(it, _schema("eval_item.schema.json"))
    assert [it["id"] for it in items] == ["a", "b", "c"]
    assert items[1]["ex"]["status"] == "mismatch" and items[2]["ex"]["status"] == "skipped"
    for line in pred.read_text().splitlines():
        jsonschema.validate(json.loads(line), _schema("prediction.schema.json"))


def test_official_text_formats_pair_by_position(spider_root: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.sql"
    gold.write_text("SELECT count(*) FROM singer\tconcert_singer\nSELECT count(*) FROM pets\tpets_1\n")
    pred = tmp_path / "pred.sql"
    pred.write_text("SELECT count(*) FROM singer\nSELECT count(*) FROM pets WHERE 1 = 0\n")
    rep = tmp_path / "r.json"
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
            "--workers",
            "1",
        ]
    )
    assert res.exit_code == 0, res.output
    assert "paired with the gold by line position" in res.output
    assert json.loads(rep.read_text())["inputs"]["pairing"] == "by_position"
    assert json.loads(rep.read_text())["scores"]["ex"]["by_hardness"]["all"]["correct"] == 1


def test_dev_json_gold_with_position_ids(spider_root: Path, tmp_path: Path) -> None:
    pred_short = _jsonl(tmp_path / "short.jsonl", [{"id": str(i), "sql": "SELECT 1"} for i in range(1030)])
    res = _run(
        ["--gold", str(spider_root / "dev.json"), "--pred", str(pred_short), "--db-root", str(spider_root / "database")]
    )
    assert res.exit_code == 1 and "no prediction for 4 gold id(s): '1030', '1031', '1032', '1033'" in res.output


@pytest.mark.parametrize(
    "pred_lines,needle",
    [
        (['{"id": "a", "sql": "SELECT 1"}', '{"id": "b", "sql": '], "pred.jsonl:2: invalid JSON"),
        (['{"id": "a", "sql": "SELECT 1"}', '{"id": "a", "sql": "SELECT 2"}'], "duplicate id 'a'"),
        (['{"id": "a", "sql": "SELECT 1"}', '{"id": "z", "sql": "SELECT 2"}'], "not in the gold"),
        (['{"id": "a", "sql": 3}'], "field 'sql': 'sql' must be a string"),
        (['{"id": "a", "db_id": "pets_1", "sql": "SELECT 1"}'], "differs from the gold's 'concert_singer'"),
    ],
    ids=["malformed-line", "duplicate", "extra-id", "bad-type", "db-mismatch"],
)
def test_input_errors_name_file_line_and_id(spider_root: Path, tmp_path: Path, pred_lines, needle) -> None:
    gold = _jsonl(tmp_path / "gold.jsonl", [{"id": "a", "db_id": "concert_singer", "sql": "SELECT 1"}])
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(pred_lines) + "\n")
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", str(spider_root / "database")])
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and needle in res.output, res.output


def test_unknown_metric_did_you_mean(files, spider_root: Path) -> None:
    gold, pred = files
    res = _run(["--metric", "ex,tss", "--gold", str(gold), "--pred", str(pred), "--db-root", str(spider_root)])
    assert res.exit_code == 1 and "unknown metric 'tss'; did you mean 'ts'?" in res.output


def test_missing_inputs_are_clear(files, tmp_path: Path, spider_root: Path) -> None:
    gold, pred = files
    res = _run(
        ["--gold", str(gold), "--pred", str(tmp_path / "nope.jsonl"), "--db-root", str(spider_root / "database")]
    )
    assert res.exit_code == 1 and "nope.jsonl: file not found" in res.output
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", str(tmp_path / "nodb")])
    assert res.exit_code == 1 and "--db-root" in res.output
    res = _run(["--metric", "ts", "--gold", str(gold), "--pred", str(pred), "--db-root", str(spider_root / "database")])
    assert res.exit_code == 1 and "--suite-dir" in res.output


def test_help() -> None:
    res = _run(["--help"])
    assert res.exit_code == 0 and "--metric" in res.output and "--suite-dir" in res.output


def test_reads_train_predict_records(spider_root: Path, tmp_path: Path, monkeypatch) -> None:
    """`train predict` writes {id, db_id, sql, raw, gen_hash}; db_id may be null. Schema and reader agree."""
    import train.models.decoding as gen  # the writer itself, driven by a stub generator (no model, no torch)

    class Echo:
        def generate(self, inputs):
            return ["```sql\nSELECT count(*) FROM singer\n```", "SELECT name FROM singer"]

    class Options:
        def settings_hash(self, model_id):
            return "0123456789abcdef"

    examples = [{"id": "a", "db_id": "concert_singer", "prompt": "p"}, {"id": "b", "prompt": "p"}]
    monkeypatch.setattr(gen, "render_inputs", lambda tokenizer, exs, task: ["x"] * len(exs))
    records = gen.predict(Echo(), None, examples, options=Options(), model_id="m")
    assert set(records[0]) == {"id", "db_id", "sql", "raw", "gen_hash", "backend"} and records[1]["db_id"] is None
    for rec in records:
        jsonschema.validate(rec, _schema("prediction.schema.json"))
    pred = _jsonl(tmp_path / "pred.jsonl", records)
    gold = _jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "db_id": "concert_singer", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "db_id": "concert_singer", "sql": "SELECT name FROM singer"},
        ],
    )
    rep = tmp_path / "r.json"
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
            "--workers",
            "1",
        ]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(rep.read_text())["scores"]["ex"]["by_hardness"]["all"]["correct"] == 2
    bad = dict(records[0], raw_output="x", gen_hash=5)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _schema("prediction.schema.json"))


def test_official_dev_gold_sql_with_text_predictions_and_progress(spider_root: Path, tmp_path: Path) -> None:
    """Spider's real dev_gold.sql + a one-per-line pred file; every 7th line gets the previous line's SQL."""
    from tests.evaluation import official_reference as official

    gold_lines = (spider_root / "dev_gold.sql").read_text().splitlines()
    golds = [line.rsplit("\t", 1) for line in gold_lines]
    preds = [g for g, _ in golds]
    expected_wrong = 0
    for i in range(7, len(preds), 7):
        preds[i] = golds[i - 1][0]
        db = spider_root / "database" / golds[i][1] / f"{golds[i][1]}.sqlite"
        if db.is_file() and not official.verdict(db, golds[i][0], preds[i]):
            expected_wrong += 1
    pred = tmp_path / "pred.sql"
    pred.write_text("\n".join(preds) + "\n")
    rep = tmp_path / "report.json"
    res = _run(
        [
            "--gold",
            str(spider_root / "dev_gold.sql"),
            "--pred",
            str(pred),
            "--db-root",
            str(spider_root / "database"),
            "--report",
            str(rep),
            "--workers",
            "2",
        ]
    )
    assert res.exit_code == 0, res.output
    assert "1034/1034" in res.output and "evaluate:" in res.output  # the progress bar ran to the end
    report = json.loads(rep.read_text())
    assert report["inputs"]["pairing"] == "by_position"
    assert report["counts"]["hardness"] == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}
    assert report["counts"]["missing_db_ids"] == ["wta_1"] and report["counts"]["evaluated"] == 972
    assert 40 < expected_wrong < 140
    assert report["scores"]["ex"]["by_hardness"]["all"]["correct"] == 972 - expected_wrong


def test_prediction_may_be_absent_only_where_the_database_is_missing(files, spider_root: Path, tmp_path: Path) -> None:
    """`synth build-prompts` skips questions on missing databases (wta_1): their absence is a counted skip."""
    gold, _ = files
    pred = _jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "a", "sql": "SELECT count(*) FROM singer"},
            {"id": "b", "sql": "SELECT name FROM singer ORDER BY age DESC"},
        ],
    )
    rep = tmp_path / "r.json"
    db_root = str(spider_root / "database")
    res = _run(["--gold", str(gold), "--pred", str(pred), "--db-root", db_root, "--report", str(rep), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "no prediction for 1 gold item(s) whose database is missing (wta_1)" in res.output
    report = json.loads(rep.read_text())
    assert report["counts"]["skipped_missing_db"] == 1 and report["scores"]["ex"]["by_hardness"]["all"]["correct"] == 2
    short = _jsonl(tmp_path / "short.jsonl", [{"id": "b", "sql": "SELECT 1"}, {"id": "c", "sql": "SELECT 1"}])
    res = _run(["--gold", str(gold), "--pred", str(short), "--db-root", db_root])
    assert res.exit_code == 1 and "no prediction for 1 gold id(s): 'a'" in res.output
