"""De-duplication keys: :func:`normalize_sql` (is a candidate new?) and :func:`collision_key` (is it a
held-out query?)."""

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


def collision_key(sql: str) -> str:
    """A loose canonical form to find a synthetic query that *is* a held-out query: tokens
    lower-cased, quotes dropped (Spider writes strings in double quotes, synthetic SQL in single
    ones), no trailing semicolon. Looser than :func:`normalize_sql` on purpose: a false match only
    costs one synthetic example; a missed one leaks a test answer into training.

    >>> collision_key('SELECT name FROM singer WHERE country = "France";') == collision_key("select Name from singer where Country = 'france'")
    True
    """
    text = sql.strip().rstrip(";").strip()
    try:
        tokens = [t.text for t in _SQLITE.tokenize(text)]
    except (SqlglotError, ValueError):
        tokens = text.replace('"', " ").replace("'", " ").split()
    return " ".join(t.lower() for t in tokens)
