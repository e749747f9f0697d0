"""Model inputs — the ONE place they are formatted (SFT, prediction, self-play and SQL-to-Text all
call these two functions, so a prompt means the same thing everywhere).

``text2sql_input`` ends with ``SQL:\\n`` so the model's completion is the bare SQL;
``sql2text_input`` ends with ``question:\\n`` so the completion is the question. The inputs are
stripped of surrounding whitespace; nothing else is changed (a SQL string literal stays as written).
"""

from __future__ import annotations


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
