"""Reading the example records, atomic writes and content hashes (no torch here: cheap to import).

Examples are the records ``synth generate`` writes (``out/train.jsonl``, ``out/val.jsonl``); their
``db_path`` is relative to the data root recorded in ``out/manifest.json``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evaluation.errors import DataNotFoundError, InputError
from evaluation.fileio import (  # noqa: F401  (write_json, write_jsonl: train's callers)
    iter_jsonl_objects,
    jsonl_text,
    write_atomic,
    write_json,
    write_jsonl,
)
from evaluation.provenance import digest, digest_iter, sha256_bytes, sha256_file  # noqa: F401  (sha256_*: train's callers)

REQUIRED_FIELDS = ("id", "db_id", "sql")


def read_jsonl(path: str | Path, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    """All objects of a JSON Lines file; a bad line raises :class:`InputError` naming file, line, field."""
    rows: list[dict[str, Any]] = []
    for lineno, obj in iter_jsonl_objects(path):
        for name in required:
            if name not in obj or obj[name] in (None, ""):
                raise InputError("missing or empty", path=path, line=lineno, field=name)
        rows.append(obj)
    return rows


def read_examples(path: str | Path, required: Sequence[str] = REQUIRED_FIELDS) -> list[dict[str, Any]]:
    """Example records of one split; an empty file is an error (there is nothing to train or judge)."""
    rows = read_jsonl(path, required)
    if not rows:
        raise InputError("no examples (empty file)", path=path)
    return rows


def split_paths(data: str | Path) -> tuple[Path, Path]:
    """``(train.jsonl, val.jsonl)`` of a ``synth generate`` output folder, both required to exist."""
    data = Path(data)
    if not data.is_dir():
        raise DataNotFoundError(f"{data}: data folder not found (expected the output of `synth generate`)")
    train, val = data / "train.jsonl", data / "val.jsonl"
    if not train.is_file():
        raise DataNotFoundError(f"{train}: training split not found")
    if not val.is_file():
        raise DataNotFoundError(
            f"{val}: validation split (D_val) not found; it is needed for model selection and self-play "
            "(`synth generate` writes it)"
        )
    return train, val


def data_root_for(data: str | Path, cli_value: str | Path | None = None) -> Path:
    """What example ``db_path`` values are relative to: ``--data-root`` > the data manifest > env/default."""
    if cli_value:
        return Path(cli_value).expanduser()
    data = Path(data)
    folder = data if data.is_dir() else data.parent
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            root = json.loads(manifest.read_text(encoding="utf-8")).get("inputs", {}).get("data_root")
        except (json.JSONDecodeError, AttributeError):
            root = None
        if root:
            return Path(root)
    from synth.sources import resolve_data_root

    return resolve_data_root(None)


def db_path_of(example: dict[str, Any], data_root: Path) -> Path:
    """Absolute SQLite path of one example (``db_path`` may already be absolute)."""
    raw = example.get("db_path")
    if not raw:
        raise InputError("missing db_path; needed to execute SQL", field="db_path")
    p = Path(raw)
    return p if p.is_absolute() else data_root / p


def hash_records(records: Iterable[dict[str, Any]]) -> str:
    """Order-sensitive hash of records (canonical JSON), used to key caches and manifests."""
    return digest_iter(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


#: files of a checkpoint folder that define what it computes (weights, configs, tokenizer, template)
FINGERPRINT_SUFFIXES = frozenset({".safetensors", ".bin", ".pt", ".json", ".jinja", ".model", ".txt"})
#: files Trainer writes next to the weights that say how it was trained, not what it computes
FINGERPRINT_SKIP = frozenset({"training_args.bin", "trainer_state.json", "manifest.json"})


@functools.lru_cache(maxsize=512)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """Full streamed sha256 of one file; memoised per (path, size, mtime) so a run hashes each file once."""
    return sha256_file(path)


def checkpoint_fingerprint(path: str | Path) -> str:
    """Content identity of a checkpoint: the full sha256 of every weight, config and tokenizer file.

    Every byte is read (streamed, 1 MiB at a time), so two checkpoints that differ anywhere in a
    weights file get different fingerprints (a head/tail sample would not see a change in the
    middle). Hashes are memoised per file path, size and mtime, so one run reads each file once.
    An adapter folder also folds in the fingerprint of its local base model; a hub id that is not
    a local folder is identified by its name.
    """
    p = Path(path).expanduser()
    if not p.is_dir():
        return sha256_bytes(f"hub:{path}".encode())
    files = sorted(
        f for f in p.iterdir() if f.is_file() and f.suffix in FINGERPRINT_SUFFIXES and f.name not in FINGERPRINT_SKIP
    )
    lines = []  # one per file: name, size and content hash (file hashes: evaluation.provenance.sha256_file)
    for f in files:
        st = f.stat()
        lines.append(f"{f.name}:{st.st_size}:{_file_digest(str(f.resolve()), st.st_size, st.st_mtime_ns)}\n")
    adapter_cfg = p / "adapter_config.json"
    if adapter_cfg.is_file():
        try:
            base = json.loads(adapter_cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except json.JSONDecodeError:
            base = None
        if base and Path(base).expanduser().resolve() != p.resolve():
            lines.append(f"base:{checkpoint_fingerprint(base)}\n")
    return digest(*lines)


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    """Rewrite-with-append, atomic (logs are small: one line per round)."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_atomic(path, old + jsonl_text([row]))
