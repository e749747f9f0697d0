"""The on-disk template-extraction cache: keyed by everything extraction reads, never changes a result."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from synth.generation import GenerateConfig, NotEnoughExamplesError, generate
from synth.templates import cache as tc
from synth.templates import extract_templates


@pytest.fixture(scope="module")
def demo_inputs(demo):
    return demo.train_examples(), demo.schemas


def test_key_is_stable_and_changes_with_every_input(demo_inputs, monkeypatch):
    examples, schemas = demo_inputs
    key = tc.cache_key(examples, schemas)
    assert key == tc.cache_key([dict(e) for e in examples], dict(schemas))
    assert len(key) == 64

    edited = [dict(e) for e in examples]
    edited[3]["query"] = edited[3]["query"] + " "
    assert tc.cache_key(edited, schemas) != key, "training SQL text"
    assert tc.cache_key(examples[:-1], schemas) != key, "one query fewer"

    db_id = examples[0]["db_id"]
    s = schemas[db_id]
    t0 = s.tables[0]
    col = dataclasses.replace(t0.columns[0], type="others" if t0.columns[0].type != "others" else "text")
    retyped = dataclasses.replace(s, tables=(dataclasses.replace(t0, columns=(col, *t0.columns[1:])), *s.tables[1:]))
    assert tc.cache_key(examples, dict(schemas, **{db_id: retyped})) != key, "a column type"
    assert tc.cache_key(examples, dict(schemas, **{db_id: dataclasses.replace(s, foreign_keys=())})) != key, "FKs"
    # where the database file lies does not change templates
    moved = dataclasses.replace(s, db_path=Path("/elsewhere/x.sqlite"))
    assert tc.cache_key(examples, dict(schemas, **{db_id: moved})) == key

    monkeypatch.setattr(tc, "code_version", lambda: "000000000000")
    assert tc.cache_key(examples, schemas) != key, "template code version"


def test_code_version_follows_the_template_code_and_sqlglot(monkeypatch):
    import sqlglot

    v = tc.code_version()
    assert len(v) == 12 and int(v, 16) >= 0
    tc.code_version.cache_clear()
    assert tc.code_version() == v
    monkeypatch.setattr(sqlglot, "__version__", "0.0.0-test")
    tc.code_version.cache_clear()
    try:
        assert tc.code_version() != v
    finally:
        monkeypatch.undo()
        tc.code_version.cache_clear()
    assert tc.code_version() == v


def test_save_then_load_round_trips_and_bad_entries_are_ignored(demo_inputs, tmp_path: Path):
    examples, schemas = demo_inputs
    report = extract_templates(examples, schemas)
    key = tc.cache_key(examples, schemas)
    assert tc.load_report(tmp_path, key) is None
    assert tc.load_report(None, key) is None
    path = tc.save_report(tmp_path, key, report)
    assert path == tc.entry_path(tmp_path, key) and path.is_file()
    assert tc.load_report(tmp_path, key) == report

    other = "f" * 64
    tc.entry_path(tmp_path, other).write_text(path.read_text())  # right file name, wrong key inside
    assert tc.load_report(tmp_path, other) is None
    path.write_text('{"format": ')  # truncated
    assert tc.load_report(tmp_path, key) is None
    path.write_text(json.dumps({"format": tc.CACHE_FORMAT, "key": key, "templates": [{"id": 1}]}))
    assert tc.load_report(tmp_path, key) is None


def test_generate_hits_the_cache_with_identical_output(tmp_path: Path):
    config = GenerateConfig(db="demo", n=40, val_size=5, prompts=False, cache_dir=tmp_path / "cache")
    first = generate(config)
    second = generate(config)
    off = generate(dataclasses.replace(config, cache_dir=None))
    assert [first.manifest["cache"]["templates"], second.manifest["cache"]["templates"]] == ["miss", "hit"]
    assert off.manifest["cache"] == {
        "dir": None,
        "templates": "off",
        "templates_key": first.manifest["cache"]["templates_key"],
    }
    a, b, c = first.files(), second.files(), off.files()
    for name in ("train.jsonl", "val.jsonl", "templates.jsonl"):
        assert a[name] == b[name] == c[name], name
    run_facts = ("timings", "cache")
    strip = lambda f: {k: v for k, v in json.loads(f["manifest.json"]).items() if k not in run_facts}  # noqa: E731
    assert strip(a) == strip(b) == strip(c)
    assert first.manifest["versions"]["templates_code"] == tc.code_version()
    assert len(list((tmp_path / "cache" / "templates").iterdir())) == 1


def test_changed_training_sql_misses_the_cache(tmp_path: Path, demo):
    bench = tmp_path / "bench"
    (bench / "database").mkdir(parents=True)
    for d in ("clinic", "school_library", "city_transit"):
        (bench / "database" / d).symlink_to(demo.root / "database" / d)
    (bench / "tables.json").write_bytes((demo.root / "tables.json").read_bytes())
    train = json.loads((demo.root / "train.json").read_text())
    (bench / "train.json").write_text(json.dumps(train))
    config = GenerateConfig(db=str(bench), n=20, val_size=2, prompts=False, cache_dir=tmp_path / "cache")
    assert generate(config).manifest["cache"]["templates"] == "miss"
    assert generate(config).manifest["cache"]["templates"] == "hit"
    (bench / "train.json").write_text(json.dumps(train[:-3]))
    result = generate(config)
    assert result.manifest["cache"]["templates"] == "miss"
    assert result.manifest["counts"]["training_sql_total"] == len(train) - 3


def test_a_failed_run_writes_no_cache(tmp_path: Path):
    cache = tmp_path / "cache"
    with pytest.raises(NotEnoughExamplesError):
        generate(GenerateConfig(db="demo", n=300, prompts=False, cache_dir=cache, max_attempts_factor=1))
    assert not cache.exists()
