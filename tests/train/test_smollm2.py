"""A real pretrained model through the commands: SmolLM2-135M-Instruct (``make smollm2``), at small sizes.

The tiny random model cannot tell a wrong chat template, a missing end-of-turn token or right padding
at generation from correct ones; a pretrained instruction model can.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from train.models.decoding import GenerationOptions, HFGenerator, load_inference_model, render_inputs  # noqa: E402
from train.models.formatting import render_prompt  # noqa: E402
from train.models.modeling import LoraOptions, load_model, load_tokenizer, resolve_dtype  # noqa: E402
from train.sft import encode_examples, run_sft  # noqa: E402
from train.sft_config import SFTConfig  # noqa: E402

END_OF_TURN = "<|im_end|>"


@pytest.fixture(scope="module")
def records(tiny_data: Path) -> list[dict]:
    return [json.loads(line) for line in (tiny_data / "train.jsonl").read_text().splitlines()]


def test_training_and_prediction_render_the_same_prompt(smollm2: Path, records: list[dict]) -> None:
    """One function renders both: the training sequence starts with the exact bytes prediction feeds the
    model (chat template + generation prompt), and the answer ends with the chat's end-of-turn token."""
    tok = load_tokenizer(smollm2)
    ex = records[0]
    train_ids = encode_examples(tok, [ex], "text2sql", 2048)[0]["input_ids"]
    (prompt,) = render_inputs(tok, [ex])
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert prompt == render_prompt(tok, ex["prompt"])
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert train_ids[: len(prompt_ids)] == prompt_ids
    assert train_ids[-1] == tok.convert_tokens_to_ids(END_OF_TURN) == tok.eos_token_id
    assert tok.decode(train_ids[len(prompt_ids) :]) == ex["sql"] + END_OF_TURN


def test_generation_stops_at_end_of_turn_with_left_padding(smollm2: Path, records: list[dict]) -> None:
    """Prompts of different lengths in one batch (left-padded) give the same greedy answers as one by one,
    and the instruction model's answers end at its end-of-turn token, long before the token limit."""
    model, tok = load_inference_model(smollm2, "fp32")
    opts = GenerationOptions(max_new_tokens=160, batch_size=3)
    prompts = [render_prompt(tok, t) for t in ("Say hello.", records[0]["prompt"], "Name a colour.")]
    batched = HFGenerator(model, tok, opts).generate(prompts)
    alone = [
        HFGenerator(model, tok, GenerationOptions(max_new_tokens=160, batch_size=1)).generate([p])[0] for p in prompts
    ]
    assert batched == alone
    assert tok.padding_side == "right"  # restored after generation
    for text in batched:
        assert END_OF_TURN not in text and "<|im_start|>" not in text
    short = [len(tok(t, add_special_tokens=False)["input_ids"]) < 150 for t in batched]
    assert any(short), batched  # stopped at end-of-turn, not at max_new_tokens


def test_lora_targets_default_and_all_linear(smollm2: Path) -> None:
    """The default targets exist in a Llama model (q/k/v/o_proj); all-linear adds the MLP layers."""

    def targeted(lora: LoraOptions) -> set[str]:
        m = load_model(smollm2, lora=lora)
        return {n.split(".")[-2] for n, _ in m.named_modules() if n.endswith("lora_A")}

    assert targeted(LoraOptions()) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert targeted(LoraOptions(target_modules=("all-linear",))) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, lora",
    [("text2sql", True), ("text2sql", False), ("sql2text", True)],
    ids=["text2sql-lora", "text2sql-full", "sql2text-lora"],
)
def test_sft_then_predict(smollm2: Path, tiny_data: Path, tmp_path: Path, task: str, lora: bool) -> None:
    """``train sft`` (LoRA and full) and ``train predict`` on the real model, 8 examples, --dtype auto."""
    from click.testing import CliRunner

    from train.cli import main

    data = tmp_path / "data"
    data.mkdir()
    for name, n in (("train.jsonl", 8), ("val.jsonl", 4)):
        lines = (tiny_data / name).read_text().splitlines()[:n]
        (data / name).write_text("\n".join(lines) + "\n")
    (data / "manifest.json").write_text((tiny_data / "manifest.json").read_text())
    cfg = SFTConfig(
        data=str(data),
        model=str(smollm2),
        out=str(tmp_path / "ckpt"),
        task=task,
        lora=lora,
        epochs=1,
        batch_size=4,
        learning_rate=1e-4,
        max_length=320,
        eval_ex=False,
        save_total_limit=1,
    )
    res = run_sft(cfg)
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert manifest["results"]["dtype"] == resolve_dtype("auto", "cpu")
    assert res.train_loss is not None and res.train_loss > 0
    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(tmp_path / "ckpt"), "--data", str(data / "val.jsonl"), "--out", str(out)]
    run = CliRunner().invoke(main, [*args, "--task", task, "--max-new-tokens", "48", "--limit", "2"])
    assert run.exit_code == 0, run.output
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 2 and all(END_OF_TURN not in p["raw"] for p in preds)
