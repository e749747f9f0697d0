"""``train experiment``: config checks, the split (no test question leaks), the statistics, and the
shipped config's ``--smoke`` run end to end (every arm, results.json against its schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError, InputError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "experiments"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "name", ["tiny-indomain.toml", "tiny-crossdomain.toml", "paper-qwen7b.toml", "smol-indomain.toml"]
)
def test_shipped_configs_load_and_differ_only_in_scale(name):
    from train.experiment_config import ARMS, load_experiment
    from train.spft_config import with_preset

    cfg = load_experiment(CONFIGS / name)
    assert set(cfg.arms) == set(ARMS) and len(cfg.seeds) >= 3
    smoke = cfg.smoked()
    assert len(smoke.seeds) == 1 and smoke.name.endswith("-smoke")
    with_preset(dict(cfg.loop, model="m", out="o"), explicit=set(cfg.loop) - {"preset"})  # every loop key is valid


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("arms = ['sft', 'sfpt']", UnknownNameError, "'spft'"),
        ("[split]\nkind = 'indomian'", UnknownNameError, "indomain"),
        ("[loop]\nlerning_rate = 1.0", InputError, "lerning_rate"),
        ("[split]\ntest_fraction = 1.5", ConfigError, "test_fraction"),
        ("seeds = []", InputError, "seeds"),
        ("[smoke]\nbogus = 1", ConfigError, "bogus"),
        ("[model]\ninit = 'path'", ConfigError, "path"),
        ("name = ", InputError, "TOML"),
    ],
)
def test_config_mistakes_name_the_key(tmp_path, text, error, message):
    from train.experiment_config import load_experiment

    with pytest.raises(error, match=message):
        load_experiment(_write(tmp_path, text))


def test_every_arm_is_one_record_and_runs_in_order(tmp_path):
    from click.testing import CliRunner

    from train.cli import main
    from train.experiment.runner import RUN_ORDER
    from train.experiment_config import ARM_RECORDS, ARMS

    assert sorted(RUN_ORDER) == sorted(ARMS) == sorted(ARM_RECORDS)
    help_text = CliRunner().invoke(main, ["experiment", "--help"]).output
    assert "sft-steps" in " ".join(help_text.split()) and "--arms" in help_text
    res = CliRunner().invoke(
        main, ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--out", str(tmp_path), "--arms", "sft,spfft"]
    )
    assert res.exit_code == 1 and "did you mean 'spft'" in res.output


def test_paired_bootstrap_interval_covers_the_mean_and_is_seeded():
    from train.experiment import paired_bootstrap

    a = [1.0] * 30 + [0.0] * 70
    b = [1.0] * 20 + [0.0] * 80
    mean, lo, hi = paired_bootstrap(a, b, resamples=500)
    assert mean == pytest.approx(0.1) and lo <= mean <= hi and lo >= 0.0
    assert paired_bootstrap(a, b, resamples=500) == (mean, lo, hi)
    same = paired_bootstrap(a, a, resamples=100)
    assert same == (0.0, 0.0, 0.0)


def test_indomain_split_keeps_test_questions_out_of_the_benchmark(tmp_path, data_root):
    from train.experiment import build_split
    from train.experiment_config import load_experiment

    cfg = load_experiment(_write(tmp_path, "[split]\ntop_dbs = 3\nmax_per_db = 40\n"))
    out = tmp_path / "exp"
    manifest = build_split(cfg, out)
    train = json.loads((out / "split" / "bench" / "train.json").read_text())
    test = json.loads((out / "split" / "test.json").read_text())
    assert manifest["counts"] == {"train": len(train), "test": len(test), "dbs": 3}
    assert len(train) + len(test) == 120 and len(test) == 24  # 20 % of 40 per database
    key = lambda ex: (ex["db_id"], ex["question"], ex["query"])  # noqa: E731
    assert not {key(e) for e in train} & {key(e) for e in test}
    assert {e["db_id"] for e in test} == set(manifest["db_ids"]) == {e["db_id"] for e in train}
    assert (out / "split" / "bench" / "database").is_dir()
    assert build_split(cfg, out) == manifest  # cached
    build_split(cfg, tmp_path / "again")
    assert json.loads((tmp_path / "again" / "split" / "test.json").read_text()) == test  # seeded, not random


@pytest.mark.slow
def test_smoke_run_of_the_shipped_config_end_to_end(tmp_path):
    """The test suite's run of `train experiment experiments/tiny-indomain.toml --smoke`: every arm trains,
    is scored once on test, and the tables validate; a rerun reuses everything and gives the same numbers."""
    from jsonschema import Draft202012Validator

    from train.cli import main

    out = tmp_path / "exp"
    res = CliRunner().invoke(
        main, ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--out", str(out), "--smoke"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    schema = json.loads((ROOT / "data_schemas" / "experiment_results.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    assert list(doc["arms"]) == [
        "zero-shot",
        "sft",
        "vbift",
        "spft",
        "selfplay",
        "spin",
        "dpo",
        "vbift+dpo",
        "sft-steps",
    ]
    assert doc["counts"]["test"] == 8 and doc["seeds"] == [0]
    from train.experiment.report import git_commit

    assert {v["commit"] for e in doc["arms"].values() for v in e["seeds"].values()} == {git_commit()}
    assert doc["ts"]["databases"] >= 2 and (out / "split" / "suite" / "manifest.json").is_file()
    for e in doc["arms"].values():  # TS <= EX item by item (the original database is in the suite)
        assert e["ts_mean"] <= e["ex_mean"]
    for arm, e in doc["arms"].items():
        assert (e["seeds"]["0"]["train_steps"] > 0) == (arm != "zero-shot"), arm
        assert ("diff_vs_sft" in e) == (arm != "sft")
    # each arm starts as its paper says: Table 3's +DPO and the SPIN row from the base model, self-play
    # without VBI-FT from the sft model, vbift+dpo from the vbift model
    run = next((out / "runs").iterdir())
    starts = {
        a: json.loads((run / "arms" / a / "selfplay" / "manifest.json").read_text())["inputs"]["start"]
        for a in ("selfplay", "spin", "dpo", "vbift+dpo")
    }
    base = doc["arms"]["zero-shot"]["seeds"]["0"]["model"]
    assert starts["spin"] == starts["dpo"] == base != starts["selfplay"]
    assert starts["selfplay"] == str((run / "sft" / "model").resolve())
    assert starts["vbift+dpo"] == doc["arms"]["vbift"]["seeds"]["0"]["model"]
    assert {a: e["start"] for a, e in doc["arms"].items()} == {
        "zero-shot": "base",
        "sft": "base",
        "vbift": "base",
        "spft": "base",
        "selfplay": "sft",
        "spin": "base",
        "dpo": "base",
        "vbift+dpo": "vbift",
        "sft-steps": "base",
    }
    spin_cfg = json.loads((run / "arms" / "spin" / "selfplay" / "manifest.json").read_text())
    assert spin_cfg["parameters"]["loss"] == "spin"  # (its opponent samples: test_faithful_defaults.py)
    # the equal-compute control trains as many steps as spft (epochs scaled; rounding may add one step)
    eq, spft = (doc["arms"][a]["seeds"]["0"]["train_steps"] for a in ("sft-steps", "spft"))
    assert abs(eq - spft) <= 1 and eq > doc["arms"]["sft"]["seeds"]["0"]["train_steps"]
    assert any(c["arm"] == "spft" and c["against"] == "sft-steps" for c in doc["contrasts"])
    assert "| `spft` | SPFT-SQL | base |" in (out / "results.md").read_text()
    assert "diff_vs_sft_steps" in doc["arms"]["spft"] and "wins" in doc["arms"]["spft"]["diff_vs_sft"]
    # the writer per iteration (Table 12's question, by execution) and sampled pairs
    quality = doc["writer_quality"]["0"]
    assert [r["iteration"] for r in quality["iterations"]] == [0] and quality["iterations"][0]["sft_ex"] is not None
    assert 0 < len(quality["samples"]) <= 20 and "sampled (SQL, question) pairs" in (out / "results.md").read_text()
    assert (out / "results.png").stat().st_size > 1000
    # no synthetic query equals a test query (the test split is synthesis' exclude_sql)
    from synth.generation import collision_key

    test = {(e["db_id"], collision_key(e["query"])) for e in json.loads((out / "split" / "test.json").read_text())}
    for f in (run / "spft" / "vbi").glob("iter-*/data/*.jsonl"):
        if f.name in ("train.jsonl", "val.jsonl"):
            assert all(
                (r["db_id"], collision_key(r["sql"])) not in test for r in map(json.loads, f.read_text().splitlines())
            )
    again = CliRunner().invoke(
        main, ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--out", str(out), "--smoke"], catch_exceptions=False
    )
    assert again.exit_code == 0
    doc2 = json.loads((out / "results.json").read_text())
    assert doc2["arms"] == doc["arms"] and doc2["invocations"] == 2
    # --report-only tabulates what is finished without training, and says what is missing
    import shutil

    shutil.rmtree(run / "arms" / "spin")
    rep = CliRunner().invoke(
        main,
        ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--out", str(out), "--smoke", "--report-only"],
        catch_exceptions=False,
    )
    assert rep.exit_code == 0 and "**Partial:**" in rep.output and "0: spin" in rep.output
    doc3 = json.loads((out / "results.json").read_text())
    assert "spin" not in doc3["arms"] and doc3["missing"] == [{"seed": 0, "arm": "spin"}]
    assert doc3["arms"]["spft"] == doc["arms"]["spft"] and not (run / "arms" / "spin").exists()
    # --archive: the results outlive the machine. A fresh folder restored from the archive reuses every
    # finished arm (and rebuilds the report, the writer's table included) without one model weight ...
    archive, fresh = tmp_path / "archive", tmp_path / "fresh"
    kept = ["--arms", "zero-shot,sft,vbift,spft,selfplay,dpo,vbift+dpo,sft-steps"]
    cmd = ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--smoke", *kept, "--archive", str(archive)]
    saved = CliRunner().invoke(main, [*cmd, "--out", str(out)], catch_exceptions=False)
    assert saved.exit_code == 0 and (archive / "results.json").is_file()
    assert not [p for p in archive.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt")]
    assert all(p.stat().st_size < 2_000_000 for p in archive.rglob("*") if p.is_file())
    reused = CliRunner().invoke(main, [*cmd, "--out", str(fresh)], catch_exceptions=False)
    assert reused.exit_code == 0, reused.output
    assert "restored" in reused.output and "SFT on the real" not in reused.output and "train spft" not in reused.output
    doc4 = json.loads((fresh / "results.json").read_text())
    assert doc4["arms"] == doc3["arms"] and doc4["writer_quality"] == doc3["writer_quality"]
    assert not list((fresh / "runs").rglob("*.safetensors"))
    # ... and an arm that must start from a model whose weights stayed behind says so, before any work
    shutil.rmtree(next((fresh / "runs").iterdir()) / "arms" / "selfplay")
    again = CliRunner().invoke(
        main, ["experiment", str(CONFIGS / "tiny-indomain.toml"), "--smoke", "--arms", "selfplay", "--out", str(fresh)]
    )
    assert again.exit_code == 1 and "only its manifest is here" in again.output, again.output
    # the writer's table without its cached reads and without the sft weights: sft_ex unknown, no crash
    for f in (fresh / "runs").rglob("sft_model_val_preds.jsonl"):
        f.unlink()
    rep = CliRunner().invoke(main, [*cmd[:-2], "--out", str(fresh), "--report-only"], catch_exceptions=False)
    assert rep.exit_code == 0, rep.output
    rows = json.loads((fresh / "results.json").read_text())["writer_quality"]["0"]["iterations"]
    assert [r["sft_ex"] for r in rows] == [None] and rows[0]["val_ex"] == doc3["writer_quality"]["0"]["iterations"][0][
        "val_ex"
    ]


@pytest.mark.slow
def test_same_config_and_seed_give_the_same_numbers(tmp_path):
    """Issue 14: rerunning the same config with the same seeds (from scratch, another folder) gives the
    same numbers on CPU -- here the sft arm of the smoke config, down to the model's bytes."""
    import dataclasses

    from train.experiment import run_experiment
    from train.experiment_config import load_experiment
    from train.io import checkpoint_fingerprint

    cfg = load_experiment(CONFIGS / "tiny-indomain.toml").smoked()
    cfg = dataclasses.replace(cfg, arms=("sft",), split=dataclasses.replace(cfg.split, suite_size=0))
    a = run_experiment(cfg, tmp_path / "a")
    b = run_experiment(cfg, tmp_path / "b")
    for doc in (a, b):  # wall time is the one thing allowed to differ
        for seed in doc["arms"]["sft"]["seeds"].values():
            seed.pop("elapsed_s")
    assert a["arms"] == json.loads(json.dumps(b["arms"]).replace(str(tmp_path / "b"), str(tmp_path / "a")))
    ma, mb = (Path(d["arms"]["sft"]["seeds"]["0"]["model"]) for d in (a, b))
    assert checkpoint_fingerprint(ma) == checkpoint_fingerprint(mb)


def test_seed_cache_key_ignores_training_neutral_split_keys(tmp_path):
    """Building a TS suite (or resizing it) must not orphan finished seeds; a training-relevant key must."""
    import dataclasses

    from train.experiment import SeedRun
    from train.experiment_config import load_experiment

    cfg = load_experiment(CONFIGS / "tiny-indomain.toml")
    split = {"db_ids": ["a"]}
    base = SeedRun(cfg, tmp_path, 0, split).dir
    resized = dataclasses.replace(cfg, split=dataclasses.replace(cfg.split, suite_size=0))
    assert SeedRun(resized, tmp_path, 0, split).dir == base
    other = dataclasses.replace(cfg, split=dataclasses.replace(cfg.split, test_fraction=0.3))
    assert SeedRun(other, tmp_path, 0, split).dir != base


def test_baseline_pairs_cap_is_a_seeded_subset_and_part_of_the_seed_key(tmp_path):
    """`[baselines] pairs`: the self-play baselines answer a fixed, seeded subset of the real training
    questions (the same for every baseline arm of a seed); changing it re-trains, leaving it out keeps
    the key that configs without it always had."""
    import dataclasses

    from train.experiment import SeedRun, baseline_questions
    from train.experiment_config import load_experiment

    recs = [{"db_id": f"d{i % 3}", "question": f"q{i}", "sql": "SELECT 1"} for i in range(50)]
    sub = baseline_questions(recs, 10, seed=0)
    assert len(sub) == 10 and sub == baseline_questions(recs, 10, seed=0)
    assert [r for r in recs if r in sub] == sub  # original order kept
    assert sub != baseline_questions(recs, 10, seed=1)
    assert baseline_questions(recs, 0, seed=0) == recs and baseline_questions(recs, 99, seed=0) == recs

    cfg = load_experiment(CONFIGS / "tiny-indomain.toml")
    assert cfg.baseline_pairs == 300 and cfg.smoked().baseline_pairs == 12
    split = {"db_ids": ["a"]}
    keys = {n: SeedRun(dataclasses.replace(cfg, baseline_pairs=n), tmp_path, 0, split).dir for n in (0, 300, 200)}
    assert len(set(keys.values())) == 3
    with pytest.raises(InputError, match="pairs"):
        load_experiment(_write(tmp_path, "[baselines]\npairs = -1"))
    with pytest.raises(InputError, match="baselines"):
        load_experiment(_write(tmp_path, "[baselines]\nquestions = 3"))


def test_contrasts_pair_the_papers_ablations_with_wins_and_losses():
    from train.experiment import ArmResult, contrasts, results_markdown
    from train.experiment_config import load_experiment

    cfg = load_experiment(CONFIGS / "tiny-indomain.toml")

    def res(arm, seed, correct, commit="abc1234"):
        return ArmResult(
            arm=arm,
            seed=seed,
            model="m",
            ex=sum(correct) / len(correct),
            n=len(correct),
            by_hardness={h: {"n": 0, "ex": None} for h in ("easy", "medium", "hard", "extra")},
            correct=correct,
            train_steps=1,
            gold_failures=0,
            elapsed_s=60.0,
            commit=commit,
        )

    results = [
        res("sft", 0, [1, 0, 0, 0]),
        res("vbift", 0, [1, 1, 0, 0]),
        res("spft", 0, [0, 1, 1, 1]),
        res("vbift", 1, [0, 0, 0, 0]),
        res("spft", 1, [0, 0, 0, 1], commit="def5678"),  # a later session's code
    ]
    cs = {(c["arm"], c["against"]): c for c in contrasts(cfg, results)}
    assert set(cs) == {("spft", "vbift"), ("vbift", "sft")}  # no selfplay or vbift+dpo results: no contrast
    c = cs[("spft", "vbift")]
    assert c["seeds"] == [0, 1] and c["wins"] == 3 and c["losses"] == 1  # s0: +2 -1 (q0), s1: +1
    assert c["mean"] == pytest.approx((3 - 1) / 8) and c["ci95"][0] <= c["mean"] <= c["ci95"][1]
    assert cs[("vbift", "sft")]["seeds"] == [0]
    from train.experiment import aggregate

    doc = {
        "name": "x",
        "counts": {"test": 4, "dbs": 1, "train": 9},
        "split": {"kind": "indomain"},
        "seeds": [0, 1],
        "commit": "c",
        "wall_s": 60.0,
        "hardware": "h",
        "arms": aggregate(cfg, results),
        "contrasts": contrasts(cfg, results),
        "ts": None,
    }
    md = results_markdown(doc)
    assert "| `spft` | `vbift` | self-play's effect" in md and "3 / 1" in md
    assert "seed 0 3 min, seed 1 2 min" in md
    # a run resumed over sessions says which code made which result
    assert doc["arms"]["spft"]["seeds"]["1"]["commit"] == "def5678"
    assert (
        "Code that made each result (commit: arm seed; a run resumed over sessions spans several): abc1234: sft 0, vbift 0, vbift 1, spft 0; def5678: spft 1."
        in md
    )
    one = dict(doc, arms=aggregate(cfg, results[:3]), commit="abc1234")
    assert "Code that made each" not in results_markdown(one)
    assert "abc1234: sft 0, vbift 0, spft 0." in results_markdown(dict(one, commit="later"))


@pytest.mark.slow
def test_smoke_run_of_the_real_model_config(tmp_path, smollm2):
    """`train experiment experiments/smol-indomain.toml --smoke` on SmolLM2-135M-Instruct: the core arms
    run on the real model (full fine-tuning, --dtype auto), the loop's writer0 is the base model few-shot (it has a
    chat template), and the tables validate. (Every arm's plumbing: the tiny smoke above.)"""
    import dataclasses

    from jsonschema import Draft202012Validator

    from train.experiment import run_experiment
    from train.experiment_config import ARMS, load_experiment

    cfg = load_experiment(CONFIGS / "smol-indomain.toml")
    assert cfg.model.init == "path" and cfg.loop["lora"] is False and cfg.loop["dtype"] == "auto"
    cfg = cfg.smoked()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, path=str(smollm2)))
    out = tmp_path / "exp"
    doc = run_experiment(cfg, out)
    schema = json.loads((ROOT / "data_schemas" / "experiment_results.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    assert list(doc["arms"]) == ["zero-shot", "sft", "vbift", "spft", "sft-steps"] and set(doc["arms"]) <= set(ARMS)
    run = next((out / "runs").iterdir())
    spft = json.loads((run / "spft" / "manifest.json").read_text())
    assert spft["results"]["writer0"]["used"] == "few-shot" and spft["results"]["final_by"] == "last"
    sft = json.loads((run / "sft" / "model" / "manifest.json").read_text())
    assert sft["results"]["dtype"] in ("bf16", "fp32") and sft["parameters"]["lora"] is False
    assert (run / "sft" / "model" / "config.json").is_file()  # full fine-tuning: a whole model
    assert not (run / "sft" / "model" / "adapter_config.json").is_file()
    assert doc["arms"]["zero-shot"]["seeds"]["0"]["model"] == str(smollm2)


def test_git_commit_says_dirty_only_for_changed_source(tmp_path):
    """A result made by uncommitted code must not claim a clean commit; an archive written into the
    repository (outside the source folder) must not make the code look changed."""
    import subprocess

    from train.experiment.report import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "results.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "c")
    sha = git_commit(tmp_path / "src")
    assert sha != "unknown" and "+" not in sha
    (tmp_path / "results.json").write_text('{"changed": 1}\n')
    assert git_commit(tmp_path / "src") == sha
    (tmp_path / "src" / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path / "src") == f"{sha}+dirty"
    assert git_commit(tmp_path / "nowhere") == "unknown"
