"""The SQL-to-Text model as a question writer for ``synth generate`` (SPFT-SQL §3.1.1, NLQ synthesis).

:class:`ModelQuestionWriter` follows synth's :class:`~synth.questions.QuestionWriter` protocol, so
``synth.generate`` can use it without knowing about models: importing this module registers it
under the name ``"model"`` (``synth`` never imports ``train``; ``train`` plugs in here)::

    from synth.questions import get_writer
    writer = get_writer("model", path="runs/vbi/iter-0/sql2text")   # name: "model:<abs path>"
    writer.write_batch([(sql, schema), ...])                         # batched greedy generation

The model input is ``sql2text_input(schema_prompt, sql)`` -- the project's one format -- where the
schema prompt comes from synth's prompt builder with the SQL and no question
(:func:`sql2text_schema_prompt`); ``train vbi`` builds the SQL-to-Text training data with the same
function, so training and writing see the same inputs. Generation goes through
:func:`train.models.decoding.load_generator` (in-process, left padding, greedy: deterministic; or an
OpenAI-compatible server serving the same checkpoint: ``--writer-option backend=openai
--writer-option base_url=http://HOST:PORT/v1``). An empty generation
(a barely trained model may stop at once) is replaced by the rule-based question for that SQL, and
counted in ``fallbacks``: every example still gets a non-empty question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.schema import Schema
from synth.questions import register_writer
from train.extra import require_train_extra
from train.models.backend_config import GenerationBackendConfig, backend_config_from
from train.models.decoding import GenerationOptions, Generator

WRITER_NAME = "model"
DEFAULT_OPTIONS = GenerationOptions(max_new_tokens=64, batch_size=8)


def sql2text_schema_prompt(builder: Any, sql: str) -> str:
    """Database context for writing a question about ``sql``: the prompt builder with no question
    (the SQL's tables and columns are always kept)."""
    return builder.build(None, sql).schema_prompt


def clean_question(raw: str) -> str:
    """One line of text: the first non-empty line of the completion, whitespace collapsed.

    >>> clean_question("  How many singers\\n are there?  ")
    'How many singers'
    >>> clean_question("\\n\\nList all singers.\\nSQL: SELECT")
    'List all singers.'
    """
    for line in raw.splitlines():
        text = " ".join(line.split())
        if text:
            return text
    return ""


class ModelQuestionWriter:
    """Writes questions with a trained SQL-to-Text model (a local checkpoint folder or a hub id).

    The model is loaded on the first call (constructing the writer is cheap, so ``get_writer``
    fails fast on a wrong path without loading anything). ``generator`` + ``tokenizer`` may be
    given instead of loading (tests, or any other :class:`train.models.decoding.Generator`); ``backend``
    says where a loaded model generates (default: in this process).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        options: GenerationOptions = DEFAULT_OPTIONS,
        prompt_config: Any = None,
        cache_dir: str | Path | None = None,
        generator: Generator | None = None,
        tokenizer: Any = None,
        backend: GenerationBackendConfig | None = None,
        dtype: str | None = None,
    ) -> None:
        p = Path(str(path)).expanduser()
        self.path = str(p.resolve()) if p.exists() else str(path)
        if generator is None:
            from train.models.modeling import check_model_exists

            check_model_exists(self.path)
        self.name = f"{WRITER_NAME}:{self.path}"
        self.options = options
        self.backend = backend or GenerationBackendConfig()
        self.dtype = dtype  # a --dtype value for an in-process model (None: the default precision)
        self.prompt_config = prompt_config
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._generator, self._tokenizer = generator, tokenizer
        self._builders: dict[str, Any] = {}
        self._fallback: Any = None
        self.fallbacks = 0
        """Questions that came from the rule-based writer because the model's output was empty."""

    def _load(self) -> None:
        from train.models.decoding import load_generator

        gen = load_generator(self.path, self.options, self.backend, dtype=self.dtype)
        self._generator, self._tokenizer = gen, gen.tokenizer

    def _builder(self, schema: Schema) -> Any:
        from synth.prompt import PromptBuilder, PromptConfig

        key = f"{schema.db_id}:{schema.db_path}"
        if key not in self._builders:
            self._builders[key] = PromptBuilder(schema, self.prompt_config or PromptConfig(), cache_dir=self.cache_dir)
        return self._builders[key]

    def model_inputs(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        """``sql2text_input(schema_prompt, sql)`` per item (before any chat template)."""
        from synth.prompt.format import sql2text_input

        return [sql2text_input(sql2text_schema_prompt(self._builder(schema), sql), sql) for sql, schema in items]

    def write(self, sql: str, schema: Schema) -> str:
        return self.write_batch([(sql, schema)])[0]

    def prompts(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        """What the model is fed: :meth:`model_inputs` through the chat template (if the tokenizer has one)."""
        from train.models.formatting import render_prompt

        return [render_prompt(self._tokenizer, text) for text in self.model_inputs(items)]

    def write_batch(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        if not items:
            return []
        if self._generator is None:
            self._load()
        raws = self._generator.generate(self.prompts(items))
        if len(raws) != len(items):
            raise RuntimeError(f"generator returned {len(raws)} completions for {len(items)} prompts")
        out = []
        for (sql, schema), raw in zip(items, raws):
            q = clean_question(raw)
            if not q:
                q = self._rule_based(sql, schema)
                self.fallbacks += 1
            out.append(q)
        return out

    def _rule_based(self, sql: str, schema: Schema) -> str:
        if self._fallback is None:
            from synth.questions import get_writer

            self._fallback = get_writer("rule-based")
        return self._fallback.write(sql, schema)

    def release(self) -> None:
        """Drop the loaded model (frees GPU memory between the stages of ``train vbi``)."""
        close = getattr(self._generator, "close", None)
        if close is not None:
            close()
        self._generator = self._tokenizer = None


def model_writer(
    path: str | Path,
    *,
    max_new_tokens: int = DEFAULT_OPTIONS.max_new_tokens,
    batch_size: int = DEFAULT_OPTIONS.batch_size,
    cache_dir: str | Path | None = None,
    prompt_config: Any = None,
    dtype: str | None = None,
    **backend: Any,
) -> ModelQuestionWriter:
    """Factory registered as ``"model"``: ``get_writer("model", path=..., max_new_tokens=..., batch_size=...)``
    (JSON-friendly keywords, so they fit ``GenerateConfig.writer_options``); the other keywords are
    :class:`~train.models.backend_config.GenerationBackendConfig` fields (``backend="openai", base_url=...``)."""
    require_train_extra("synth generate --writer model")  # synth alone installs no torch: say what to install
    opts = GenerationOptions(max_new_tokens=max_new_tokens, batch_size=batch_size)
    return ModelQuestionWriter(
        path,
        options=opts,
        cache_dir=cache_dir,
        prompt_config=prompt_config,
        backend=backend_config_from(backend),
        dtype=dtype,
    )


# ---- few-shot: an instruction model as SQL-to-Text₀ without fine-tuning --------------------------

FEWSHOT_WRITER_NAME = "few-shot"
DEFAULT_SHOTS = 4
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")


def _sql_tokens(sql: str) -> frozenset[str]:
    return frozenset(t.lower() for t in _TOKEN.findall(sql))


def pick_shots(sql: str, db_id: str, pool: Sequence[Mapping[str, Any]], k: int) -> list[tuple[str, str]]:
    """The ``k`` solved (SQL, question) examples shown for ``sql``: the pool's examples of the same
    database first, then the rest, each group ranked by token overlap with ``sql`` (Jaccard; ties keep
    the pool's order) -- similar SQL on the same schema is the most useful demonstration. Deterministic.

    >>> pool = [{"db_id": "a", "sql": "SELECT count(*) FROM t", "question": "How many?"},
    ...         {"db_id": "b", "sql": "SELECT name FROM t", "question": "Names?"},
    ...         {"db_id": "a", "sql": "SELECT name FROM t ORDER BY age", "question": "Names by age?"}]
    >>> pick_shots("SELECT name FROM t", "a", pool, 2)
    [('SELECT name FROM t ORDER BY age', 'Names by age?'), ('SELECT count(*) FROM t', 'How many?')]
    >>> pick_shots("SELECT name FROM t", "c", pool, 1)
    [('SELECT name FROM t', 'Names?')]
    """
    if k <= 0:
        return []
    target = _sql_tokens(sql)

    def score(ex: Mapping[str, Any]) -> float:
        toks = _sql_tokens(ex["sql"])
        return len(target & toks) / (len(target | toks) or 1)

    same = [ex for ex in pool if ex["db_id"] == db_id]
    ranked = sorted(same, key=score, reverse=True)[:k]  # sorted is stable: ties keep the pool's order
    if len(ranked) < k:
        others = [ex for ex in pool if ex["db_id"] != db_id]
        ranked += sorted(others, key=score, reverse=True)[: k - len(ranked)]
    return [(ex["sql"], ex["question"]) for ex in ranked]


class FewShotQuestionWriter(ModelQuestionWriter):
    """An instruction model (not fine-tuned) writing questions from ``shots`` solved examples of the
    benchmark's real (SQL -> question) pairs: SPFT-SQL's alternative SQL-to-Text₀ (``train vbi
    --writer0 few-shot``). Same loading, generation, cleaning and rule-based fallback as the
    fine-tuned writer; only the model input differs (:func:`synth.prompt.format.sql2text_fewshot_messages` as
    chat turns for a model with a chat template, else :func:`synth.prompt.format.sql2text_fewshot_input`)."""

    def __init__(
        self, path: str | Path, *, examples: Sequence[Mapping[str, Any]], shots: int = DEFAULT_SHOTS, **kwargs: Any
    ) -> None:
        super().__init__(path, **kwargs)
        if shots < 1:
            raise ValueError(f"few-shot writer: shots must be >= 1, got {shots}")
        if not examples:
            raise ValueError("few-shot writer: no (SQL, question) examples to show")
        self.name = f"{FEWSHOT_WRITER_NAME}:{self.path}"
        self.examples = list(examples)
        self.shots = shots

    def _shown(self, items: Sequence[tuple[str, Schema]]) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(schema prompt, SQL, shots) per item."""
        return [
            (
                sql2text_schema_prompt(self._builder(schema), sql),
                sql,
                pick_shots(sql, schema.db_id, self.examples, self.shots),
            )
            for sql, schema in items
        ]

    def model_inputs(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        from synth.prompt.format import sql2text_fewshot_input

        return [sql2text_fewshot_input(*shown) for shown in self._shown(items)]

    def prompts(self, items: Sequence[tuple[str, Schema]]) -> list[str]:
        """With a chat template, the shots are chat turns (:func:`synth.prompt.format.sql2text_fewshot_messages`:
        each example SQL a user turn, its question the assistant's answer); without one, the text of
        :meth:`model_inputs`."""
        from synth.prompt.format import sql2text_fewshot_messages
        from train.models.formatting import has_chat_template, render_chat

        if not has_chat_template(self._tokenizer):
            return super().prompts(items)
        return [render_chat(self._tokenizer, sql2text_fewshot_messages(*shown)) for shown in self._shown(items)]


def read_shot_examples(path: str | Path) -> list[dict[str, Any]]:
    """(db_id, sql, question) records from a JSONL file (``train vbi`` passes ``OUT/real/sql2text.jsonl``:
    the real training pairs, never the selection split); a bad line names the file, line and field."""
    from evaluation.errors import InputError
    from evaluation.fileio import iter_jsonl_objects

    keys = ("db_id", "sql", "question")
    out = []
    for lineno, rec in iter_jsonl_objects(path):
        for key in keys:
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise InputError("missing or empty", path=path, line=lineno, field=key)
        out.append({k: rec[k] for k in keys})
    return out


def fewshot_writer(
    path: str | Path,
    *,
    examples_file: str | Path,
    shots: int = DEFAULT_SHOTS,
    max_new_tokens: int = DEFAULT_OPTIONS.max_new_tokens,
    batch_size: int = DEFAULT_OPTIONS.batch_size,
    cache_dir: str | Path | None = None,
    prompt_config: Any = None,
    dtype: str | None = None,
    **backend: Any,
) -> FewShotQuestionWriter:
    """Factory registered as ``"few-shot"``: ``get_writer("few-shot", path=INSTRUCT_MODEL,
    examples_file="runs/x/real/sql2text.jsonl", shots=4)``; other keywords as :func:`model_writer`."""
    require_train_extra("synth generate --writer few-shot")
    opts = GenerationOptions(max_new_tokens=max_new_tokens, batch_size=batch_size)
    return FewShotQuestionWriter(
        path,
        examples=read_shot_examples(examples_file),
        shots=shots,
        options=opts,
        cache_dir=cache_dir,
        prompt_config=prompt_config,
        backend=backend_config_from(backend),
        dtype=dtype,
    )


# Importing train registers the plugins (replace=True: re-importing, e.g. after a reload, is harmless).
register_writer(WRITER_NAME, model_writer, replace=True)
register_writer(FEWSHOT_WRITER_NAME, fewshot_writer, replace=True)
