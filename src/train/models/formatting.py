"""From example records to token ids and back: model input text, answer text, labels masked on the
prompt, and completions cut at their stop strings (both decoding backends use :func:`cut_at_stop`).

The text of the model input comes from synth's prompt builder (the ``prompt`` field, or
``synth.prompt.format.sql2text_input`` for SQL-to-Text); here it is only wrapped in the
tokenizer's chat template when the tokenizer has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, InputError, UnknownNameError

TASKS = ("text2sql", "sql2text")
IGNORE_INDEX = -100


def model_input(example: dict[str, Any], task: str) -> str:
    """The user-side text for one example and task (no chat template applied)."""
    if task == "text2sql":
        if not example.get("prompt"):
            raise InputError("missing or empty (the model input)", field="prompt")
        return example["prompt"]
    if task == "sql2text":
        try:
            from synth.prompt.format import sql2text_input
        except ImportError as e:  # pragma: no cover - until the prompt builder lands
            raise ConfigError(f"task 'sql2text' needs synth.prompt.format.sql2text_input ({e})") from None
        return sql2text_input(example.get("schema_prompt", ""), example["sql"])
    raise UnknownNameError("task", task, TASKS)


def target_text(example: dict[str, Any], task: str) -> str:
    """What the model must produce: the SQL (text2sql) or the question (sql2text)."""
    field = "sql" if task == "text2sql" else "question"
    if task not in TASKS:
        raise UnknownNameError("task", task, TASKS)
    if not example.get(field):
        raise InputError("missing or empty (the training target)", field=field)
    return example[field]


def render_prompt(tokenizer: Any, user_text: str) -> str:
    """The chat template with a generation prompt when the tokenizer has one, else the text + newline."""
    if has_chat_template(tokenizer):
        return render_chat(tokenizer, [{"role": "user", "content": user_text}])
    return user_text.rstrip() + "\n"


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """Chat turns through the tokenizer's chat template, with the generation prompt (the model's turn next)."""
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


@dataclass(frozen=True)
class Encoded:
    """One training sequence: prompt + answer ids, labels = -100 on the prompt, answer ids elsewhere."""

    input_ids: list[int]
    labels: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"input_ids": self.input_ids, "labels": self.labels, "attention_mask": [1] * len(self.input_ids)}


def encode_prompt_answer(tokenizer: Any, prompt_text: str, answer_text: str, max_length: int) -> Encoded:
    """Tokenize prompt and answer separately (so the boundary is exact) and mask the prompt.

    The answer ends with the EOS token so the model learns to stop. When too long, the prompt is cut
    from the left (its end, next to the answer, matters most) and the answer is never cut unless it
    alone exceeds ``max_length``.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ConfigError("the tokenizer has no eos_token; set one (training needs a stop token)")
    p_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer_text, add_special_tokens=False)["input_ids"] + [eos]
    a_ids = a_ids[:max_length]
    room = max_length - len(a_ids)
    p_ids = p_ids[max(0, len(p_ids) - room) :] if room > 0 else []  # a prompt that fits is kept whole
    return Encoded(p_ids + a_ids, [IGNORE_INDEX] * len(p_ids) + a_ids)


def pad_batch(
    features: list[dict[str, list[int]]], pad_id: int, *, side: str = "right", keys: tuple[str, ...] = ()
) -> dict[str, list[list[int]]]:
    """Pad ``input_ids`` (pad id), ``attention_mask`` (0) and ``labels`` (-100) to the longest row."""
    width = max(len(f["input_ids"]) for f in features)
    fill = {"input_ids": pad_id, "attention_mask": 0, "labels": IGNORE_INDEX}
    out: dict[str, list[list[int]]] = {}
    for key in keys or tuple(k for k in fill if k in features[0]):
        rows = []
        for f in features:
            row = list(f[key])
            pad = [fill[key]] * (width - len(row))
            rows.append(pad + row if side == "left" else row + pad)
        out[key] = rows
    return out


class CausalLMCollator:
    """Right-pads training batches into tensors (labels -100 and attention 0 on padding)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        padded = pad_batch(features, self.pad_id, keys=("input_ids", "attention_mask", "labels"))
        return {k: torch.tensor(v, dtype=torch.long) for k, v in padded.items()}


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (without) the earliest stop string, as the OpenAI API defines ``stop``.

    >>> cut_at_stop("SELECT 1;\\nSELECT 2", [";", "\\n"])
    'SELECT 1'
    >>> cut_at_stop("SELECT 1", [])
    'SELECT 1'
    """
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text
