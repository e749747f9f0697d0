"""Tiny model creation, model loading and its errors, SFT (masking, best checkpoint, resume), prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from evaluation.errors import ConfigError, DataNotFoundError  # noqa: E402
from train.models.decoding import GenerationOptions, HFGenerator, predict, predict_file, render_inputs  # noqa: E402
from train.models.modeling import LoraOptions, check_compatible, load_model, load_tokenizer  # noqa: E402
from train.models.tiny import TinyConfig, init_tiny  # noqa: E402
from train.sft import encode_examples, run_sft  # noqa: E402
from train.sft_config import SFTConfig  # noqa: E402


def _params(path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "model.safetensors"))


def test_tiny_loads_like_a_real_model_and_is_seeded(tiny_data, tiny_model, tmp_path):
    tok = load_tokenizer(tiny_model)
    model = load_model(tiny_model, trainable=False)
    check_compatible(model, tok)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    rendered = render_inputs(tok, [{"id": "x", "prompt": "hello"}])[0]
    assert rendered == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    assert tok.decode(tok("SELECT count(*) FROM singer")["input_ids"]) == "SELECT count(*) FROM singer"
    again = init_tiny(tiny_data, tmp_path / "again", TinyConfig(vocab_size=600, seed=0))
    other = init_tiny(tiny_data, tmp_path / "other", TinyConfig(vocab_size=600, seed=1))
    a, b, c = _params(tiny_model), _params(again), _params(other)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    assert (Path(tiny_model) / "tokenizer.json").read_text() == (again / "tokenizer.json").read_text()


def test_unknown_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such model folder"):
        load_model(tmp_path / "no-such-model")
    with pytest.raises(DataNotFoundError, match="no such model folder"):
        load_tokenizer("./no/such/model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="config.json"):
        load_model(tmp_path / "empty")


def test_tokenizer_model_vocab_mismatch(tiny_data, tiny_model, tmp_path):
    small = init_tiny(tiny_data, tmp_path / "small", TinyConfig(vocab_size=300))
    with pytest.raises(ConfigError, match="do not match"):
        check_compatible(load_model(small, trainable=False), load_tokenizer(tiny_model))


def test_lora_wraps_only_targets(tiny_model):
    m = load_model(tiny_model, lora=LoraOptions(r=4, alpha=8, target_modules=("q_proj", "v_proj")))
    trainable = [n for n, p in m.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any("q_proj" in n for n in trainable) and not any("o_proj" in n for n in trainable)


def test_labels_mask_prompt_and_padding(tiny_model, tiny_data):
    from train.io import read_examples
    from train.models.formatting import CausalLMCollator

    tok = load_tokenizer(tiny_model)
    exs = read_examples(tiny_data / "val.jsonl")[:2]
    enc = encode_examples(tok, exs, "text2sql", 512)
    batch = CausalLMCollator(tok.pad_token_id)(enc)
    for row, ex, e in zip(range(2), exs, enc):
        labels = batch["labels"][row]
        answer = [t for t in labels.tolist() if t != -100]
        assert tok.decode(answer) == ex["sql"] + tok.eos_token
        assert (labels[batch["attention_mask"][row] == 0] == -100).all()
    assert batch["input_ids"].shape == batch["labels"].shape


@pytest.fixture(scope="session")
def sft_model(tiny_data, tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "ckpt"
    cfg = SFTConfig(
        data=str(tiny_data),
        model=str(tiny_model),
        out=str(out),
        epochs=2,
        learning_rate=2e-3,
        batch_size=8,
        max_length=512,
        max_new_tokens=16,
        logging_steps=1,
        eval_ex_limit=4,
    )
    return cfg, run_sft(cfg)


def test_sft_trains_evaluates_and_keeps_best(sft_model, tiny_model):
    cfg, res = sft_model
    out = Path(cfg.out)
    history = [json.loads(x) for x in (out / "log_history.jsonl").read_text().splitlines()]
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) >= 4 and losses[-1] < losses[0]
    assert sum(1 for h in history if "eval_loss" in h) == 2  # one D_val evaluation per epoch
    assert sum(1 for h in history if "eval_ex" in h) == 2
    assert res.best_checkpoint and Path(res.best_checkpoint).is_dir()
    before, after = _params(tiny_model), _params(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"] == "train sft" and m["seed"] == 0
    assert m["inputs"]["data"]["val"]["sha256"] and m["versions"]["torch"]
    assert m["parameters"]["learning_rate"] == 2e-3 and m["counts"]["train_examples"] == 24


def test_sft_refuses_to_overwrite_and_resumes(sft_model, tiny_data, tmp_path):
    cfg, res = sft_model
    with pytest.raises(ConfigError, match="--resume"):
        run_sft(cfg)
    out = tmp_path / "r"
    base = dict(
        data=str(tiny_data),
        model=cfg.model,
        out=str(out),
        learning_rate=1e-3,
        batch_size=8,
        max_length=512,
        eval_ex=False,
    )
    first = run_sft(SFTConfig(epochs=1, **base))
    resumed = run_sft(SFTConfig(epochs=2, resume=True, **base))
    m = json.loads((out / "manifest.json").read_text())
    assert m["results"]["resumed_from"].endswith("checkpoint-3")
    assert m["counts"]["steps"] == 6 and first.best_metric is not None and resumed.best_metric is not None


def test_predict_left_padding_matches_unbatched(sft_model, tiny_data, tmp_path):
    cfg, _ = sft_model
    out = tmp_path / "preds.jsonl"
    opts = GenerationOptions(max_new_tokens=12, batch_size=4)
    preds = predict_file(cfg.out, tiny_data / "val.jsonl", out, options=opts)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"syn-{i:06d}" for i in range(24, 32)]
    assert set(rows[0]) == {"id", "db_id", "sql", "raw", "gen_hash", "backend"}
    assert len({r["gen_hash"] for r in rows}) == 1
    tok, model = load_tokenizer(cfg.out), load_model(cfg.out, trainable=False)
    from train.io import read_examples

    exs = read_examples(tiny_data / "val.jsonl")[:3]
    single = predict(
        HFGenerator(model, tok, GenerationOptions(max_new_tokens=12, batch_size=1)),
        tok,
        exs,
        options=opts,
        model_id="x",
    )
    assert [p["raw"] for p in single] == [p["raw"] for p in preds[:3]]
