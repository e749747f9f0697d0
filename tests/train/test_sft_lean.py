"""SFT's lean loss (logits of answer positions only, same values as transformers' loss) and the Trainer
option group (--report-to, --gradient-checkpointing, --group-by-length)."""

from __future__ import annotations

import importlib.util
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from evaluation.errors import ConfigError, UnknownNameError  # noqa: E402
from train.fields import OptimiserOptions, report_targets, trainer_settings_of  # noqa: E402
from train.io import read_examples  # noqa: E402
from train.models.formatting import CausalLMCollator  # noqa: E402
from train.models.logprobs import answer_positions_only, answer_targets, output_head  # noqa: E402
from train.models.modeling import LoraOptions, load_model, load_tokenizer  # noqa: E402
from train.sft import answer_cross_entropy, encode_examples, make_sft_trainer_class, training_arguments  # noqa: E402
from train.sft_config import SFTConfig  # noqa: E402


def _batch(tiny_model, tiny_data, n=4, max_length=512):
    tok = load_tokenizer(tiny_model)
    feats = encode_examples(tok, read_examples(tiny_data / "train.jsonl")[:n], "text2sql", max_length)
    assert len({len(f["input_ids"]) for f in feats}) > 1  # rows of different lengths: right padding is exercised
    return tok, CausalLMCollator(tok.pad_token_id)(feats)


def test_answer_logits_give_transformers_loss_and_gradients(tiny_model, tiny_data):
    _, b = _batch(tiny_model, tiny_data)
    model = load_model(tiny_model, lora=LoraOptions(r=4, dropout=0.0))
    model.train()
    ref = model(**b)  # transformers' own loss: full (batch, seq, vocab) logits
    ref.loss.backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()

    shapes = []
    seen = output_head(model).register_forward_hook(lambda _m, _a, out: shapes.append(tuple(out.shape)))
    with answer_positions_only(model, b["labels"]):
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
    seen.remove()
    n_answer = int((b["labels"][:, 1:] != -100).sum())
    assert shapes == [(1, n_answer, ref.logits.shape[-1])]  # only answer positions reached lm_head
    assert n_answer < b["labels"].numel() / 4
    loss = answer_cross_entropy(out, b["labels"])
    assert loss.item() == pytest.approx(ref.loss.item(), rel=1e-5)
    loss.backward()
    for name, g in ref_grads.items():
        assert torch.allclose(dict(model.named_parameters())[name].grad, g, atol=1e-6), name
    # as the Trainer calls it under gradient accumulation: summed, divided by the whole batch's count
    assert answer_cross_entropy(out, b["labels"], torch.tensor(2 * n_answer)).item() == pytest.approx(
        ref.loss.item() / 2, rel=1e-5
    )
    assert answer_targets(b["labels"]).tolist() == [t for t in b["labels"][:, 1:].flatten().tolist() if t != -100]


def test_sft_trainer_computes_the_same_loss_from_answer_logits_only(tiny_model, tiny_data, tmp_path):
    tok, b = _batch(tiny_model, tiny_data)
    model = load_model(tiny_model)
    args = training_arguments(tmp_path, OptimiserOptions(1.0, 1e-3, 4), seed=0, evaluate=False)
    trainer = make_sft_trainer_class()(model=model, args=args, processing_class=tok)
    rows = []
    seen = output_head(model).register_forward_hook(lambda _m, _a, out: rows.append(out.shape[1]))
    loss = trainer.compute_loss(model, dict(b))
    seen.remove()
    assert rows == [int((b["labels"][:, 1:] != -100).sum())]
    assert loss.item() == pytest.approx(model(**b).loss.item(), rel=1e-5)


def test_trainer_group_reaches_training_arguments(tmp_path):
    cfg = SFTConfig(
        data="d", model="m", out="o", report_to="tensorboard", gradient_checkpointing=True, group_by_length=True
    )
    args = training_arguments(tmp_path, cfg.optimiser(), seed=0, **trainer_settings_of(cfg))
    assert args.report_to == ["tensorboard"]
    assert args.gradient_checkpointing and args.gradient_checkpointing_kwargs == {"use_reentrant": False}
    assert getattr(args, "activation_checkpointing", True)  # transformers >= 5.x's name for it
    assert args.train_sampling_strategy == "group_by_length"
    plain = training_arguments(tmp_path, cfg.optimiser(), seed=0, **trainer_settings_of(SFTConfig("d", "m", "o")))
    assert plain.report_to == [] and not plain.gradient_checkpointing
    assert plain.train_sampling_strategy == "random"
    assert report_targets("none") == [] and report_targets("wandb, tensorboard") == ["wandb", "tensorboard"]
    with pytest.raises(UnknownNameError, match="did you mean 'tensorboard'"):
        SFTConfig("d", "m", "o", report_to="tensorbord")


def test_report_to_and_checkpointing_run_sft(tiny_model, tiny_data, tmp_path):
    """One LoRA epoch with --gradient-checkpointing and --group-by-length; --report-to tensorboard writes its
    event files, or (package missing) ends in one error line before training."""
    from train.sft import run_sft

    base = dict(data=str(tiny_data), model=str(tiny_model), epochs=1, batch_size=8, max_length=512)
    base.update(eval_ex=False, logging_steps=1, lora=True, lora_dropout=0.0)
    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        with pytest.raises(ConfigError, match="--report-to tensorboard: .*install"):
            run_sft(SFTConfig(out=str(tmp_path / "tb"), report_to="tensorboard", **base))
    else:
        run_sft(SFTConfig(out=str(tmp_path / "tb"), report_to="tensorboard", **base))
        assert list((tmp_path / "tb" / "checkpoints").rglob("events.out.tfevents.*"))
    plain = run_sft(SFTConfig(out=str(tmp_path / "plain"), **base))
    ckpt = run_sft(SFTConfig(out=str(tmp_path / "gc"), gradient_checkpointing=True, **base))
    losses = [[h["loss"] for h in r] for r in (_history(plain.out), _history(ckpt.out))]
    assert len(losses[0]) == 3 and losses[1] == pytest.approx(losses[0], rel=1e-4)  # recomputed, not changed
    grouped = run_sft(SFTConfig(out=str(tmp_path / "grouped"), group_by_length=True, **base))
    manifest = json.loads((grouped.out / "manifest.json").read_text())
    assert manifest["parameters"]["group_by_length"] is True
    assert len(_history(grouped.out)) == 3


def _history(out):
    return [json.loads(x) for x in (out / "log_history.jsonl").read_text().splitlines() if '"loss"' in x]


def test_generation_batches_longest_first_and_keeps_input_order(tiny_model):
    """Prompts of mixed lengths in batches of 2: each batch holds prompts of similar length (so the short ones
    are not padded to the longest), and every output is the one its prompt gets alone, in input order."""
    from train.models.decoding import GenerationOptions, HFGenerator

    tok, model = load_tokenizer(tiny_model), load_model(tiny_model, trainable=False)
    prompts = ["-- Q: a?\n", "-- Q: " + "name of every singer and their age " * 6 + "?\n", "-- Q: b?\n"]
    prompts += ["-- Q: " + "how many concerts in each stadium " * 4 + "?\n"]
    widths = []
    real = model.generate
    model.generate = lambda **kw: widths.append(kw["input_ids"].shape[1]) or real(**kw)
    batched = HFGenerator(model, tok, GenerationOptions(max_new_tokens=6, batch_size=2)).generate(prompts)
    lengths = sorted((len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts), reverse=True)
    assert widths == [lengths[0], lengths[2]]  # the two long prompts together, then the two short ones
    model.generate = real
    alone = [
        HFGenerator(model, tok, GenerationOptions(max_new_tokens=6, batch_size=1)).generate([p])[0] for p in prompts
    ]
    assert batched == alone


class _Recorder:
    """A generator that answers each prompt with its length and records the batches it was given."""

    backend = "hf"

    def __init__(self):
        self.tokenizer = type("Tok", (), {"chat_template": None})()
        self.batches: list[list[str]] = []

    def generate(self, prompts):
        self.batches.append(list(prompts))
        return [f"SELECT {len(p)}" for p in prompts]

    def close(self):
        pass


def test_predict_file_generates_longest_first_writes_input_order_and_resumes(tmp_path, monkeypatch):
    from train.models import decoding

    lengths = [5, 40, 12, 33, 7, 25]
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "prompt": "x" * n}) + "\n" for i, n in enumerate(lengths)))
    gen = _Recorder()
    monkeypatch.setattr(decoding, "load_generator", lambda *a, **k: gen)
    opts = decoding.GenerationOptions(batch_size=2)
    preds = decoding.predict_file("m", data, tmp_path / "p.jsonl", options=opts)
    assert [[len(p) - 1 for p in b] for b in gen.batches] == [[40, 33], [25, 12], [7, 5]]  # prompt + "\n"
    assert [p["id"] for p in preds] == [f"q{i}" for i in range(6)]
    assert [p["sql"] for p in preds] == [f"SELECT {n + 1}" for n in lengths]
    written = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert written == preds

    # killed after the first batch (the two longest) and mid-row: the rerun generates only the other four
    kept = [dict(p, raw="BEFORE THE KILL") for p in preds if p["id"] in ("q1", "q3")]
    partial = decoding.partial_path(tmp_path / "p.jsonl")
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"id": "q5"')
    gen.batches.clear()
    again = decoding.predict_file("m", data, tmp_path / "p.jsonl", options=opts)
    assert [[len(p) - 1 for p in b] for b in gen.batches] == [[25, 12], [7, 5]]
    assert [p["raw"] for p in again] == ["SELECT 6", "BEFORE THE KILL", "SELECT 13", "BEFORE THE KILL"] + [
        "SELECT 8",
        "SELECT 26",
    ]
    assert not partial.exists()
