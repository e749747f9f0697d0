"""Self-play pieces without a model: roles per variant, rewards and pairs (k samples, y+ choice),
checkpoint fingerprints, config checks and resume conflicts. Pairs are judged on real Spider dbs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, UnknownNameError
from train.io import checkpoint_fingerprint
from train.pool import Pool, PoolEntry
from train.roles import pick_roles
from train.selfplay_config import SelfPlayConfig

from .conftest import make_record


def _e(i: int, ex: float) -> PoolEntry:
    return PoolEntry(f"m{i}", f"/m/{i}", f"/m/{i}", False, "given", ex, "h")


POOL = Pool((_e(0, 0.4), _e(1, 0.2), _e(2, 0.6), _e(3, 0.3)))


@pytest.mark.parametrize(
    "variant, kw, expected",
    [
        # SPFT-SQL Algorithm 1: main = argmax EX, opponent = argmin EX (not yet used), p_ref = opponent
        ("spft", {}, ("m2", "m1", "m1")),
        ("spft", {"used_opponents": {"m1"}}, ("m2", "m3", "m3")),
        ("spft", {"used_opponents": {"m0", "m1", "m3"}}, ("m2", "m2", "m2")),
        # SPIN / ExSPIN: round 1 starts from the best; later the previous round's model plays itself
        ("exspin", {}, ("m2", "m2", "m2")),
        ("exspin", {"previous": "m3"}, ("m3", "m3", "m3")),
        ("spin", {"previous": "m1", "used_opponents": {"m1"}}, ("m1", "m1", "m1")),
        # DPO (SPFT-SQL Table 3): reference fixed to the initial model, which also writes the negatives
        ("dpo", {}, ("m2", "m2", "m2")),
        ("dpo", {"initial": "m0", "used_opponents": {"m1"}}, ("m2", "m0", "m0")),
    ],
)
def test_roles_per_variant(variant, kw, expected):
    r = pick_roles(POOL, variant, **kw)
    assert (r.main.id, r.opponent.id, r.reference.id) == expected


def test_roles_bad_names():
    with pytest.raises(UnknownNameError, match="did you mean 'spin'"):
        pick_roles(POOL, "spn")
    with pytest.raises(UnknownNameError, match="m9"):
        pick_roles(POOL, "exspin", previous="m9")


def _examples() -> list[dict]:
    return [
        make_record(0, "How many singers are there?", "SELECT count(*) FROM singer"),
        make_record(1, "Names of singers?", "SELECT name FROM singer"),
        make_record(2, "Broken gold", "SELECT nope FROM nowhere"),
    ]


def _preds(sqls: list[str]) -> list[dict]:
    return [{"id": "x", "sql": s, "sample": i % 3} for i, s in enumerate(sqls)]


def test_rewards_and_pairs_greedy(data_root):
    from train.selfplay import build_pairs

    exs = _examples()
    preds = _preds(["SELECT count(*) FROM singer", "SELECT name FROM stadium", "SELECT 1"])
    pairs = build_pairs(exs, preds, data_root, _e(1, 0.2))
    # gold that does not run cannot be judged: that example gives no pair
    assert [(p["id"], p["reward"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("syn-000000", 0, "SELECT count(*) FROM singer", "SELECT count(*) FROM singer"),
        ("syn-000001", 1, "SELECT name FROM singer", "SELECT name FROM stadium"),
    ]
    assert all(p["opponent"] == "m1" and p["positive"] == "gold" for p in pairs)
    assert pairs[1]["verdict"] != "match"


def test_pairs_from_several_samples_and_correct_sample_as_positive(data_root):
    from train.selfplay import build_pairs

    exs = _examples()[:2]
    samples = [
        # question 0: one correct sample (not the gold's text), one wrong, one duplicate of the wrong
        "SELECT COUNT(singer_id) FROM singer",
        "SELECT count(*) FROM stadium",
        "SELECT count(*) FROM stadium",
        # question 1: all wrong
        "SELECT name FROM stadium",
        "SELECT country FROM singer",
        "",
    ]
    gold_pairs = build_pairs(exs, _preds(samples), data_root, _e(0, 0.1), samples=3)
    assert [(p["id"], p["reward"], p["sample"]) for p in gold_pairs] == [
        ("syn-000000", 0, 0),
        ("syn-000000", 1, 1),
        ("syn-000001", 1, 0),
        ("syn-000001", 1, 1),
        ("syn-000001", 1, 2),
    ]  # the duplicate wrong sample of question 0 is kept once
    assert {p["chosen"] for p in gold_pairs if p["id"] == "syn-000000"} == {"SELECT count(*) FROM singer"}

    pairs = build_pairs(exs, _preds(samples), data_root, _e(0, 0.1), samples=3, positive="sample")
    wrong0 = [p for p in pairs if p["id"] == "syn-000000" and p["reward"] == 1]
    assert [(p["chosen"], p["positive"]) for p in wrong0] == [("SELECT COUNT(singer_id) FROM singer", "sample")]
    # no correct sample for question 1: the gold stays y+
    assert {(p["chosen"], p["positive"]) for p in pairs if p["id"] == "syn-000001"} == {
        ("SELECT name FROM singer", "gold")
    }
    with pytest.raises(ValueError, match="3 samples"):
        build_pairs(exs, _preds(samples[:5]), data_root, _e(0, 0.1), samples=3)


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_fingerprint_reads_whole_files(tmp_path):
    big = bytes(range(256)) * (5 * 4096)  # 5 MiB: a change in the middle is outside any head/tail sample
    changed = bytearray(big)
    changed[len(big) // 2] ^= 1
    cfg = {"config.json": b'{"a": 1}'}
    a = _write(tmp_path / "a", {"model.safetensors": big, **cfg})
    b = _write(tmp_path / "b", {"model.safetensors": bytes(changed), **cfg})
    c = _write(tmp_path / "c", {"model.safetensors": big, **cfg, "training_args.bin": b"run-specific"})
    assert checkpoint_fingerprint(a) != checkpoint_fingerprint(b)
    assert checkpoint_fingerprint(a) == checkpoint_fingerprint(c)  # how it was trained is not what it computes
    (a / "tokenizer.json").write_text("{}")
    assert checkpoint_fingerprint(a) != checkpoint_fingerprint(c)
    assert checkpoint_fingerprint("Qwen/Qwen2.5-Coder-0.5B") == checkpoint_fingerprint("Qwen/Qwen2.5-Coder-0.5B")
    assert checkpoint_fingerprint("Qwen/Qwen2.5-Coder-0.5B") != checkpoint_fingerprint("Qwen/Qwen2.5-Coder-1.5B")


def test_adapter_fingerprint_covers_its_base(tmp_path):
    base = _write(tmp_path / "base", {"model.safetensors": b"w" * 100, "config.json": b"{}"})
    adapter = _write(
        tmp_path / "ad",
        {
            "adapter_model.safetensors": b"l" * 10,
            "adapter_config.json": json.dumps({"base_model_name_or_path": str(base)}).encode(),
        },
    )
    before = checkpoint_fingerprint(adapter)
    (base / "model.safetensors").write_bytes(b"v" * 100)
    assert checkpoint_fingerprint(adapter) != before


def _cfg(tmp_path, **kw) -> SelfPlayConfig:
    return SelfPlayConfig(**{"data": str(tmp_path), "out": str(tmp_path / "o"), "model": "m", **kw})


def test_config_checks_name_the_fields(tmp_path):
    with pytest.raises(ConfigError, match="positive=sample needs samples"):
        _cfg(tmp_path, positive="sample")
    with pytest.raises(UnknownNameError, match="did you mean 'gold'"):
        _cfg(tmp_path, positive="gld", samples=2)
    with pytest.raises(ConfigError, match="temperature"):
        _cfg(tmp_path, samples=4, temperature=0.0)
    with pytest.raises(ConfigError, match="samples"):
        _cfg(tmp_path, samples=0)
    assert _cfg(tmp_path, samples=4, positive="sample").samples == 4


def test_resume_conflicts_name_what_changed(tmp_path):
    from evaluation.run_record import config_dict

    saved = config_dict(_cfg(tmp_path, loss="spft", lam=0.1))
    assert _cfg(tmp_path, rounds=9, patience=3).resume_conflicts(saved) == []  # going on longer is fine
    conflicts = _cfg(tmp_path, loss="spin", lam=0.2).resume_conflicts(saved)
    assert conflicts == ["loss (was 'spft', now 'spin')", "lam (was 0.1, now 0.2)"]


def test_sequence_logps_sums_answer_tokens_only(tiny_model):
    torch = pytest.importorskip("torch")
    from train.models.formatting import encode_prompt_answer, pad_batch
    from train.models.logprobs import batched_logps, sequence_logps
    from train.models.modeling import load_model, load_tokenizer

    tok, model = load_tokenizer(tiny_model), load_model(tiny_model, trainable=False)
    enc = [
        encode_prompt_answer(tok, "-- Question: how many singers?\n", "SELECT count(*) FROM singer", 64).as_dict(),
        encode_prompt_answer(tok, "-- Question: names?\n-- SQL:", "SELECT name FROM singer ORDER BY age", 64).as_dict(),
    ]
    expected = []
    for e in enc:  # by hand: one row, no padding, log-softmax of every next-token distribution
        ids = torch.tensor([e["input_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        expected.append(sum(logp[t - 1, e["input_ids"][t]].item() for t, lab in enumerate(e["labels"]) if lab != -100))
    assert batched_logps(model, enc, tok.pad_token_id, batch_size=2) == pytest.approx(expected, abs=1e-4)
    b = {
        k: torch.tensor(v)
        for k, v in pad_batch(enc, tok.pad_token_id, keys=("input_ids", "attention_mask", "labels")).items()
    }
    model.train()
    out = sequence_logps(model, b["input_ids"], b["attention_mask"], b["labels"])
    out.sum().backward()  # differentiable through the answer positions
    assert out.tolist() == pytest.approx(expected, abs=1e-4)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_pool_next_id_never_reuses_a_given_id():
    from train.pool import Pool, PoolEntry

    def entry(i):
        return PoolEntry(i, f"/models/{i}", "base", False, "given")

    given = Pool((entry("m1"), entry("m2")))  # a user's pool.json numbered from 1
    assert given.next_id() == "m3"
    grown = given.add(entry(given.next_id()))
    assert [e.id for e in grown.entries] == ["m1", "m2", "m3"]
    assert Pool((entry("m0"),)).next_id() == "m1"


def test_pool_with_duplicate_ids_is_a_clear_error(tmp_path):
    import json

    import pytest

    from evaluation.errors import InputError
    from train.pool import load_pool

    m = {"path": "/models/a", "base_model": "b", "adapter": False, "origin": "given"}
    (tmp_path / "pool.json").write_text(json.dumps({"models": [{"id": "m1", **m}, {"id": "m1", **m}]}))
    with pytest.raises(InputError, match=r"pool.json.*models\[1\]\.id.*reuses the id 'm1' of model #0"):
        load_pool(tmp_path)
