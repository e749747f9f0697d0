"""Prompt/answer encoding, padding, SQL extraction, reading records, and the pool registry."""

from __future__ import annotations

import json

import pytest

from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from train.io import read_examples, split_paths
from train.models.decoding import GenerationOptions, extract_sql
from train.models.formatting import IGNORE_INDEX, encode_prompt_answer, model_input, pad_batch, target_text
from train.pool import Pool, PoolEntry, load_pool, save_pool


class CharTok:
    """A tokenizer stand-in: one id per character, eos = 0."""

    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_encode_pair_masks_prompt_and_appends_eos():
    enc = encode_prompt_answer(CharTok(), "abc", "XY", max_length=100)
    assert enc.input_ids == [97, 98, 99, 88, 89, 0]
    assert enc.labels == [IGNORE_INDEX] * 3 + [88, 89, 0]


def test_encode_pair_cuts_prompt_from_the_left_and_keeps_answer():
    enc = encode_prompt_answer(CharTok(), "abcdef", "XY", max_length=5)
    assert enc.input_ids == [101, 102, 88, 89, 0]  # 'e', 'f' kept: the end of the prompt
    assert enc.labels[:2] == [IGNORE_INDEX] * 2


@pytest.mark.parametrize("max_length", [9, 10, 12, 13, 100])
def test_encode_pair_keeps_a_prompt_that_fits_whole(max_length):
    """Regression: a prompt longer than half the room was cut to (room - len) tokens by a negative slice."""
    enc = encode_prompt_answer(CharTok(), "abcdef", "XY", max_length=max_length)
    assert enc.input_ids == [97, 98, 99, 100, 101, 102, 88, 89, 0]


def test_encode_pair_cuts_only_what_does_not_fit():
    enc = encode_prompt_answer(CharTok(), "abcdef", "XY", max_length=7)
    assert enc.input_ids == [99, 100, 101, 102, 88, 89, 0]
    assert encode_prompt_answer(CharTok(), "abcdef", "WXYZ", max_length=3).input_ids == [
        87,
        88,
        89,
    ]  # answer alone too long


def test_pad_batch_right_and_left():
    feats = [
        {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [-100, 2, 3]},
        {"input_ids": [4], "attention_mask": [1], "labels": [4]},
    ]
    right = pad_batch(feats, pad_id=9)
    assert right["input_ids"][1] == [4, 9, 9]
    assert right["attention_mask"][1] == [1, 0, 0]
    assert right["labels"][1] == [4, IGNORE_INDEX, IGNORE_INDEX]
    left = pad_batch(feats, pad_id=9, side="left")
    assert left["input_ids"][1] == [9, 9, 4]


@pytest.mark.parametrize(
    "title, raw, sql",
    [
        ("plain", "SELECT count(*) FROM singer", "SELECT count(*) FROM singer"),
        ("fenced with prose", "Here:\n```sql\nSELECT name\nFROM singer\n```\nDone.", "SELECT name FROM singer"),
        ("unterminated fence", "```sql\nSELECT 1", "SELECT 1"),
        ("second statement dropped", "SELECT a FROM t; DROP TABLE t", "SELECT a FROM t"),
        ("semicolon inside a string kept", "SELECT a FROM t WHERE b = 'x;y';", "SELECT a FROM t WHERE b = 'x;y'"),
        ("SQL: prefix", "SQL: SELECT a FROM t", "SELECT a FROM t"),
        ("empty", "", ""),
    ],
)
def test_extract_sql(title, raw, sql):
    assert extract_sql(raw) == sql, title


def test_model_input_and_target():
    ex = {"id": "1", "prompt": "P", "sql": "SELECT 1", "question": "Q?"}
    assert model_input(ex, "text2sql") == "P"
    assert target_text(ex, "text2sql") == "SELECT 1"
    assert target_text(ex, "sql2text") == "Q?"
    with pytest.raises(UnknownNameError, match="did you mean 'text2sql'"):
        model_input(ex, "text2sq")
    with pytest.raises(InputError, match="prompt"):
        model_input({"id": "1"}, "text2sql")


def test_generation_hash_depends_on_settings_not_batch_size():
    a = GenerationOptions(batch_size=2).settings_hash("m")
    assert a == GenerationOptions(batch_size=16).settings_hash("m")
    assert a != GenerationOptions(max_new_tokens=7).settings_hash("m")
    assert a != GenerationOptions().settings_hash("other")


def test_read_examples_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "db_id": "d", "sql": "SELECT 1"}\n{not json}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        read_examples(bad)
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"id": "a", "db_id": "d"}\n')
    with pytest.raises(InputError, match=r"missing.jsonl:1, field 'sql'"):
        read_examples(missing)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="no examples"):
        read_examples(empty)
    with pytest.raises(DataNotFoundError):
        read_examples(tmp_path / "nope.jsonl")


def test_split_paths_requires_val(tmp_path):
    (tmp_path / "train.jsonl").write_text("{}\n")
    with pytest.raises(DataNotFoundError, match="D_val"):
        split_paths(tmp_path)
    with pytest.raises(DataNotFoundError, match="data folder not found"):
        split_paths(tmp_path / "nothing")


def _entry(i: int, ex: float | None) -> PoolEntry:
    return PoolEntry(f"m{i}", f"/models/{i}", f"/models/{i}", False, "given", ex, "h" if ex is not None else None)


def test_pool_selection_rules():
    pool = Pool((_entry(0, 0.3), _entry(1, 0.6), _entry(2, 0.1), _entry(3, 0.6)))
    main = pool.main()
    assert main.id == "m3"  # tie on EX: the most recently added
    assert pool.opponent(main, set()).id == "m2"  # worst
    assert pool.opponent(main, {"m2"}).id == "m0"  # worst not yet used
    assert pool.opponent(main, {"m0", "m1", "m2"}).id == "m3"  # none left: plays itself
    assert _entry(0, 0.3).scored_on("h") and not _entry(0, 0.3).scored_on("other")


def test_pool_roundtrip_and_errors(tmp_path):
    pool = Pool((_entry(0, 0.5),)).add(_entry(1, None))
    save_pool(tmp_path, pool)
    assert load_pool(tmp_path) == pool
    assert json.loads((tmp_path / "pool.json").read_text())["models"][1]["id"] == "m1"
    (tmp_path / "pool.json").write_text(json.dumps({"models": [{"id": "m0"}]}))
    with pytest.raises(InputError, match="path"):
        load_pool(tmp_path)
    with pytest.raises(DataNotFoundError):
        load_pool(tmp_path / "none")
    with pytest.raises(UnknownNameError):
        pool.get("m9")


def test_sql2text_input_comes_from_the_prompt_builder():
    fmt = pytest.importorskip("synth.prompt.format")
    ex = {"id": "1", "schema_prompt": "table singer: name, age", "sql": "SELECT name FROM singer", "question": "Names?"}
    text = model_input(ex, "sql2text")
    assert text == fmt.sql2text_input(ex["schema_prompt"], ex["sql"])
    assert "SELECT name FROM singer" in text and "Names?" not in text
