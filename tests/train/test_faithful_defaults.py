"""The loop's defaults follow SPFT-SQL's text (issue 21); the old readings stay as options.

The end-to-end checks of the defaults read the files of real runs (tests/train/test_vbi.py and
test_spft.py); this file holds the fast checks: the writer's data split, the preset's global batch,
the SFT's kept epoch, how each self-play variant's opponent decodes, and the docs table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _pair(i: int, source: str) -> dict:
    return {"id": f"{source}-{i}", "db_id": "d", "question": f"q{i}", "sql": f"SELECT {i}", "source": source}


@pytest.mark.parametrize("n_real,n_pos", [(6800 // 100, 170 // 100 + 1), (30, 4), (9, 3), (0, 2)])
def test_every_y_plus_pair_is_in_the_writers_training_part(tmp_path, n_real, n_pos):
    """Before: the y+ pairs were appended last and the last tenth held out, so with 6,800 real pairs and
    170-510 y+ none was trained on. Now only real pairs are held out."""
    from train.vbi import write_sql2text_data

    real = [_pair(i, "real-train") for i in range(n_real)]
    pos = [_pair(i, "vbi-iter-0-y+") for i in range(n_pos)]
    folder = write_sql2text_data(real, tmp_path / "s2t", tmp_path, pos)
    train, val = _lines(folder / "train.jsonl"), _lines(folder / "val.jsonl")
    assert [p["id"] for p in pos] == [r["id"] for r in train if r["source"].endswith("-y+")]
    assert not [r for r in val if r["source"].endswith("-y+")]
    assert len(val) == (n_real // 10 if n_real >= 10 else n_real) or (n_real == 0 and val == [])
    m = json.loads((folder / "manifest.json").read_text())
    assert m["counts"]["positives"] == n_pos and m["counts"]["real"] == n_real


def test_defaults_and_their_options():
    from train.spft_config import SpftConfig
    from train.vbi_config import VBIConfig

    c = SpftConfig(model="m", out="o")
    assert (c.accumulate, c.positive, c.keep_epoch, c.final, c.writer0, c.pool_scope) == (
        False,
        "prediction",
        "last",
        "last",
        "auto",
        "grow",
    )
    for field, bad in (("positive", "sample"), ("keep_epoch", "best"), ("final", "best"), ("writer0", "fewshot")):
        with pytest.raises(UnknownNameError):
            VBIConfig(model="m", out="o", **{field: bad})
    with pytest.raises(UnknownNameError, match="round"):
        SpftConfig(model="m", out="o", pool_scope="rounds")
    with pytest.raises(ConfigError, match="selection split"):
        VBIConfig(model="m", out="o", keep_epoch="selection", selection_size=0)


def test_vbi_paper_preset_and_the_global_batch(monkeypatch):
    """Table 14's batch of 64 is the global batch (2 GPUs): per-process accumulation is divided by the
    processes of `accelerate launch`; train vbi takes the preset too (self-play keys skipped)."""
    from train.spft_config import with_preset
    from train.vbi_config import VBIConfig, apply_preset

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    v = apply_preset(VBIConfig, {"model": "m", "out": "o", "preset": "paper"})
    assert (v.lora, v.learning_rate, v.batch_size, v.grad_accum, v.epochs, v.n) == (True, 2e-4, 8, 8, 3.0, 3000)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert apply_preset(VBIConfig, {"model": "m", "out": "o", "preset": "paper"}).grad_accum == 4
    assert with_preset({"model": "m", "out": "o", "preset": "paper"}).grad_accum == 4
    explicit = apply_preset(VBIConfig, {"model": "m", "out": "o", "preset": "paper", "grad_accum": 3}, {"grad_accum"})
    assert explicit.grad_accum == 3  # given options win
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ConfigError, match="global batch of 64"):
        apply_preset(VBIConfig, {"model": "m", "out": "o", "preset": "paper"})


def test_train_vbi_takes_the_preset_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from train.cli import main

    res = CliRunner().invoke(main, ["vbi", "--help"])
    assert "--preset" in res.output and "--keep-epoch" in res.output and "--positive" in res.output
    res = CliRunner().invoke(main, ["vbi", "--model", "m", "--out", str(tmp_path / "o"), "--preset", "papr"])
    assert res.exit_code == 1 and "did you mean 'paper'" in res.output
    res = CliRunner().invoke(main, ["spft", "--help"])
    assert "--pool-scope" in res.output and "--final" in res.output


def test_sft_keeps_the_last_epoch_when_asked(tiny_data, tiny_model, tmp_path):
    """``keep_epoch="last"`` (the loop's default): D_val is scored every epoch for the log, it chooses
    nothing; the written model is the last epoch's."""
    from train.sft import run_sft
    from train.sft_config import SFTConfig

    kw = dict(data=str(tiny_data), model=str(tiny_model), epochs=2, learning_rate=3e-3, batch_size=8, max_length=256)
    kw |= dict(max_new_tokens=8, gen_batch_size=8, logging_steps=1, save_total_limit=3)
    res = run_sft(SFTConfig(out=str(tmp_path / "last"), keep_epoch="last", eval_ex=False, **kw))
    assert res.best_checkpoint is None
    hist = _lines(tmp_path / "last" / "log_history.jsonl")
    assert len([h for h in hist if "eval_loss" in h]) == 2  # both epochs logged
    from evaluation.provenance import sha256_file

    ckpts = sorted((tmp_path / "last" / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert sha256_file(tmp_path / "last" / "model.safetensors") == sha256_file(ckpts[-1] / "model.safetensors")
    with pytest.raises(UnknownNameError):
        SFTConfig(out="x", keep_epoch="first", **kw)


def test_keep_epoch_selection_chooses_on_the_selection_split_not_dval(tmp_path):
    """``--keep-epoch selection``: the SFT's val.jsonl is the selection split (verification never reads
    it); by default it is the iteration's D_val, used for the loss log only."""
    from train.vbi import sft_data_val
    from train.vbi_config import VBIConfig

    real = tmp_path / "real"
    real.mkdir()
    sel = [_pair(i, "real-selection") for i in range(3)]
    (real / "selection.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sel))
    d_val = [_pair(i, "synthetic-iter-0") for i in range(2)]
    assert sft_data_val(VBIConfig(model="m", out="o"), d_val, real) == d_val
    assert sft_data_val(VBIConfig(model="m", out="o", keep_epoch="selection"), d_val, real) == sel


def test_spin_and_exspin_opponents_sample_their_answers(tiny_model, data_root, tmp_path, monkeypatch):
    """SPIN and ExSPIN define the opponent's data as y' ~ p_θt; SPFT-SQL's and DPO's opponents answer
    greedily. Checked in a real (tiny) self-play round of each variant."""
    import train.selfplay as selfplay
    from train.losses import VARIANTS
    from train.selfplay_config import SelfPlayConfig

    from .test_selfplay_tiny import FAST

    assert {n: v.decode for n, v in VARIANTS.items()} == {
        "spft": "greedy",
        "exspin": "sample",
        "spin": "sample",
        "dpo": "greedy",
    }
    seen = []
    real = selfplay.decode_sql

    def spy(entry, examples, cfg, cache, *, samples=1, sample=False):
        seen.append((cfg.loss, sample, selfplay.generation_options(cfg, samples, sample=sample).do_sample))
        return real(entry, examples, cfg, cache, samples=samples, sample=sample)

    monkeypatch.setattr(selfplay, "decode_sql", spy)
    from .conftest import write_data
    from .test_selfplay_tiny import _cfg

    data = write_data(tmp_path / "d", data_root, n_train=2, n_val=4)
    for loss in ("spin", "spft"):
        seen.clear()
        selfplay.run_selfplay(_cfg(data, tiny_model, tmp_path / loss, rounds=1, loss=loss, pairs_from="val"))
        opponent_calls = [s for s in seen if s[1]]
        assert bool(opponent_calls) == (loss == "spin"), seen
        assert all(do_sample for _, _, do_sample in opponent_calls)
    with pytest.raises(ConfigError, match="temperature"):
        SelfPlayConfig(data="d", model="m", out="o", loss="spin", temperature=0.0, **FAST)


def test_docs_table_names_each_default_its_paper_sentence_and_its_option():
    doc = (ROOT / "docs" / "vbi.md").read_text()
    assert "## Defaults and the paper" in doc
    table = doc.split("## Defaults and the paper", 1)[1]
    for option in ("--accumulate", "--final selection", "--pool-scope round", "--writer0", "--positive gold"):
        assert option in table, option
    assert "--keep-epoch selection" in table and "Table 14" in table and "Algorithm 1" in table


def test_writer0_auto_reads_the_chat_template(tiny_model, tmp_path):
    """auto: few-shot for a model with a chat template (the tiny model has ChatML), sql2text without one;
    the choice and its reason are what the manifest records."""
    import shutil

    from train.vbi import writer0_of
    from train.vbi_config import VBIConfig

    assert writer0_of(VBIConfig(model=str(tiny_model), out="o"))["used"] == "few-shot"
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model, plain)
    cfg = json.loads((plain / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(cfg))
    for extra in plain.glob("chat_template.*"):
        extra.unlink()
    got = writer0_of(VBIConfig(model=str(plain), out="o"))
    assert got == {"requested": "auto", "used": "sql2text", "reason": "the SQL-to-Text model has no chat template"}
    assert writer0_of(VBIConfig(model=str(plain), out="o", writer0="few-shot"))["used"] == "few-shot"


def test_pool_scope_round_keeps_the_old_reading(tmp_path):
    """--pool-scope round: the round's VBI-FT models + the previous main, nothing carried; grow (default)
    carries round r−1's whole pool (base, VBI-FT models, optimized mains, used-opponent marks)."""
    from train.pool import Pool, PoolEntry, save_pool
    from train.spft import round_pool
    from train.spft_config import SpftConfig

    out = tmp_path / "run"
    vbi = [
        PoolEntry(f"m{g}", str(tmp_path / f"v{g}"), str(tmp_path / f"v{g}"), False, f"vbi-iter-{g}") for g in range(4)
    ]
    save_pool(out / "vbi", Pool(tuple(vbi)))
    main1 = str(tmp_path / "main1")
    prev_pool = Pool(
        (
            PoolEntry("base", "base-model", "base-model", False, "base", 0.1, "h", True),
            PoolEntry("v0", vbi[0].path, vbi[0].path, False, "vbi-iter-0", 0.3, "h"),
            PoolEntry("v1", vbi[1].path, vbi[1].path, False, "vbi-iter-1", 0.4, "h"),
            PoolEntry("m3", main1, main1, False, "selfplay-round-1", 0.5, "h"),
        )
    )
    save_pool(out / "round-1" / "selfplay", prev_pool)
    state = {"main": {"path": main1, "origin": "round-1-selfplay-round-1"}}
    grow = round_pool(SpftConfig(model="base-model", out=str(out)), out, 2, [2, 3], state)
    assert [e.id for e in grow.entries] == ["base", "v0", "v1", "r1s1", "v2", "v3"]
    assert [e.used_as_opponent for e in grow.entries] == [True, False, False, False, False, False]
    assert all(e.val_ex is None for e in grow.entries)  # ranked again on the round's D_val
    old = round_pool(SpftConfig(model="base-model", out=str(out), pool_scope="round"), out, 2, [2, 3], state)
    assert [(e.id, e.path) for e in old.entries] == [("prev", main1), ("m2", vbi[2].path), ("m3", vbi[3].path)]
    first = round_pool(SpftConfig(model="base-model", out=str(out)), out, 1, [0, 1], {"main": None})
    assert [(e.id, e.origin) for e in first.entries] == [("base", "base"), ("v0", "vbi-iter-0"), ("v1", "vbi-iter-1")]


def test_accumulate_trains_on_every_iterations_synthetic_pairs():
    """`--accumulate` (the old reading) keeps the synthetic files of every iteration so far in the SFT
    data; the default keeps only the iteration's own (the spft / vbi runs check the default end to end)."""
    from train.vbi import sft_synthetic_files
    from train.vbi_config import VBIConfig

    state = {"synthetic_files": ["iter-0/data/train.jsonl", "iter-1/data/train.jsonl"]}
    new = "iter-2/data/train.jsonl"
    assert sft_synthetic_files(VBIConfig(model="m", out="o"), state, new) == [new]
    assert sft_synthetic_files(VBIConfig(model="m", out="o", accumulate=True), state, new) == [
        *state["synthetic_files"],
        new,
    ]
    assert sft_synthetic_files(VBIConfig(model="m", out="o", accumulate=True), {"synthetic_files": []}, new) == [new]
