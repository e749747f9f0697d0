"""Issue 12: SQL is parsed in one place, ``evaluation.sql_analysis`` (``parse_sql`` / ``try_parse`` /
``parse``), so quoting, trailing semicolons and parse errors are handled the same everywhere."""

from __future__ import annotations

from pathlib import Path

from evaluation.sql_analysis import try_parse

SRC = Path(__file__).resolve().parents[2] / "src"


def test_no_module_but_sql_analysis_calls_sqlglot_parse():
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "sql_analysis.py"
        and any(call in p.read_text(encoding="utf-8") for call in ("parse_one(", "sqlglot.parse("))
    ]
    assert offenders == []


def test_try_parse_reads_what_it_can_and_skips_the_rest():
    assert try_parse("SELECT count(*) FROM singer ;").sql() == "SELECT COUNT(*) FROM singer"
    assert try_parse("SELECT FROM WHERE") is None
    assert try_parse("") is None
