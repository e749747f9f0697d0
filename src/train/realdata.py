"""The benchmark's real training pairs in the SPFT-SQL loop (SPFT-SQL §3.1, Table 14; issue "train spft").

The paper fine-tunes on the real training pairs *plus* the synthetic ones, and its first SQL-to-Text
model is trained on the real (SQL -> question) pairs. This module prepares them once per run:

* **split**: each real pair goes, by a seeded hash of (db_id, question, SQL), either to ``train`` or
  to the **selection** split -- held out from every stage, it decides which model a run returns
  and when it stops (D_val cannot: self-play trains on D_val's pairs);
* **prompt records** built by the one prompt builder (:func:`synth.prompt.records.build_prompt_records`,
  the library behind ``synth build-prompts``): the selection split test-like (question only), the
  training pairs with the gold SQL's items kept when ``gold_prompts`` (like synthetic training data);
* **SQL-to-Text records** for the same training pairs (schema prompt built from the SQL alone, as the
  model question writer builds it at generation time).

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, DataNotFoundError
from evaluation.provenance import digest


@dataclass(frozen=True)
class RealSplit:
    """Raw benchmark entries (as :func:`synth.sources.load_examples` returns them) per split."""

    train: list[dict]
    selection: list[dict]


def _split_key(ex: Mapping[str, Any], seed: int) -> str:
    text = f"spft-sql/selection/{seed}/{ex['db_id']}/{ex.get('question', '')}/{ex['query']}"
    return digest(text)


def default_selection_size(n_pairs: int) -> int:
    """min(200, 10 %) of the real pairs, at least 1 (and 0 when there is a single pair).

    >>> default_selection_size(7000), default_selection_size(41), default_selection_size(1)
    (200, 4, 0)
    """
    if n_pairs < 2:
        return 0
    return max(1, min(200, n_pairs // 10))


def split_real(examples: Sequence[dict], selection_size: int | None, seed: int) -> RealSplit:
    """Hold ``selection_size`` pairs out for selection (the smallest seeded hashes); both keep file order."""
    if not examples:
        raise ConfigError("the benchmark has no training pairs: the loop needs real (question, SQL) pairs")
    size = default_selection_size(len(examples)) if selection_size is None else selection_size
    if not 0 <= size < len(examples):
        raise ConfigError(
            f"selection_size (--selection-size {size}) must be >= 0 and < the {len(examples)} real training pairs"
        )
    order = sorted(range(len(examples)), key=lambda i: _split_key(examples[i], seed))
    held = set(order[:size])
    return RealSplit(
        train=[ex for i, ex in enumerate(examples) if i not in held],
        selection=[ex for i, ex in enumerate(examples) if i in held],
    )


def real_records(
    bench: Any, examples: list[dict], *, gold: bool, cache_dir: Path | None, prompt_config: Any = None, source: str
) -> list[dict]:
    """Prompt records (``synth build-prompts`` format) with ids ``real-<position>`` and ``source``."""
    from synth.prompt import PromptConfig
    from synth.prompt.records import build_prompt_records

    path = bench.train_path or bench.root
    records, _skipped = build_prompt_records(
        bench, examples, prompt_config or PromptConfig(), cache_dir, path, gold=gold
    )
    return [dict(r, id=f"real-{r['id']}", source=source) for r in records]


def sql2text_records(
    examples: Sequence[dict],
    schemas: Mapping[str, Any],
    *,
    source: str,
    cache_dir: Path | None = None,
    prompt_config: Any = None,
) -> list[dict]:
    """SQL -> question training records: ``schema_prompt`` built from the SQL alone (what the model
    question writer feeds at generation time), ``question`` the target."""
    from synth.prompt import PromptBuilder, PromptConfig
    from synth.prompt.format import text2sql_input
    from train.writer import sql2text_schema_prompt

    builders: dict[str, Any] = {}
    out = []
    for ex in examples:
        db = ex["db_id"]
        if db not in schemas:
            raise DataNotFoundError(f"example {ex.get('id')}: database '{db}' is not in the benchmark")
        if db not in builders:
            builders[db] = PromptBuilder(schemas[db], prompt_config or PromptConfig(), cache_dir=cache_dir)
        sp = sql2text_schema_prompt(builders[db], ex["sql"])
        out.append(dict(ex, schema_prompt=sp, prompt=text2sql_input(sp, ex["question"]), source=source))
    return out
