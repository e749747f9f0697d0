"""Self-play runs on the tiny random model (fast): same seed => same result, LoRA candidates are
adapters over one base, the ExSPIN chain (opponent = previous round's model) with sampled opponent
outputs, and a resume with other settings refused before anything is overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from evaluation.errors import ConfigError  # noqa: E402
from train.selfplay import run_selfplay  # noqa: E402
from train.selfplay_config import SelfPlayConfig  # noqa: E402

FAST = dict(max_length=320, max_new_tokens=6, learning_rate=5e-3, batch_size=4, gen_batch_size=8, logging_steps=1)


@pytest.fixture(scope="module")
def small_data(data_root, tmp_path_factory) -> Path:
    """6 D_val questions with short prompts (question only): a round costs seconds, not minutes."""
    from .conftest import write_data

    folder = write_data(tmp_path_factory.mktemp("small") / "out", data_root, n_train=2, n_val=6)
    for name in ("train.jsonl", "val.jsonl"):
        rows = [json.loads(x) for x in (folder / name).read_text().splitlines()]
        for r in rows:
            r["prompt"] = f"-- Question: {r['question']}\n-- SQL:"
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _cfg(data: Path, model: Path, out: Path, **kw) -> SelfPlayConfig:
    return SelfPlayConfig(data=str(data), model=str(model), out=str(out), **{**FAST, **kw})


def _weights(folder: str) -> dict:
    from safetensors.torch import load_file

    (f,) = [p for p in Path(folder).glob("*.safetensors")]
    return load_file(str(f))


def _comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "ref_from_cache")} for r in rows]


@pytest.fixture(scope="module")
def lora_runs(small_data, tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("sp-lora")
    kw = dict(patience=2, lora=True, lora_r=4, lora_alpha=8, seed=3)
    # b stops after round 1 (a cheaper twin): its round must equal a's round 1 bit for bit
    return [
        run_selfplay(_cfg(small_data, tiny_model, root / name, rounds=n, **kw)) for name, n in (("a", 2), ("b", 1))
    ], root


def test_same_seed_same_result(lora_runs):
    (a, b), root = lora_runs
    assert _comparable(a.rounds[:1]) == _comparable(b.rounds)
    assert [r["new_model"] for r in a.rounds] == ["m1", "m2"]
    wa, wb = _weights(root / "a" / "round-1" / "model"), _weights(root / "b" / "round-1" / "model")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    w2 = _weights(root / "a" / "round-2" / "model")
    assert any(not torch.equal(w2[k], wa[k]) for k in wa)  # round 2 did train
    pairs_a = (root / "a" / "round-1" / "pairs.jsonl").read_text()
    assert pairs_a == (root / "b" / "round-1" / "pairs.jsonl").read_text()


def test_lora_candidates_are_adapters_over_one_base(lora_runs, tiny_model):
    _, root = lora_runs
    models = json.loads((root / "a" / "pool.json").read_text())["models"]
    base = str(Path(tiny_model).resolve())
    assert models[0] == {**models[0], "path": base, "adapter": False}
    for m in models[1:]:
        assert m["adapter"] is True and m["base_model"] == base
        assert (Path(m["path"]) / "adapter_config.json").is_file()
        assert not (Path(m["path"]) / "model.safetensors").exists()  # only the adapter is stored
    manifest = json.loads((root / "a" / "manifest.json").read_text())
    assert manifest["results"]["status"] == "done"
    assert manifest["inputs"]["models"][0]["fingerprint"] and manifest["inputs"]["data_hash"]
    assert manifest["parameters"]["lora_r"] == 4 and manifest["seed"] == 3
    assert [m["id"] for m in manifest["results"]["models"]] == ["m0", "m1", "m2"]
    assert {"platform", "cpu_count"} <= set(manifest["hardware"]) and manifest["versions"]["peft"]


def test_resume_with_other_settings_is_refused(lora_runs, small_data, tiny_model):
    _, root = lora_runs
    before = (root / "a" / "rounds.jsonl").read_text()
    with pytest.raises(ConfigError, match=r"loss \(was 'spft', now 'spin'\)"):
        run_selfplay(
            _cfg(small_data, tiny_model, root / "a", rounds=3, lora=True, lora_r=4, lora_alpha=8, seed=3, loss="spin")
        )
    with pytest.raises(ConfigError, match="started from model:"):
        run_selfplay(
            _cfg(
                small_data,
                root / "a" / "round-1" / "model",
                root / "a",
                rounds=3,
                lora=True,
                lora_r=4,
                lora_alpha=8,
                seed=3,
            )
        )
    assert (root / "a" / "rounds.jsonl").read_text() == before


def test_exspin_chain_with_sampled_opponent(small_data, tiny_model, tmp_path):
    res = run_selfplay(
        _cfg(small_data, tiny_model, tmp_path / "x", loss="exspin", rounds=2, patience=2, samples=2, temperature=1.0)
    )
    r1, r2 = res.rounds
    assert r1["main"] == r1["opponent"] == r1["reference"] == "m0"
    assert r2["main"] == r2["opponent"] == r2["reference"] == r1["new_model"] == "m1"  # previous round's model
    pairs = [json.loads(x) for x in (tmp_path / "x" / "round-1" / "pairs.jsonl").read_text().splitlines()]
    assert {p["sample"] for p in pairs} == {0, 1}
    assert r1["train_pairs"] == r1["wrong_pairs"] == sum(p["reward"] for p in pairs)
    assert 0 < r1["wrong_share"] <= 1


def test_pool_with_mismatched_tokenizers_is_refused(small_data, tiny_model, tmp_path):
    import shutil

    from train.models.modeling import load_tokenizer

    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    tok = load_tokenizer(other)
    tok.add_tokens(["<extra_token>"])
    tok.save_pretrained(str(other))
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    (pool_dir / "pool.json").write_text(
        json.dumps(
            {
                "version": 1,
                "models": [
                    {
                        "id": "m0",
                        "path": str(tiny_model),
                        "base_model": str(tiny_model),
                        "adapter": False,
                        "origin": "given",
                    },
                    {"id": "m1", "path": str(other), "base_model": str(other), "adapter": False, "origin": "given"},
                ],
            }
        )
    )
    cfg = SelfPlayConfig(data=str(small_data), pool=str(pool_dir), out=str(tmp_path / "run"), **FAST)
    with pytest.raises(ConfigError, match="m0 .* and m1 .* use different tokenizers"):
        run_selfplay(cfg)
    assert not (tmp_path / "run" / "pool.json").exists()  # refused before anything was written


def test_round_killed_mid_training_resumes_from_its_checkpoint(
    lora_runs, small_data, tiny_model, tmp_path, monkeypatch
):
    """A crash after step 1 of round 1 (checkpoint-1 saved), then the same command: training resumes from
    checkpoint-1 and ends with the weights of the uninterrupted run b."""
    import train.selfplay_trainer as spt

    real = spt.make_selfplay_trainer_class

    def crashing():
        class Crashing(real()):
            def training_step(self, *a, **kw):
                if self.state.global_step >= 1:
                    raise RuntimeError("killed")
                return super().training_step(*a, **kw)

        return Crashing

    cfg = _cfg(
        small_data,
        tiny_model,
        tmp_path / "k",
        rounds=1,
        patience=2,
        lora=True,
        lora_r=4,
        lora_alpha=8,
        seed=3,
        save_steps=1,
    )
    monkeypatch.setattr(spt, "make_selfplay_trainer_class", crashing)
    with pytest.raises(RuntimeError, match="killed"):
        run_selfplay(cfg)
    assert (tmp_path / "k" / "round-1" / "checkpoints" / "checkpoint-1").is_dir()
    monkeypatch.setattr(spt, "make_selfplay_trainer_class", real)
    res = run_selfplay(cfg)
    assert res.rounds[0]["resumed_from"] == "checkpoint-1" and res.rounds[0]["ref_from_cache"] is True
    (_, _), root = lora_runs
    done, uninterrupted = _weights(tmp_path / "k" / "round-1" / "model"), _weights(root / "b" / "round-1" / "model")
    assert all(torch.allclose(done[k], uninterrupted[k], atol=1e-6) for k in done)
