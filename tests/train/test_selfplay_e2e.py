"""End to end on CPU: synth generate --db demo -> init-tiny -> sft -> predict -> evaluate -> selfplay.

Also: the pairs / pool / per-round logs / plot / manifest of self-play, and resuming a run that was
killed in the middle of a round (the cached opponent log-probs are then reused).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow


def _run(cli, args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    root = tmp_path_factory.mktemp("e2e")
    data, tiny, sft, sp = root / "out", root / "tiny", root / "sft", root / "sp"
    _run(synth_main, ["generate", "--db", "demo", "--n", "40", "--out", data, "--seed", "0"])
    _run(train_main, ["init-tiny", "--data", data, "--out", tiny, "--vocab-size", "2000"])
    _run(
        train_main,
        [
            "sft",
            "--data",
            data,
            "--model",
            tiny,
            "--out",
            sft,
            "--epochs",
            "2",
            "--learning-rate",
            "3e-3",
            "--max-length",
            "320",
            "--max-new-tokens",
            "16",
            "--eval-ex-limit",
            "2",
            "--logging-steps",
            "5",
        ],
    )
    _run(
        train_main,
        [
            "predict",
            "--model",
            sft,
            "--data",
            data / "val.jsonl",
            "--out",
            root / "preds.jsonl",
            "--max-new-tokens",
            "16",
        ],
    )
    _run(
        train_main,
        [
            "selfplay",
            "--data",
            data,
            "--model",
            sft,
            "--out",
            sp,
            "--rounds",
            "2",
            "--loss",
            "spft",
            "--lambda",
            "0.5",
            "--learning-rate",
            "1e-3",
            "--max-length",
            "320",
            "--max-new-tokens",
            "16",
            "--patience",
            "2",
            "--logging-steps",
            "1",
        ],
    )
    return root


def test_predictions_are_scored_by_evaluate(pipeline):
    from evaluation.cli import main as eval_main

    preds = _lines(pipeline / "preds.jsonl")
    val = _lines(pipeline / "out" / "val.jsonl")
    assert [p["id"] for p in preds] == [v["id"] for v in val]
    manifest = json.loads((pipeline / "out" / "manifest.json").read_text())
    db_root = Path(manifest["inputs"]["data_root"]) / "database"
    _run(
        eval_main,
        [
            "--gold",
            pipeline / "out" / "val.jsonl",
            "--pred",
            pipeline / "preds.jsonl",
            "--db-root",
            db_root,
            "--report",
            pipeline / "report.json",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert (pipeline / "report.json").is_file()


def test_selfplay_outputs(pipeline):
    sp = pipeline / "sp"
    rounds = _lines(sp / "rounds.jsonl")
    assert [r["round"] for r in rounds] == [1, 2]
    pool = json.loads((sp / "pool.json").read_text())["models"]
    assert [m["origin"] for m in pool] == ["given", "selfplay-round-1", "selfplay-round-2"]
    assert all(m["val_ex"] is not None and m["val_hash"] for m in pool)
    assert rounds[0]["main"] == "m0" and rounds[0]["opponent"] == "m0"  # one model: it plays itself
    assert rounds[1]["main"] in {"m0", "m1"}
    pairs = _lines(sp / "round-1" / "pairs.jsonl")
    assert pairs and set(pairs[0]) >= {"id", "prompt", "chosen", "rejected", "reward", "opponent"}
    assert {p["reward"] for p in pairs} <= {0, 1}
    assert sum(p["reward"] for p in pairs) == rounds[0]["wrong_pairs"] > 0
    history = _lines(sp / "round-1" / "log_history.jsonl")
    assert any("margin" in h for h in history) and any("loss" in h for h in history)
    assert (sp / "selfplay.png").stat().st_size > 1000
    best = json.loads((sp / "best.json").read_text())
    assert best["val_ex"] == max(m["val_ex"] for m in pool)
    manifest = json.loads((sp / "manifest.json").read_text())
    assert manifest["command"] == "train selfplay" and manifest["parameters"]["loss"] == "spft"
    assert manifest["counts"]["rounds_completed"] == 2 and manifest["inputs"]["val_hash"]
    assert len(list((sp / "cache").glob("ref-logps-*.json"))) == 2
    assert not (sp / "round-1" / "checkpoints").exists()


def test_resume_after_kill_mid_round(pipeline):
    """Roll the run's state back to 'round 2 started' (as a kill would leave it) and run again."""
    from train.cli import main as train_main

    sp = pipeline / "sp"
    state = json.loads((sp / "state.json").read_text())
    pool = json.loads((sp / "pool.json").read_text())
    rounds = (sp / "rounds.jsonl").read_text().splitlines()
    round1_model = (sp / "round-1" / "model" / "model.safetensors").stat().st_mtime_ns
    state.update(completed_rounds=1, used_opponents=[rounds and json.loads(rounds[0])["opponent"]], bad_rounds=0)
    (sp / "state.json").write_text(json.dumps(state))
    pool["models"] = pool["models"][:2]
    (sp / "pool.json").write_text(json.dumps(pool))
    (sp / "rounds.jsonl").write_text(rounds[0] + "\n")

    _run(
        train_main,
        [
            "selfplay",
            "--data",
            pipeline / "out",
            "--model",
            pipeline / "sft",
            "--out",
            sp,
            "--rounds",
            "2",
            "--loss",
            "spft",
            "--lambda",
            "0.5",
            "--learning-rate",
            "1e-3",
            "--max-length",
            "320",
            "--max-new-tokens",
            "16",
            "--patience",
            "2",
        ],
    )
    again = _lines(sp / "rounds.jsonl")
    assert [r["round"] for r in again] == [1, 2]
    assert again[1]["ref_from_cache"] is True  # opponent log-probs were not recomputed
    assert again[1]["mean_margin"] is not None  # per-round margins do not depend on --logging-steps
    assert (sp / "round-1" / "model" / "model.safetensors").stat().st_mtime_ns == round1_model


def test_dpo_reference_is_the_initial_model_in_every_round(pipeline, tmp_path):
    """dpo: every opponent output is a pair (no execution filter) and p_ref is fixed to the initial
    model (m0), which also writes the negatives, in every round."""
    from train.selfplay import run_selfplay
    from train.selfplay_config import SelfPlayConfig

    res = run_selfplay(
        SelfPlayConfig(
            data=str(pipeline / "out"),
            model=str(pipeline / "sft"),
            out=str(tmp_path / "r"),
            rounds=2,
            loss="dpo",
            lam=0.5,
            learning_rate=1e-3,
            max_length=320,
            max_new_tokens=16,
            patience=2,
        )
    )
    assert len(res.rounds) == 2
    for row in res.rounds:
        assert row["train_pairs"] == row["pairs"]
        assert row["reference"] == "m0" and row["opponent"] == "m0"  # the initial model, not the round-start main
    assert res.rounds[1]["main"] in {"m0", "m1"}


def test_outputs_validate_against_the_schemas(pipeline):
    jsonschema = pytest.importorskip("jsonschema")
    schemas = Path(__file__).resolve().parents[2] / "data_schemas"

    def check(name: str, obj) -> None:
        schema = json.loads((schemas / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(obj)

    sp = pipeline / "sp"
    check("pool", json.loads((sp / "pool.json").read_text()))
    for row in _lines(sp / "round-1" / "pairs.jsonl"):
        check("preference_pair", row)
    for row in _lines(sp / "rounds.jsonl"):
        check("selfplay_log", row)
    for manifest in (sp / "manifest.json", pipeline / "sft" / "manifest.json"):
        check("train_manifest", json.loads(manifest.read_text()))
        check("manifest", json.loads(manifest.read_text()))
    for row in _lines(pipeline / "preds.jsonl"):
        check("prediction", row)
