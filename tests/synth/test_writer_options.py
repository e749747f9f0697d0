"""``--writer-option KEY=VALUE`` that the writer does not take is a clear error naming what it takes
(it was a TypeError traceback from inside the factory)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError
from synth.cli import main
from synth.questions import get_writer


def test_unknown_option_names_the_writer_and_its_options():
    with pytest.raises(ConfigError, match=r"question writer 'rule-based' takes no option 'x'"):
        get_writer("rule-based", x=1)


def test_cli_says_error_not_traceback(tmp_path):
    res = CliRunner().invoke(
        main, ["generate", "--db", "demo", "--n", "5", "--out", str(tmp_path / "o"), "--writer-option", "x=1"]
    )
    assert res.exit_code == 1 and "Error: question writer 'rule-based' takes no option 'x'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o" / "train.jsonl").exists()


def test_options_a_writer_takes_still_work():
    assert get_writer("rule-based") is not None
