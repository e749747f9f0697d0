"""The generate pipeline as a library: verified SQL, schemas, determinism, splits, atomic writing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from evaluation.executor import execute
from synth import emit
from synth.generation import (
    CHECK_EVERY,
    WINDOW_CHECKS,
    GenerateConfig,
    NotEnoughExamplesError,
    generate,
    normalize_sql,
    out_of_reach,
    split_val,
    write_outputs,
)

REPO = Path(__file__).resolve().parents[2]
SPIDER_DBS = ("concert_singer", "pets_1", "world_1", "car_1")


def _schema(name: str) -> Draft202012Validator:
    schema = json.loads((REPO / "data_schemas" / f"{name}.schema.json").read_text())
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def small_spider(tmp_path_factory, spider_root: Path) -> Path:
    """A Spider-layout folder in tmp: Spider's tables.json, 4 real (dev) databases symlinked, and
    the first 1200 training queries.

    Extracting templates from all 7000 queries takes ~10 s; a slice keeps these tests fast while
    still using real Spider SQL and databases. The other databases have no SQLite file here, so
    they are skipped and reported as missing.
    """
    root = tmp_path_factory.mktemp("data") / "spider_small"
    (root / "database").mkdir(parents=True)
    (root / "tables.json").write_bytes((spider_root / "tables.json").read_bytes())
    train = json.loads((spider_root / "train_spider.json").read_text())
    (root / "train_spider.json").write_text(json.dumps(train[:1200]))
    for d in SPIDER_DBS:
        (root / "database" / d).symlink_to(spider_root / "database" / d, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def spider_run(small_spider: Path, tmp_path_factory):
    config = GenerateConfig(db=str(small_spider), n=60, seed=0, val_size=10, timeout_s=5.0)
    result = generate(config)
    out = tmp_path_factory.mktemp("out")
    write_outputs(result, out)
    return config, result, out


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_every_emitted_sql_executes_with_a_non_empty_result(spider_run, small_spider):
    config, result, out = spider_run
    data_root = Path(result.manifest["inputs"]["data_root"])
    records = _lines(out / "train.jsonl") + _lines(out / "val.jsonl")
    assert len(records) == 60
    for rec in records:
        res = execute(data_root / rec["db_path"], rec["sql"])
        assert res.ok, (rec["sql"], res.message)
        assert any(any(v is not None for v in row) for row in res.rows), rec["sql"]
        assert rec["db_id"] in SPIDER_DBS


def test_records_follow_the_contract_and_validate(spider_run):
    from synth.prompt.format import text2sql_input

    _, result, out = spider_run
    validator = _schema("example")
    train, val = _lines(out / "train.jsonl"), _lines(out / "val.jsonl")
    assert (len(train), len(val)) == (50, 10)
    keys = [
        "id",
        "db_id",
        "question",
        "sql",
        "prompt",
        "schema_prompt",
        "template_id",
        "tables",
        "db_path",
        "source",
        "question_writer",
    ]
    template_ids = {t["id"] for t in _lines(out / "templates.jsonl")}
    for rec in train + val:
        assert list(rec) == keys
        assert not list(validator.iter_errors(rec))
        assert rec["prompt"] == text2sql_input(rec["schema_prompt"], rec["question"])
        assert rec["source"] == "synthetic" and rec["question_writer"] == "rule-based"
        assert rec["template_id"] in template_ids
        assert rec["tables"] and rec["question"].strip()
    ids = [r["id"] for r in train + val]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == [f"syn-{i:06d}" for i in range(1, 61)]


def test_no_duplicate_sql_per_database(spider_run):
    _, result, _ = spider_run
    keys = [(r["db_id"], normalize_sql(r["sql"])) for r in result.train + result.val]
    assert len(set(keys)) == len(keys)


def test_manifest_counts_add_up_and_validate(spider_run):
    config, result, out = spider_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert not [e.message for e in _schema("manifest").iter_errors(manifest)]
    c = manifest["counts"]
    assert c["attempts"] == c["accepted"] + sum(c["rejections"].values())
    assert c["accepted"] == 60 and c["train"] == 50 and c["val"] == 10
    assert 0 < c["templates_used"] <= c["templates_total"]
    assert c["template_coverage"] == pytest.approx(c["templates_used"] / c["templates_total"], abs=1e-5)
    assert manifest["inputs"]["tables_json"]["sha256"] == emit.sha256_file(Path(config.db) / "tables.json")
    assert Path(manifest["inputs"]["data_root"]).is_absolute()
    assert set(manifest["versions"]) >= {"spft-sql", "sqlglot", "polars", "python"}
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert manifest["outputs"][name]["sha256"] == emit.sha256_file(out / name)
    assert manifest["outputs"]["templates.jsonl"]["rows"] == c["templates_total"]
    assert manifest["inputs"]["db_ids"] == sorted(SPIDER_DBS)
    assert len(manifest["inputs"]["missing_db_ids"]) == 166 - len(SPIDER_DBS)


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(small_spider, spider_run, tmp_path):
    config, first, out = spider_run
    again = generate(config)
    files_a, files_b = first.files(), again.files()
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert files_a[name] == files_b[name], name
    strip = lambda m: {k: v for k, v in m.items() if k != "timings"}  # noqa: E731
    assert strip(json.loads(files_a["manifest.json"])) == strip(json.loads(files_b["manifest.json"]))
    other = generate(GenerateConfig(db=str(small_spider), n=60, seed=1, val_size=10, timeout_s=5.0))
    assert other.files()["train.jsonl"] != files_a["train.jsonl"]


def test_workers_do_not_change_the_output(small_spider, spider_run):
    config, first, _ = spider_run
    from dataclasses import replace

    parallel = generate(replace(config, workers=2))
    assert parallel.files()["train.jsonl"] == first.files()["train.jsonl"]
    assert parallel.manifest["counts"] == first.manifest["counts"]


def test_counts_do_not_depend_on_workers_when_failing_queries_repeat(tmp_path, demo):
    # `WHERE title IS NULL` (a NOT NULL column): the same empty query comes up again and again. The
    # first is `empty_result`, its copies `duplicate` -- also when workers execute them all.
    bench = tmp_path / "b"
    (bench / "database").mkdir(parents=True)
    (bench / "database" / "school_library").symlink_to(demo.root / "database" / "school_library")
    tables = json.loads((demo.root / "tables.json").read_text())
    (bench / "tables.json").write_text(json.dumps([t for t in tables if t["db_id"] == "school_library"]))
    train = [{"db_id": "school_library", "query": "SELECT title FROM books WHERE title IS NULL"}] * 5
    train += [{"db_id": "school_library", "query": "SELECT title FROM books WHERE pages > 100"}]
    (bench / "train.json").write_text(json.dumps(train))
    config = GenerateConfig(db=str(bench), n=15, val_size=0, prompts=False)
    serial, parallel = generate(config), generate(replace(config, workers=2))
    rejections = serial.manifest["counts"]["rejections"]
    assert rejections["duplicate"] > 0 and rejections["empty_result"] > 0
    assert parallel.manifest["counts"] == serial.manifest["counts"]
    assert parallel.files()["train.jsonl"] == serial.files()["train.jsonl"]


def test_not_enough_examples_raises_and_writes_nothing(tmp_path, demo):
    # one template that can only ever produce a handful of distinct queries
    bench = tmp_path / "tiny"
    (bench / "database").mkdir(parents=True)
    (bench / "database" / "school_library").symlink_to(demo.root / "database" / "school_library")
    tables = json.loads((demo.root / "tables.json").read_text())
    (bench / "tables.json").write_text(json.dumps([t for t in tables if t["db_id"] == "school_library"]))
    (bench / "train.json").write_text(json.dumps([{"db_id": "school_library", "query": "SELECT count(*) FROM books"}]))
    out = tmp_path / "out"
    with pytest.raises(NotEnoughExamplesError, match=r"only \d+ of --n 50 .*duplicate"):
        result = generate(GenerateConfig(db=str(bench), n=50, max_attempts_factor=4))
        write_outputs(result, out)
    assert not out.exists()


def test_out_of_reach_projects_the_recent_rate_generously():
    window = WINDOW_CHECKS * CHECK_EVERY
    flat = [100] * (WINDOW_CHECKS + 1)  # nothing new in the last window
    assert out_of_reach(flat[:-1], 10_000, window, 10**6) == ""  # window not full yet: go on
    # 0 new in the window -> optimistic rate 2/window; 100 + 2/2048 * ~1e6 ~ 1076 < 10 000
    msg = out_of_reach(flat, 10_000, (WINDOW_CHECKS + 1) * CHECK_EVERY, 10**6)
    assert "gave 0 new examples" in msg and "9900 short" in msg
    assert out_of_reach(flat, 1_000, (WINDOW_CHECKS + 1) * CHECK_EVERY, 10**6) == ""  # 1000 < 1076: go on
    # a healthy 50% rate reaches n easily
    rising = [i * CHECK_EVERY // 2 for i in range(WINDOW_CHECKS + 1)]
    assert out_of_reach(rising, 5_000, window, 20_000) == ""
    # ... but not when the budget is nearly spent: 1024 + (1024 + 64 + 2)/2048 * 1000 ~ 1556 < 3000
    assert "1976 short" in out_of_reach(rising, 3_000, window, window + 1000)


def test_n_far_beyond_the_templates_stops_early(tmp_path, demo):
    bench = tmp_path / "tiny"
    (bench / "database").mkdir(parents=True)
    (bench / "database" / "school_library").symlink_to(demo.root / "database" / "school_library")
    tables = json.loads((demo.root / "tables.json").read_text())
    (bench / "tables.json").write_text(json.dumps([t for t in tables if t["db_id"] == "school_library"]))
    (bench / "train.json").write_text(json.dumps([{"db_id": "school_library", "query": "SELECT count(*) FROM books"}]))
    # default budget: 5000 x 20 = 100 000 attempts; the projection stops after one window
    with pytest.raises(
        NotEnoughExamplesError, match=r"in 2048 attempts \(stopped early: the last 2048 attempts gave 4 new"
    ):
        generate(GenerateConfig(db=str(bench), n=5000, prompts=False))


def test_progress_bars_go_to_stderr_only_when_asked(capsys):
    config = GenerateConfig(db="demo", n=20, val_size=2)
    generate(config, progress=True)
    err = capsys.readouterr().err
    assert "verified" in err and "templates" in err and "prompts" in err
    generate(config, progress=False)
    generate(config, progress=None)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must be >= 1"),
        ({"n": 10, "val_size": 10}, "val_size"),
        ({"val_size": 5, "val_fraction": 0.1}, "either val_size"),
        ({"val_fraction": 1.5}, "val_fraction"),
        ({"timeout_s": 0}, "timeout"),
        ({"max_attempts_factor": 0.5}, "max_attempts_factor"),
        ({"db_sampling": "weighted"}, "db_sampling"),
        ({"db_ids": ("a", "a")}, "twice"),
    ],
)
def test_config_checks_name_the_parameter(kwargs, match):
    from evaluation.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        GenerateConfig(**kwargs)


def test_default_val_size():
    assert GenerateConfig(n=3000).effective_val_size == 200
    assert GenerateConfig(n=50).effective_val_size == 5
    assert GenerateConfig(n=50, val_fraction=0.2).effective_val_size == 10
    assert GenerateConfig(n=50, val_size=0).effective_val_size == 0


def test_split_val_is_deterministic_and_keeps_order():
    recs = [{"id": i} for i in range(20)]
    train, val = split_val(recs, 5, seed=3)
    assert len(val) == 5 and len(train) == 15
    assert [r["id"] for r in train] == sorted(r["id"] for r in train)
    assert {r["id"] for r in train} | {r["id"] for r in val} == set(range(20))
    assert split_val(recs, 5, seed=3) == (train, val)
    assert split_val(recs, 5, seed=4) != (train, val)


def test_write_all_is_atomic_when_staging_fails(tmp_path, monkeypatch):
    emit.write_all(tmp_path, {"a.jsonl": b"old\n", "manifest.json": b"{}\n"})
    calls = {"n": 0}
    real_stage = emit._stage

    def failing_stage(path, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real_stage(path, data)

    monkeypatch.setattr(emit, "_stage", failing_stage)
    with pytest.raises(emit.OutputWriteError, match="disk full"):
        emit.write_all(tmp_path, {"a.jsonl": b"new\n", "manifest.json": b'{"new": 1}\n'})
    assert (tmp_path / "a.jsonl").read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "manifest.json"]  # no temp files left


def test_ndjson_bytes_round_trip_unicode_and_lists():
    recs = [{"id": "a", "question": 'Café "x" / y?', "tables": ["t1", "t2"]}, {"id": "b", "question": "", "tables": []}]
    data = emit.ndjson_bytes(recs)
    assert [json.loads(x) for x in data.decode().splitlines()] == recs
    assert emit.ndjson_bytes([], emit.EXAMPLE_SCHEMA) == b""


def test_normalize_sql_ignores_spacing_and_identifier_case():
    assert normalize_sql("select  Name from SINGER where age>3") == normalize_sql(
        "SELECT name FROM singer WHERE age > 3"
    )
    assert normalize_sql("SELECT name FROM singer WHERE name = 'A'") != normalize_sql(
        "SELECT name FROM singer WHERE name = 'a'"
    )
