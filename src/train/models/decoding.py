"""Batched generation behind a small interface, SQL extraction, and predictions keyed by example id.

:class:`Generator` is the seam: :class:`HFGenerator` runs transformers ``generate`` with left
padding in this process; :class:`train.models.openai_backend.OpenAIGenerator` sends the same rendered
prompts to an OpenAI-compatible server (vLLM, SGLang, ``transformers serve``). Every caller builds
its generator with :func:`load_generator`, so the backend is one config field everywhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from evaluation.console import echo
from evaluation.errors import ConfigError
from evaluation.fileio import jsonl_text
from evaluation.provenance import json_digest
from train.models.backend_config import GenerationBackendConfig
from train.models.formatting import cut_at_stop, model_input, render_prompt


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings; greedy by default (what EX scoring and self-play use)."""

    max_new_tokens: int = 256
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    """Stop strings: the completion ends before the first one (both backends cut there)."""

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
        if not d["stop"]:  # no stop strings: the hash of the settings before stop strings existed
            d.pop("stop")
        else:
            d["stop"] = list(d["stop"])
        d["model"] = model_id
        return json_digest(d, length=16)


class Generator(Protocol):
    """Anything that turns fully rendered prompts into completions (text after the prompt)."""

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


def longest_first(lengths: Sequence[int]) -> list[int]:
    """Indices by length, longest first (ties keep input order): batches of similar length pad little,
    and a batch that does not fit in memory fails at once rather than at the end.

    >>> longest_first([2, 4, 1, 2])
    [1, 0, 3, 2]
    """
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


class HFGenerator:
    """transformers ``generate`` on batches of left-padded prompts."""

    backend = "hf"

    def __init__(self, model: Any, tokenizer: Any, options: GenerationOptions = GenerationOptions()) -> None:
        self.model, self.tokenizer, self.options = model, tokenizer, options

    def close(self) -> None:
        """Drop the model (frees accelerator memory between the stages of a loop)."""
        from train.models.modeling import free_memory

        self.model = None
        free_memory()

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
        outs: list[str] = [""] * len(prompts)
        # less padding per batch; every output goes back to its prompt's slot
        order = longest_first([len(ids) for ids in tok(list(prompts), add_special_tokens=False)["input_ids"]])
        try:
            for start in range(0, len(prompts), opts.batch_size):
                rows = order[start : start + opts.batch_size]
                batch = [prompts[i] for i in rows]
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
                if opts.stop:
                    kwargs.update(stop_strings=list(opts.stop), tokenizer=tok)
                with torch.no_grad():
                    gen = self.model.generate(**enc, **kwargs)
                new = gen[:, enc["input_ids"].shape[1] :]
                for i, text in zip(rows, tok.batch_decode(new, skip_special_tokens=True)):
                    outs[i] = cut_at_stop(text, opts.stop)
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


def load_inference_model(model: str | Path, dtype: str | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` ready for generation or log-probs: eval mode, best device, checked to match.

    ``dtype`` is a ``--dtype`` value (``auto``, ``bf16``, ...); ``None`` keeps :func:`pick_dtype`'s choice.
    """
    from train.models.modeling import (
        check_compatible,
        load_model,
        load_tokenizer,
        pick_device,
        resolve_dtype,
        torch_dtype,
    )

    device = pick_device()
    tok = load_tokenizer(model)
    weights = torch_dtype(resolve_dtype(dtype, device)) if dtype else None
    m = load_model(model, trainable=False, device=device, dtype=weights)
    check_compatible(m, tok, where=str(model))
    return m, tok


def load_generator(
    model: str | Path,
    options: GenerationOptions = GenerationOptions(),
    backend: GenerationBackendConfig | None = None,
    *,
    if_not_served: str = "error",
    progress: bool = True,
    dtype: str | None = None,
) -> Any:
    """The one factory of generators: ``backend.backend`` picks in-process HF or an OpenAI-compatible server.

    The result implements :class:`Generator` and carries ``tokenizer`` (prompts are rendered locally
    for both backends), ``backend`` (its name, recorded in predictions) and ``close()``. With a server,
    only the tokenizer is loaded here, and the server must serve this very checkpoint (path or
    fingerprint, see :mod:`train.models.openai_backend`): otherwise an error, or with
    ``if_not_served="local"`` (loops whose pool holds models the server cannot know, such as the one
    just trained) a note on stderr and in-process generation.
    """
    backend = backend or GenerationBackendConfig()
    if backend.served:
        from train.models.modeling import load_tokenizer
        from train.models.openai_backend import ModelNotServedError, OpenAIGenerator

        tok = load_tokenizer(model)
        try:
            return OpenAIGenerator(backend, options, str(model), tokenizer=tok, progress=progress)
        except ModelNotServedError as e:
            if if_not_served != "local":
                raise
            echo(f"note: {e}; generating with {model} in this process")
    m, tok = load_inference_model(model, dtype)
    return HFGenerator(m, tok, options)


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
    backend = getattr(generator, "backend", "hf")
    out = []
    for ex, raw in zip(examples, raws, strict=True):
        text = extract_sql(raw) if task == "text2sql" else raw.strip()
        out.append(
            {
                "id": ex["id"],
                "db_id": ex.get("db_id"),
                "sql": text,
                "raw": raw,
                "gen_hash": gen_hash,
                "backend": backend,
            }
        )
    return out


def partial_path(out: str | Path) -> Path:
    """Where :func:`predict_file` keeps the predictions of a run in progress (``OUT.partial``)."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _resumable_rows(
    partial: Path, examples: Sequence[dict[str, Any]], gen_hash: str, backend: str
) -> dict[int, dict[str, Any]]:
    """Predictions a killed run already wrote, by example position, with the same model, settings and backend.

    The partial file holds rows in the order they were generated (longest first); a row goes to the
    first example with its id that has none yet. Reading stops at a torn last line (killed mid-write)
    or at the first row that does not fit, so a file from other settings gives nothing.
    """
    if not partial.is_file():
        return {}
    free: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        free.setdefault(ex["id"], []).append(i)
    rows: dict[int, dict[str, Any]] = {}
    for line in partial.read_text(encoding="utf-8").split("\n"):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break
        if (
            not isinstance(row, dict)
            or not free.get(row.get("id"))
            or row.get("gen_hash") != gen_hash
            or row.get("backend") != backend
        ):
            break
        rows[free[row["id"]].pop(0)] = row
    return rows


def predict_file(
    model: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    options: GenerationOptions = GenerationOptions(),
    task: str = "text2sql",
    backend: GenerationBackendConfig | None = None,
    limit: int | None = None,
    dtype: str | None = None,
) -> list[dict[str, Any]]:
    """Predict every example of a JSONL file (the first ``limit`` ones when given); write them atomically.

    Examples are generated longest model input first (:func:`longest_first` on characters, so batches
    pad little); ``OUT`` keeps the input order. Resumable: every finished batch (``options.batch_size``
    examples) is appended to ``OUT.partial`` (fsynced) while the run goes on, so a killed run started
    again with the same model, settings and backend continues with what was not written; ``OUT``
    appears, whole, at the end, and the partial file is removed.
    """
    from evaluation.console import progress_bar
    from train.io import read_examples, write_jsonl

    if limit is not None and limit < 1:
        raise ConfigError(f"limit (--limit) must be >= 1, got {limit}")
    backend = backend or GenerationBackendConfig()
    required = ("id", "prompt") if task == "text2sql" else ("id", "sql")
    examples = read_examples(data, required=required)[:limit]
    out, gen_hash = Path(out), options.settings_hash(str(model))
    partial = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _resumable_rows(partial, examples, gen_hash, backend.backend)
    todo = [i for i in longest_first([len(model_input(ex, task)) for ex in examples]) if i not in done]
    generator: Any = None
    try:
        if todo:
            generator = load_generator(model, options, backend, progress=False, dtype=dtype)
        with partial.open("w", encoding="utf-8") as f:  # what was reused, then every finished batch
            f.write(jsonl_text(list(done.values())))
            chunk = options.batch_size  # a kill loses one batch at most; not --concurrency: sampled output stays
            with progress_bar(total=len(examples), initial=len(done), desc="predict", unit="example") as bar:
                for start in range(0, len(todo), chunk):
                    batch = todo[start : start + chunk]
                    rows = predict(
                        generator,
                        generator.tokenizer,
                        [examples[i] for i in batch],
                        options=options,
                        model_id=str(model),
                        task=task,
                    )
                    f.write(jsonl_text(rows))
                    f.flush()
                    os.fsync(f.fileno())
                    done.update(zip(batch, rows))
                    bar.update(len(rows))
    finally:
        if generator is not None:
            generator.close()
    preds = [done[i] for i in range(len(examples))]
    write_jsonl(out, preds)
    partial.unlink(missing_ok=True)
    return preds
