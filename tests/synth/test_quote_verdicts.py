"""Spider's double quotes get one verdict in every consumer (issue 12): template normalization, the
prompt's gold items and the rule-based question writer all read SQL through evaluation.sql_analysis.

Before, ``SELECT "Name" FROM singer WHERE Country = "France"`` was a column for templates but a
string for the gold items (which dropped ``singer.Name`` from the prompt), and the writer decided by
position (``Country = "Name"`` read as the string "Name").
"""

from __future__ import annotations

import pytest

from evaluation.schema import Column, Schema, Table
from synth.prompt.gold import sql_items
from synth.questions.rule_based import RuleBasedWriter
from synth.templates import normalize

SINGER = Table(
    "singer",
    "singer",
    (
        Column("singer", "Singer_ID", "singer id", "number", True),
        Column("singer", "Name", "name", "text"),
        Column("singer", "Country", "country", "text"),
    ),
)
SCHEMA = Schema("concert_singer", (SINGER,))

CASES = [
    # (sql, template text, gold columns, gold literals, question)
    (
        'SELECT "Name" FROM singer WHERE Country = "France"',  # the example
        "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}",
        {("singer", "name"), ("singer", "country")},
        ("France",),
        "Find the name of singers whose country is France.",
    ),
    (
        'SELECT Name FROM singer WHERE Country = "Name"',  # a visible column, even in a value position
        "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {c0:text}",
        {("singer", "name"), ("singer", "country")},
        (),
        "Find the name of singers whose country is equal to the name.",
    ),
    (
        'SELECT Name FROM singer WHERE "Country" = "Spain"',  # quoted on both sides of the comparison
        "SELECT {c0:text} FROM {tables} WHERE {c1:text} = {v0:text}",
        {("singer", "name"), ("singer", "country")},
        ("Spain",),
        "Find the name of singers whose country is Spain.",
    ),
]


@pytest.mark.parametrize("sql,template,columns,literals,question", CASES, ids=[c[0] for c in CASES])
def test_every_consumer_gives_the_same_column_or_string_verdict(sql, template, columns, literals, question):
    text, slots = normalize(sql, SCHEMA)
    assert text == template
    n_value_slots = sum(s.kind == "value" for s in slots)

    items = sql_items(sql, SCHEMA)
    assert items.parsed and items.columns == columns
    assert items.literals == literals
    assert n_value_slots == len(literals), "templates and gold items count the same strings"

    assert RuleBasedWriter(vary_verbs=False).write(sql, SCHEMA) == question
