"""De-duplication key of a candidate: :func:`normalize_sql`."""

from __future__ import annotations

from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

_SQLITE = SQLite()


def normalize_sql(sql: str) -> str:
    """Canonical text for de-duplication, from sqlglot's SQLite tokenizer.

    Keywords and identifiers (quoted or not) are lower-cased, string literals kept as written,
    tokens joined by single spaces -- so spacing and identifier case never make two queries
    look different. Tokenizing is ~5x cheaper than a parse + generate round trip, and the
    candidates are already sqlglot-rendered, so the two give the same duplicates.
    """
    try:
        tokens = _SQLITE.tokenize(sql)
    except (SqlglotError, ValueError):
        return " ".join(sql.split()).lower()
    out = []
    for t in tokens:
        if t.token_type == TokenType.STRING:
            out.append("'" + t.text.replace("'", "''") + "'")
        elif t.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            out.append('"' + t.text.lower() + '"')
        else:
            out.append(t.text.lower())
    return " ".join(out)
