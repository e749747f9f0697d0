"""``train`` command line: thin click layer over the library; heavy imports happen inside commands.

Options of ``sft`` and ``selfplay`` are generated from their config dataclasses, so the help text
lives in one place (the dataclass field metadata) and every option maps to one config field.
"""

from __future__ import annotations

from typing import Any

import click

from evaluation.cli_errors import friendly_errors
from train.cli_common import apply_model_defaults, config_options, needs_train_extra
from train.cli_experiment import experiment_cmd
from train.cli_spft import spft_cmd
from train.cli_vbi import vbi_cmd
from train.fields import DTYPE_HELP, GENERATION_GROUP
from train.models.backend_config import GenerationBackendConfig
from train.selfplay_config import SelfPlayConfig  # config modules import no torch: `--help` stays fast
from train.sft_config import SFTConfig


@click.group(help="Fine-tune text-to-SQL models: tiny test models, SFT, prediction and SPFT-SQL self-play.")
@click.version_option(package_name="spft-sql")
def main() -> None:
    pass


@click.command(
    name="init-tiny",
    help="Create a tiny random Qwen2 model + BPE tokenizer trained on DATA's text (for tests/CPU smoke runs).",
)
@click.option("--data", required=True, type=click.Path(), help="Folder with train.jsonl and val.jsonl.")
@click.option("--out", required=True, type=click.Path(), help="Output folder for the model and tokenizer.")
@click.option("--hidden-size", default=64, show_default=True, help="Hidden size.")
@click.option("--layers", default=2, show_default=True, help="Number of transformer layers.")
@click.option("--heads", default=4, show_default=True, help="Attention heads.")
@click.option("--vocab-size", default=2000, show_default=True, help="BPE vocabulary size (upper bound).")
@click.option("--seed", default=0, show_default=True, help="Seed for the random weights.")
@friendly_errors
def init_tiny_cmd(data: str, out: str, hidden_size: int, layers: int, heads: int, vocab_size: int, seed: int) -> None:
    from train.models.tiny import FROM_SCRATCH_DEFAULTS, TRAINING_DEFAULTS_FILE, TinyConfig, init_tiny

    cfg = TinyConfig(
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        vocab_size=vocab_size,
        seed=seed,
    )
    path = init_tiny(data, out, cfg)
    own = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in FROM_SCRATCH_DEFAULTS.items())
    click.echo(
        f"tiny model written to {path}; `train sft` trains it from scratch with {own} unless given "
        f"({TRAINING_DEFAULTS_FILE})"
    )


@click.command(
    name="import-gguf",
    help="Import the GGUF file GGUF (any architecture transformers loads from GGUF) as a Hugging Face model folder: "
    "float32 safetensors, config, tokenizer with its chat template, generation config, and a manifest with "
    "the GGUF's sha256 and quantization type.",
)
@click.argument("gguf", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Output model folder (must not exist).")
@friendly_errors
def import_gguf_cmd(gguf: str, out: str) -> None:
    from train.models.gguf import GgufImportConfig, import_gguf

    click.echo(f"model folder written to {import_gguf(GgufImportConfig(gguf=gguf, out=out))}")


@click.command(
    name="sft", help="Supervised fine-tuning on DATA (loss on answer tokens); keeps the best epoch on D_val."
)
@config_options(SFTConfig)
@click.pass_context
@friendly_errors
def sft_cmd(ctx: click.Context, **kw: Any) -> None:
    from train.sft import run_sft

    applied = apply_model_defaults(ctx, kw, "sft")
    res = run_sft(SFTConfig(**kw), training_defaults=applied.record() if applied else None)
    click.echo(res.summary())


@click.command(
    name="predict", help="Greedy (or sampled) generation for every example of a JSONL file; writes predictions JSONL."
)
@click.option("--model", required=True, help="Hub id or local folder (full model or LoRA adapter).")
@click.option(
    "--data", required=True, type=click.Path(), help="JSONL examples with id and prompt (e.g. out/val.jsonl)."
)
@click.option("--out", required=True, type=click.Path(), help="Predictions JSONL: id, db_id, sql, raw, gen_hash.")
@click.option(
    "--task",
    default="text2sql",
    show_default=True,
    type=click.Choice(["text2sql", "sql2text"]),
    help="What to generate.",
)
@click.option(
    "--gen-batch-size",
    "--batch-size",
    "batch_size",
    default=GENERATION_GROUP["gen_batch_size"][1],
    show_default=True,
    help="Prompts per generation batch (left-padded); --batch-size is the same option.",
)
@click.option(
    "--max-new-tokens",
    default=GENERATION_GROUP["max_new_tokens"][1],
    show_default=True,
    help="Most tokens generated per output.",
)
@click.option("--do-sample/--greedy", default=False, show_default=True, help="Sample instead of greedy decoding.")
@click.option("--temperature", default=1.0, show_default=True, help="Sampling temperature.")
@click.option("--top-p", default=1.0, show_default=True, help="Nucleus sampling threshold.")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option("--stop", multiple=True, help="Stop string: the output ends before it (repeatable).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Predict only the first N examples (to try things on a subset).",
)
@click.option("--dtype", default="auto", show_default=True, help=DTYPE_HELP)
@config_options(GenerationBackendConfig)
@friendly_errors
def predict_cmd(
    model: str,
    data: str,
    out: str,
    task: str,
    batch_size: int,
    max_new_tokens: int,
    do_sample: bool,
    temperature: float,
    top_p: float,
    seed: int,
    stop: tuple[str, ...],
    limit: int | None,
    dtype: str,
    **backend: Any,
) -> None:
    from train.models.decoding import GenerationOptions, predict_file

    opts = GenerationOptions(
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        do_sample=do_sample,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        stop=tuple(stop),
    )
    preds = predict_file(
        model, data, out, options=opts, task=task, backend=GenerationBackendConfig(**backend), limit=limit, dtype=dtype
    )
    click.echo(f"{len(preds)} predictions written to {out}")


@click.command(
    name="selfplay", help="SPFT-SQL self-play over a model pool with the error-driven loss (or a variant); resumable."
)
@config_options(SelfPlayConfig)
@click.pass_context
@friendly_errors
def selfplay_cmd(ctx: click.Context, **kw: Any) -> None:
    from train.pool import load_pool
    from train.selfplay import run_selfplay

    apply_model_defaults(ctx, kw, "selfplay")
    cfg = SelfPlayConfig(**kw)
    res = run_selfplay(cfg)
    stop = " (stopped early)" if res.stopped_early else ""
    tie = load_pool(cfg.out).tie_note(res.best)
    click.echo(
        f"{len(res.rounds)} rounds{stop}; best model {res.best.id} at {res.best.path} (D_val EX {res.best.val_ex}"
        f"{f'; {tie}' if tie else ''})"
    )


main.add_command(init_tiny_cmd)
main.add_command(import_gguf_cmd)
main.add_command(sft_cmd)
main.add_command(predict_cmd)
main.add_command(selfplay_cmd)
main.add_command(experiment_cmd)
main.add_command(spft_cmd)
main.add_command(vbi_cmd)
for _command in main.commands.values():  # all of them import torch: check the extra before writing anything
    _command.callback = needs_train_extra(_command.callback)

if __name__ == "__main__":  # `python -m train.cli` (e.g. under accelerate launch)
    main()
