"""Batched generation behind a small interface, SQL extraction, and predictions keyed by example id.

:class:`Generator` is the seam: :class:`HFGenerator` runs transformers ``generate`` with left
padding; a vLLM backend only needs to implement ``generate(prompts) -> list[str]``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from evaluation.errors import ConfigError
from train.formatting import model_input, render_prompt


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings; greedy by default (what EX scoring and self-play use)."""

    max_new_tokens: int = 256
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ConfigError(f"max_new_tokens must be > 0, got {self.max_new_tokens}")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be > 0, got {self.batch_size}")
        if self.do_sample and self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0 when do_sample is set, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")

    def settings_hash(self, model_id: str = "") -> str:
        """Identifies how a prediction was produced (model + decoding settings, batch size excluded)."""
        d = asdict(self)
        d.pop("batch_size")
        d["model"] = model_id
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class Generator(Protocol):
    """Anything that turns fully rendered prompts into completions (text after the prompt)."""

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class HFGenerator:
    """transformers ``generate`` on batches of left-padded prompts."""

    def __init__(self, model: Any, tokenizer: Any, options: GenerationOptions = GenerationOptions()) -> None:
        self.model, self.tokenizer, self.options = model, tokenizer, options

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        tok, opts = self.tokenizer, self.options
        old_side = tok.padding_side
        tok.padding_side = "left"
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        if opts.do_sample:
            torch.manual_seed(opts.seed)
        outs: list[str] = []
        try:
            for start in range(0, len(prompts), opts.batch_size):
                batch = list(prompts[start : start + opts.batch_size])
                enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                kwargs: dict[str, Any] = {
                    "max_new_tokens": opts.max_new_tokens,
                    "do_sample": opts.do_sample,
                    "pad_token_id": tok.pad_token_id,
                    "eos_token_id": tok.eos_token_id,
                }
                if opts.do_sample:
                    kwargs.update(temperature=opts.temperature, top_p=opts.top_p)
                else:
                    kwargs.update(temperature=None, top_p=None, top_k=None)
                with torch.no_grad():
                    gen = self.model.generate(**enc, **kwargs)
                new = gen[:, enc["input_ids"].shape[1] :]
                outs.extend(tok.batch_decode(new, skip_special_tokens=True))
        finally:
            tok.padding_side = old_side
            if was_training:
                self.model.train()
        return outs


_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
_LEAD = re.compile(r"^\s*(?:--\s*)?(?:sql\s*:|answer\s*:)\s*", re.IGNORECASE)


def extract_sql(text: str) -> str:
    """The SQL in a model completion: a fenced block if any, else the text; one statement, one line.

    >>> extract_sql("```sql\\nSELECT name\\nFROM singer;\\n```\\nThis query...")
    'SELECT name FROM singer'
    >>> extract_sql("SQL: SELECT count(*) FROM singer; SELECT 1")
    'SELECT count(*) FROM singer'
    >>> extract_sql("  ")
    ''
    """
    m = _FENCE.search(text)
    sql = m.group(1) if m else text
    sql = _LEAD.sub("", sql)
    sql = _split_first_statement(sql)
    return " ".join(sql.split())


def _split_first_statement(sql: str) -> str:
    """Cut at the first ``;`` outside string literals."""
    quote = None
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
        elif ch == ";":
            return sql[:i]
    return sql


def render_inputs(tokenizer: Any, examples: Sequence[dict[str, Any]], task: str = "text2sql") -> list[str]:
    return [render_prompt(tokenizer, model_input(ex, task)) for ex in examples]


def predict(
    generator: Generator,
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    *,
    options: GenerationOptions,
    model_id: str,
    task: str = "text2sql",
) -> list[dict[str, Any]]:
    """One prediction record per example: ``{"id", "db_id", "sql", "raw", "gen_hash"}``.

    For ``sql2text`` the ``sql`` field holds the generated question text, stripped.
    """
    raws = generator.generate(render_inputs(tokenizer, examples, task))
    gen_hash = options.settings_hash(model_id)
    out = []
    for ex, raw in zip(examples, raws, strict=True):
        text = extract_sql(raw) if task == "text2sql" else raw.strip()
        out.append({"id": ex["id"], "db_id": ex.get("db_id"), "sql": text, "raw": raw, "gen_hash": gen_hash})
    return out


def predict_file(
    model: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    options: GenerationOptions = GenerationOptions(),
    task: str = "text2sql",
) -> list[dict[str, Any]]:
    """Load a model, predict every example of a JSONL file, write predictions (atomically)."""
    from train.io import read_examples, write_jsonl
    from train.modeling import check_compatible, load_model, load_tokenizer, pick_device

    required = ("id", "prompt") if task == "text2sql" else ("id", "sql")
    examples = read_examples(data, required=required)
    tokenizer = load_tokenizer(model)
    m = load_model(model, trainable=False, device=pick_device())
    check_compatible(m, tokenizer, where=str(model))
    preds = predict(HFGenerator(m, tokenizer, options), tokenizer, examples, options=options, model_id=str(model), task=task)
    write_jsonl(out, preds)
    return preds
