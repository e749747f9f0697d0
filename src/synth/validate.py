"""``synth validate``: check output files against the JSON Schemas in ``data_schemas/``.

Every problem names the file, the 1-based line (JSONL) and the field, e.g.
``out/train.jsonl:17: field 'sql': '' is too short``. For a folder written by ``synth generate``
it also checks what one line cannot show: ids are unique across ``train.jsonl`` and ``val.jsonl``,
the files match the hashes and row counts recorded in ``manifest.json``, and (when the prompt
format module is installed) ``prompt == text2sql_input(schema_prompt, question)``.

Which schema a file gets: ``train.jsonl`` / ``val.jsonl`` -> ``example``, ``manifest.json`` ->
``manifest`` (``data_manifest`` when its ``format`` is ``spft-sql/data-manifest/1``, else ``train_manifest``
when its ``command`` is a ``train`` command), ``rounds.jsonl`` ->
``selfplay_log``, ``pairs.jsonl`` -> ``preference_pair``, otherwise ``<stem>.schema.json`` or ``<stem without trailing s>.schema.json`` when it
exists (``templates.jsonl`` -> ``template``, ``predictions.jsonl`` -> ``prediction``), else the
file is listed as unchecked. ``--schema NAME`` forces one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from evaluation.fileio import invalid_json
from synth import emit

#: The JSON Schemas: ``synth/data_schemas`` is a symlink to the repository's ``data_schemas/`` in a
#: source checkout (editable install) and a real folder of copies in an installed wheel.
SCHEMA_DIR = Path(__file__).parent / "data_schemas"

_BY_NAME = {
    "train.jsonl": "example",
    "val.jsonl": "example",
    "manifest.json": "manifest",
    "rounds.jsonl": "selfplay_log",
    "pairs.jsonl": "preference_pair",
    # the README Quickstart's own outputs
    "dev_prompts.jsonl": "prompt_record",
    "preds.jsonl": "prediction",
    "report.json": "eval_report",
    "items.jsonl": "eval_item",
}
#: ``manifest.json`` by its ``format``: a data folder's manifest (``train.manifest.DATA_FORMAT``).
_BY_FORMAT = {"spft-sql/data-manifest/1": "data_manifest"}


@dataclass(frozen=True)
class Problem:
    """One validation failure, located as precisely as we can."""

    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        fld = f" field '{self.field}':" if self.field else ""
        return f"{where}:{fld} {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """Files checked (name -> records), files skipped (no schema), and the problems found."""

    checked: dict[str, int] = field(default_factory=dict)
    unchecked: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def available_schemas(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Names of the schemas in ``data_schemas/`` (``example`` for ``example.schema.json``)."""
    return sorted(p.name[: -len(".schema.json")] for p in schema_dir.glob("*.schema.json"))


@lru_cache(maxsize=None)
def _validator(name: str, schema_dir: Path = SCHEMA_DIR):
    from jsonschema import Draft202012Validator

    path = schema_dir / f"{name}.schema.json"
    if not path.is_file():
        if not schema_dir.is_dir():
            raise DataNotFoundError(f"schema folder not found: {schema_dir}")
        raise UnknownNameError("schema", name, available_schemas(schema_dir))
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_for(path: Path, schema_dir: Path = SCHEMA_DIR) -> str | None:
    """The schema name a file is checked against, or ``None`` when there is none."""
    if path.name == "manifest.json" and (schema_dir / "train_manifest.schema.json").is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            command, fmt = doc.get("command", ""), doc.get("format")
        except (OSError, ValueError, AttributeError):
            command, fmt = "", None
        if isinstance(fmt, str) and fmt in _BY_FORMAT and (schema_dir / f"{_BY_FORMAT[fmt]}.schema.json").is_file():
            return _BY_FORMAT[fmt]
        if isinstance(command, str) and command.startswith("train"):
            return "train_manifest"
    if path.name in _BY_NAME and (schema_dir / f"{_BY_NAME[path.name]}.schema.json").is_file():
        return _BY_NAME[path.name]
    stem = path.name.split(".")[0]
    for cand in (stem, stem[:-1] if stem.endswith("s") else None):
        if cand and (schema_dir / f"{cand}.schema.json").is_file():
            return cand
    return None


def _instance_problems(validator, obj: object, path: str, line: int | None) -> Iterator[Problem]:
    for err in sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        parts = [str(p) for p in err.absolute_path]
        if err.validator in ("required", "dependentRequired") and isinstance(err.instance, dict):
            wanted = err.validator_value
            if isinstance(wanted, dict):  # dependentRequired: {"a": ["b"]}
                wanted = [x for deps in wanted.values() for x in deps]
            missing = [w for w in wanted if w not in err.instance]
            if missing and len(err.message) < 200:
                parts = parts + [missing[0]]
        yield Problem(path, line, ".".join(parts) or None, _short(err.message))


def _short(msg: str, limit: int = 200) -> str:
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def validate_file(path: str | Path, schema: str | None = None, *, max_problems: int = 50) -> tuple[int, list[Problem]]:
    """Check one JSONL (one object per line) or JSON file; returns (records checked, problems)."""
    path = Path(path)
    name = schema or schema_for(path)
    if name is None:
        raise InputError(
            f"no schema is chosen by this file name; pass --schema, one of: {', '.join(available_schemas())}",
            path=path,
        )
    validator = _validator(name)
    shown = str(path)
    problems: list[Problem] = []
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    if path.suffix == ".jsonl":
        rows = 0
        with open(path, encoding="utf-8", errors="replace") as f:
            for ln, line in enumerate(f, start=1):
                if not line.strip():
                    problems.append(Problem(shown, ln, None, "blank line"))
                    continue
                rows += 1
                try:
                    obj = json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as e:
                    problems.append(Problem(shown, ln, None, invalid_json(e)))
                    continue
                problems.extend(_instance_problems(validator, obj, shown, ln))
                if len(problems) >= max_problems:
                    break
        return rows, problems
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return 0, [Problem(shown, getattr(e, "lineno", None), None, f"invalid JSON ({e})")]
    return 1, list(_instance_problems(validator, obj, shown, None))


def validate_path(path: str | Path, schema: str | None = None, *, max_problems: int = 50) -> ValidationReport:
    """Validate a file, or every ``*.jsonl`` / ``*.json`` file in a folder plus the cross-file checks."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        rows, problems = validate_file(path, schema, max_problems=max_problems)
        return ValidationReport({path.name: rows}, (), tuple(problems[:max_problems]), len(problems) > max_problems)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".jsonl", ".json"))
    if not files:
        raise DataNotFoundError(f"{path}: no .jsonl or .json files to validate")
    checked: dict[str, int] = {}
    unchecked: list[str] = []
    problems: list[Problem] = []
    for f in files:
        name = schema or schema_for(f)
        if name is None:
            unchecked.append(f.name)
            continue
        rows, found = validate_file(f, name, max_problems=max_problems)
        checked[f.name] = rows
        problems.extend(found)
    if not problems:
        problems.extend(_cross_checks(path))
    return ValidationReport(checked, tuple(unchecked), tuple(problems[:max_problems]), len(problems) > max_problems)


def _cross_checks(out_dir: Path) -> list[Problem]:
    """Checks across files of a ``synth generate`` folder (run only when every line is valid)."""
    problems: list[Problem] = []
    manifest_path = out_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for name, info in sorted((manifest.get("outputs") or {}).items()):
            f = out_dir / name
            if not f.is_file():
                problems.append(Problem(str(manifest_path), None, f"outputs.{name}", f"{f} is missing"))
                continue
            data = f.read_bytes()
            if emit.sha256_bytes(data) != info.get("sha256"):
                rows = data.count(b"\n")
                problems.append(
                    Problem(
                        str(f),
                        None,
                        None,
                        f"content differs from manifest.json (sha256; {rows} rows now, {info.get('rows')} recorded)",
                    )
                )
    seen: dict[str, str] = {}
    text2sql_input = _text2sql_input()
    for name in ("train.jsonl", "val.jsonl"):
        f = out_dir / name
        if not f.is_file():
            continue
        with open(f, encoding="utf-8") as fh:
            for ln, line in enumerate(fh, start=1):
                rec = json.loads(line)
                where = f"{name}:{ln}"
                if rec["id"] in seen:
                    problems.append(
                        Problem(str(f), ln, "id", f"duplicate id '{rec['id']}' (first at {seen[rec['id']]})")
                    )
                else:
                    seen[rec["id"]] = where
                if text2sql_input and "prompt" in rec and "schema_prompt" in rec:
                    if rec["prompt"] != text2sql_input(rec["schema_prompt"], rec["question"]):
                        problems.append(Problem(str(f), ln, "prompt", "is not text2sql_input(schema_prompt, question)"))
    return problems


def _text2sql_input():
    try:
        from synth.prompt.format import text2sql_input
    except ImportError:
        return None
    return text2sql_input
