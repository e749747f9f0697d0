"""Model inputs — the ONE place they are formatted (SFT, prediction, self-play and SQL-to-Text all
call these functions, so a prompt means the same thing everywhere).

``text2sql_input`` ends with ``SQL:\\n`` so the model's completion is the bare SQL;
``sql2text_input`` ends with ``question:\\n`` so the completion is the question. The inputs are
stripped of surrounding whitespace; nothing else is changed (a SQL string literal stays as written).
"""

from __future__ import annotations

from collections.abc import Sequence


def text2sql_input(schema_prompt: str, question: str) -> str:
    """Database context + question -> the text-to-SQL model's input.

    >>> text2sql_input("database: d", " How many singers? ")
    'database: d\\n\\nquestion: How many singers?\\nSQL:\\n'
    """
    return f"{schema_prompt.strip()}\n\nquestion: {question.strip()}\nSQL:\n"


def sql2text_input(schema_prompt: str, sql: str) -> str:
    """Database context + SQL -> the SQL-to-Text model's input.

    >>> sql2text_input("database: d", "SELECT count(*) FROM singer")
    'database: d\\n\\nSQL: SELECT count(*) FROM singer\\nquestion:\\n'
    """
    return f"{schema_prompt.strip()}\n\nSQL: {sql.strip()}\nquestion:\n"


#: the instruction above a few-shot SQL-to-Text prompt (an instruction model, not fine-tuned for the task)
FEWSHOT_INSTRUCTION = (
    "Write the question that the last SQL query answers, as a user of this database would ask it: "
    "one sentence in plain English, no SQL. Follow the examples."
)


def sql2text_fewshot_input(schema_prompt: str, sql: str, shots: Sequence[tuple[str, str]]) -> str:
    """Instruction + database context + solved (SQL, question) examples + the SQL -> an instruction
    model's input for writing a question without fine-tuning (SPFT-SQL's SQL-to-Text₀ alternative).
    Each example uses :func:`sql2text_input`'s own ``SQL:`` / ``question:`` layout, so the completion
    is the bare question, exactly as for the fine-tuned writer.

    >>> print(sql2text_fewshot_input("database: d", "SELECT name FROM singer", [("SELECT count(*) FROM singer", "How many singers are there?")]))
    Write the question that the last SQL query answers, as a user of this database would ask it: one sentence in plain English, no SQL. Follow the examples.
    <BLANKLINE>
    database: d
    <BLANKLINE>
    SQL: SELECT count(*) FROM singer
    question: How many singers are there?
    <BLANKLINE>
    SQL: SELECT name FROM singer
    question:
    <BLANKLINE>
    """
    parts = [FEWSHOT_INSTRUCTION, "", schema_prompt.strip(), ""]
    for shot_sql, shot_question in shots:
        parts += [f"SQL: {shot_sql.strip()}", f"question: {' '.join(shot_question.split())}", ""]
    return "\n".join([*parts, f"SQL: {sql.strip()}", "question:", ""])


def sql2text_fewshot_messages(schema_prompt: str, sql: str, shots: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """:func:`sql2text_fewshot_input` as chat turns, for a model with a chat template: each solved example
    is a user turn (``SQL: ...``) answered by an assistant turn (the bare question), and the last user
    turn holds the SQL to write a question for; the instruction and the database context open the first
    user turn. An instruction model then answers the way it was shown; given the single-turn text,
    SmolLM2-135M-Instruct mostly wrote "The answer is:" or "1. 1." instead of a question (docs/train.md).

    >>> for m in sql2text_fewshot_messages("database: d", "SELECT name FROM singer", [("SELECT count(*) FROM singer", "How many singers are there?")]):
    ...     print(m["role"], "|", m["content"].replace(FEWSHOT_INSTRUCTION, "<instruction>"))
    user | <instruction>
    <BLANKLINE>
    database: d
    <BLANKLINE>
    SQL: SELECT count(*) FROM singer
    assistant | How many singers are there?
    user | SQL: SELECT name FROM singer
    """
    head = f"{FEWSHOT_INSTRUCTION}\n\n{schema_prompt.strip()}\n\n"
    turns: list[dict[str, str]] = []
    for shot_sql, shot_question in shots:
        turns += [
            {"role": "user", "content": f"{head}SQL: {shot_sql.strip()}"},
            {"role": "assistant", "content": " ".join(shot_question.split())},
        ]
        head = ""
    return [*turns, {"role": "user", "content": f"{head}SQL: {sql.strip()}"}]
