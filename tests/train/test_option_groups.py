"""Option groups are declared once (issue 9, "composed configs"): LoRA, optimiser, judge and backend
fields mean and default the same in every config that embeds them, and the loop hands each stage the
optimiser settings it was given."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError, InputError
from train.cli import main
from train.fields import (
    GENERATION_GROUP,
    LORA_GROUP,
    OPTIMISER_DEFAULTS,
    OPTIMISER_GROUP,
    OPTIMISER_ITEMS,
    OptimiserOptions,
    optimiser_of,
)
from train.judge_fields import JUDGE_GROUP
from train.models.backend_config import BACKEND_FIELDS
from train.selfplay_config import SelfPlayConfig
from train.sft_config import SFTConfig
from train.spft_config import SpftConfig
from train.vbi_config import VBIConfig

CONFIGS = {"sft": SFTConfig, "vbi": VBIConfig, "selfplay": SelfPlayConfig, "spft": SpftConfig}


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_lora_fields_are_the_groups(name):
    fields = _fields(CONFIGS[name])
    for key, (text, default) in LORA_GROUP.items():
        assert fields[key].metadata["help"] == text and fields[key].default == default


@pytest.mark.parametrize("name", list(CONFIGS))
def test_generation_fields_are_the_groups(name):
    fields = _fields(CONFIGS[name])
    for key, (text, default) in GENERATION_GROUP.items():
        head = text.split("{use}")[0]
        assert fields[key].metadata["help"].startswith(head) and fields[key].default == default, (name, key)


@pytest.mark.parametrize("name", ["vbi", "selfplay", "spft"])
def test_judge_and_backend_fields_present_everywhere(name):
    fields = _fields(CONFIGS[name])
    assert set(JUDGE_GROUP) <= set(fields) and set(BACKEND_FIELDS) <= set(fields)
    assert fields["suite_size"].default == JUDGE_GROUP["suite_size"][1]


# every optimiser field of every config, with the stage prefix it has and the kind of training it is
OPTIMISER_FIELDS = [
    ("sft", "", "sft"),
    ("vbi", "", "sft"),
    ("vbi", "sql2text_", "sft"),
    ("selfplay", "", "selfplay"),
    ("spft", "", "sft"),
    ("spft", "sql2text_", "sft"),
    ("spft", "selfplay_", "selfplay"),
]


@pytest.mark.parametrize("name,prefix,kind", OPTIMISER_FIELDS)
def test_optimiser_fields_come_from_the_group(name, prefix, kind):
    fields = _fields(CONFIGS[name])
    own = [k for k in OPTIMISER_GROUP if prefix + k in fields]
    assert {"epochs", "learning_rate"} <= set(own)
    for key in own:
        f = fields[prefix + key]
        assert f.default == OPTIMISER_DEFAULTS[kind][key], (name, prefix + key)
        # the group's wording, with only the stage named in between
        head, tail = OPTIMISER_GROUP[key].format(items=OPTIMISER_ITEMS[kind], stage="\0").split("\0")
        text = f.metadata["help"]
        assert text.startswith(head) and tail in text[len(head) :], (name, prefix + key, text)


def test_every_unprefixed_config_has_the_whole_group():
    for name in ("sft", "vbi", "selfplay", "spft"):
        assert set(OPTIMISER_GROUP) <= set(_fields(CONFIGS[name])), name


@pytest.mark.parametrize("command", ["sft", "vbi", "selfplay", "spft"])
def test_help_shows_one_wording(command):
    out = CliRunner().invoke(main, [command, "--help"], terminal_width=400).output
    for option in ("--grad-accum", "--warmup-ratio", "--weight-decay"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(option))
        assert "effective batch = batch size x this" in line or option != "--grad-accum", line
        assert "linear warm-up from 0" in line or option != "--warmup-ratio", line
        assert "AdamW weight decay" in line or option != "--weight-decay", line


def test_optimiser_of_prefix_falls_back_to_the_shared_knobs():
    cfg = SpftConfig(
        model="m",
        out="o",
        grad_accum=4,
        warmup_ratio=0.1,
        weight_decay=0.01,
        sql2text_epochs=5.0,
        selfplay_learning_rate=3e-4,
    )
    assert optimiser_of(cfg, "sql2text_") == OptimiserOptions(5.0, 2e-5, 8, 4, 0.1, 0.01)
    assert optimiser_of(cfg, "selfplay_") == OptimiserOptions(1.0, 3e-4, 4, 4, 0.1, 0.01)


@pytest.mark.parametrize(
    "cls,kw,option",
    [
        (SFTConfig, {"data": "d", "model": "m", "out": "o", "warmup_ratio": 1.0}, "--warmup-ratio"),
        (SFTConfig, {"data": "d", "model": "m", "out": "o", "weight_decay": -0.1}, "--weight-decay"),
        (VBIConfig, {"model": "m", "out": "o", "sql2text_learning_rate": 0.0}, "--sql2text-learning-rate"),
        (VBIConfig, {"model": "m", "out": "o", "grad_accum": 0}, "--grad-accum"),
        (SelfPlayConfig, {"data": "d", "out": "o", "model": "m", "epochs": 0.0}, "--epochs"),
        (SpftConfig, {"model": "m", "out": "o", "selfplay_batch_size": 0}, "--selfplay-batch-size"),
    ],
)
def test_bad_optimiser_values_name_the_option(cls, kw, option):
    with pytest.raises(ConfigError, match=option):
        cls(**kw)


def test_vbi_stages_get_their_own_optimiser(monkeypatch, tmp_path):
    """Text-to-SQL and SQL-to-Text SFT each get their epochs / rate and the shared warm-up and decay
    (before the group, --warmup-ratio and --weight-decay did not exist for the loop)."""
    import train.sft
    from train.vbi import run_sft_stage

    seen: dict[str, SFTConfig] = {}

    def fake_run_sft(cfg: SFTConfig, **_):
        seen[cfg.task] = cfg
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "manifest.json").write_text(json.dumps({"task": cfg.task}))

    monkeypatch.setattr(train.sft, "run_sft", fake_run_sft)
    cfg = VBIConfig(
        model="m",
        out=str(tmp_path),
        epochs=2.0,
        learning_rate=1e-3,
        sql2text_epochs=7.0,
        sql2text_learning_rate=5e-4,
        batch_size=16,
        grad_accum=2,
        warmup_ratio=0.1,
        weight_decay=0.01,
    )
    for task in ("text2sql", "sql2text"):
        run_sft_stage(cfg, data=tmp_path / "d", model="m", out=tmp_path / task, task=task, k=0)
    assert seen["text2sql"].optimiser() == OptimiserOptions(2.0, 1e-3, 16, 2, 0.1, 0.01)
    assert seen["sql2text"].optimiser() == OptimiserOptions(7.0, 5e-4, 16, 2, 0.1, 0.01)


def test_spft_selfplay_stage_gets_the_selfplay_knobs(tmp_path):
    from train.spft import selfplay_config

    cfg = SpftConfig(
        model="m",
        out=str(tmp_path),
        selfplay_epochs=2.0,
        selfplay_learning_rate=3e-4,
        selfplay_batch_size=2,
        grad_accum=3,
        warmup_ratio=0.2,
        weight_decay=0.05,
    )
    sp = selfplay_config(cfg, 0, tmp_path)
    assert sp.optimiser() == OptimiserOptions(2.0, 3e-4, 2, 3, 0.2, 0.05)


def test_training_arguments_read_the_group(tmp_path):
    from train.sft import training_arguments

    args = training_arguments(tmp_path, OptimiserOptions(2.0, 1e-3, 4, 2, 0.25, 0.01), seed=0)
    assert (
        args.num_train_epochs,
        args.learning_rate,
        args.per_device_train_batch_size,
        args.gradient_accumulation_steps,
        args.weight_decay,
    ) == (2.0, 1e-3, 4, 2, 0.01)
    assert args.warmup_steps == 0.25


def test_experiment_sft_section_takes_the_optimiser_group(tmp_path):
    from train.experiment import sft_optimiser
    from train.experiment_config import load_experiment

    loop = SpftConfig(model="m", out="o", epochs=2.0, learning_rate=1e-3, batch_size=32)
    assert sft_optimiser(loop, {"epochs": 4, "batch_size": 8}) == dict(
        epochs=4.0, learning_rate=1e-3, batch_size=8, grad_accum=1, warmup_ratio=0.0, weight_decay=0.0
    )
    bad = tmp_path / "x.toml"
    bad.write_text('[split]\nkind = "indomain"\n[model]\ninit = "tiny"\n[sft]\nepochs = 1.0\nlora_r = 4\n')
    with pytest.raises(InputError, match="optimiser options only"):
        load_experiment(bad)


def test_synthesis_fields_are_generate_configs():
    """The loop's synthesis options mean and default what `synth generate`'s do (declared there)."""
    from synth.generation import GenerateConfig

    gen = _fields(GenerateConfig)
    for name in ("vbi", "spft"):
        fields = _fields(CONFIGS[name])
        for ours, theirs in (("timeout", "timeout_s"), ("max_attempts_factor", "max_attempts_factor")):
            assert fields[ours].default == gen[theirs].default
            assert fields[ours].metadata["help"].startswith(gen[theirs].metadata["help"])


def test_prompt_knobs_default_to_the_prompt_builders():
    """D_val prompts must equal `synth build-prompts` output, so the loop's prompt defaults are the builder's."""
    from synth.prompt import PromptConfig

    built = PromptConfig()
    for name in ("vbi", "spft"):
        fields = _fields(CONFIGS[name])
        assert (fields["k1"].default, fields["k2"].default, fields["sample_values"].default) == (
            built.k1,
            built.k2,
            built.sample_values,
        )


def test_lora_fields_pass_the_group_on():
    from train.fields import lora_fields_of

    cfg = SpftConfig(model="m", out="o", lora=True, lora_r=4, lora_targets=["q_proj"])
    assert lora_fields_of(cfg) == {
        "lora": True,
        "lora_r": 4,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_targets": ("q_proj",),
    }
    assert SFTConfig(data="d", model="m", out="o", **lora_fields_of(cfg)).lora_options().r == 4


def test_loop_sft_stages_get_the_trainer_group(monkeypatch, tmp_path):
    """`train vbi` / `train spft --group-by-length --gradient-checkpointing` reach every SFT stage (before,
    the Trainer group was `train sft`'s only, so a loop could not train as the sft recipe it was compared
    with); the two that do not change what is computed may change on resume, group_by_length may not."""
    import train.sft
    from train.fields import TRAINER_GROUP
    from train.spft import RESUMABLE_CHANGES as SPFT_RESUMABLE
    from train.vbi import RESUMABLE_CHANGES, run_sft_stage

    seen: dict[str, SFTConfig] = {}

    def fake_run_sft(cfg: SFTConfig, **_):
        seen[cfg.task] = cfg
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "manifest.json").write_text("{}")

    monkeypatch.setattr(train.sft, "run_sft", fake_run_sft)
    for cls in (VBIConfig, SpftConfig):
        assert set(TRAINER_GROUP) <= set(_fields(cls))
        cfg = cls(model="m", out=str(tmp_path / cls.__name__), group_by_length=True, gradient_checkpointing=True)
        for task in ("text2sql", "sql2text"):
            run_sft_stage(cfg, data=tmp_path / "d", model="m", out=tmp_path / cls.__name__ / task, task=task, k=0)
            assert seen[task].group_by_length and seen[task].gradient_checkpointing
    assert {"report_to", "gradient_checkpointing"} <= set(RESUMABLE_CHANGES) & set(SPFT_RESUMABLE)
    assert "group_by_length" not in set(RESUMABLE_CHANGES) | set(SPFT_RESUMABLE)
    with pytest.raises(Exception, match="report_to"):
        VBIConfig(model="m", out="o", report_to="tensorbored")
    result = CliRunner().invoke(main, ["spft", "--help"])
    assert "--group-by-length" in result.output and "--gradient-checkpointing" in result.output


def test_loop_and_experiment_sft_stages_share_one_field_set(monkeypatch, tmp_path):
    """`sft_fields_of`: the loop's SFT stages and the experiment's sft / sft-steps arms get every shared
    setting (lengths, LoRA, precision, generation, logging, Trainer group) of the loop config alike; only
    the writer generates its shorter questions."""
    from dataclasses import asdict

    import train.sft
    from train.experiment.arms import SeedRun
    from train.sft_config import sft_fields_of
    from train.vbi import run_sft_stage

    seen: dict[str, SFTConfig] = {}

    def fake_run_sft(cfg: SFTConfig, **_):
        seen[str(cfg.out)] = cfg
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "manifest.json").write_text("{}")

    monkeypatch.setattr(train.sft, "run_sft", fake_run_sft)
    cfg = SpftConfig(
        model="m",
        out=str(tmp_path / "loop"),
        max_length=300,
        max_new_tokens=70,
        question_max_new_tokens=33,
        gen_batch_size=5,
        logging_steps=7,
        eval_ex_limit=9,
        lora=True,
        lora_r=4,
        lora_targets=("all-linear",),
        dtype="fp32",
        group_by_length=True,
    )
    wanted = sft_fields_of(cfg)
    assert wanted["max_length"] == 300 and wanted["lora_r"] == 4 and wanted["group_by_length"] is True
    for task in ("text2sql", "sql2text"):
        run_sft_stage(cfg, data=tmp_path / "d", model="m", out=tmp_path / task, task=task, k=0)
    run = SeedRun.__new__(SeedRun)
    run.dir, run.seed = tmp_path / "seed", 0
    monkeypatch.setattr(run, "loop_config", lambda: cfg, raising=False)
    monkeypatch.setattr(run, "base_model", lambda: "m", raising=False)
    run._sft_on_real(tmp_path / "arm", {"epochs": 2.0})
    for out in ("text2sql", "sql2text", "arm"):
        got = asdict(seen[str(tmp_path / out)])
        expected = wanted | ({"max_new_tokens": 33} if out == "sql2text" else {})
        assert {k: got[k] for k in wanted} == expected, out
