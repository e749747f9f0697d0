"""Text normalisation shared by value retrieval and schema filtering (one tokenizer, one stemmer)."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)

#: Question words that carry no value or schema signal. Removed from *queries* only (never from
#: the index), so a value that is all stop words is still indexed, just not reachable by BM25.
STOP_WORDS = frozenset(
    """a an the of in on at for to and or is are was were be been do does did what which who whom
    whose how many much show list find give return all with by from that this these those have has
    had there their its it as than each every any me i you please tell count number
    """.split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (unicode ``\\w+``); the unit BM25 indexes and queries."""
    return _WORD.findall(text.lower())


def stem(token: str) -> str:
    """A tiny plural stemmer (``singers`` -> ``singer``, ``cities`` -> ``city``) for name matching."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("ses", "xes", "ches", "shes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def normalize(text: str) -> str:
    """Lower-case and collapse whitespace: what fine matching compares."""
    return " ".join(text.lower().split())
