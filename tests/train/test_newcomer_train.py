"""What a new user hits in `train` (issue 13): the pool's tie-break said out loud, no
``missing keys ['lm_head.weight']`` warning for tied embeddings, model files readable like the rest."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from train.pool import Pool, PoolEntry


def _entry(i: int, ex: float | None) -> PoolEntry:
    return PoolEntry(f"m{i}", f"/models/{i}", "base", False, "test", ex, "h" if ex is not None else None)


def test_ties_follow_the_documented_rule_and_are_named() -> None:
    pool = Pool((_entry(0, 0.0), _entry(1, 0.25), _entry(2, 0.25), _entry(3, 0.0)))
    main = pool.main()
    assert main.id == "m2"  # best EX; on a tie the most recently added
    assert pool.tied_with(main) == ("m1",)
    assert pool.tie_note(main) == "tie with m1 on D_val EX 0.250: the most recently added wins"
    opp = pool.opponent(main, set())
    assert opp.id == "m0"  # worst EX; on a tie the earliest added
    assert pool.tie_note(opp, "opponent") == "tie with m3 on D_val EX 0.000: the earliest added wins"
    assert pool.opponent(main, {"m0"}).id == "m3"
    clear = Pool((_entry(0, 0.1), _entry(1, 0.3)))
    assert clear.main().id == "m1" and clear.tie_note(clear.main()) == ""
    unscored = Pool((_entry(0, None), _entry(1, 0.0)))  # unscored counts as 0
    assert unscored.main().id == "m1" and unscored.tied_with(unscored.main()) == ("m0",)


@pytest.mark.slow
def test_sft_of_a_tied_model_has_no_lm_head_warning_and_readable_files(
    tiny_data: Path, tiny_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from train.models.modeling import load_model, tied_weight_keys
    from train.sft import run_sft
    from train.sft_config import SFTConfig

    assert tied_weight_keys(load_model(tiny_model)) == {"lm_head.weight"}
    out = tmp_path / "ckpt"
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler, log = Collect(logging.WARNING), logging.getLogger("transformers")  # it does not propagate to root
    log.addHandler(handler)
    try:  # load_best_model_at_end reloads the best checkpoint, which lacks the tied lm_head.weight on purpose
        run_sft(
            SFTConfig(
                data=str(tiny_data),
                model=str(tiny_model),
                out=str(out),
                epochs=1,
                eval_ex_limit=2,
                max_new_tokens=8,
                max_length=512,
                batch_size=8,
            )
        )
    finally:
        log.removeHandler(handler)
    assert not [m for m in messages if "missing keys" in m or "lm_head" in m], messages
    for folder in (tiny_model, out):
        weights = list(folder.rglob("*.safetensors"))
        assert weights
        for f in weights:  # same mode as config.json beside them (safetensors alone wrote 0o600)
            assert stat.S_IMODE(f.stat().st_mode) == stat.S_IMODE((f.parent / "config.json").stat().st_mode) == 0o644


@pytest.mark.slow
def test_tiny_defaults_bring_the_loss_clearly_down(tiny_data: Path, tiny_model: Path, tmp_path: Path) -> None:
    """Three epochs with the tiny model's own learning rate vs the fine-tuning default: the loss must fall."""
    pytest.importorskip("torch")
    from train.models.tiny import FROM_SCRATCH_DEFAULTS
    from train.sft import run_sft
    from train.sft_config import SFTConfig

    def first_and_last_loss(**kw) -> tuple[float, float]:
        out = tmp_path / f"lr{kw.get('learning_rate')}"
        run_sft(
            SFTConfig(
                data=str(tiny_data),
                model=str(tiny_model),
                out=str(out),
                epochs=3,
                eval_ex=False,
                max_length=512,
                batch_size=4,
                logging_steps=1,
                **kw,
            )
        )
        import json

        losses = [
            h["loss"] for h in map(json.loads, (out / "log_history.jsonl").read_text().splitlines()) if "loss" in h
        ]
        return losses[0], losses[-1]

    first, last = first_and_last_loss(learning_rate=FROM_SCRATCH_DEFAULTS["learning_rate"])  # init-tiny's own
    assert last < 0.75 * first, (first, last)
    first_ft, last_ft = first_and_last_loss(learning_rate=SFTConfig.learning_rate)  # the fine-tuning default
    assert last_ft > 0.95 * first_ft, (first_ft, last_ft)  # why init-tiny needs its own defaults


@pytest.mark.slow
def test_sft_best_epoch_breaks_ex_ties_by_loss(tiny_data: Path, tiny_model: Path, tmp_path: Path) -> None:
    """All epochs at EX 0 (a tiny model): the kept model is the lowest-loss epoch, not the first one."""
    pytest.importorskip("torch")
    import json

    from train.sft import run_sft
    from train.sft_config import SFTConfig

    out = tmp_path / "ckpt"
    res = run_sft(
        SFTConfig(
            data=str(tiny_data),
            model=str(tiny_model),
            out=str(out),
            epochs=3,
            eval_ex_limit=2,
            max_new_tokens=8,
            max_length=512,
            batch_size=8,
            save_total_limit=1,
        )
    )
    evals = [h for h in map(json.loads, (out / "log_history.jsonl").read_text().splitlines()) if "eval_ex" in h]
    merged = {h["step"]: h for h in evals}
    losses = {
        h["step"]: h["eval_loss"]
        for h in map(json.loads, (out / "log_history.jsonl").read_text().splitlines())
        if "eval_loss" in h
    }
    best_ex = max(h["eval_ex"] for h in evals)
    expected = min((s for s, h in merged.items() if h["eval_ex"] == best_ex), key=lambda s: losses[s])
    assert res.best_checkpoint is not None and res.best_checkpoint.endswith(f"checkpoint-{expected}")
    assert len(set(losses.values())) == 3 and expected != min(losses)  # the epochs differ; not the first one
