"""What determines a ``synth generate`` run: :class:`GenerateConfig` and its validation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, SpftError
from evaluation.provenance import json_digest
from evaluation.suite_cache import DEFAULT_SUITE_SIZE, JUDGES, check_judge_settings

#: How databases are drawn per attempt (documented in docs/synth.md).
DB_SAMPLING = ("uniform", "tables")


def _string_pairs(items: Iterable[Any], error: Callable[[int, Any], str]) -> list[tuple[str, str]]:
    """``items`` as ``(str, str)`` tuples; ``error(index, item)`` is the message for one that is not."""
    out = []
    for i, pair in enumerate(items):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ConfigError(error(i, pair))
        out.append((pair[0], pair[1]))
    return out


class NotEnoughExamplesError(SpftError):
    """Fewer than ``n`` verified examples could be made within the attempt budget."""


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A field that is also a ``synth generate`` option: ``help`` (and ``cli``: ``option``, ``flag``,
    ``choices``) is what :func:`evaluation.cli_options.config_options` reads. The CLI text lives here,
    next to the default it describes; the docstring under each field is the library's view."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a ``synth generate`` run (recorded in the manifest's ``parameters``).

    Fields with a ``help`` text are the command's options (:mod:`synth.cli_generate`)."""

    db: str = _option("spider", "'demo' (bundled), 'spider' (under the data root) or a folder in Spider layout.")
    """``demo``, ``spider`` (under the data root) or a path to a folder in Spider layout."""
    n: int = _option(3000, "Verified examples to make (train + val).")
    """Verified examples to produce in total (train + val)."""
    seed: int = _option(0, "Same seed => byte-identical files.")
    """Same seed, same inputs -> byte-identical outputs."""
    val_size: int | None = _option(None, "Examples split off as D_val. Default: min(200, n/10).")
    """Examples split off as D_val (``val.jsonl``). Default: ``min(200, n // 10)``."""
    val_fraction: float | None = _option(None, "D_val as a fraction of --n (instead of --val-size).")
    """Alternative to ``val_size``: a fraction of ``n`` in [0, 1)."""
    data_root: Path | None = _option(  # noqa: RUF009 - _option is a dataclasses.field
        None, "Folder holding spider/ etc. Default: $SPFT_DATA_ROOT, else ~/.cache/spft-sql/data."
    )
    """``--data-root``; else ``$SPFT_DATA_ROOT``; else ``~/.cache/spft-sql/data``."""
    db_ids: tuple[str, ...] = _option((), "Comma-separated databases to use (default: all present).")
    """Restrict to these databases (default: every database whose SQLite file is present)."""
    timeout_s: float = _option(2.0, "Per-query time limit (s).", option="timeout")
    """Per-query execution time limit (a real interrupt); slower candidates are rejected."""
    max_rows: int = _option(10_000, "Reject candidates returning more rows.")
    """Candidates returning more rows are rejected as ``too_large`` (poor training targets)."""
    max_attempts_factor: float = _option(20.0, "Give up after n x this many candidates.")
    """Attempt budget = ``ceil(n * max_attempts_factor)`` candidates."""
    writer: str = _option(
        "rule-based",
        "Question writer: 'rule-based' (offline default) or one an installed plugin provides, e.g. 'model' "
        "(train's SQL-to-Text model; needs --writer-option path=CKPT).",
    )
    """Question writer name for :func:`synth.questions.get_writer`."""
    writer_options: Mapping[str, Any] | None = _option(
        None, "Keyword argument for the writer (repeatable), e.g. path=ckpt/sql2text.", option="writer-option"
    )
    """Keyword arguments for the writer's factory, e.g. ``{"path": "ckpt/"}`` for ``train``'s
    ``"model"`` writer (a plugin needs more than a name). ``None`` = no arguments."""
    template_weights: Mapping[str, float] | None = None
    """Template id -> factor on its sampling weight (the training frequency); unlisted templates keep
    1, 0 leaves a template out. ``train vbi`` upweights the templates of the previous iteration's
    failures (SPFT-SQL §3.1.3). ``None`` = the training distribution."""
    db_sampling: str = _option(
        "uniform", "Draw databases uniformly, or weighted by their number of tables.", choices=DB_SAMPLING
    )
    """``uniform`` over databases, or ``tables``: weight a database by its number of tables."""
    prompts: bool = _option(True, "Skip the prompt builder (no prompt / schema_prompt fields).", flag="no-prompts")
    """Build ``prompt`` / ``schema_prompt`` with the prompt builder (``False``: omit both fields)."""
    judge: str = _option(
        "ex",
        "Who judges that a verified query is new: ex (its SQL text is new on its database) or ts (also: it does "
        "not return what an earlier example returns on every database of test suites -- the database's shared "
        "one, then one built for the two queries -- cached by database fingerprint; rejected: duplicate_ts).",
        choices=JUDGES,
    )
    """``ex``: new = new normalised SQL text (every check on the example's database). ``ts``: also
    not TS-equal to an earlier example of its database (:mod:`synth.generation.novelty`)."""
    suite_size: int = _option(
        DEFAULT_SUITE_SIZE, "--judge ts: databases per test suite, the original included (as build-suite --size)."
    )
    """``judge="ts"``: databases per pair suite (padded up to this after distillation)."""
    suite_cache: Path | None = _option(  # noqa: RUF009 - _option is a dataclasses.field
        None, "--judge ts: folder of cached test suites, shared by runs. Default: ~/.cache/spft-sql/suites."
    )
    """``judge="ts"``: suite cache folder (where, not what: not a parameter of the output)."""
    earlier: tuple[tuple[str, str], ...] = ()
    """Examples made before this run, as ``(db_id, sql)``: a candidate that repeats one is not new --
    by its SQL text (``duplicate``), under ``judge="ts"`` also by its answer on test suites
    (``duplicate_ts``) -- and another candidate takes its place. ``synth generate --avoid FILE``
    reads it from JSONL files; ``train vbi`` passes every pair of its earlier iterations, plus the
    frequency share when it makes the failed-template share. Recorded in the manifest as a count
    and a digest, not the list."""
    held_out: frozenset[tuple[str, str]] = frozenset()
    """``(db_id, collision key)`` of queries that must never be made -- a selection or test split's
    (:func:`synth.generation.dedup.collision_key`, a loose match: quotes and case dropped). A match is
    rejected as ``held_out`` and another candidate takes its place; held-out queries are only
    compared as text, never executed. ``train vbi`` passes its selection split and
    ``--exclude-sql`` files. Recorded in the manifest as a count and a digest."""
    workers: int = _option(1, "Processes for fill + execute.")
    """Processes that fill and execute candidates (output does not depend on it)."""
    cache_dir: Path | None = _option(  # noqa: RUF009 - _option is a dataclasses.field
        None,
        "Cache for template extraction and prompt-builder indexes (never changes the output). Default: <out>/.cache.",
    )
    """Cache folder: template extraction results (``templates/``, see :mod:`synth.templates.cache`)
    and prompt-builder value indexes. ``None``: templates are not cached and the value indexes use
    the prompt builder's default (``~/.cache/spft-sql/values``). Never changes the output."""
    fill_config: Any = None
    """:class:`synth.fill.FillConfig`; ``None`` = its defaults."""
    prompt_config: Any = None
    """:class:`synth.prompt.PromptConfig`; ``None`` = its defaults."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"n must be >= 1, got {self.n}")
        if self.val_size is not None and self.val_fraction is not None:
            raise ConfigError("give either val_size (--val-size) or val_fraction (--val-fraction), not both")
        if self.val_size is not None and not 0 <= self.val_size < self.n:
            raise ConfigError(f"val_size (--val-size {self.val_size}) must be >= 0 and < n (--n {self.n})")
        if self.val_fraction is not None and not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction (--val-fraction {self.val_fraction}) must be in [0, 1)")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s (--timeout) must be > 0, got {self.timeout_s}")
        if self.max_rows < 1:
            raise ConfigError(f"max_rows must be >= 1, got {self.max_rows}")
        if not self.max_attempts_factor >= 1:
            raise ConfigError(
                f"max_attempts_factor (--max-attempts-factor) must be >= 1, got {self.max_attempts_factor}"
            )
        if self.db_sampling not in DB_SAMPLING:
            raise ConfigError(f"db_sampling must be one of {', '.join(DB_SAMPLING)}, got '{self.db_sampling}'")
        check_judge_settings(self.judge, self.suite_size)
        if self.workers < 1:
            raise ConfigError(f"workers (--workers) must be >= 1, got {self.workers}")
        if len(set(self.db_ids)) != len(self.db_ids):
            raise ConfigError(f"db_ids (--db-ids) lists a database twice: {', '.join(self.db_ids)}")
        if self.template_weights is not None:
            for tid, w in self.template_weights.items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < math.inf:
                    raise ConfigError(f"template_weights['{tid}'] must be a finite number >= 0, got {w!r}")
            # a sorted private copy: later changes to the caller's dict cannot change this run
            object.__setattr__(self, "template_weights", dict(sorted(self.template_weights.items())))
        if self.writer_options is not None:
            object.__setattr__(self, "writer_options", dict(self.writer_options))
        # private copies, as template_weights
        earlier = _string_pairs(
            self.earlier, lambda i, p: f"earlier[{i}] must be a (db_id, sql) pair of strings, got {p!r}"
        )
        object.__setattr__(self, "earlier", tuple(earlier))
        held_out = _string_pairs(
            self.held_out, lambda _, p: f"held_out must hold (db_id, collision key) pairs of strings, got {p!r}"
        )
        object.__setattr__(self, "held_out", frozenset(held_out))

    @property
    def effective_val_size(self) -> int:
        if self.val_size is not None:
            return self.val_size
        if self.val_fraction is not None:
            return int(round(self.n * self.val_fraction))
        return min(200, self.n // 10)

    @property
    def max_attempts(self) -> int:
        return math.ceil(self.n * self.max_attempts_factor)

    def to_dict(self) -> dict:
        """JSON-ready parameters for the manifest (paths as strings, nested configs as dicts)."""
        from synth.fill import FillConfig
        from synth.prompt import PromptConfig

        defaults = {"fill_config": FillConfig(), "prompt_config": PromptConfig()}
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in defaults:
                v = defaults[f.name]
            if f.name in ("data_root", "cache_dir", "db", "suite_cache"):
                continue  # recorded (resolved) under manifest["inputs"] / ["cache"]; caches do not change output
            if f.name in ("earlier", "held_out"):  # thousands of queries: what identifies them, not the list
                pairs = [list(pair) for pair in v]
                v = {"count": len(pairs), "digest": json_digest(pairs if f.name == "earlier" else sorted(pairs))}
            elif dataclasses.is_dataclass(v):
                v = _jsonable(dataclasses.asdict(v))
            elif isinstance(v, (tuple, Mapping)):
                v = _jsonable(v if isinstance(v, tuple) else dict(v))
            out[f.name] = v
        out["val_size"] = self.effective_val_size
        out["max_attempts"] = self.max_attempts
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return v.as_posix()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
