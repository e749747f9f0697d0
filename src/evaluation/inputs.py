"""Reading gold and predictions, and pairing them — with errors that name file, line and id.

Gold formats:

* ``*.jsonl`` — one record per line: ``id``, ``db_id``, ``sql`` (or ``query`` / ``SQL``);
* ``*.json`` — a Spider/BIRD list (``dev.json``) with ``query`` (or ``SQL``) and ``db_id``;
  ids are the 0-based positions as strings: ``"0"`` .. ``"1033"`` for Spider dev;
* anything else — the official text format ``SQL<TAB>db_id`` per line (``dev_gold.sql``);
  ids are 0-based line positions among non-empty lines.

Prediction formats:

* ``*.jsonl`` — ``id``, ``sql``, optional ``db_id`` (checked against the gold when not null): paired
  **by id**; other fields (``raw``, ``gen_hash`` from ``train predict``) are ignored;
* anything else — the official text format, one SQL per line (text after a TAB is ignored):
  paired **by position** with the gold; a warning says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError
from evaluation.fileio import invalid_json, iter_jsonl_objects


@dataclass(frozen=True)
class GoldRecord:
    id: str
    db_id: str
    sql: str


@dataclass(frozen=True)
class PredRecord:
    id: str
    sql: str
    db_id: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Item:
    """One item to evaluate: a gold query and the prediction for it, on one database."""

    id: str
    db_id: str
    gold_sql: str
    pred_sql: str


@dataclass(frozen=True)
class LoadedItems:
    """The items of a gold file and a prediction file, paired by id or by position."""

    items: tuple[Item, ...]
    pairing: str  # "by_id" | "by_position"
    warnings: tuple[str, ...]
    gold_items: int = -1  # gold records read (-1: same as len(items)); fewer items with only_predicted
    only_predicted: bool = False


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", path=path) from None


def _str_field(rec: dict, names: tuple[str, ...], path: Path, ln: int | None, *, required: bool = True):
    for n in names:
        if n in rec:
            v = rec[n]
            if isinstance(v, int) and not isinstance(v, bool) and n == "id":
                return str(v)
            if v is None and not required:
                return None  # an optional field written as null (train predict: db_id unknown)
            if not isinstance(v, str):
                raise InputError(f"'{n}' must be a string", path=path, line=ln, field=n)
            return v
    if required:
        raise InputError(f"missing field '{names[0]}'", path=path, line=ln, field=names[0])
    return None


def _check_unique(ids: list[tuple[str, int | None]], path: Path) -> None:
    seen: dict[str, int | None] = {}
    for i, ln in ids:
        if i in seen:
            raise InputError(f"duplicate id '{i}' (first at line {seen[i]})", path=path, line=ln, field="id")
        seen[i] = ln


def load_gold(path: str | Path) -> tuple[list[GoldRecord], str]:
    """Gold records and the format name (``jsonl`` | ``spider_json`` | ``spider_text``)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        recs = []
        for ln, r in iter_jsonl_objects(path):
            recs.append(
                (
                    GoldRecord(
                        _str_field(r, ("id",), path, ln),
                        _str_field(r, ("db_id",), path, ln),
                        _str_field(r, ("sql", "query", "SQL"), path, ln),
                    ),
                    ln,
                )
            )
        _check_unique([(g.id, ln) for g, ln in recs], path)
        return [g for g, _ in recs], "jsonl"
    if path.suffix == ".json":
        try:
            items = json.loads(_read_text(path))
        except json.JSONDecodeError as e:
            raise InputError(invalid_json(e), path=path, line=e.lineno) from None
        if not isinstance(items, list):
            raise InputError("expected a JSON list of examples (Spider dev.json layout)", path=path)
        out = []
        for i, r in enumerate(items):
            if not isinstance(r, dict):
                raise InputError(f"entry {i} is not an object", path=path)
            try:
                out.append(
                    GoldRecord(
                        str(i),
                        _str_field(r, ("db_id",), path, None),
                        _str_field(r, ("query", "SQL", "sql"), path, None),
                    )
                )
            except InputError as e:
                raise InputError(f"entry {i}: {e.reason}", path=path, field=e.field) from None
        return out, "spider_json"
    out = []
    for ln, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        sql, sep, db_id = line.rstrip("\n").rpartition("\t")
        if not sep or not db_id.strip() or not sql.strip():
            raise InputError("expected 'SQL<TAB>db_id' (official gold format)", path=path, line=ln)
        out.append(GoldRecord(str(len(out)), db_id.strip(), sql.strip()))
    return out, "spider_text"


def load_predictions(path: str | Path) -> tuple[list[PredRecord], str]:
    """Prediction records and the format name (``jsonl`` | ``spider_text``)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        out = []
        for ln, r in iter_jsonl_objects(path):
            out.append(
                PredRecord(
                    _str_field(r, ("id",), path, ln),
                    _str_field(r, ("sql",), path, ln),
                    _str_field(r, ("db_id",), path, ln, required=False),
                    ln,
                )
            )
        _check_unique([(p.id, p.line) for p in out], path)
        return out, "jsonl"
    lines = _read_text(path).splitlines()
    # Official pred files have one line per question; an empty line is an empty (wrong) prediction.
    while lines and not lines[-1].strip():
        lines.pop()
    return [PredRecord(str(i), line.split("\t")[0].strip(), None, i + 1) for i, line in enumerate(lines)], "spider_text"


def _show(ids: list[str]) -> str:
    head = ", ".join(repr(i) for i in ids[:10])
    return head + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def pair_up(
    gold: list[GoldRecord],
    gold_path: str | Path,
    preds: list[PredRecord],
    pred_path: str | Path,
    pred_format: str,
    *,
    unjudgeable: Callable[[GoldRecord], bool] | None = None,
    only_predicted: bool = False,
) -> LoadedItems:
    """Join gold and predictions; every gold needs exactly one prediction and vice versa.

    ``unjudgeable(g)`` (optional) marks gold items that cannot be scored anyway (their database file
    is missing): a JSONL prediction may be absent for those — ``synth build-prompts`` skips them —
    and they are paired with an empty prediction, to be reported as skipped.

    ``only_predicted`` scores a subset without cutting the gold file by hand: gold items without a
    prediction are left out (and counted), instead of being an error. Needs JSONL predictions (ids).
    """
    warnings: list[str] = []
    if only_predicted:
        if pred_format == "spider_text":
            raise InputError(
                "--only-predicted needs JSONL predictions with ids (plain-text predictions are paired by position)",
                path=pred_path,
            )
        predicted = {p.id for p in preds}
        kept = [g for g in gold if g.id in predicted]
        if len(kept) < len(gold):
            warnings.append(
                f"--only-predicted: scoring the {len(kept)} gold item(s) that have a prediction; "
                f"{len(gold) - len(kept)} of the {len(gold)} in {gold_path} are left out"
            )
        paired = pair_up(kept, gold_path, preds, pred_path, pred_format, unjudgeable=unjudgeable)
        return LoadedItems(paired.items, paired.pairing, (*warnings, *paired.warnings), len(gold), True)
    if pred_format == "spider_text":
        if len(preds) != len(gold):
            raise InputError(
                f"{len(preds)} prediction lines but {len(gold)} gold queries in {gold_path} "
                "(text predictions are paired with the gold by line position)",
                path=pred_path,
            )
        warnings.append(
            f"{pred_path}: plain-text predictions are paired with the gold by line position; "
            "use JSONL with ids to pair by id"
        )
        pairs = tuple(Item(g.id, g.db_id, g.sql, p.sql) for g, p in zip(gold, preds, strict=True))
        return LoadedItems(pairs, "by_position", tuple(warnings))
    by_id = {p.id: p for p in preds}
    gold_ids = {g.id for g in gold}
    missing = [g.id for g in gold if g.id not in by_id]
    extra = [p.id for p in preds if p.id not in gold_ids]
    if missing and unjudgeable is not None:
        absent = {g.id: g.db_id for g in gold if g.id not in by_id and unjudgeable(g)}
        if absent:
            warnings.append(
                f"{pred_path}: no prediction for {len(absent)} gold item(s) whose database is missing "
                f"({', '.join(sorted(set(absent.values())))}); they are skipped"
            )
            by_id.update({i: PredRecord(i, "", None, None) for i in absent})
            missing = [i for i in missing if i not in absent]
    if missing:
        raise InputError(f"no prediction for {len(missing)} gold id(s): {_show(missing)}", path=pred_path, field="id")
    if extra:
        line = by_id[extra[0]].line
        raise InputError(
            f"{len(extra)} prediction id(s) not in the gold {gold_path}: {_show(extra)}",
            path=pred_path,
            line=line,
            field="id",
        )
    pairs = []
    for g in gold:
        p = by_id[g.id]
        if p.db_id is not None and p.db_id != g.db_id:
            raise InputError(
                f"id '{g.id}': db_id '{p.db_id}' differs from the gold's '{g.db_id}'",
                path=pred_path,
                line=p.line,
                field="db_id",
            )
        pairs.append(Item(g.id, g.db_id, g.sql, p.sql))
    return LoadedItems(tuple(pairs), "by_id", tuple(warnings))


def load_items(
    gold_path: str | Path,
    pred_path: str | Path,
    *,
    unjudgeable: Callable[[GoldRecord], bool] | None = None,
    only_predicted: bool = False,
) -> LoadedItems:
    gold, _ = load_gold(gold_path)
    preds, fmt = load_predictions(pred_path)
    return pair_up(gold, gold_path, preds, pred_path, fmt, unjudgeable=unjudgeable, only_predicted=only_predicted)
