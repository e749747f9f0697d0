"""The experiment's split: which real questions are train and which are test, the test prompts and suite."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.console import echo
from evaluation.provenance import digest, json_digest
from train.experiment_config import ExperimentConfig
from train.io import read_jsonl, write_json, write_jsonl

#: [split] keys that change no training computation, left out of a seed's cache key
TRAINING_NEUTRAL_SPLIT_KEYS = frozenset({"suite_size"})


def echo_step(message: str) -> None:
    echo(f"[experiment] {message}")


def short_hash(obj: Any) -> str:
    return json_digest(obj, length=12, default=str)


def _key(seed: int, ex: Mapping[str, Any]) -> str:
    return digest(f"spft-sql/experiment/{seed}/{ex['db_id']}/{ex.get('question')}/{ex['query']}")


def _clean(ex: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ex.items() if not k.startswith("_")}


def build_split(cfg: ExperimentConfig, out: Path) -> dict[str, Any]:
    """``out/split/bench/`` (a Spider-layout benchmark of the train part) and ``out/split/test.json``;
    skipped when ``out/split/manifest.json`` exists (a data manifest, command ``train experiment: split``:
    ``parameters`` is the ``[split]`` table, ``db_ids`` the databases taken). Returns the manifest."""
    from synth.sources import load_examples, resolve_benchmark
    from train.manifest import write_data_manifest

    folder = out / "split"
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text(encoding="utf-8"))
    s = cfg.split
    bench = resolve_benchmark(s.db)
    present = set(bench.available_db_ids)
    train_all = [ex for ex in bench.train_examples() if ex["db_id"] in present]
    if s.kind == "indomain":
        counts = Counter(ex["db_id"] for ex in train_all)
        dbs = sorted(sorted(counts), key=lambda d: -counts[d])[: s.top_dbs]
        train, test = [], []
        for db in dbs:
            exs = sorted((ex for ex in train_all if ex["db_id"] == db), key=lambda ex: _key(s.split_seed, ex))
            if s.max_per_db:
                exs = exs[: s.max_per_db]
            n_test = max(1, round(s.test_fraction * len(exs)))
            test.extend(exs[:n_test])
            train.extend(exs[n_test:])
    else:
        if bench.dev_path is None:
            raise FileNotFoundError(f"{bench.root}: no dev.json for the cross-domain split")
        dbs = sorted({ex["db_id"] for ex in train_all})
        train = train_all
        if s.max_per_db:
            per: dict[str, int] = Counter()
            train = [
                ex
                for ex in sorted(train_all, key=lambda ex: _key(s.split_seed, ex))
                if (per.update([ex["db_id"]]) or per[ex["db_id"]] <= s.max_per_db)
            ]
        test = [ex for ex in load_examples(bench.dev_path) if ex["db_id"] in present]
    order = {id(ex): i for i, ex in enumerate(train_all)}
    train.sort(key=lambda ex: order.get(id(ex), 0))
    test = sorted(test, key=lambda ex: _key(s.split_seed, ex))
    if s.max_test:
        test = test[: s.max_test]
    bench_dir = folder / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(bench.tables_path, bench_dir / "tables.json")
    link = bench_dir / "database"
    if not link.exists():
        link.symlink_to(bench.database_dir.resolve(), target_is_directory=True)
    write_json(bench_dir / "train.json", [_clean(ex) for ex in train])
    write_json(folder / "test.json", [_clean(ex) for ex in test])
    return write_data_manifest(
        manifest_path,
        command="train experiment: split",
        data_root=bench.data_root.resolve(),
        inputs={"benchmark": bench.name, "root": str(bench.root.resolve())},
        parameters=s,
        seed=s.split_seed,
        counts={"train": len(train), "test": len(test), "dbs": len(dbs)},
        sections={"db_ids": dbs},
    )


def test_records(out: Path, cache_dir: Path, prompt_config: Any) -> list[dict[str, Any]]:
    """Test-like prompt records of the test questions (``synth build-prompts`` output with the loop's
    prompt options), built once."""
    from synth.prompt.records import build_prompt_records
    from synth.sources import load_examples, resolve_benchmark

    path = out / "split" / "test_records.jsonl"
    if path.is_file():
        return read_jsonl(path)
    bench = resolve_benchmark(str(out / "split" / "bench"))
    test_file = out / "split" / "test.json"
    records, _ = build_prompt_records(bench, load_examples(test_file), prompt_config, cache_dir, test_file)
    records = [dict(r, id=f"test-{i}") for i, r in enumerate(records)]
    write_jsonl(path, records)
    return records


def loop_prompt_config(cfg: ExperimentConfig) -> Any:
    """The prompt options of the config's loop: test prompts are built exactly like its D_val / selection."""
    from train.spft_config import with_preset

    return with_preset(dict(cfg.loop, model="m", out="o"), explicit=set(cfg.loop) - {"preset"}).prompt_config()


def build_test_suite(cfg: ExperimentConfig, out: Path) -> Path | None:
    """``out/split/suite/<db_id>/*.sqlite`` for the test questions (``evaluate build-suite``), built once;
    ``None`` when ``[split] suite_size = 0``."""
    from evaluation.suite import SuiteConfig, build_suite

    if cfg.split.suite_size == 0:
        return None
    folder = out / "split" / "suite"
    if not (folder / "manifest.json").is_file():
        echo_step(f"building the TS suite for the test questions ({cfg.split.suite_size} databases per db_id)")
        build_suite(
            (out / "split" / "bench" / "database").resolve(),
            out / "split" / "test.json",
            folder,
            SuiteConfig(size=cfg.split.suite_size, seed=cfg.split.split_seed),
        )
    return folder


def test_suite_verdicts(tests: Sequence[Mapping[str, Any]], sqls: Sequence[str], suite: Path) -> list[bool]:
    """TS per test item through ``evaluation`` (the same runner as ``evaluate --metric ts``)."""
    from evaluation.inputs import Item
    from evaluation.runner import EvalConfig, evaluate_items

    db_root = (suite.parent / "bench" / "database").resolve()
    pairs = [Item(str(t["id"]), t["db_id"], t["sql"], sql) for t, sql in zip(tests, sqls, strict=True)]
    items = evaluate_items(pairs, EvalConfig(db_root=db_root, metrics=("ts",), suite_dir=suite, workers=1))
    return [bool(r.verdicts["ts"].correct) if "ts" in r.verdicts else False for r in items]
