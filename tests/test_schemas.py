"""Every file in data_schemas/ is a valid draft 2020-12 JSON Schema with an example that validates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "data_schemas"
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


def test_the_package_reads_the_one_copy_of_the_schemas():
    # src/synth/data_schemas is a symlink to data_schemas/ (one copy in git), so an editable install
    # validates against the same files these tests check.
    from synth.validate import SCHEMA_DIR as package_dir
    from synth.validate import available_schemas

    link = REPO / "src" / "synth" / "data_schemas"
    assert link.is_symlink() and link.resolve() == SCHEMA_DIR.resolve()
    assert package_dir.resolve() == SCHEMA_DIR.resolve()
    assert available_schemas() == sorted(p.name[: -len(".schema.json")] for p in SCHEMAS)


def test_a_built_wheel_ships_every_schema(tmp_path: Path):
    """A non-editable install must be able to run ``synth validate``: the wheel carries the schemas."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} < 77 (pip install -e '.[dev]' brings a newer one)")
    src = tmp_path / "src_copy"  # a copy, so the build leaves nothing in the working tree
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", src / "src", symlinks=True, ignore=ignore)
    shutil.copytree(SCHEMA_DIR, src / "data_schemas")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "whl"),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "whl").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("synth/data_schemas/")}
    assert shipped == {p.name for p in SCHEMAS}
