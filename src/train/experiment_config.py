"""``train experiment CONFIG.toml``: the comparison of SPFT-SQL's arms, read from a TOML file.

A config names a split, a model, the loop's settings (any :class:`train.spft_config.SpftConfig`
field), the arms, the seeds, and what ``--smoke`` shrinks. Only the scale knobs differ between
``experiments/tiny-indomain.toml`` and ``experiments/paper-qwen7b.toml``. Imports no torch.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.errors import (
    ConfigError,
    DataNotFoundError,
    InputError,
    UnknownNameError,
)
from train.fields import OPTIMISER_GROUP


@dataclass(frozen=True)
class Arm:
    """One arm of the comparison: the paper row it stands for, the model it starts from (``base``: the
    configured model, untrained; ``sft``: the ``sft`` arm's model; ``vbift``: the ``vbift`` arm's), and,
    for a preference arm, its loss variant (``train.losses``) and whether it iterates."""

    name: str
    paper_row: str
    start: str
    loss: str | None = None
    iterated: bool = False  # self-play rounds = the loop's rounds x selfplay_rounds (else one round)
    help: str = ""


#: The arms of SPFT-SQL Tables 1-3 (docs/results.md), each started as its paper says: Table 3's "+DPO"
#: and Table 1's SPIN rows fine-tune the base model (Qwen2.5-Coder-7B), not the SFT model. Plus
#: ``zero-shot`` (the base model untrained) and ``sft-steps``, the equal-compute control (SFT on the
#: real pairs for as many optimizer steps as ``spft`` took). Adding an arm is adding one record here
#: and its stages in ``train.experiment.SeedRun.arm_model``.
ARM_RECORDS: dict[str, Arm] = {
    a.name: a
    for a in (
        Arm("zero-shot", "base model", "base", help="the base model, no training"),
        Arm("sft", "SFT", "base", help="SFT on the real training pairs; epochs chosen on the selection split"),
        Arm("vbift", "w/o self-play", "base", help="VBI-FT alone (the loop without self-play)"),
        Arm("spft", "SPFT-SQL", "base", help="the whole loop (train spft)"),
        Arm("selfplay", "w/o VBI-FT", "sft", "spft", True, "self-play with the error-driven loss, no synthesis"),
        Arm("spin", "SPIN", "base", "spin", True, "SPIN from the base model, opponent samples y' ~ p_θt"),
        Arm("dpo", "+DPO", "base", "dpo", False, "one DPO round from the base model (Table 3)"),
        Arm("vbift+dpo", "VBI-FT+DPO", "vbift", "dpo", False, "one DPO round from the vbift model"),
        Arm("sft-steps", "SFT, spft's steps (ours)", "base", help="SFT on the real pairs for spft's step count"),
    )
}
ARMS = tuple(ARM_RECORDS)
SPLITS = ("indomain", "crossdomain")


@dataclass(frozen=True)
class SplitConfig:
    """Which real questions are train (the loop carves its selection split from them) and which are test."""

    kind: str = "indomain"
    db: str = "spider"
    top_dbs: int = 20  # indomain: the databases with the most training questions
    test_fraction: float = 0.2  # indomain: per database, by a seeded hash
    max_per_db: int = 0  # indomain: cap questions per database (0 = all); smoke runs shrink it
    max_test: int = 0  # cap the test questions (0 = all), the first by hash order
    split_seed: int = 0  # the split does not change with the training seed
    suite_size: int = 10  # TS: databases per test db_id built by `evaluate build-suite` (0 = no TS)

    def __post_init__(self) -> None:
        if self.kind not in SPLITS:
            raise UnknownNameError("split kind ([split] kind)", self.kind, SPLITS)
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"[split] test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.top_dbs < 1 or self.max_per_db < 0 or self.max_test < 0 or self.suite_size < 0:
            raise ConfigError("[split] top_dbs must be >= 1, max_per_db, max_test and suite_size >= 0")


@dataclass(frozen=True)
class ModelConfig:
    """``init = "tiny"``: a from-scratch Qwen2 made by ``train init-tiny`` (one per seed); else ``path``."""

    init: str = "tiny"
    path: str = ""
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    vocab_size: int = 4000

    def __post_init__(self) -> None:
        if self.init not in ("tiny", "path"):
            raise UnknownNameError("model init ([model] init)", self.init, ("tiny", "path"))
        if self.init == "path" and not self.path:
            raise ConfigError("[model] init = 'path' needs [model] path (a hub id or a local folder)")


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    split: SplitConfig
    model: ModelConfig
    loop: dict[str, Any]  # SpftConfig fields shared by every arm
    sft: dict[str, Any]  # overrides of the sft arm's optimiser group (default: the loop's text-to-SQL values)
    arms: tuple[str, ...]
    seeds: tuple[int, ...]
    bootstrap: int = 2000
    smoke: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    #: [baselines] pairs: how many real training questions (a seeded-hash subset, 0 = all) the self-play
    #: baselines (selfplay, spin, dpo, vbift+dpo) answer per round to make their pairs -- a scale knob:
    #: answering every training question each round is what makes these arms the slowest on a CPU
    baseline_pairs: int = 0

    def smoked(self) -> ExperimentConfig:
        """The config with ``[smoke]`` applied: one seed and the overrides it lists."""
        s = dict(self.smoke)
        split = dataclasses.replace(self.split, **s.pop("split", {}))
        loop = dict(self.loop, **s.pop("loop", {}))
        sft = dict(self.sft, **s.pop("sft", {}))
        model = dataclasses.replace(self.model, **s.pop("model", {}))
        seeds = tuple(s.pop("seeds", self.seeds[:1]))
        arms = tuple(s.pop("arms", self.arms))
        baseline_pairs = int(s.pop("baselines", {}).get("pairs", self.baseline_pairs))
        if s:
            raise ConfigError(f"[smoke] has unknown keys: {', '.join(sorted(s))}")
        return dataclasses.replace(
            self,
            split=split,
            loop=loop,
            sft=sft,
            model=model,
            seeds=seeds,
            arms=arms,
            baseline_pairs=baseline_pairs,
            name=f"{self.name}-smoke",
        )


def _section(raw: dict, name: str, path: Path) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise InputError(f"[{name}] must be a table", path=path, field=name)
    return value


def _build(cls: type, values: dict, path: Path, section: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", path=path, field=section
        )
    return cls(**values)


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and check a config; every mistake names the file and the key."""
    from train.spft_config import SpftConfig

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: experiment config not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML ({e})", path=path) from None
    split = _build(SplitConfig, _section(raw, "split", path), path, "split")
    model = _build(ModelConfig, _section(raw, "model", path), path, "model")
    loop = _section(raw, "loop", path)
    known = {f.name for f in dataclasses.fields(SpftConfig)} - {"db", "model", "out", "exclude_sql", "db_ids"}
    bad = sorted(set(loop) - known)
    if bad:
        raise InputError(f"unknown loop option(s) {', '.join(bad)}", path=path, field="loop")
    sft = _section(raw, "sft", path)
    if set(sft) - set(OPTIMISER_GROUP):
        raise InputError(
            f"[sft] takes the optimiser options only ({', '.join(OPTIMISER_GROUP)}); got "
            f"{', '.join(sorted(set(sft) - set(OPTIMISER_GROUP)))}",
            path=path,
            field="sft",
        )
    arms = tuple(raw.get("arms", ARMS))
    for a in arms:
        if a not in ARMS:
            raise UnknownNameError("arm", a, ARMS)
    seeds = tuple(int(s) for s in raw.get("seeds", (0, 1, 2)))
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError("seeds must be a non-empty list of distinct integers", path=path, field="seeds")
    smoke = _section(raw, "smoke", path)
    baselines = _section(raw, "baselines", path)
    if set(baselines) - {"pairs"}:
        raise InputError("[baselines] takes pairs only", path=path, field="baselines")
    pairs = baselines.get("pairs", 0)
    if not isinstance(pairs, int) or isinstance(pairs, bool) or pairs < 0:
        raise InputError(
            f"[baselines] pairs must be an integer >= 0 (0 = all), got {pairs!r}", path=path, field="baselines.pairs"
        )
    cfg = ExperimentConfig(
        name=str(raw.get("name", path.stem)),
        split=split,
        model=model,
        loop=loop,
        sft=sft,
        arms=arms,
        seeds=seeds,
        bootstrap=int(raw.get("bootstrap", 2000)),
        smoke=smoke,
        path=str(path),
        baseline_pairs=pairs,
    )
    cfg.smoked()  # a broken [smoke] section fails now, not after an hour
    return cfg
