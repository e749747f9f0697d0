"""Every file in data_schemas/ is a valid draft 2020-12 JSON Schema with an example that validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data_schemas"
SCHEMAS = sorted(SCHEMA_DIR.glob("*.schema.json"))


def test_schema_folder_lists_every_schema():
    readme = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    assert SCHEMAS, "data_schemas/ holds no *.schema.json"
    missing = [p.name for p in SCHEMAS if p.name not in readme]
    assert not missing, f"data_schemas/README.md does not list: {missing}"
    others = [p.name for p in SCHEMA_DIR.iterdir() if p.name != "README.md" and not p.name.endswith(".schema.json")]
    assert not others, f"unexpected files in data_schemas/: {others}"


@pytest.mark.parametrize("path", SCHEMAS, ids=[p.name for p in SCHEMAS])
def test_schema_is_valid_draft_2020_12_with_valid_examples(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    examples = schema.get("examples") or []
    assert examples, f"{path.name} has no 'examples'"
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for i, ex in enumerate(examples):
        errors = [e.message for e in validator.iter_errors(ex)]
        assert not errors, f"{path.name} example {i}: {errors}"


@pytest.mark.parametrize("path", SCHEMAS, ids=[p.name for p in SCHEMAS])
def test_schema_rejects_an_empty_object_or_a_non_object(path: Path):
    # A schema that accepts anything cannot catch a corrupted file.
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    assert not validator.is_valid(42)
    if schema.get("required"):
        assert not validator.is_valid({})
