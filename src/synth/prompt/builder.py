"""Explicit schema integration (ExSPIN Algorithm 1): filter the schema, retrieve values, add
metadata, serialize — one :class:`PromptBuilder` per database, reused for many questions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluation.errors import ConfigError, DataNotFoundError
from evaluation.schema import Schema
from synth.prompt.content import SAMPLES_PER_COLUMN, DatabaseContent, load_content
from synth.prompt.filtering import (
    LexicalScorer,
    RelevanceScorer,
    SchemaSelection,
    full_selection,
    select_schema,
)
from synth.prompt.format import sql2text_input, text2sql_input
from synth.prompt.gold import sql_items
from synth.prompt.serialize import PROMPT_FORMAT_VERSION, serialize_schema
from synth.prompt.values import RetrievalConfig, ValueMatch


@dataclass(frozen=True)
class PromptConfig:
    """What goes into a prompt. Defaults are the measured operating point in ``docs/prompt.md``."""

    k1: int = 4  # tables kept (top by relevance, padded by rank when fewer are relevant)
    k2: int = 6  # columns kept per table, besides keys and value-matched columns
    max_values_per_column: int = 3  # K: matched values per column
    max_values: int = 10  # matched values in all
    sample_values: int = 3  # representative values shown per column (0: none)
    full_schema: bool = False  # show every table and column (no filtering)
    keep_sql_items: bool = True  # when a SQL is given, its tables/columns are always kept
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)

    def __post_init__(self) -> None:
        if self.k1 < 1 or self.k2 < 1:
            raise ConfigError(f"k1 (--k1) and k2 (--k2) must be >= 1 (got k1={self.k1}, k2={self.k2})")
        if not 0 <= self.sample_values <= SAMPLES_PER_COLUMN:
            raise ConfigError(
                f"sample_values (--sample-values) must be in 0..{SAMPLES_PER_COLUMN} (got {self.sample_values})"
            )
        if self.max_values_per_column < 0 or self.max_values < 0:
            raise ConfigError("max_values_per_column and max_values must be >= 0")

    @property
    def effective_retrieval(self) -> RetrievalConfig:
        """The retrieval settings with this config's K and overall cap applied."""
        return replace(self.retrieval, max_per_column=self.max_values_per_column, max_total=self.max_values)


@dataclass(frozen=True)
class Prompt:
    """A built prompt. ``text`` is the model input; ``schema_prompt`` the database context alone."""

    text: str
    schema_prompt: str
    matched_values: tuple[ValueMatch, ...]
    tables: tuple[str, ...]
    format_version: str = PROMPT_FORMAT_VERSION


class PromptBuilder:
    """Builds prompts for one database. Reads (or loads from cache) the database content once.

    ``build(question)`` -> text-to-SQL input; ``build(None, sql)`` -> SQL-to-Text input whose schema
    keeps the SQL's items; ``build(question, sql)`` -> text-to-SQL input for a training example
    (the SQL's items are kept when ``config.keep_sql_items``). ``evidence`` (BIRD's external
    knowledge) is searched for values and schema items together with the question, and shown in an
    ``external knowledge`` section at the end of the database context.
    """

    def __init__(
        self,
        schema: Schema,
        config: PromptConfig = PromptConfig(),
        cache_dir: Path | None = None,
        scorer: RelevanceScorer | None = None,
    ) -> None:
        if schema.db_path is None:
            raise DataNotFoundError(f"database '{schema.db_id}' has no SQLite file (schema.db_path is unset)")
        self.schema = schema
        self.config = config
        self.scorer: RelevanceScorer = scorer or LexicalScorer()
        self.content: DatabaseContent = load_content(schema.db_path, schema, cache_dir)

    def match_values(self, question: str) -> tuple[ValueMatch, ...]:
        """Values the question mentions (coarse BM25, fine fuzzy LCS)."""
        if self.config.max_values == 0:
            return ()
        return self.content.index.search(question, self.config.effective_retrieval)

    def select(
        self, question: str | None, matches: tuple[ValueMatch, ...] = (), sql: str | None = None
    ) -> SchemaSelection:
        """The tables and columns a prompt shows (all of them with ``full_schema``)."""
        cfg = self.config
        if cfg.full_schema:
            return full_selection(self.schema)
        required = sql_items(sql, self.schema) if (sql and cfg.keep_sql_items) else None
        scores = self.scorer.score(question or "", self.schema, matches)
        return select_schema(self.schema, scores, cfg.k1, cfg.k2, matches, required)

    def build(self, question: str | None, sql: str | None = None, evidence: str | None = None) -> Prompt:
        """The prompt for ``question`` (text-to-SQL) or, with ``question=None``, for ``sql`` (SQL-to-Text)."""
        cfg = self.config
        evidence = evidence if evidence and evidence.strip() else None
        # what values and schema items are looked up from: the question, plus its evidence if any
        lookup = " ".join(x for x in (question, evidence) if x) or None
        matches = self.match_values(lookup) if lookup else ()
        selection = self.select(lookup, matches, sql)
        kept = {t.lower() for t in selection.tables}
        matches = tuple(m for m in matches if m.table.lower() in kept)
        samples = self.content.samples if cfg.sample_values else None
        schema_prompt = serialize_schema(self.schema, selection, samples, matches, cfg.sample_values, evidence)
        if question is not None:
            text = text2sql_input(schema_prompt, question)
        elif sql is not None:
            text = sql2text_input(schema_prompt, sql)
        else:
            text = schema_prompt
        return Prompt(text, schema_prompt, matches, selection.tables)
