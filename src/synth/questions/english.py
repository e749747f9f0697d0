"""Tiny English helpers for the rule-based writer: plurals, lists, sentence finishing.

Deliberately small and predictable (no inflection library): schema names are short noun phrases
such as ``singer``, ``singer in concert`` or ``song release year``.
"""

from __future__ import annotations

import re

_PREPOSITIONS = (" in ", " of ", " for ", " on ", " at ", " by ", " with ", " to ", " from ")
_IRREGULAR = {
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "staff": "staff",
    "information": "information",
    "series": "series",
    "species": "species",
    "equipment": "equipment",
    "data": "data",
    "news": "news",
    "physics": "physics",
}

_SINGULAR_IRREGULAR = {v: k for k, v in _IRREGULAR.items() if v != k}


_NOT_NOUNS = {"in", "of", "on", "at", "by", "for", "with", "to", "from", "and", "or"}


def plural_word(word: str) -> str:
    """``singer`` -> ``singers``, ``city`` -> ``cities``, ``class`` -> ``classes``."""
    low = word.lower()
    if not word or not word[-1].isalpha():
        return word
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith(("ss", "sh", "ch", "x", "z")):
        return word + "es"
    if low.endswith(("s", "ed")) or low in _NOT_NOUNS:
        return word  # already plural ("orders"), a participle ("booked") or a preposition
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def singular_word(word: str) -> str:
    """``cities`` -> ``city``, ``addresses`` -> ``address``, ``products`` -> ``product``; else unchanged."""
    low = word.lower()
    if _IRREGULAR.get(low) == low:
        return word
    if low in _SINGULAR_IRREGULAR:
        return _SINGULAR_IRREGULAR[low]
    if len(low) <= 3 or not low.endswith("s") or low.endswith(("ss", "us", "is", "ics", "ous")):
        return word
    if low.endswith("ies"):
        return word[:-3] + "y"
    if low.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    return word[:-1]


def singular(phrase: str) -> str:
    """Singularize the head noun of a noun phrase: ``customer addresses`` -> ``customer address``."""
    phrase = phrase.strip()
    for prep in _PREPOSITIONS:
        i = phrase.find(prep)
        if i > 0:
            return singular(phrase[:i]) + phrase[i:]
    head, _, last = phrase.rpartition(" ")
    return f"{head} {singular_word(last)}" if head else singular_word(last)


def plural(phrase: str) -> str:
    """Pluralize the head noun of a noun phrase: ``singer in concert`` -> ``singers in concert``."""
    phrase = phrase.strip()
    if not phrase:
        return phrase
    for prep in _PREPOSITIONS:
        i = phrase.find(prep)
        if i > 0:
            return plural(phrase[:i]) + phrase[i:]
    head, _, last = phrase.rpartition(" ")
    return f"{head} {plural_word(last)}" if head else plural_word(last)


def join_list(items: list[str], conj: str = "and") -> str:
    """``[a, b, c]`` -> ``a, b and c``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.?])")


def finish_sentence(text: str, question: bool) -> str:
    """Collapse spaces, capitalize the first letter and end with ``?`` or ``.``."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text).strip()).rstrip(" ,.?")
    if not text:
        return text
    return text[0].upper() + text[1:] + ("?" if question else ".")
