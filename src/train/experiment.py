"""``train experiment``: does the toolkit make a model stronger? SPFT-SQL's arms on one split, several seeds.

Arms (paper rows in docs/results.md):

=============  ==========================================================================================
``sft``        SFT on the real training pairs only (best epoch by EX on the selection split)
``vbift``      VBI-FT without self-play: the best (on selection) VBI-FT model of the ``spft`` run's round 1
               when ``rounds = 1`` (identical computation), else its own ``train vbi`` run
``spft``       the full loop, ``train spft`` -> ``final/``
``selfplay``   SFT + error-driven self-play (``spft`` loss), no VBI-FT: pairs from the real training pairs
``spin``       SFT + SPIN (every opponent output a negative), pairs from the real training pairs
``dpo``        SFT + DPO (fixed reference = the SFT model; one step, as DPO is single-step)
``vbift+dpo``  the ``vbift`` model + DPO
=============  ==========================================================================================

Without VBI-FT there is no synthetic D_val, so the self-play baselines choose main / opponent and
roll back on the selection split (real held-out pairs, never trained on); they train on the real
training pairs (``pairs_from = train``).

**Split.** ``indomain``: the ``top_dbs`` Spider databases with the most training questions; each
database's questions are split by a seeded hash into test (``test_fraction``) and the rest, which
is the benchmark the loop sees (``OUT/split/bench/train.json``; the loop carves its selection split
from it). ``crossdomain``: Spider train -> Spider dev. Synthesis gets the test file as
``exclude_sql``: a synthetic query equal to a test query is dropped and counted. Test is read once
per finished arm: predictions are cached, nothing is chosen on them.

**Caching.** A seed's work lives in ``OUT/runs/<hash>-seed<s>/``, the hash covering split, model and
loop settings; every stage below it is resumable (``train sft`` / ``vbi`` / ``selfplay`` / ``spft``),
and each arm's test result is written last (``arms/<arm>/result.json``). The SFT model is shared by
``sft``, ``selfplay``, ``spin`` and ``dpo``; the ``spft`` run's VBI-FT by ``vbift`` and ``vbift+dpo``.

**Metrics.** EX (official Spider semantics, through ``evaluation``) overall and by Spider hardness;
mean ± sd over seeds; each arm's paired difference to ``sft`` with a 95 % bootstrap interval over
test questions (correctness averaged over seeds per question, questions resampled). TS needs a test
suite, which Spider does not ship for these splits, so one is built for the test questions with
``evaluate build-suite`` (``[split] suite_size`` databases per db_id, distilled to kill the gold
queries' neighbours; ``suite_size = 0``: no TS). ``train_steps`` counts the optimizer
steps of every text-to-SQL training stage behind an arm's model (equal-compute comparisons).
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.console import echo
from evaluation.hardness import LEVELS as HARDNESS  # Spider hardness levels, one definition
from evaluation.provenance import digest, json_digest
from train.experiment_config import ARM_RECORDS, ExperimentConfig
from train.fields import lora_fields_of, optimiser_of
from train.io import read_jsonl, write_json, write_jsonl

RESULTS_FORMAT = "1"
#: [split] keys that change no training computation, left out of a seed's cache key
TRAINING_NEUTRAL_SPLIT_KEYS = frozenset({"suite_size"})


def _echo(message: str) -> None:
    echo(f"[experiment] {message}")


def sft_optimiser(loop: Any, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The sft arm's optimiser group: the loop's text-to-SQL settings, ``[sft]``'s keys winning.

    >>> from types import SimpleNamespace as NS
    >>> sft_optimiser(NS(epochs=2.0, learning_rate=1e-3, batch_size=32, grad_accum=1, warmup_ratio=0.0,
    ...                  weight_decay=0.0), {"epochs": 4})["epochs"]
    4.0
    """
    values = asdict(optimiser_of(loop))
    for key, value in overrides.items():
        values[key] = type(values[key])(value)
    return values


def _hash(obj: Any) -> str:
    return json_digest(obj, length=12, default=str)


# ---- the split ---------------------------------------------------------------------------------


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
        _echo(f"building the TS suite for the test questions ({cfg.split.suite_size} databases per db_id)")
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


# ---- one seed ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmResult:
    arm: str
    seed: int
    model: str
    ex: float
    n: int
    by_hardness: dict[str, dict[str, float]]
    correct: list[bool]
    train_steps: int
    gold_failures: int
    ts: float | None = None
    ts_correct: list[bool] | None = None
    elapsed_s: float | None = None  # wall time of this arm's own stages (shared ones count for the first arm)


def _steps_of_sft(folder: Path) -> int:
    m = folder / "manifest.json"
    return int(json.loads(m.read_text(encoding="utf-8")).get("counts", {}).get("steps", 0)) if m.is_file() else 0


def _steps_of_selfplay(folder: Path) -> int:
    rows = read_jsonl(folder / "rounds.jsonl") if (folder / "rounds.jsonl").is_file() else []
    return sum(int(r.get("steps") or 0) for r in rows)


class SeedRun:
    """The arms of one seed, sharing stages; every method is resumable."""

    def __init__(
        self, cfg: ExperimentConfig, out: Path, seed: int, split: Mapping[str, Any], suite: Path | None = None
    ) -> None:
        self.cfg, self.out, self.seed, self.suite = cfg, out, seed, suite
        # only what changes training: the TS suite's size does not (adding it must not orphan finished seeds)
        split_key = {k: v for k, v in asdict(cfg.split).items() if k not in TRAINING_NEUTRAL_SPLIT_KEYS}
        keyed: dict[str, Any] = {
            "split": split_key,
            "model": asdict(cfg.model),
            "loop": cfg.loop,
            "sft": cfg.sft,
            "seed": seed,
        }
        if cfg.baseline_pairs:  # only when set, so that configs without it keep their finished seeds
            keyed["baseline_pairs"] = cfg.baseline_pairs
        key = _hash(keyed)
        self.dir = out / "runs" / f"{key}-seed{seed}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.split = split
        self.cache = out / "cache"

    # -- shared stages
    def loop_config(self) -> Any:
        from train.spft_config import with_preset

        values = dict(
            self.cfg.loop,
            db=str(self.out / "split" / "bench"),
            model=self.base_model(),
            out=str(self.dir / "spft"),
            seed=self.seed,
            exclude_sql=(str(self.out / "split" / "test.json"),),
            db_ids=tuple(self.split["db_ids"]),
        )
        return with_preset(values, explicit=set(values) - {"preset"})

    def base_model(self) -> str:
        """The starting model: a from-scratch tiny Qwen2 per seed (tokenizer trained on the train part's
        text only, never on test), or the configured hub id / folder."""
        m = self.cfg.model
        if m.init == "path":
            return m.path
        path = self.out / "models" / f"tiny-{_hash(asdict(m))}-seed{self.seed}"
        if not (path / "config.json").is_file():
            from synth.sources import resolve_benchmark
            from train.models.tiny import TinyConfig, init_tiny
            from train.realdata import real_records

            tok = self.out / "models" / "tokdata"
            if not (tok / "val.jsonl").is_file():
                bench = resolve_benchmark(str(self.out / "split" / "bench"))
                recs = real_records(
                    bench,
                    bench.train_examples(),
                    gold=False,
                    cache_dir=self.cache,
                    source="real",
                    prompt_config=loop_prompt_config(self.cfg),
                )
                write_jsonl(tok / "train.jsonl", recs)
                write_jsonl(tok / "val.jsonl", recs[:50])
            init_tiny(
                tok,
                path,
                TinyConfig(
                    hidden_size=m.hidden_size,
                    intermediate_size=2 * m.hidden_size,
                    num_hidden_layers=m.layers,
                    num_attention_heads=m.heads,
                    num_key_value_heads=max(1, m.heads // 2),
                    vocab_size=m.vocab_size,
                    seed=self.seed,
                ),
            )
        return str(path.resolve())

    def real(self) -> Path:
        from train.vbi import prepare_real

        real_dir = self.dir / "spft" / "real"
        prepare_real(self.loop_config(), real_dir, self.dir / "spft" / "vbi" / "cache")
        return real_dir

    def _sft_on_real(self, out: Path, optimiser: Mapping[str, Any]) -> None:
        """SFT of the base model on the real pairs in ``OUT/sft/data`` (best epoch by selection EX): the
        one training recipe of the ``sft`` and ``sft-steps`` arms, which differ only in ``optimiser``."""
        from train.sft import run_sft
        from train.sft_config import SFTConfig

        lc = self.loop_config()
        run_sft(
            SFTConfig(
                data=str(self.dir / "sft" / "data"),
                model=self.base_model(),
                out=str(out),
                task="text2sql",
                **optimiser,
                max_length=lc.max_length,
                seed=self.seed,
                **lora_fields_of(lc),
                eval_ex_limit=lc.eval_ex_limit,
                max_new_tokens=lc.max_new_tokens,
                gen_batch_size=lc.gen_batch_size,
                logging_steps=lc.logging_steps,
                save_total_limit=1,
                resume=True,
            )
        )

    def sft_model(self) -> str:
        from train.io import data_root_for
        from train.vbi import write_sft_data

        out = self.dir / "sft"
        if not (out / "model" / "manifest.json").is_file():
            real = self.real()
            lc = self.loop_config()
            write_sft_data(
                out / "data",
                read_jsonl(real / "train.jsonl"),
                read_jsonl(real / "selection.jsonl"),
                data_root_for(real),
                {},
                command="train experiment: sft data",
                inputs={"real": str(real)},
            )
            _echo(f"seed {self.seed}: SFT on the real training pairs")
            self._sft_on_real(out / "model", sft_optimiser(lc, self.cfg.sft))
        return str((out / "model").resolve())

    def spft_run(self) -> Path:
        from train.spft import run_spft

        final = self.dir / "spft" / "final"
        if not (final / "scores.json").is_file() or not (self.dir / "spft" / "manifest.json").is_file():
            _echo(f"seed {self.seed}: train spft")
            run_spft(self.loop_config())
        return final

    def vbift_model(self) -> tuple[str, int]:
        """(model, train steps): the VBI-FT model without self-play that the loop's ``final`` names (the last
        iteration's by default, else the best on selection)."""
        from train.vbi import best_on_selection

        lc = self.loop_config()
        if lc.rounds == 1:
            self.spft_run()
            rows = [
                r for r in read_jsonl(self.dir / "spft" / "rounds.jsonl") if r["round"] == 1 and r["stage"] == "vbi"
            ]
            rows.sort(key=lambda r: int(r["origin"].rsplit("-", 1)[1]))
            best = rows[-1] if lc.final == "last" else best_on_selection(rows)
            g = int(best["origin"].rsplit("-", 1)[1])
            steps = sum(_steps_of_sft(self.dir / "spft" / "vbi" / f"iter-{k}" / "text2sql") for k in range(g + 1))
            return best["path"], steps
        from train.vbi import run_vbi
        from train.vbi_config import VBIConfig

        fields = {f for f in VBIConfig.__dataclass_fields__}
        vcfg = VBIConfig(
            **{k: v for k, v in asdict(lc).items() if k in fields}
            | {"out": str(self.dir / "vbift"), "iterations": lc.rounds * lc.iterations}
        )
        res = run_vbi(vcfg)
        best = json.loads((self.dir / "vbift" / "manifest.json").read_text())["results"]["final"]
        g = int(best["origin"].rsplit("-", 1)[1])
        steps = sum(_steps_of_sft(self.dir / "vbift" / f"iter-{k}" / "text2sql") for k in range(g + 1))
        del res
        return best["path"], steps

    def selfplay(self, arm: str, start: str, loss: str, rounds: int) -> str:
        """A ``train selfplay`` baseline from ``start`` (D_val = the selection split, pairs from the real
        training pairs); returns its best model after rollback."""
        from train.selfplay import run_selfplay
        from train.selfplay_config import SelfPlayConfig

        real = self.real()
        data = self.dir / "selfplay-data"
        if not (data / "manifest.json").is_file():
            write_baseline_data(data, real, self.cfg.baseline_pairs, self.seed)
        lc = self.loop_config()
        _echo(f"seed {self.seed}: {arm} ({loss}, {rounds} round(s))")
        res = run_selfplay(
            SelfPlayConfig(
                data=str(data),
                model=start,
                out=str(self.dir / "arms" / arm / "selfplay"),
                rounds=rounds,
                loss=loss,
                lam=lc.lam,
                pairs_from="train",
                **asdict(optimiser_of(lc, "selfplay_")),
                max_length=lc.max_length,
                max_new_tokens=lc.max_new_tokens,
                gen_batch_size=lc.gen_batch_size,
                patience=rounds,
                seed=self.seed,
                **lora_fields_of(lc),
                logging_steps=lc.logging_steps,
            )
        )
        return res.best.path

    # -- arms
    def arm_model(self, arm: str) -> tuple[str, int]:
        lc = self.loop_config()
        sp_rounds = lc.selfplay_rounds * lc.rounds
        if arm == "sft":
            m = self.sft_model()
            return m, _steps_of_sft(self.dir / "sft" / "model")
        if arm == "spft":
            final = self.spft_run()
            steps = sum(
                _steps_of_sft(p.parent) for p in (self.dir / "spft" / "vbi").glob("iter-*/text2sql/manifest.json")
            )
            steps += sum(_steps_of_selfplay(p) for p in self.dir.joinpath("spft").glob("round-*/selfplay"))
            return str(final.resolve()), steps
        if arm == "vbift":
            return self.vbift_model()
        if arm == "zero-shot":
            return self.base_model(), 0
        if arm == "sft-steps":
            return self.sft_equal_steps()
        record = ARM_RECORDS[arm]
        if record.loss is None:
            raise ValueError(arm)
        # a preference arm: from its paper's start model, its own loss, one round or the loop's count
        if record.start == "base":
            start, steps = self.base_model(), 0
        elif record.start == "sft":
            start, steps = self.sft_model(), _steps_of_sft(self.dir / "sft" / "model")
        else:
            start, steps = self.vbift_model()
        m = self.selfplay(arm, start, record.loss, sp_rounds if record.iterated else 1)
        return m, steps + _steps_of_selfplay(self.dir / "arms" / arm / "selfplay")

    def sft_equal_steps(self) -> tuple[str, int]:
        """The equal-compute control: SFT on the real pairs alone, from the same start, for as many
        optimizer steps as the ``spft`` arm took in all (its SFT and self-play steps), the epochs
        scaled from the ``sft`` arm's steps per epoch; best epoch by selection EX as ``sft``. A gain of
        ``spft`` over this arm is not merely more training. Decided from training counts only."""
        out = self.dir / "arms" / "sft-steps" / "model"
        if not (out / "manifest.json").is_file():
            self.sft_model()
            base_steps = _steps_of_sft(self.dir / "sft" / "model")
            _, target = self.arm_model("spft")
            optimiser = sft_optimiser(self.loop_config(), self.cfg.sft)
            optimiser["epochs"] = round(optimiser["epochs"] * target / base_steps, 4)
            _echo(
                f"seed {self.seed}: sft-steps: SFT on the real training pairs for {target} steps "
                f"({optimiser['epochs']:g} epochs; sft took {base_steps})"
            )
            self._sft_on_real(out, optimiser)
        return str(out.resolve()), _steps_of_sft(out)

    def run_arm(self, arm: str, tests: list[dict[str, Any]]) -> ArmResult:
        """Train (or reuse) the arm's model, then read the test split once."""
        from evaluation.hardness import hardness
        from train.io import data_root_for
        from train.scoring import judge_predictions
        from train.vbi import predict_cached

        result_path = self.dir / "arms" / arm / "result.json"
        preds_path = self.dir / "arms" / arm / "test_preds.jsonl"
        if result_path.is_file():
            res = ArmResult(**json.loads(result_path.read_text(encoding="utf-8")))
            if self.suite is not None and res.ts is None:  # scored before the suite existed: add TS
                res = self._with_ts(res, tests, read_jsonl(preds_path))
                write_json(result_path, asdict(res))
            return res
        t0 = time.time()
        model, steps = self.arm_model(arm)
        _echo(f"seed {self.seed}: {arm}: predicting the {len(tests)} test questions")
        preds = predict_cached(model, {"test": (tests, preds_path)}, self.loop_config())["test"]
        judged = judge_predictions(tests, [p["sql"] for p in preds], data_root_for(self.dir / "spft" / "real"))
        correct = [bool(j.correct) for j in judged]
        by: dict[str, list[bool]] = defaultdict(list)
        for t, c in zip(tests, correct, strict=True):
            by[hardness(t["sql"])].append(c)
        res = ArmResult(
            arm=arm,
            seed=self.seed,
            model=model,
            ex=round(sum(correct) / len(correct), 6),
            n=len(correct),
            by_hardness={
                h: {"n": len(by[h]), "ex": round(sum(by[h]) / len(by[h]), 6) if by[h] else None} for h in HARDNESS
            },
            correct=correct,
            train_steps=steps,
            gold_failures=sum(j.correct is None for j in judged),
            elapsed_s=round(time.time() - t0, 1),
        )
        if self.suite is not None:
            res = self._with_ts(res, tests, preds)
        write_json(result_path, asdict(res))
        return res

    def _with_ts(self, res: ArmResult, tests: list[dict[str, Any]], preds: list[dict[str, Any]]) -> ArmResult:
        """The result with test-suite accuracy on ``self.suite`` (an item the suite cannot judge is wrong)."""
        from dataclasses import replace

        ts = test_suite_verdicts(tests, [p["sql"] for p in preds], self.suite)
        return replace(res, ts=round(sum(ts) / len(ts), 6), ts_correct=ts)


def write_baseline_data(folder: Path, real: Path, pairs: int, seed: int) -> Path:
    """A self-play baseline's ``--data`` folder: the :func:`baseline_questions` of the real training pairs
    (``train.jsonl``), the selection split as D_val (``val.jsonl``), and a data manifest (command
    ``train experiment: self-play data``)."""
    from train.io import data_root_for
    from train.vbi import write_sft_data

    return write_sft_data(
        folder,
        baseline_questions(read_jsonl(real / "train.jsonl"), pairs, seed),
        read_jsonl(real / "selection.jsonl"),
        data_root_for(real),
        {},
        command="train experiment: self-play data",
        inputs={"real": str(real)},
        parameters={"baseline_pairs": pairs},
        seed=seed,
    )


def baseline_questions(records: Sequence[Mapping[str, Any]], n: int, seed: int) -> list[Mapping[str, Any]]:
    """The real training pairs a self-play baseline answers: all (``n == 0``) or the first ``n`` by a seeded
    hash, kept in their original order -- the same questions for every baseline arm of a seed.

    >>> recs = [{"db_id": "d", "question": f"q{i}", "sql": "SELECT 1"} for i in range(5)]
    >>> [r["question"] for r in baseline_questions(recs, 2, 0)] == [r["question"] for r in baseline_questions(recs, 2, 0)]
    True
    >>> len(baseline_questions(recs, 2, 0)), len(baseline_questions(recs, 0, 0))
    (2, 5)
    """
    if not n or n >= len(records):
        return list(records)
    rank = sorted(
        range(len(records)),
        key=lambda i: digest(f"spft-sql/baselines/{seed}/{records[i]['db_id']}/{records[i]['question']}/{i}"),
    )
    keep = set(rank[:n])
    return [r for i, r in enumerate(records) if i in keep]


# ---- aggregate -----------------------------------------------------------------------------------


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over questions and its 95 % percentile interval (questions resampled with replacement).

    >>> paired_bootstrap([1, 1, 0, 1], [0, 1, 0, 0], resamples=200)[0]
    0.5
    """
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    rng = random.Random(f"spft-sql/bootstrap/{seed}")
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo, hi = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    return round(sum(d) / n, 6), round(lo, 6), round(hi, 6)


def aggregate(cfg: ExperimentConfig, results: Sequence[ArmResult]) -> dict[str, Any]:
    """Per arm: EX per seed, mean ± sd, by hardness, paired difference to ``sft`` with a bootstrap interval."""
    by_arm: dict[str, dict[int, ArmResult]] = defaultdict(dict)
    for r in results:
        by_arm[r.arm][r.seed] = r
    seeds = sorted({r.seed for r in results})
    out: dict[str, Any] = {}
    base = by_arm.get("sft", {})
    for arm in cfg.arms:
        runs = by_arm.get(arm, {})
        if not runs:
            continue
        exs = [runs[s].ex for s in seeds if s in runs]
        entry: dict[str, Any] = {
            "paper_row": ARM_RECORDS[arm].paper_row,
            "start": ARM_RECORDS[arm].start,
            "seeds": {
                str(s): {
                    "ex": runs[s].ex,
                    "train_steps": runs[s].train_steps,
                    "model": runs[s].model,
                    "by_hardness": runs[s].by_hardness,
                    "gold_failures": runs[s].gold_failures,
                    "ts": runs[s].ts,
                    "elapsed_s": runs[s].elapsed_s,
                }
                for s in seeds
                if s in runs
            },
            "ex_mean": round(statistics.fmean(exs), 6),
            "ex_sd": round(statistics.stdev(exs), 6) if len(exs) > 1 else None,
            "by_hardness_mean": {h: _mean([runs[s].by_hardness[h]["ex"] for s in runs]) for h in HARDNESS},
            "train_steps_mean": round(statistics.fmean(runs[s].train_steps for s in runs), 1),
        }
        ts = [runs[s].ts for s in seeds if s in runs]
        if ts and all(v is not None for v in ts):
            entry["ts_mean"] = round(statistics.fmean(ts), 6)
            entry["ts_sd"] = round(statistics.stdev(ts), 6) if len(ts) > 1 else None
        common = [s for s in seeds if s in runs and s in base]
        if arm != "sft" and common:
            mean, lo, hi = _paired_difference(runs, base, common, cfg.bootstrap)
            entry["diff_vs_sft"] = {"mean": mean, "ci95": [lo, hi], "seeds": common}
        out[arm] = entry
    return out


def _paired_difference(
    a: Mapping[int, ArmResult], b: Mapping[int, ArmResult], seeds: Sequence[int], resamples: int
) -> tuple[float, float, float]:
    """Arm ``a`` minus arm ``b`` over questions (each question's correctness averaged over ``seeds``),
    with a bootstrap interval: the one paired comparison behind ``diff_vs_sft`` and the contrasts."""
    n = a[seeds[0]].n
    xs = [statistics.fmean(a[s].correct[i] for s in seeds) for i in range(n)]
    ys = [statistics.fmean(b[s].correct[i] for s in seeds) for i in range(n)]
    return paired_bootstrap(xs, ys, resamples=resamples)


#: the ablations of SPFT-SQL Table 2-3 as paired contrasts: (arm, against, what the difference measures)
CONTRASTS = (
    ("spft", "vbift", "self-play's effect (Table 2: w/o self-play)"),
    ("spft", "selfplay", "VBI-FT's effect (Table 2: w/o VBI-FT)"),
    ("vbift", "sft", "VBI-FT over SFT"),
    ("vbift+dpo", "vbift", "DPO instead of error-driven self-play after VBI-FT (Table 3)"),
    ("spft", "sft-steps", "the loop over SFT at equal optimizer steps (compute control)"),
)


def contrasts(cfg: ExperimentConfig, results: Sequence[ArmResult]) -> list[dict[str, Any]]:
    """Paired differences between the arms the paper's ablations compare (over the seeds both have):
    mean with a bootstrap interval over questions, and the questions one arm gets right and the other
    wrong (summed over seeds) -- at a small scale, where intervals are wide, the raw wins and losses
    show what the mean hides."""
    by: dict[str, dict[int, ArmResult]] = defaultdict(dict)
    for r in results:
        by[r.arm][r.seed] = r
    out = []
    for arm, other, meaning in CONTRASTS:
        common = sorted(set(by.get(arm, {})) & set(by.get(other, {})))
        if not common:
            continue
        mean, lo, hi = _paired_difference(by[arm], by[other], common, cfg.bootstrap)
        wins = sum(x and not y for s in common for x, y in zip(by[arm][s].correct, by[other][s].correct))
        losses = sum(y and not x for s in common for x, y in zip(by[arm][s].correct, by[other][s].correct))
        out.append(
            {
                "arm": arm,
                "against": other,
                "measures": meaning,
                "seeds": common,
                "mean": mean,
                "ci95": [lo, hi],
                "wins": wins,
                "losses": losses,
            }
        )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.fmean(vals), 6) if vals else None


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def results_markdown(doc: Mapping[str, Any]) -> str:
    lines = [
        f"# {doc['name']}: EX on the test split (%, {doc['counts']['test']} questions)",
        "",
        f"Split: {doc['split']['kind']} ({doc['counts']['dbs']} databases, {doc['counts']['train']} real "
        f"train questions, selection carved from them by the loop); seeds {', '.join(map(str, doc['seeds']))}; "
        f"commit {doc['commit']}; wall {doc['wall_s'] / 60:.1f} min on {doc['hardware']}.",
        "",
        "| arm | paper row | starts from | EX mean ± sd | per seed | Δ vs sft [95% CI] | TS mean ± sd | easy | medium | hard | extra | train steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, e in doc["arms"].items():
        sd = f" ± {_pct(e['ex_sd'])}" if e["ex_sd"] is not None else ""
        per = ", ".join(_pct(v["ex"]) for v in e["seeds"].values())
        d = e.get("diff_vs_sft")
        diff = f"{100 * d['mean']:+.1f} [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]" if d else "–"
        h = e["by_hardness_mean"]
        ts = (
            "–"
            if e.get("ts_mean") is None
            else _pct(e["ts_mean"]) + (f" ± {_pct(e['ts_sd'])}" if e.get("ts_sd") is not None else "")
        )
        lines.append(
            f"| `{arm}` | {e['paper_row']} | {e.get('start', '–')} | {_pct(e['ex_mean'])}{sd} | {per} | {diff} | {ts} | {_pct(h['easy'])} | "
            f"{_pct(h['medium'])} | {_pct(h['hard'])} | {_pct(h['extra'])} | {e['train_steps_mean']:.0f} |"
        )
    if doc.get("contrasts"):
        lines += [
            "",
            "Paired contrasts (the paper's ablations; over the seeds both arms have; wins / losses = test "
            "questions one arm gets right and the other wrong, summed over seeds):",
            "",
            "| arm | vs | measures | Δ EX [95% CI] | wins / losses | seeds |",
            "|---|---|---|---|---|---|",
        ]
        for c in doc["contrasts"]:
            lines.append(
                f"| `{c['arm']}` | `{c['against']}` | {c['measures']} | {100 * c['mean']:+.1f} "
                f"[{100 * c['ci95'][0]:+.1f}, {100 * c['ci95'][1]:+.1f}] | {c['wins']} / {c['losses']} | "
                f"{', '.join(map(str, c['seeds']))} |"
            )
    walls: dict[str, float] = defaultdict(float)
    for e in doc["arms"].values():
        for s, v in e["seeds"].items():
            walls[s] += v.get("elapsed_s") or 0.0
    if walls:
        lines += [
            "",
            "Wall time per seed (all its arms, shared stages counted once): "
            + ", ".join(f"seed {s} {v / 60:.0f} min" for s, v in sorted(walls.items()))
            + ".",
        ]
    if doc.get("missing"):
        lines += [
            "",
            "**Partial:** not finished yet (seed: arm): "
            + ", ".join(f"{m['seed']}: {m['arm']}" for m in doc["missing"])
            + ".",
        ]
    suite = doc.get("ts")
    lines += [
        "",
        (
            f"TS: on a test suite built by `evaluate build-suite` ({suite['databases']} databases for "
            f"{suite['db_ids']} db_ids, {suite['killed']} of {suite['distinguishable']} distinguishable neighbour "
            "queries killed)."
            if suite
            else "TS: not computed (`[split] suite_size = 0`)."
        ),
        "",
    ]
    return "\n".join(lines)


def plot_results(doc: Mapping[str, Any], rounds: Mapping[str, list[dict]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(doc["arms"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    means = [100 * doc["arms"][a]["ex_mean"] for a in arms]
    sds = [100 * (doc["arms"][a]["ex_sd"] or 0.0) for a in arms]
    ax.bar(range(len(arms)), means, yerr=sds, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right")
    ax.set_ylabel("test EX (%)")
    ax.set_title("EX per arm (mean ± sd over seeds)")
    for seed, rows in rounds.items():
        best: dict[int, float] = {}
        for r in rows:
            if r.get("selection_ex") is not None:
                best[r["round"]] = max(best.get(r["round"], 0.0), r["selection_ex"])
        if best:
            bx.plot(sorted(best), [100 * best[k] for k in sorted(best)], "o-", label=f"spft seed {seed}")
    bx.set_xlabel("round")
    bx.set_ylabel("selection EX (%)")
    bx.set_title("spft: best selection EX per round")
    if rounds:
        bx.legend(fontsize=8)
    from train.plot import save_figure

    return save_figure(fig, path)


def _suite_summary(suite: Path | None) -> dict[str, Any] | None:
    if suite is None:
        return None
    m = json.loads((suite / "manifest.json").read_text(encoding="utf-8"))
    o = m["counts"]["overall"]
    return {
        "dir": str(suite),
        "databases": o.get("suite_size"),
        "db_ids": o.get("databases"),
        "killed": o.get("killed"),
        "distinguishable": o.get("distinguishable"),
        "overall": o,
    }


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_experiment(
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    on_arm: Callable[[ArmResult], None] | None = None,
    report_only: bool = False,
) -> dict[str, Any]:
    """Run (or resume) every arm for every seed; writes ``results.json``, ``results.md``, ``results.png``.

    ``report_only``: train nothing; tabulate the (seed, arm) results already finished (a long run can
    be reported while it goes on); ``results.json`` then lists what is missing under ``missing``.
    """
    from train.manifest import hardware

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split = build_split(cfg, out)
    tests = test_records(out, out / "cache", loop_prompt_config(cfg))
    suite = build_test_suite(cfg, out)
    results: list[ArmResult] = []
    rounds: dict[str, list[dict]] = {}
    # arms in dependency order (shared stages computed once per seed), the paper's main comparison first:
    # a sitting that ends early has sft / spft / vbift before the baselines
    order = [a for a in ("sft", "spft", "vbift", "vbift+dpo", "dpo", "selfplay", "spin", "sft-steps") if a in cfg.arms]
    missing: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        run = SeedRun(cfg, out, seed, split, suite)
        for arm in order:
            if report_only and not (run.dir / "arms" / arm / "result.json").is_file():
                missing.append({"seed": seed, "arm": arm})
                continue
            res = run.run_arm(arm, tests)
            results.append(res)
            _echo(f"seed {seed}: {arm}: test EX {res.ex:.3f}")
            if on_arm:
                on_arm(res)
        if (run.dir / "spft" / "rounds.jsonl").is_file():
            rounds[str(seed)] = read_jsonl(run.dir / "spft" / "rounds.jsonl")
    hw = hardware()
    # wall time over every invocation of this folder (a resumed run adds to it)
    wall_file = out / "wall.json"
    walls = json.loads(wall_file.read_text(encoding="utf-8")) if wall_file.is_file() else []
    if not report_only:
        walls.append(round(time.time() - t0, 1))
        write_json(wall_file, walls)
    gpus = ", ".join(hw.get("gpus", [])) or "no GPU"
    doc = {
        "format": RESULTS_FORMAT,
        "name": cfg.name,
        "config_file": cfg.path,
        "commit": _commit(),
        "hardware": f"{hw.get('cpu_count', '?')} CPU cores ({hw.get('torch_threads', '?')} torch threads), {gpus}, "
        f"{hw.get('machine', '')}",
        "wall_s": round(sum(walls) + (time.time() - t0 if report_only else 0.0), 1),
        "invocations": len(walls),
        "seeds": list(cfg.seeds),
        "split": asdict(cfg.split),
        "counts": split["counts"],
        "model": asdict(cfg.model),
        "loop": cfg.loop,
        "sft": cfg.sft,
        "baseline_pairs": cfg.baseline_pairs,
        "arms": aggregate(cfg, results),
        "contrasts": contrasts(cfg, results),
        "ts": _suite_summary(suite),
        "missing": missing,
    }
    write_json(out / "results.json", doc)
    (out / "results.md").write_text(results_markdown(doc), encoding="utf-8")
    plot_results(doc, rounds, out / "results.png")
    return doc
