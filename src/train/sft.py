"""``train sft``: supervised fine-tuning with transformers' Trainer (so ``accelerate launch`` scales it).

The loss covers the answer tokens only (labels -100 on the prompt and on padding). After each epoch
D_val is scored by loss and, for text2sql, by execution accuracy through ``evaluation``; the best
checkpoint (by EX, else by loss) is the model written to ``OUT``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError
from train.fields import OptimiserOptions, trainer_settings_of
from train.io import data_root_for, read_examples, read_jsonl, split_paths, write_jsonl
from train.models.formatting import CausalLMCollator, encode_prompt_answer, model_input, render_prompt, target_text
from train.sft_config import SFTConfig


@dataclass(frozen=True)
class SFTResult:
    """Where the best model went and how it scored on D_val."""

    out: Path
    best_checkpoint: str | None
    best_metric: float | None  # the Trainer's selection score (EX - 1e-7 x loss): internal, not shown
    val_ex: float | None  # D_val EX of the kept epoch (None without EX evaluation)
    train_loss: float | None
    val_loss: float | None = None  # D_val loss of the kept epoch

    def summary(self) -> str:
        """What ``train sft`` prints: where the model went and the kept epoch's D_val EX and loss."""
        scores = [f"D_val EX {self.val_ex:.3f}"] if self.val_ex is not None else []
        if self.val_loss is not None:
            scores.append(f"loss {self.val_loss:.2f}" if scores else f"D_val loss {self.val_loss:.2f}")
        return f"best model written to {self.out}" + (f" ({', '.join(scores)})" if scores else "")


def kept_scores(history: list[dict[str, Any]], best_checkpoint: str | None) -> tuple[float | None, float | None]:
    """D_val (EX, loss) of the epoch that was kept: the step of ``best_checkpoint`` (``checkpoint-N``),
    else the last evaluation. The Trainer logs the loss and EX of one evaluation as two entries.

    >>> h = [{"step": 2, "eval_loss": 5.0}, {"step": 2, "eval_ex": 0.1}, {"step": 4, "eval_loss": 4.5}]
    >>> kept_scores(h, "ckpt/checkpoint-2"), kept_scores(h, None)
    ((0.1, 5.0), (None, 4.5))
    """
    evals = [h for h in history if "eval_loss" in h or "eval_ex" in h]
    if not evals:
        return None, None
    step = int(best_checkpoint.rsplit("-", 1)[1]) if best_checkpoint else evals[-1]["step"]
    at = {k: v for h in evals if h.get("step") == step for k, v in h.items()}
    return at.get("eval_ex"), at.get("eval_loss")


def encode_examples(tokenizer: Any, examples: list[dict[str, Any]], task: str, max_length: int) -> list[dict]:
    return [
        encode_prompt_answer(
            tokenizer, render_prompt(tokenizer, model_input(ex, task)), target_text(ex, task), max_length
        ).as_dict()
        for ex in examples
    ]


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def training_arguments(
    out_dir: Path,
    optimiser: OptimiserOptions,
    *,
    seed: int,
    logging_steps: int = 10,
    evaluate: bool = True,
    metric: str | None = None,
    greater_is_better: bool | None = None,
    save_total_limit: int = 2,
    **extra: Any,
) -> Any:
    """Trainer settings shared by SFT and self-play: the stage's optimiser group (``train.fields``),
    epoch-wise eval/save, bf16 where the GPU has it."""
    import torch
    from transformers import TrainingArguments

    from train.models.modeling import pick_device, pick_dtype

    device = pick_device()
    settings = dict(
        output_dir=str(out_dir),
        num_train_epochs=optimiser.epochs,
        learning_rate=optimiser.learning_rate,
        per_device_train_batch_size=optimiser.batch_size,
        per_device_eval_batch_size=optimiser.batch_size,
        gradient_accumulation_steps=optimiser.grad_accum,
        warmup_steps=float(optimiser.warmup_ratio),  # transformers v5: a float in [0, 1) is a ratio
        weight_decay=optimiser.weight_decay,
        logging_steps=logging_steps,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch",
        load_best_model_at_end=evaluate and metric is not None,
        metric_for_best_model=metric if evaluate else None,
        greater_is_better=greater_is_better,
        save_total_limit=save_total_limit,
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device == "cpu",
        bf16=pick_dtype(device) == torch.bfloat16,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every parameter takes part in each step (DDP skips a graph walk)
    )
    settings.update(extra)  # callers may override any of the above
    for old, new in (
        ("gradient_checkpointing", "activation_checkpointing"),
        ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs"),
    ):
        if old in settings and new in TrainingArguments.__dataclass_fields__:  # transformers >= 5.x renamed them
            settings[new] = settings.pop(old)
    return TrainingArguments(**settings)


def answer_cross_entropy(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Cross-entropy of the answer tokens from logits of the answer positions only (``(1, N, vocab)``, made
    by :func:`train.models.logprobs.answer_positions_only`): the same value as transformers' causal-LM loss
    (summed, divided by the answer tokens of the whole accumulated batch when given, else averaged),
    without the ``(batch, seq, vocab)`` fp32 logits of every prompt position."""
    import torch

    from train.models.logprobs import answer_targets

    targets = answer_targets(labels)
    logits = outputs["logits"].reshape(-1, outputs["logits"].shape[-1])
    total = torch.nn.functional.cross_entropy(logits.float(), targets.to(logits.device), reduction="sum")
    if num_items_in_batch is None:
        num_items_in_batch = max(targets.numel(), 1)
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def make_sft_trainer_class():
    """Trainer + EX on D_val inside ``evaluate`` (so the best checkpoint can be chosen by EX)."""
    from transformers import Trainer

    from train.models.logprobs import answer_positions_only

    class ExEvalTrainer(Trainer):
        def __init__(self, *a, ex_examples=None, ex_options=None, data_root=None, **kw):
            kw.setdefault("compute_loss_func", answer_cross_entropy)
            super().__init__(*a, **kw)
            self.ex_examples, self.ex_options, self.data_root = ex_examples, ex_options, data_root

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # logits only where the loss looks (answer_cross_entropy): the Trainer's own loss bookkeeping
            # (gradient accumulation, tokens averaged across processes) is left as it is
            with answer_positions_only(model, inputs["labels"]):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

        def evaluate(self, *args, **kwargs):
            metrics = super().evaluate(*args, **kwargs)
            if self.ex_examples:
                from train.models.decoding import HFGenerator, predict
                from train.scoring import ex_accuracy, judge_predictions

                model = self.accelerator.unwrap_model(self.model)
                gen = HFGenerator(model, self.processing_class, self.ex_options)
                preds = predict(
                    gen, self.processing_class, self.ex_examples, options=self.ex_options, model_id="sft-eval"
                )
                judged = judge_predictions(self.ex_examples, [p["sql"] for p in preds], self.data_root)
                metrics["eval_ex"] = ex_accuracy(judged)
                # The best epoch is chosen by EX; on a tie (tiny models: all 0) by the lower D_val loss,
                # not the first epoch. 1e-7 x loss stays below one EX step for any D_val under 10^5.
                metrics["eval_ex_then_loss"] = metrics["eval_ex"] - 1e-7 * metrics.get("eval_loss", 0.0)
                self.log({"eval_ex": metrics["eval_ex"]})
            return metrics

    return ExEvalTrainer


def build_trainer(trainer_class: Any, report_to: str, **kw: Any) -> Any:
    """``trainer_class(**kw)``; a ``--report-to`` integration whose package is missing is one error line."""
    try:
        return trainer_class(**kw)
    except (RuntimeError, ImportError) as e:  # e.g. "TensorBoardCallback requires tensorboard to be installed"
        if report_to in ("", "none") or "install" not in str(e):
            raise
        raise ConfigError(f"--report-to {report_to}: {str(e).splitlines()[0]}") from None


def run_sft(cfg: SFTConfig, *, training_defaults: dict[str, Any] | None = None) -> SFTResult:
    """Train, keep the best epoch, write the model + tokenizer + manifest + log history to ``cfg.out``.

    ``training_defaults``: what ``train sft`` took from the model's ``training_defaults.json``
    (``train.models.tiny.AppliedDefaults.record``), recorded in the manifest; the values are already in ``cfg``.
    """
    from train.models.modeling import check_model_exists

    t0 = time.time()
    train_path, val_path = split_paths(cfg.data)
    train_ex, val_ex = read_examples(train_path), read_examples(val_path)
    data_root = data_root_for(cfg.data, cfg.data_root)
    check_model_exists(cfg.model)  # a wrong path fails before transformers is imported
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    resume = last_checkpoint(ckpt_dir) if cfg.resume else None
    if not cfg.resume and last_checkpoint(ckpt_dir):
        raise ConfigError(f"{ckpt_dir} already holds checkpoints; pass --resume to continue or choose another --out")

    from transformers import set_seed

    from train.manifest import file_inputs, write_manifest
    from train.models.decoding import GenerationOptions
    from train.models.modeling import (
        check_compatible,
        load_model,
        load_tokenizer,
        pick_device,
        precision_arguments,
        resolve_dtype,
        share_like_other_outputs,
    )

    dtype = resolve_dtype(cfg.dtype, pick_device())
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, lora=cfg.lora_options())
    check_compatible(model, tokenizer, where=cfg.model)
    train_ds = encode_examples(tokenizer, train_ex, cfg.task, cfg.max_length)
    val_ds = encode_examples(tokenizer, val_ex, cfg.task, cfg.max_length)

    ex_examples = None
    if cfg.uses_ex:
        ex_examples = val_ex[: cfg.eval_ex_limit] if cfg.eval_ex_limit else val_ex
    metric, better = ("ex_then_loss", True) if cfg.uses_ex else ("loss", False)
    if cfg.keep_epoch == "last":  # a fixed number of epochs: D_val is logged, it chooses nothing
        metric, better = None, None
    args = training_arguments(
        ckpt_dir,
        cfg.optimiser(),
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        metric=metric,
        greater_is_better=better,
        save_total_limit=cfg.save_total_limit,
        **trainer_settings_of(cfg),
        **precision_arguments(dtype),
    )
    trainer = build_trainer(
        make_sft_trainer_class(),
        cfg.report_to,
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=CausalLMCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        ex_examples=ex_examples,
        ex_options=GenerationOptions(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size, seed=cfg.seed),
        data_root=data_root,
    )
    from train.progress import TRAINER_LOG, attach_progress

    attach_progress(trainer, out / TRAINER_LOG, f"sft {cfg.task}")
    train_out = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out))  # the main process writes (accelerate launch: every process gets here)
    main_process = trainer.is_world_process_zero()
    history = trainer.state.log_history
    if main_process:
        tokenizer.save_pretrained(str(out))
        share_like_other_outputs(out)  # safetensors writes weights 0o600
        write_jsonl(out / "log_history.jsonl", history)
    best_ex, best_loss = kept_scores(history, trainer.state.best_model_checkpoint)
    result = SFTResult(
        out=out,
        best_checkpoint=trainer.state.best_model_checkpoint,
        best_metric=trainer.state.best_metric,
        val_ex=best_ex,
        train_loss=getattr(train_out, "training_loss", None),
        val_loss=best_loss,
    )
    inputs = {
        "data": file_inputs({"train": train_path, "val": val_path}),
        "model": cfg.model,
        "data_root": str(data_root),
    }
    if training_defaults:
        inputs["training_defaults"] = training_defaults
    if not main_process:
        return result
    write_manifest(
        out / "manifest.json",
        command="train sft",
        config=cfg,
        inputs=inputs,
        seed=cfg.seed,
        counts={
            "train_examples": len(train_ex),
            "val_examples": len(val_ex),
            "steps": trainer.state.global_step,
            "global_batch": cfg.batch_size * cfg.grad_accum * trainer.accelerator.num_processes,
        },
        timings={"total_s": round(time.time() - t0, 3)},
        results={
            "dtype": dtype,
            "best_checkpoint": result.best_checkpoint,
            "best_metric": result.best_metric,
            "metric": metric,
            "val_ex": best_ex,
            "val_loss": best_loss,
            "train_loss": result.train_loss,
            "resumed_from": resume,
        },
    )
    return result


def read_log_history(out: str | Path) -> list[dict[str, Any]]:
    """The trainer's log rows that ``run_sft`` wrote (one JSON object per line)."""
    return read_jsonl(Path(out) / "log_history.jsonl")
