"""Keep an experiment folder's results across machines: the small files, never the weights.

Why: a fresh machine per working session, and one seed of a real model's arms can take longer than a
session. Each finished (seed, arm) is cached by its ``arms/ARM/result.json``; with the manifests and
logs of :data:`KEEP` restored, :func:`~train.experiment.run_experiment` reuses every finished arm,
``sft-steps`` reads the step counts it needs from the manifests, and the report (TS, the writer per
iteration) is rebuilt, all without a model. An arm that must *start from* a model whose weights were
not kept (``selfplay`` from ``sft``, ``vbift+dpo`` from ``vbift``) stops with :class:`WeightsNotKeptError`:
run it in the session that trains its start model.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError

#: what a resumed run and its report read (shell globs; nothing here is a weight file), each group
#: relative to a folder and kept only once its stage has finished (its ``done`` files exist): a
#: half-written log restored without its models would send a resumed stage into missing weights
TOP = ("results.json", "results.md", "wall.json")
#: per seed folder ``runs/<hash>-seed<s>``: (done markers, files kept), both relative to it
GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("sft/model/manifest.json",), ("sft/model/manifest.json",)),
    (
        ("spft/manifest.json", "spft/final/scores.json"),
        (
            "spft/manifest.json",
            "spft/rounds.jsonl",
            "spft/final/scores.json",
            "spft/round-*/selfplay/rounds.jsonl",
            "spft/round-*/selfplay/manifest.json",
            "spft/vbi/vbi_log.jsonl",
            "spft/vbi/manifest.json",
            "spft/vbi/iter-*/text2sql/manifest.json",
            "spft/vbi/iter-*/sql2text/manifest.json",
            "spft/vbi/iter-*/data/val.jsonl",
            "spft/vbi/iter-*/data/manifest.json",
            "spft/vbi/iter-*/sft_model_val_preds.jsonl",
        ),
    ),
)
#: per arm folder ``arms/<arm>``: kept once its ``result.json`` exists
ARM_FILES = (
    "result.json",
    "test_preds.jsonl",
    "model/manifest.json",
    "selfplay/rounds.jsonl",
    "selfplay/manifest.json",
)
MAX_BYTES = 2_000_000  # a file this large is not a result; refuse rather than bloat the repository


def kept_files(root: Path) -> list[Path]:
    """The files of ``root`` (an experiment's ``--out``) worth keeping, relative to it, sorted."""
    found: set[Path] = {root / f for f in TOP}
    for run in root.glob("runs/*"):
        for done, files in GROUPS:
            if all((run / d).is_file() for d in done):
                found.update(p for pattern in files for p in run.glob(pattern))
        for arm in run.glob("arms/*"):
            if (arm / "result.json").is_file():
                found.update(arm / f for f in ARM_FILES)
    return sorted(p.relative_to(root) for p in found if p.is_file())


def copy_kept(src: Path, dst: Path, *, overwrite: bool = True) -> int:
    """Copy :func:`kept_files` of ``src`` into ``dst`` (same relative paths); returns how many.
    ``overwrite=False`` (restore) leaves a file ``dst`` already has: a run on this machine is newer."""
    files = [rel for rel in kept_files(src) if overwrite or not (dst / rel).exists()]
    for rel in files:
        size = (src / rel).stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{size} bytes, over {MAX_BYTES}: not a result file, not archived", path=src / rel)
    for rel in files:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        tmp = (dst / rel).with_name(f".{(dst / rel).name}.{os.getpid()}.tmp")  # two savers never share one
        shutil.copyfile(src / rel, tmp)
        tmp.replace(dst / rel)
    return len(files)


def save_archive(out: Path, archive: Path) -> int:
    """``out``'s kept files -> ``archive`` (overwriting: ``out`` is the newer copy); returns how many."""
    return copy_kept(Path(out), Path(archive), overwrite=True)


def restore_archive(archive: Path, out: Path) -> int:
    """``archive``'s kept files -> ``out``, leaving every file ``out`` already has (a run on this machine is
    newer than the archive); returns how many were copied. A missing archive restores nothing."""
    return copy_kept(Path(archive), Path(out), overwrite=False) if Path(archive).is_dir() else 0


class WeightsNotKeptError(DataNotFoundError):
    """A model folder restored from an archive: its manifest is here, its weights are not."""


def has_weights(folder: str | Path) -> bool:
    """True when ``folder`` holds model or adapter weights (``*.safetensors``, ``pytorch_model*.bin``,
    ``adapter_model.bin``; not ``training_args.bin``, which a trained folder also has), or is not a local
    folder at all (a hub id or a served model: nothing to check here)."""
    p = Path(folder)
    if not p.is_dir():
        return True
    return any(p.glob("*.safetensors")) or any(p.glob("pytorch_model*.bin")) or (p / "adapter_model.bin").is_file()


def require_weights(folder: str | Path, needed_by: str) -> None:
    """Stop with a clear error, before any work, when ``needed_by`` would load a model whose weights an
    archive restore did not bring back."""
    if not has_weights(folder):
        raise WeightsNotKeptError(
            f"{needed_by} needs the model in {folder}, but only its manifest is here (restored from an "
            "archive, which keeps results, not weights); run this arm where its start model was trained, "
            "or delete that folder's manifest.json to retrain it"
        )
