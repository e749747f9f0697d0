"""``train spft`` end to end on the demo corpus with a tiny model: 2 rounds of (2 VBI-FT iterations ->
self-play), checked from the files the run leaves against each point of the SPFT-SQL loop; a kill
inside round 2 and its resume; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError, UnknownNameError
from tests.train.test_vbi import _half_right  # every second y- becomes y+: feedback paths run

pytestmark = pytest.mark.slow

ARGS = [
    "--db",
    "demo",
    "--iterations",
    "2",
    "--n",
    "24",
    "--val-size",
    "6",
    "--epochs",
    "1",
    "--learning-rate",
    "3e-3",
    "--sql2text-epochs",
    "1",
    "--sql2text-learning-rate",
    "3e-3",
    "--batch-size",
    "8",
    "--max-length",
    "256",
    "--max-new-tokens",
    "12",
    "--question-max-new-tokens",
    "12",
    "--gen-batch-size",
    "8",
    "--eval-ex-limit",
    "2",
    "--logging-steps",
    "5",
    "--selfplay-learning-rate",
    "1e-3",
    "--lambda",
    "0.5",
    "--failed-share",
    "0.5",
]


def _weights(folder: str | Path) -> str:
    from evaluation.provenance import sha256_file

    return sha256_file(Path(folder) / "model.safetensors")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


class Killed(RuntimeError):
    pass


@pytest.fixture(scope="module")
def spft_run(tmp_path_factory):
    pytest.importorskip("torch")
    import train.selfplay as selfplay
    import train.vbi as vbi
    from synth.generation import GenerateConfig, generate, write_outputs
    from train.cli import main
    from train.models.tiny import TinyConfig, init_tiny

    root = tmp_path_factory.mktemp("spft")
    write_outputs(generate(GenerateConfig(db="demo", n=40, val_size=4, seed=5)), root / "tokdata")
    tiny = init_tiny(root / "tokdata", root / "tiny", TinyConfig(vocab_size=600, seed=0))
    out = root / "run"
    args = ["spft", "--model", str(tiny), "--out", str(out), *ARGS]
    real_selfplay = selfplay.run_selfplay
    calls = []

    def killed_in_round_2(cfg):
        calls.append(cfg.out)
        if "round-2" in cfg.out and calls.count(cfg.out) == 1:
            raise Killed("killed during round 2's self-play")
        return real_selfplay(cfg)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vbi, "verify", _half_right(vbi.verify))
        mp.setattr(selfplay, "run_selfplay", killed_in_round_2)
        first = CliRunner().invoke(main, args + ["--rounds", "1"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        round1_model = (out / "round-1" / "selfplay" / "round-1" / "model" / "model.safetensors").stat().st_mtime_ns
        with pytest.raises(Killed):
            CliRunner().invoke(main, args + ["--rounds", "2"], catch_exceptions=False)
        killed_state = json.loads((out / "state.json").read_text())
        iter2 = (out / "vbi" / "iter-2" / "text2sql" / "manifest.json").stat().st_mtime_ns
        res = CliRunner().invoke(main, args + ["--rounds", "2"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    return {
        "out": out,
        "args": args,
        "output": res.output,
        "killed_state": killed_state,
        "round1_model": round1_model,
        "iter2": iter2,
        "tiny": tiny,
    }


def test_run_leaves_rounds_final_model_and_manifest(spft_run):
    """The run returns Alg. 1's output, the last round's main (``--final last``): ``final/`` holds its
    weights; the best on the selection split is reported beside it."""
    from train.io import checkpoint_fingerprint

    out = spft_run["out"]
    rows = _lines(out / "rounds.jsonl")
    assert sorted({r["round"] for r in rows}) == [1, 2]
    assert {r["stage"] for r in rows if r["round"] == 1} == {"base", "vbi", "selfplay"}
    assert {r["stage"] for r in rows if r["round"] == 2} == {"base", "earlier", "vbi", "selfplay"}
    assert all(r["selection_ex"] is not None and r["dval_ex"] is not None for r in rows)
    assert (out / "rounds.png").stat().st_size > 1000
    scores = json.loads((out / "final" / "scores.json").read_text())
    last_main = [r for r in rows if r["round"] == 2 and r["main_next"]]
    assert len(last_main) == 1 and scores["model"] == last_main[0]["model"] and scores["round"] == 2
    assert _weights(out / "final") == _weights(last_main[0]["path"])  # the same weights
    assert (out / "final" / "config.json").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "train spft" and manifest["counts"]["rounds_completed"] == 2
    assert manifest["results"]["final_by"] == "last" and manifest["results"]["pool_scope"] == "grow"
    best = max(r["selection_ex"] for r in rows)
    assert manifest["results"]["best_on_selection"]["selection_ex"] == best
    assert manifest["results"]["final"]["fingerprint"] == checkpoint_fingerprint(out / "final")
    assert manifest["inputs"]["model_fingerprint"] == checkpoint_fingerprint(spft_run["tiny"])
    assert manifest["results"]["splits"]["selection"] == manifest["counts"]["real_selection"] > 0
    assert manifest["results"]["splits"]["dval_per_round"] == {"round-1": 12, "round-2": 12}
    assert "final model (the last round's main)" in spft_run["output"]
    assert "round 2: best selection EX" in spft_run["output"]
    # progress: one line per VBI-FT iteration and per self-play round, with its EX
    assert "[spft round 2/2] self-play (spft" in spft_run["output"]  # (the iterations ran before the kill)
    assert "[selfplay round 1/1] main" in spft_run["output"] and "D_val EX" in spft_run["output"]


def test_final_selection_returns_the_best_on_selection(spft_run, tmp_path):
    """``--final selection`` keeps the old reading; only the returned model changes, so a finished run
    may be asked again with it (nothing is trained again) -- and back."""
    import shutil

    from train.cli import main
    from train.vbi import best_on_selection

    out = tmp_path / "run"
    shutil.copytree(spft_run["out"], out, symlinks=True)
    args = [a if a != str(spft_run["out"]) else str(out) for a in spft_run["args"]] + ["--rounds", "2"]
    before = (out / "vbi" / "iter-3" / "text2sql" / "model.safetensors").stat().st_mtime_ns
    res = CliRunner().invoke(main, args + ["--final", "selection"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    best = best_on_selection(_lines(out / "rounds.jsonl"))
    scores = json.loads((out / "final" / "scores.json").read_text())
    assert (scores["round"], scores["model"]) == (best["round"], best["model"])
    assert _weights(out / "final") == _weights(best["path"]) and "best on the selection split" in res.output
    assert json.loads((out / "manifest.json").read_text())["results"]["final_by"] == "selection"
    assert (out / "vbi" / "iter-3" / "text2sql" / "model.safetensors").stat().st_mtime_ns == before


def test_each_round_trains_on_real_plus_this_iterations_synthetic(spft_run):
    """Per iteration (across rounds too): the real pairs + that iteration's --n synthetic pairs only
    (SPFT-SQL Table 14); ``--accumulate`` keeps the old reading."""
    out = spft_run["out"]
    real = _lines(out / "real" / "train.jsonl")
    log = _lines(out / "vbi" / "vbi_log.jsonl")
    assert [r["iteration"] for r in log] == [0, 1, 2, 3]
    for r in log:
        assert (r["real_train_examples"], r["synthetic_train_examples"]) == (len(real), r["train_examples"])
        sft = _lines(out / "vbi" / f"iter-{r['iteration']}" / "sft-data" / "train.jsonl")
        assert sum(x["source"] == "real-train" for x in sft) == len(real)
        assert {x["source"] for x in sft if x["source"] != "real-train"} == {f"synthetic-iter-{r['iteration']}"}
        assert sum(x["source"].startswith("synthetic-iter-") for x in sft) == r["train_examples"]


def test_iteration_0_writer_is_the_base_model_few_shot(spft_run):
    """``--writer0 auto``: a model with a chat template writes iteration 0 few-shot, untuned (SPFT-SQL
    A.10's writer "before optimization"); the manifest says which happened and why. From iteration 1 on
    the writer is that model fine-tuned on the real pairs + every y+ so far, each y+ in its training part."""
    out = spft_run["out"]
    log = _lines(out / "vbi" / "vbi_log.jsonl")
    assert log[0]["writer"] == f"few-shot:{spft_run['tiny']}"
    assert not (out / "vbi" / "sql2text-0").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["results"]["writer0"] == {
        "requested": "auto",
        "used": "few-shot",
        "reason": "the SQL-to-Text model has a chat template",
    }
    assert all(r["writer"].startswith("model:") for r in log[1:])
    seen: list[str] = []
    for r in log:
        it = out / "vbi" / f"iter-{r['iteration']}"
        seen += [x["id"] for x in _lines(it / "verified.jsonl") if x["verdict"] == "y+"]
        train = {x["id"] for x in _lines(it / "sql2text-data" / "train.jsonl")}
        val = _lines(it / "sql2text-data" / "val.jsonl")
        assert seen and set(seen) <= train and not any(x["source"].endswith("-y+") for x in val)


def test_failed_templates_seed_a_share_of_every_next_iteration(spft_run):
    """Point 3, also across the round boundary."""
    out = spft_run["out"]
    log = _lines(out / "vbi" / "vbi_log.jsonl")
    for prev, cur in zip(log, log[1:]):
        assert cur["failed_templates_in"] == sorted(prev["failure_templates"])
        m = json.loads((out / "vbi" / f"iter-{cur['iteration']}" / "data" / "manifest.json").read_text())
        assert m["counts"]["failed_template_requested"] == 15  # round(0.5 * (24 + 6))
        assert 0 < cur["failed_template_examples"] == m["counts"]["failed_template_drawn"]


def test_selfplay_runs_on_the_rounds_test_like_dval(spft_run, tmp_path):
    """Point 4 (D_val = the round's iterations' test-like D_val, equal to `synth build-prompts` output)
    and Algorithm 1's roles."""
    from synth.cli import main as synth_main

    out = spft_run["out"]
    val = _lines(out / "round-2" / "selfplay-data" / "val.jsonl")
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([{"db_id": r["db_id"], "question": r["question"], "query": r["sql"]} for r in val]))
    res = CliRunner().invoke(
        synth_main, ["build-prompts", "--db", "demo", "--data", str(gold), "--out", str(tmp_path / "p.jsonl")]
    )
    assert res.exit_code == 0, res.output
    assert [b["prompt"] for b in _lines(tmp_path / "p.jsonl")] == [r["prompt"] for r in val]
    for r, its in ((1, (0, 1)), (2, (2, 3))):
        val = _lines(out / f"round-{r}" / "selfplay-data" / "val.jsonl")
        expected = [x for g in its for x in _lines(out / "vbi" / f"iter-{g}" / "data" / "val.jsonl")]
        assert val == expected
        sp_rows = _lines(out / f"round-{r}" / "selfplay" / "rounds.jsonl")
        assert sp_rows[0]["loss"] == "spft" and sp_rows[0]["pairs_from"] == "val"
        assert sp_rows[0]["main_val_ex"] >= sp_rows[0]["opponent_val_ex"]


def test_round_2_starts_from_round_1s_selfplay_main(spft_run):
    """The self-play main is incorporated into the next round's SFT."""
    out = spft_run["out"]
    rows = _lines(out / "rounds.jsonl")
    main1 = [r for r in rows if r["round"] == 1 and r["main_next"]]
    assert len(main1) == 1 and main1[0]["stage"] == "selfplay"
    log = _lines(out / "vbi" / "vbi_log.jsonl")
    assert log[2]["text2sql_start"] == main1[0]["path"]
    sft2 = json.loads((out / "vbi" / "iter-2" / "text2sql" / "manifest.json").read_text())
    assert sft2["inputs"]["model"] == main1[0]["path"]


def test_the_pool_grows_over_rounds_from_the_base_model(spft_run):
    """Alg. 1: M starts with p_θ0, every optimized main is added, and M′ leaves out only the used
    opponents: round 2's pool holds the base model, round 1's VBI-FT models and round 1's main, plus
    round 2's VBI-FT models; a used opponent is never the opponent again."""
    out = spft_run["out"]
    pool1 = json.loads((out / "round-1" / "pool" / "pool.json").read_text())["models"]
    pool2 = json.loads((out / "round-2" / "pool" / "pool.json").read_text())["models"]
    tiny = str(spft_run["tiny"])
    assert [(m["id"], m["origin"]) for m in pool1] == [("base", "base"), ("v0", "vbi-iter-0"), ("v1", "vbi-iter-1")]
    assert pool1[0]["path"] == tiny
    main1 = [r for r in _lines(out / "rounds.jsonl") if r["round"] == 1 and r["main_next"]][0]
    ids2 = [m["id"] for m in pool2]
    assert ids2 == ["base", "v0", "v1", "r1s1", "v2", "v3"]
    assert pool2[0]["path"] == tiny and pool2[3]["path"] == main1["path"]
    assert pool2[3]["origin"] == "round-1-selfplay-round-1"
    opp1 = _lines(out / "round-1" / "selfplay" / "rounds.jsonl")[0]["opponent"]
    assert [m["id"] for m in pool2 if m["used_as_opponent"]] == [opp1]  # it stays in M, out of M′
    opp2 = _lines(out / "round-2" / "selfplay" / "rounds.jsonl")[0]["opponent"]
    assert opp2 != opp1
    # every model of M is scored on the selection split each round (predicted once per model)
    rows2 = [r for r in _lines(out / "rounds.jsonl") if r["round"] == 2]
    assert sorted(r["model"] for r in rows2 if r["stage"] != "selfplay") == sorted(ids2)


def test_selection_split_is_never_trained_on(spft_run):
    """Point 6: no SFT, SQL-to-Text or self-play data holds a selection pair (or its SQL)."""
    from synth.generation import collision_key

    out = spft_run["out"]
    selection = _lines(out / "real" / "selection.jsonl")
    assert selection
    held_q = {(r["db_id"], r["question"]) for r in selection}
    held_sql = {(r["db_id"], collision_key(r["sql"])) for r in selection}
    checked = 0
    for f in out.rglob("*.jsonl"):
        if f.parent.name in {"sft-data", "sql2text-data", "selfplay-data", "data"} or f.name == "pairs.jsonl":
            for x in _lines(f):
                q = x.get("question")
                assert (x.get("db_id"), q) not in held_q, f
                if "sql" in x:
                    assert (x["db_id"], collision_key(x["sql"])) not in held_sql, f
                checked += 1
    assert checked > 200


def test_a_kill_inside_round_2_resumes_without_redoing_work(spft_run):
    out = spft_run["out"]
    killed = spft_run["killed_state"]
    assert killed["completed_rounds"] == 1 and killed["vbi"]["completed_iterations"] == 4
    assert (out / "round-1" / "selfplay" / "round-1" / "model" / "model.safetensors").stat().st_mtime_ns == spft_run[
        "round1_model"
    ]
    assert (out / "vbi" / "iter-2" / "text2sql" / "manifest.json").stat().st_mtime_ns == spft_run["iter2"]
    assert json.loads((out / "state.json").read_text())["completed_rounds"] == 2


def test_resume_with_other_parameters_is_refused_and_leaves_the_run_usable(spft_run):
    from train.cli import main

    out = spft_run["out"]
    before = (out / "state.json").read_bytes()
    args = [a if a != "0.5" else "0.25" for a in spft_run["args"]]  # --lambda 0.5 -> 0.25 (and failed-share)
    res = CliRunner().invoke(main, args + ["--rounds", "2"])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "lam" in res.output
    assert (out / "state.json").read_bytes() == before
    again = CliRunner().invoke(main, spft_run["args"] + ["--rounds", "2"])
    assert again.exit_code == 0, again.output  # same options: nothing to redo, the final model is reported
    assert (out / "state.json").read_bytes() == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "papr"], "did you mean 'paper'"),
        (["--rounds", "0"], "rounds"),
        (["--loss", "sptf"], "did you mean 'spft'"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, extra, message):
    from train.cli import main

    res = CliRunner().invoke(main, ["spft", "--db", "demo", "--model", "m", "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and message in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_a_benchmark_without_training_pairs_is_a_clear_error(tmp_path, spft_run):
    import shutil

    from synth.sources import DEMO_ROOT
    from train.cli import main

    bench = tmp_path / "mybench"
    shutil.copytree(DEMO_ROOT / "database", bench / "database")
    shutil.copy(DEMO_ROOT / "tables.json", bench / "tables.json")
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["spft", "--db", str(bench), "--model", str(spft_run["tiny"]), "--out", str(out)])
    assert res.exit_code == 1 and "Error: no training file" in res.output, res.output
    assert not (out / "state.json").exists()  # nothing half-made that a rerun would trip over


def test_paper_preset_fills_defaults_and_explicit_options_win():
    from train.spft_config import SpftConfig, with_preset
    from train.vbi_config import PRESETS

    cfg = with_preset({"model": "m", "out": "o", "preset": "paper", "learning_rate": 5e-5}, explicit={"learning_rate"})
    assert cfg.lora and cfg.grad_accum * cfg.batch_size == 64 and cfg.epochs == 3.0 and cfg.n == 3000
    assert cfg.learning_rate == 5e-5 and cfg.sql2text_learning_rate == 2e-4
    cpu = with_preset({"model": "m", "out": "o"})
    assert cpu == SpftConfig(model="m", out="o") and PRESETS["cpu"] == {}
    with pytest.raises(UnknownNameError, match="paper"):
        with_preset({"model": "m", "out": "o", "preset": "h100"})
    with pytest.raises(ConfigError, match="selfplay_rounds"):
        SpftConfig(model="m", out="o", selfplay_rounds=0)


def test_docs_show_both_presets():
    from train.vbi_config import PRESETS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "train.md").read_text()
    assert "### Presets" in docs
    for key in PRESETS["paper"]:
        option = "global batch" if key == "global_batch" else f"`--{key.replace('_', '-')}`"
        assert option in docs, key
