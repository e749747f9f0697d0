"""Fixtures for the train tests: a small hand-built data folder in the ``synth generate`` record format.

Questions and gold SQL are Spider dev examples on ``concert_singer`` (read in place from the data
root); the prompt is a plain schema text + question, as the prompt builder would produce.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCHEMA_PROMPT = (
    "-- Database: concert_singer\n"
    "CREATE TABLE stadium (Stadium_ID int PRIMARY KEY, Location text, Name text, Capacity int, "
    "Highest int, Lowest int, Average int);\n"
    "CREATE TABLE singer (Singer_ID int PRIMARY KEY, Name text, Country text, Song_Name text, "
    "Song_release_year text, Age int, Is_male bool);\n"
    "CREATE TABLE concert (concert_ID int PRIMARY KEY, concert_Name text, Theme text, "
    "Stadium_ID text REFERENCES stadium(Stadium_ID), Year text);\n"
    "CREATE TABLE singer_in_concert (concert_ID int REFERENCES concert(concert_ID), "
    "Singer_ID text REFERENCES singer(Singer_ID));"
)


def make_record(i: int, question: str, sql: str) -> dict:
    return {
        "id": f"syn-{i:06d}",
        "db_id": "concert_singer",
        "question": question,
        "sql": sql,
        "prompt": f"{SCHEMA_PROMPT}\n-- Question: {question}\n-- SQL:",
        "schema_prompt": SCHEMA_PROMPT,
        "template_id": f"t{i % 7:04d}",
        "tables": ["singer"],
        "db_path": "spider/database/concert_singer/concert_singer.sqlite",
        "source": "synthetic",
        "question_writer": "rule-based",
    }


def write_data(folder: Path, data_root: Path, n_train: int = 24, n_val: int = 8) -> Path:
    dev = json.loads((data_root / "spider" / "dev.json").read_text())
    pairs = [(d["question"], d["query"]) for d in dev if d["db_id"] == "concert_singer"]
    assert len(pairs) >= n_train + n_val
    recs = [make_record(i, q, s) for i, (q, s) in enumerate(pairs[: n_train + n_val])]
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", recs[:n_train]), ("val.jsonl", recs[n_train:])):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "manifest.json").write_text(json.dumps({"inputs": {"data_root": str(data_root)}}))
    return folder


@pytest.fixture(scope="session")
def tiny_data(data_root: Path, tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("data") / "out", data_root)


@pytest.fixture(scope="session")
def tiny_model(tiny_data: Path, tmp_path_factory) -> Path:
    from train.models.tiny import TinyConfig, init_tiny

    return init_tiny(tiny_data, tmp_path_factory.mktemp("models") / "tiny", TinyConfig(vocab_size=600, seed=0))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine the thread pool's
    contention made the train tests ~2x slower; one thread keeps them fast (and results comparable)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch-less installs skip the model tests anyway
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: Where ``make smollm2`` puts the imported SmolLM2-135M-Instruct (``SPFT_SMOLLM2`` overrides it).
SMOLLM2_DEFAULT = Path(__file__).resolve().parents[2] / "models" / "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The real pretrained model of the real-model tests; ``make test`` runs ``make smollm2`` first."""
    import os

    path = Path(os.environ.get("SPFT_SMOLLM2") or SMOLLM2_DEFAULT)
    if not (path / "config.json").is_file():
        if os.environ.get("SPFT_REQUIRE_DATA") == "1":  # CI: never go green by skipping
            pytest.fail(f"SPFT_REQUIRE_DATA=1 but no SmolLM2 model folder at {path} (run `make smollm2`)")
        pytest.skip(f"no SmolLM2 model folder at {path} (run `make smollm2`, or set SPFT_SMOLLM2)")
    return path
