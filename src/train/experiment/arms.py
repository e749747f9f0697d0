"""One seed's arms: the stages each arm trains (shared within a seed), and its test result."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.hardness import LEVELS as HARDNESS  # Spider hardness levels, one definition
from evaluation.provenance import digest
from train.experiment.split import (
    TRAINING_NEUTRAL_SPLIT_KEYS,
    echo_step,
    loop_prompt_config,
    short_hash,
    test_suite_verdicts,
)
from train.experiment_config import ARM_RECORDS, ExperimentConfig
from train.fields import optimiser_of
from train.io import read_jsonl, write_json, write_jsonl


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
    commit: str | None = None  # the code that trained and scored it (a run resumed over sessions spans several)


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
        key = short_hash(keyed)
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
        path = self.out / "models" / f"tiny-{short_hash(asdict(m))}-seed{self.seed}"
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
        from train.sft_config import SFTConfig, sft_fields_of

        run_sft(
            SFTConfig(
                data=str(self.dir / "sft" / "data"),
                model=self.base_model(),
                out=str(out),
                task="text2sql",
                **optimiser,
                seed=self.seed,
                **sft_fields_of(self.loop_config()),
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
            echo_step(f"seed {self.seed}: SFT on the real training pairs")
            self._sft_on_real(out / "model", sft_optimiser(lc, self.cfg.sft))
        return str((out / "model").resolve())

    def spft_run(self) -> Path:
        from train.spft import run_spft

        final = self.dir / "spft" / "final"
        if not (final / "scores.json").is_file() or not (self.dir / "spft" / "manifest.json").is_file():
            echo_step(f"seed {self.seed}: train spft")
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
        from train.experiment.archive import require_weights
        from train.selfplay import run_selfplay
        from train.selfplay_config import SelfPlayConfig, selfplay_fields_of

        require_weights(start, f"the {arm} arm (seed {self.seed})")
        real = self.real()
        data = self.dir / "selfplay-data"
        if not (data / "manifest.json").is_file():
            write_baseline_data(data, real, self.cfg.baseline_pairs, self.seed)
        lc = self.loop_config()
        echo_step(f"seed {self.seed}: {arm} ({loss}, {rounds} round(s))")
        res = run_selfplay(
            SelfPlayConfig(
                data=str(data),
                model=start,
                out=str(self.dir / "arms" / arm / "selfplay"),
                rounds=rounds,
                loss=loss,
                pairs_from="train",
                patience=rounds,
                seed=self.seed,
                **selfplay_fields_of(lc),
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
            echo_step(
                f"seed {self.seed}: sft-steps: SFT on the real training pairs for {target} steps "
                f"({optimiser['epochs']:g} epochs; sft took {base_steps})"
            )
            self._sft_on_real(out, optimiser)
        return str(out.resolve()), _steps_of_sft(out)

    def writer_quality(self, samples: int = 20) -> dict[str, Any] | None:
        """The SQL-to-Text writer per VBI-FT iteration of the ``spft`` run, as SPFT-SQL Table 12 asks
        "are its questions consistent with the SQL?": the share of each iteration's D_val questions
        (written by that iteration's writer) that a model answers with a query executing to the gold's
        result -- by the iteration's own model (``val_ex``, the loop's y+ rate) and by one fixed model,
        the ``sft`` arm's (``sft_ex``: the same reader for every writer, so only the writer changes) --
        plus ``samples`` (SQL, question) pairs drawn by a seeded hash. ``None`` before the run exists."""
        from train.experiment.archive import has_weights
        from train.io import data_root_for
        from train.scoring import ex_accuracy, judge_predictions
        from train.vbi import predict_cached

        log = self.dir / "spft" / "vbi" / "vbi_log.jsonl"
        sft = self.dir / "sft" / "model"
        if not log.is_file():
            return None
        rows, pairs = [], []
        data_root = data_root_for(self.dir / "spft" / "real")
        for row in read_jsonl(log):
            it = self.dir / "spft" / "vbi" / f"iter-{row['iteration']}"
            val = read_jsonl(it / "data" / "val.jsonl")
            entry = {
                "iteration": row["iteration"],
                "writer": row["writer"],
                "questions": len(val),
                "val_ex": row["val_ex"],
                "equal_to_rule_based": row.get("questions_equal_to_rule_based"),
                "sft_ex": None,
            }
            cached = it / "sft_model_val_preds.jsonl"
            if (sft / "manifest.json").is_file() and (cached.is_file() or has_weights(sft)):
                preds = predict_cached(str(sft.resolve()), {"v": (val, cached)}, self.loop_config())["v"]
                entry["sft_ex"] = round(ex_accuracy(judge_predictions(val, [p["sql"] for p in preds], data_root)), 6)
            rows.append(entry)
            pairs += [
                {"iteration": row["iteration"], "db_id": v["db_id"], "sql": v["sql"], "question": v["question"]}
                for v in val
            ]
        pairs.sort(key=lambda x: digest(f"spft-sql/writer-samples/{self.seed}/{x['iteration']}/{x['sql']}"))
        return {"iterations": rows, "samples": sorted(pairs[:samples], key=lambda x: x["iteration"])}

    def run_arm(self, arm: str, tests: list[dict[str, Any]]) -> ArmResult:
        """Train (or reuse) the arm's model, then read the test split once."""
        from evaluation.hardness import hardness
        from train.experiment.report import git_commit
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
        from train.experiment.archive import require_weights

        t0 = time.time()
        model, steps = self.arm_model(arm)
        if not preds_path.is_file():
            require_weights(model, f"the {arm} arm's test predictions (seed {self.seed})")
        echo_step(f"seed {self.seed}: {arm}: predicting the {len(tests)} test questions")
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
            commit=git_commit(),
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
