"""BIRD's own folder layout: dev_tables.json, dev_databases/, database_description CSVs, evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import synth.cli_prompt  # noqa: F401  (registers the commands on `main`)
from evaluation.errors import DataNotFoundError
from synth.cli import main
from synth.sources import resolve_benchmark

# singer.csv as BIRD ships it: a latin-1 byte (0xE7), a padded column name, a multi-line value description.
SINGER_CSV = (
    b"original_column_name,column_name,column_description,data_format,value_description\r\n"
    b"Country ,country,Country of citizenship (e.g. Fran\xe7a),text,\r\n"
    b'Is_male,is male,whether the singer is male,text,"T: male\r\nF: female"\r\n'
    b"Age,age,,integer,\r\n"
)


def _spider_entry(spider_root: Path, db_id: str) -> dict:
    tables = json.loads((spider_root / "tables.json").read_text(encoding="utf-8"))
    return next(e for e in tables if e["db_id"] == db_id)


@pytest.fixture
def bird(tmp_path, spider_root) -> Path:
    """``<tmp>/bird``: dev split with concert_singer (+ a listed-but-absent db), train split with pets_1."""
    root = tmp_path / "bird"
    for split, db_id in (("dev", "concert_singer"), ("train", "pets_1")):
        d = root / f"{split}_databases" / db_id
        d.mkdir(parents=True)
        shutil.copy(spider_root / "database" / db_id / f"{db_id}.sqlite", d)
        entries = [_spider_entry(spider_root, db_id)]
        if split == "dev":
            entries.append(dict(entries[0], db_id="ghost_db"))
        (root / f"{split}_tables.json").write_text(json.dumps(entries), encoding="utf-8")
    desc = root / "dev_databases" / "concert_singer" / "database_description"
    desc.mkdir()
    (desc / "singer.csv").write_bytes(SINGER_CSV)
    dev = [
        {
            "question_id": 0,
            "db_id": "concert_singer",
            "question": "How many male singers are there?",
            "evidence": "male refers to Is_male = 'T'",
            "SQL": "SELECT count(*) FROM singer WHERE Is_male = 'T'",
            "difficulty": "simple",
        },
        {
            "question_id": 1,
            "db_id": "concert_singer",
            "question": "How many singers are from France?",
            "evidence": "",
            "SQL": "SELECT count(*) FROM singer WHERE Country = 'France'",
            "difficulty": "simple",
        },
    ]
    (root / "dev.json").write_text(json.dumps(dev), encoding="utf-8")
    train = [
        {
            "question_id": 0,
            "db_id": "pets_1",
            "question": "How many pets?",
            "evidence": "",
            "SQL": "SELECT count(*) FROM Pets",
            "difficulty": "simple",
        }
    ]
    (root / "train.json").write_text(json.dumps(train), encoding="utf-8")
    return root


def test_bird_folder_resolves_merging_both_splits(bird):
    bench = resolve_benchmark(str(bird))
    assert bench.tables_paths == (bird / "dev_tables.json", bird / "train_tables.json")
    assert bench.database_dirs == (bird / "dev_databases", bird / "train_databases")
    assert bench.db_ids == ["concert_singer", "ghost_db", "pets_1"]
    assert bench.available_db_ids == ["concert_singer", "pets_1"]
    assert bench.db_path("pets_1") == bird / "train_databases" / "pets_1" / "pets_1.sqlite"
    assert bench.relative_db_path("concert_singer") == "bird/dev_databases/concert_singer/concert_singer.sqlite"
    with pytest.raises(DataNotFoundError, match=r"dev_tables\.json.*dev_databases/ghost_db/ghost_db\.sqlite"):
        bench.db_path("ghost_db")
    train = bench.train_examples()
    assert bench.train_path == bird / "train.json"
    assert [(t["db_id"], t["query"]) for t in train] == [("pets_1", "SELECT count(*) FROM Pets")]


def test_description_csv_becomes_column_comments(bird):
    schema = resolve_benchmark(str(bird)).schema("concert_singer")
    assert schema.column("singer", "Country").comment == "Country of citizenship (e.g. Fran\u00e7a)"
    assert schema.column("singer", "Is_male").comment == "whether the singer is male (T: male F: female)"
    assert schema.column("singer", "Age").comment is None  # no description in the CSV
    assert schema.column("stadium", "Name").comment is None  # no CSV for the table
    assert all(c.comment is None for c in resolve_benchmark(str(bird)).schema("pets_1").columns)


def test_bird_without_tables_json_reads_sqlite_and_comments(bird):
    for name in ("dev_tables.json", "train_tables.json"):
        (bird / name).unlink()
    bench = resolve_benchmark(str(bird))
    assert bench.db_ids == ["concert_singer", "pets_1"]
    assert bench.schema("concert_singer").column("singer", "country").comment.startswith("Country of citizenship")


def test_empty_folder_error_mentions_both_layouts(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match=r"neither tables\.json nor a database/ folder.*dev_tables\.json"):
        resolve_benchmark(str(tmp_path / "empty"))


def test_build_prompts_on_bird_folder_carries_evidence_and_comments(bird, tmp_path):
    out = tmp_path / "prompts.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "build-prompts",
            "--db",
            str(bird),
            "--data",
            "dev.json",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--full-schema",
        ],
    )
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [rec["id"] for rec in records] == ["0", "1"]
    first, second = records
    assert first["evidence"] == "male refers to Is_male = 'T'"
    assert "male refers to Is_male = 'T'" in first["prompt"]
    assert "evidence" not in second  # empty evidence means none
    assert first["sql"] == "SELECT count(*) FROM singer WHERE Is_male = 'T'"
    assert first["db_path"] == "bird/dev_databases/concert_singer/concert_singer.sqlite"
    for rec in records:
        assert "comment: Country of citizenship (e.g. Fran\u00e7a)" in rec["prompt"]
        assert "comment: whether the singer is male (T: male F: female)" in rec["prompt"]
