"""What a run produced, as files: the outputs' bytes, the run manifest, and writing them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.run_record import build_record, record_bytes
from synth import emit
from synth.generation.config import GenerateConfig

if TYPE_CHECKING:
    from synth.sources import Benchmark

MANIFEST_FORMAT = emit.MANIFEST_FORMAT


@dataclass(frozen=True)
class GenerateResult:
    """What a run produced, in memory; :func:`write_outputs` puts it on disk."""

    train: tuple[dict, ...]
    val: tuple[dict, ...]
    templates: tuple[dict, ...]
    manifest: dict

    def files(self) -> dict[str, bytes]:
        """File name -> bytes, manifest last (with the outputs' hashes and row counts filled in)."""
        data = {
            "templates.jsonl": emit.ndjson_bytes(self.templates),
            "train.jsonl": emit.ndjson_bytes(self.train, emit.EXAMPLE_SCHEMA),
            "val.jsonl": emit.ndjson_bytes(self.val, emit.EXAMPLE_SCHEMA),
        }
        manifest = dict(self.manifest, outputs=emit.output_info(data))  # the record's last key
        data["manifest.json"] = record_bytes(manifest, sort_keys=True)
        return data


def hardness_report(output: Mapping[str, int], training: Mapping[str, int]) -> dict:
    """Spider hardness counts and shares of the output next to the training SQL's (manifest)."""
    from evaluation.hardness import LEVELS

    def side(counts: Mapping[str, int]) -> dict:
        keys = [*LEVELS, *(["unknown"] if counts.get("unknown") else [])]
        total = sum(counts.get(k, 0) for k in keys) or 1
        return {
            "counts": {k: int(counts.get(k, 0)) for k in keys},
            "shares": {k: round(counts.get(k, 0) / total, 4) for k in keys},
        }

    return {"output": side(output), "training": side(training)}


def _component_versions(config: GenerateConfig) -> dict[str, str]:
    out = {}
    if config.prompts:
        try:
            from synth.prompt import PROMPT_FORMAT_VERSION

            out["prompt_format"] = str(PROMPT_FORMAT_VERSION)
        except ImportError:  # pragma: no cover
            pass
    return out


def build_manifest(
    config: GenerateConfig,
    bench: Benchmark,
    db_ids: Sequence[str],
    missing: Sequence[str],
    counts: dict,
    timings: Mapping[str, float],
    *,
    cache_state: str,
    cache_key: str,
    facts: Mapping[str, object] | None = None,
) -> dict:
    """The run manifest (``manifest.json`` less ``outputs``, which :meth:`GenerateResult.files` adds): the
    run record of :mod:`evaluation.run_record` (no ``created``: two runs with the same inputs and seed
    differ only in ``timings`` and ``cache``) with synthesis's own section, ``cache``."""
    from synth.templates import cache as template_cache

    return build_record(
        format=MANIFEST_FORMAT,
        command="synth generate",
        inputs={
            "benchmark": bench.name,
            "root": bench.root.resolve().as_posix(),
            "data_root": bench.data_root.resolve().as_posix(),
            "tables_json": emit.file_info(bench.tables_path if bench.tables_path.is_file() else None, bench.data_root),
            "train_file": emit.file_info(bench.train_path, bench.data_root),
            "db_ids": list(db_ids),
            "missing_db_ids": list(missing),
        },
        parameters=config.to_dict(),
        seed=config.seed,
        versions=dict(
            emit.package_versions(), templates_code=template_cache.code_version(), **_component_versions(config)
        ),
        counts=counts,
        # Facts of this run, not of its inputs: the only manifest fields that may differ between
        # two runs with the same inputs and seed.
        timings={k: round(v, 4) for k, v in timings.items()},
        sections={
            "cache": {
                "dir": Path(config.cache_dir).resolve().as_posix() if config.cache_dir is not None else None,
                "templates": cache_state,
                "templates_key": cache_key,
                **(facts or {}),
            }
        },
    )


def write_outputs(result: GenerateResult, out_dir: str | Path) -> list[Path]:
    """Write ``templates.jsonl``, ``train.jsonl``, ``val.jsonl`` and (last) ``manifest.json`` atomically."""
    return emit.write_all(out_dir, result.files())
