"""Every cache and identity key the project computes, pinned to its value for fixed inputs.

These keys name things that outlive a process -- template ids are in ``synth generate``'s output, suite
fingerprints name cache folders, experiment keys name run folders, split keys decide which real pairs
train and which select -- so a change of recipe must be a decision, never a side effect. The hex strings
below were computed with the code before ``evaluation.provenance`` became the one place that hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from evaluation.suite_cache import suite_fingerprint
from synth.prompt import content
from synth.questions import rule_based
from synth.templates import cache as template_cache
from synth.templates.model import template_id
from train import experiment, realdata
from train.experiment import split as experiment_split
from train.io import checkpoint_fingerprint, hash_records
from train.models.decoding import GenerationOptions

EX = {"db_id": "concert_singer", "question": "How many singers are from France? é", "query": "SELECT count(*) FROM s"}


@dataclasses.dataclass(frozen=True)
class _SuiteParams:  # a stand-in for SuiteConfig, so new SuiteConfig fields do not move the pin
    size: int = 4
    seed: int = 0
    workers: int = 8


def _schema() -> SimpleNamespace:
    col = SimpleNamespace
    tables = [
        SimpleNamespace(
            name="singer",
            columns=[
                col(name="id", type="int", is_primary_key=True),
                col(name="nom", type="text", is_primary_key=False),
            ],
        ),
        SimpleNamespace(name="concert", columns=[col(name="singer_id", type="int", is_primary_key=False)]),
    ]
    fks = [SimpleNamespace(table="concert", column="singer_id", ref_table="singer", ref_column="id")]
    return SimpleNamespace(db_id="concert_singer", tables=tables, foreign_keys=fks)


def test_suite_fingerprint() -> None:
    got = suite_fingerprint("ab" * 32, ["SELECT 2", "SELECT 1 -- é", "SELECT 2"], _SuiteParams())
    assert got == "addf333596157ffbc03d2bb4ea63ee680d71a9908290bc4f0c9d263092fc1673"


def test_decoding_settings_hash() -> None:
    assert GenerationOptions().settings_hash("some/model") == "25fe8ad8fbd83281"
    assert GenerationOptions(stop=("\n\n", ";")).settings_hash("") == "ae1a4d2e522a10f5"


def test_real_split_key() -> None:
    assert realdata._split_key(EX, 7) == "a3519fa7fa9956dcaf4a6519bfff498a882fa928354fda9939998688c71ce846"
    assert (
        realdata._split_key({k: v for k, v in EX.items() if k != "question"}, 0)
        == "e0ff518ef4f8ce22fa5711a953f74de468eeaf2e6d9f0b7a140c75dbbc9bbe8c"
    )


def test_experiment_keys() -> None:
    assert experiment_split.short_hash({"b": [1, 2.5], "a": Path("x/y"), "c": "é"}) == "00b05526eeb1"
    assert experiment_split._key(3, EX) == "ab7ee1cd4bcb43a04eee227600eb02eae1359fea7f4ba9a58c9638709afbb589"
    recs = [{"db_id": f"d{i % 3}", "question": f"q{i}", "sql": "SELECT 1"} for i in range(20)]
    assert [r["question"] for r in experiment.baseline_questions(recs, 6, 5)] == [
        "q3",
        "q4",
        "q12",
        "q13",
        "q16",
        "q19",
    ]


def test_template_id() -> None:
    assert template_id("SELECT c1 FROM t1 WHERE c2 = 'é'") == "t00fb5ef5e9"


def test_template_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_cache, "code_version", lambda: "0123456789ab")
    examples = [
        {"db_id": "concert_singer", "query": "SELECT nom FROM singer WHERE nom = 'é'"},
        {"_index": 9, "sql": "x"},
    ]
    assert (
        template_cache.cache_key(examples, {"concert_singer": _schema()})
        == "ca33567d09c84ad5cf72ff72d9d8b9016e6eeb8c04fb8d4028eb793d065dfe06"
    )


def test_template_code_version_recipe() -> None:
    """The code version hashes the template sources, so its value moves with every edit: pin its recipe."""
    import sqlglot

    import evaluation.hardness
    import evaluation.sql_analysis

    h = hashlib.sha256(f"sqlglot={sqlglot.__version__}\n".encode())
    paths = sorted(Path(template_cache.__file__).resolve().parent.glob("*.py"))
    paths += [Path(m.__file__).resolve() for m in (evaluation.sql_analysis, evaluation.hardness)]
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    assert template_cache.code_version() == h.hexdigest()[:12]


def test_value_index_keys(tmp_path: Path) -> None:
    small, big = tmp_path / "small.sqlite", tmp_path / "big.sqlite"
    small.write_bytes(b"tiny database \xff")
    big.write_bytes(bytes(range(256)) * (3 * (1 << 20) // 256) + b"tail")
    (tmp_path / "big.sqlite-wal").write_bytes(b"wal")
    assert (
        content.fingerprint(small)["file"]["sha256_ends"]
        == "68b41aed32a6b63a24f921ba878a85b05108dbc1116d1b3414bae1c5996e4587"
    )
    fp = content.fingerprint(big)
    assert (fp["file"]["sha256_ends"], fp["file-wal"]["sha256_ends"]) == (
        "8ad501ade63b9454bffc34b3a8d1804e193f7e622cae7717e9ee9bf2a63040a6",
        "27a75a1c9d8f31b0bc4ca4889e25fe6413f00d78d8578a36e4cce1c38c452e45",
    )
    assert content.schema_digest(_schema()) == "1e7c3b4257333a61"
    assert content.cache_path("/nonexistent-spft/dbs/concert.sqlite", "/c").name == "concert-51b337eb02ff.npz"


def test_rule_based_verb_choice() -> None:
    sqls = [f"SELECT  c{i}\n FROM t{i % 4}" for i in range(16)]
    assert [rule_based._pick_verb(s) for s in sqls] == [
        "Show",
        "Show",
        "List",
        "Find",
        "Give",
        "Find",
        "List",
        "Give",
        "Return",
        "Give",
        "Give",
        "Find",
        "Show",
        "List",
        "Give",
        "Find",
    ]


def test_records_hash_and_checkpoint_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        hash_records([{"b": 1, "a": "é"}, {"x": [1, 2]}])
        == "541b6e9703b85043c832093827c34a2b385b251e298ed6a0a5b199c717d7aee5"
    )
    assert hash_records([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    base.mkdir()
    adapter.mkdir()
    (base / "model.safetensors").write_bytes(b"\0" * 1000)
    (base / "config.json").write_text('{"a": 1}')
    (base / "trainer_state.json").write_text("skipped")
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    monkeypatch.chdir(tmp_path)  # the base named by a relative path: the config's bytes do not depend on tmp_path
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "base"}')
    assert checkpoint_fingerprint(base) == "57ee039a131d8cfe05e0a914a80b5d63e1c9764ca53a2ad1a1c22fadf0256bee"
    assert checkpoint_fingerprint(adapter) == "2828df726600bba2436dab4f232aaba06184f46c20cfaed26321e72854a26300"
    assert checkpoint_fingerprint("org/hub-model") == "75061d4f1d10c6f875a224dac25c987d0802b11450177a5c1bd20131e1065b91"
