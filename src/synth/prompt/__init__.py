"""Explicit schema integration: the one prompt builder (schema filtering, value retrieval, metadata).

>>> from synth.prompt import PromptBuilder, PromptConfig          # doctest: +SKIP
>>> PromptBuilder(schema).build("How many singers are from France?").text   # doctest: +SKIP
"""

from synth.prompt.builder import Prompt, PromptBuilder, PromptConfig
from synth.prompt.filtering import LexicalScorer, RelevanceScorer, SchemaScores, SchemaSelection
from synth.prompt.format import sql2text_input, text2sql_input
from synth.prompt.serialize import PROMPT_FORMAT_VERSION
from synth.prompt.values import RetrievalConfig, ValueMatch

__all__ = [
    "PROMPT_FORMAT_VERSION",
    "LexicalScorer",
    "Prompt",
    "PromptBuilder",
    "PromptConfig",
    "RelevanceScorer",
    "RetrievalConfig",
    "SchemaScores",
    "SchemaSelection",
    "ValueMatch",
    "sql2text_input",
    "text2sql_input",
]
