"""A ``--model`` that is no folder and no ``org/name`` hub id fails at once, with the close folder named
(it used to go to the hub: a minute of retries, then "check your internet connection")."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from train.cli import main


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    (tmp_path / "data.jsonl").write_text('{"id": "a", "prompt": "p"}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the old code went to the hub: fail fast there, never hang
    return tmp_path


def test_model_typo_names_the_close_folder(workdir: Path) -> None:
    args = ["predict", "--model", "models/tiyn", "--data", "data.jsonl", "--out", "preds.jsonl"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert res.output == "Error: models/tiyn: no such model folder (did you mean models/tiny?)\n"
    assert not (workdir / "preds.jsonl").exists()


@pytest.mark.parametrize("name", ["tiyn", "./tiyn", "a/b/c"])
def test_not_a_hub_id_is_not_sent_to_the_hub(workdir: Path, name: str) -> None:
    from evaluation.errors import DataNotFoundError
    from train.models.modeling import check_model_exists, is_local

    assert is_local(name)
    with pytest.raises(DataNotFoundError, match=f"^{name}: no such model folder"):
        check_model_exists(name)


def test_org_name_not_on_disk_is_a_hub_id(workdir: Path) -> None:
    from train.models.modeling import check_model_exists, is_local

    assert not is_local("HuggingFaceTB/SmolLM2-135M-Instruct")
    check_model_exists("HuggingFaceTB/SmolLM2-135M-Instruct")  # left to the hub (no error here)
