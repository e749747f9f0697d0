"""One run record (issue 12): every manifest -- ``synth generate``, a train run, ``evaluate``'s report,
``evaluate build-suite``, ``train vbi``'s synthesized data, and the data folders of a train run (real pairs,
SFT and self-play data, an experiment's split) -- is built by ``evaluation.run_record`` and starts with the
same keys in the same order; ``synth validate`` accepts each against its schema."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evaluation.run_record import REQUIRED_KEYS, SKELETON_KEYS, build_record, config_dict, record_bytes, write_record

SCHEMAS = Path(__file__).resolve().parents[1] / "data_schemas"


# ---- the skeleton ----------------------------------------------------------------------------------


@dataclass
class _Limits:
    timeout_s: float = 1.0
    dirs: tuple[Path, ...] = (Path("a"), Path("b"))


@dataclass
class _Config:
    out: Path = Path("runs/x")
    targets: tuple[str, ...] = ("q", "v")
    limits: _Limits = field(default_factory=_Limits)


def test_config_dict_is_json_ready_at_any_depth():
    assert config_dict(_Config()) == {
        "out": "runs/x",
        "targets": ["q", "v"],
        "limits": {"timeout_s": 1.0, "dirs": ["a", "b"]},
    }
    assert config_dict({"n": (1, 2)}) == {"n": [1, 2]}


def test_record_keys_come_in_one_order_and_optional_ones_only_when_given():
    common = dict(format="spft-sql/x/1", command="x", inputs={}, parameters={}, versions={"python": "3"}, counts={})
    bare = build_record(**common)
    assert list(bare) == list(REQUIRED_KEYS)
    full = build_record(
        **common, seed=3, timings={"total_s": 1.0}, created=True, sections={"b": 1, "a": 2}, outputs={"f": {}}
    )
    assert list(full) == [*SKELETON_KEYS, "b", "a", "outputs"]
    assert full["created"].endswith("+00:00") and full["seed"] == 3
    with pytest.raises(ValueError, match="skeleton"):
        build_record(**common, sections={"versions": {}})


def test_the_writer_is_atomic_json_in_record_order(tmp_path):
    rec = build_record(format="spft-sql/x/1", command="x", inputs={}, parameters={}, versions={}, counts={"é": 1})
    path = write_record(tmp_path / "m.json", rec)
    assert path.read_bytes() == record_bytes(rec) and "é" in path.read_text(encoding="utf-8")
    assert list(json.loads(path.read_text(encoding="utf-8"))) == list(rec)
    assert json.loads(record_bytes(rec, sort_keys=True)) == rec
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.parametrize("name", ["manifest", "train_manifest", "eval_report", "data_manifest"])
def test_every_record_schema_requires_the_skeleton(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert set(REQUIRED_KEYS) <= set(schema["required"])


# ---- the writers ----------------------------------------------------------------------------------


def _tiny_db(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    con = sqlite3.connect(root / "shop" / "shop.sqlite")
    con.executescript(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL);"
        "INSERT INTO item VALUES (1, 'pen', 1.5), (2, 'cup', 3.0), (3, 'box', 3.0);"
    )
    con.commit()
    con.close()
    return root


def _synth_generate(tmp_path: Path) -> tuple[dict, Path]:
    from synth.generation import GenerateConfig, generate, write_outputs

    res = generate(GenerateConfig(db="demo", n=12, val_size=2, prompts=False))
    write_outputs(res, tmp_path / "gen")
    return res.manifest, tmp_path / "gen" / "manifest.json"


def _train_run(tmp_path: Path) -> tuple[dict, Path]:
    from train.manifest import file_inputs, write_manifest

    data = tmp_path / "train.jsonl"
    data.write_text('{"a": 1}\n', encoding="utf-8")
    path = tmp_path / "sft" / "manifest.json"
    m = write_manifest(
        path,
        command="train sft",
        config=_Config(),
        inputs={"data": file_inputs({"train": data})},
        seed=0,
        counts={"train_examples": 1},
        timings={"total_s": 0.1},
        results={"val_ex": 0.5},
    )
    return m, path


def _evaluate(tmp_path: Path) -> tuple[dict, Path]:
    from evaluation import EvalConfig, evaluate
    from evaluation.inputs import Item

    db_root = _tiny_db(tmp_path / "db")
    items = [Item("1", "shop", "SELECT name FROM item WHERE price > 2", "SELECT name FROM item WHERE price >= 3")]
    report = evaluate(None, None, EvalConfig(db_root=db_root, workers=1), items=items)
    report.write(tmp_path / "report.json")
    return report.as_dict(), tmp_path / "report.json"


def _build_suite(tmp_path: Path) -> tuple[dict, Path]:
    from evaluation.suite import SuiteConfig, build_suite

    db_root = _tiny_db(tmp_path / "sdb")
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([{"db_id": "shop", "query": "SELECT name FROM item WHERE price > 2"}]))
    m = build_suite(db_root, gold, tmp_path / "suite", SuiteConfig(size=3, candidates=4))
    return m, tmp_path / "suite" / "manifest.json"


def _vbi_synthesize(tmp_path: Path) -> tuple[dict, Path]:
    from train.vbi import synthesize
    from train.vbi_config import VBIConfig

    cfg = VBIConfig(db="demo", model="m", out=str(tmp_path / "vbi"), n=8, val_size=2)
    m = synthesize(cfg, 0, tmp_path / "data", writer_model=None, failed_templates=None, exclude=set(), cache_dir=None)
    return m, tmp_path / "data" / "manifest.json"


def _real_pairs(tmp_path: Path) -> tuple[dict, Path]:
    from train.vbi import prepare_real
    from train.vbi_config import VBIConfig

    cfg = VBIConfig(db="demo", model="m", out=str(tmp_path / "vbi"), selection_size=5)
    return prepare_real(cfg, tmp_path / "real", tmp_path / "cache"), tmp_path / "real" / "manifest.json"


def _on_disk(folder: Path) -> tuple[dict, Path]:
    path = folder / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")), path


def _sft_data(tmp_path: Path) -> tuple[dict, Path]:
    from train.io import read_jsonl
    from train.vbi import write_sql2text_data

    _, real = _real_pairs(tmp_path)
    return _on_disk(write_sql2text_data(read_jsonl(real.parent / "sql2text.jsonl"), tmp_path / "s2t", tmp_path))


def _spft_selfplay_data(tmp_path: Path) -> tuple[dict, Path]:
    from train.io import read_jsonl, write_jsonl
    from train.spft import write_selfplay_data

    _, real = _real_pairs(tmp_path)
    for g in (0, 1):  # the round's VBI-FT iterations: their D_val, in iteration order
        write_jsonl(tmp_path / "vbi" / f"iter-{g}" / "data" / "val.jsonl", read_jsonl(real.parent / "selection.jsonl"))
    return _on_disk(write_selfplay_data(tmp_path / "sp", real.parent, tmp_path / "vbi", [0, 1], tmp_path, round_=1))


def _experiment_split(tmp_path: Path) -> tuple[dict, Path]:
    from train.experiment import build_split
    from train.experiment_config import load_experiment

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "exp.toml").write_text("[split]\ndb = 'demo'\ntop_dbs = 2\n", encoding="utf-8")
    return build_split(load_experiment(tmp_path / "exp.toml"), tmp_path / "exp"), tmp_path / "exp/split/manifest.json"


def _experiment_selfplay_data(tmp_path: Path) -> tuple[dict, Path]:
    from train.experiment import write_baseline_data

    _, real = _real_pairs(tmp_path)
    return _on_disk(write_baseline_data(tmp_path / "bl", real.parent, 3, 7))


WRITERS = {
    "synth generate": _synth_generate,
    "train sft": _train_run,
    "evaluate": _evaluate,
    "evaluate build-suite": _build_suite,
    "train vbi: synthesize": _vbi_synthesize,
    "train vbi: real pairs": _real_pairs,
    "train vbi: sql-to-text sft data": _sft_data,
    "train spft: self-play data": _spft_selfplay_data,
    "train experiment: split": _experiment_split,
    "train experiment: self-play data": _experiment_selfplay_data,
}
#: the data-folder manifests (``train.manifest.write_data_manifest``): one format, one schema
DATA_FOLDERS = [c for c in WRITERS if c.startswith("train ") and c not in {"train sft", "train vbi: synthesize"}]


@pytest.mark.parametrize("command", list(WRITERS))
def test_every_writer_builds_the_skeleton_and_its_file_validates(command, tmp_path):
    from synth.validate import validate_file

    manifest, path = WRITERS[command](tmp_path)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["command"] == on_disk["command"] == command
    assert manifest["format"].startswith("spft-sql/")
    assert set(REQUIRED_KEYS) <= set(on_disk)
    skeleton = [k for k in manifest if k in SKELETON_KEYS]
    assert skeleton == [k for k in SKELETON_KEYS if k in manifest]  # the one order
    assert list(manifest)[: len(skeleton)] == skeleton  # the writer's own sections come after it
    if command != "synth generate":  # written sorted (its bytes are compared); the others in record order
        assert list(on_disk) == list(manifest)
    _, problems = validate_file(path, "eval_report" if command == "evaluate" else None)
    assert not problems, [str(p) for p in problems]


@pytest.mark.parametrize("command", DATA_FOLDERS)
def test_data_folder_manifests_keep_what_their_readers_use(command, tmp_path):
    from synth.validate import schema_for, validate_file
    from train.io import data_root_for

    manifest, path = WRITERS[command](tmp_path)
    assert manifest["format"] == "spft-sql/data-manifest/1" and schema_for(path) == "data_manifest"
    assert "created" in manifest and manifest["versions"]["python"]
    # train sft / train selfplay --data resolve db_path against inputs.data_root
    assert list(manifest["inputs"])[0] == "data_root" and Path(manifest["inputs"]["data_root"]).is_absolute()
    assert data_root_for(path.parent) == Path(manifest["inputs"]["data_root"])
    files = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in path.parent.glob("*.jsonl")}
    if "val" in manifest["counts"]:  # SFT / self-play data: the counts are the files' lines
        assert files == {"train.jsonl": manifest["counts"]["train"], "val.jsonl": manifest["counts"]["val"]}
    broken = dict(manifest, inputs={k: v for k, v in manifest["inputs"].items() if k != "data_root"})
    path.write_text(json.dumps(broken), encoding="utf-8")
    _, problems = validate_file(path)
    assert [p.field for p in problems] == ["inputs.data_root"]


def test_data_folders_record_what_decided_their_content(tmp_path):
    real, _ = _real_pairs(tmp_path / "a")
    assert real["seed"] == real["parameters"]["seed"] == 0 and real["parameters"]["selection_size"] == 5
    assert set(real["hashes"]) == {"train", "selection"} and real["counts"]["selection"] == 5
    # resume: the folder is skipped, its manifest read back unchanged
    from train.vbi import prepare_real
    from train.vbi_config import VBIConfig

    again = prepare_real(VBIConfig(db="demo", model="m", out="o", selection_size=5), tmp_path / "a" / "real", None)
    assert again == real
    sp, _ = _spft_selfplay_data(tmp_path / "b")
    assert sp["parameters"] == {"round": 1, "iterations": [0, 1]} and len(sp["inputs"]["val"]) == 2
    assert sp["counts"] == {"train": real["counts"]["train"], "val": 2 * real["counts"]["selection"]}
    split, _ = _experiment_split(tmp_path / "c")
    assert split["parameters"]["top_dbs"] == 2 and split["seed"] == split["parameters"]["split_seed"]
    assert len(split["db_ids"]) == split["counts"]["dbs"] == 2  # read by train experiment on resume
    bl, _ = _experiment_selfplay_data(tmp_path / "d")
    assert bl["seed"] == 7 and bl["parameters"] == {"baseline_pairs": 3} and bl["counts"]["train"] == 3
