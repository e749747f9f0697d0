"""A tiny randomly initialised Qwen2 model + a byte-level BPE tokenizer trained on the data.

For tests, CI and smoke runs on CPU: it is saved with ``save_pretrained`` so everything downstream
loads it from a local path exactly like a real model (AutoModelForCausalLM / AutoTokenizer,
chat template included). Same data + same seed => identical tokenizer and weights. Its random
weights need from-scratch training settings, saved beside it (:data:`FROM_SCRATCH_DEFAULTS`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError
from train.io import read_examples, split_paths

# ChatML, as Qwen2.5 instruct models use: the assistant turn ends with <|im_end|> (our EOS).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TEXT_FIELDS = ("prompt", "schema_prompt", "question", "sql")
QWEN2_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


#: Settings for a model trained from scratch, written beside every ``init-tiny`` model
#: (``training_defaults.json``); every command that trains it uses them for the options not given
#: (:func:`apply_training_defaults`). The fine-tuning defaults (2e-5) barely move random weights. On the
#: demo corpus (`make demo`: 260 train / 40 D_val) with the default shape: lr 3e-3 at batch 8 for 10
#: epochs brought the loss 6.39 -> 0.97 but D_val EX stayed 0, as did batch 4 for 12 epochs; batch 4
#: for 20 epochs reached D_val EX 0.025 at epochs 11-13 (the kept best epoch; docs/train.md, "Training
#: an init-tiny model from scratch", has the runs).
FROM_SCRATCH_DEFAULTS: dict[str, Any] = {"learning_rate": 3e-3, "epochs": 20.0, "batch_size": 4}
TRAINING_DEFAULTS_FILE = "training_defaults.json"


def training_defaults(model: str | Path) -> dict[str, Any]:
    """The model's own training defaults (``training_defaults.json`` of an ``init-tiny`` model), else ``{}``."""
    import json

    from evaluation.errors import InputError

    path = Path(str(model)) / TRAINING_DEFAULTS_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=path, line=e.lineno) from None
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object of option -> value", path=path)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FROM_SCRATCH_DEFAULTS:
            raise InputError(f"unknown option (known: {', '.join(FROM_SCRATCH_DEFAULTS)})", path=path, field=key)
        kind = type(FROM_SCRATCH_DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise InputError(f"expected a {kind.__name__}, got {value!r}", path=path, field=key)
        out[key] = kind(value)
    return out


#: Which options of each training command take a model folder's saved defaults: (the options naming the
#: model that a stage trains, first given wins; the prefix of that stage's options). The text-to-SQL SFT
#: trains --model; the SQL-to-Text SFT of vbi / spft trains --sql2text-model (default: --model). Self-play
#: inside spft starts from the SFT stage's output, no longer random, and keeps the fine-tuning defaults.
TRAINED_MODELS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "sft": ((("model",), ""),),
    "selfplay": ((("model",), ""),),
    "vbi": ((("model",), ""), (("sql2text_model", "model"), "sql2text_")),
    "spft": ((("model",), ""), (("sql2text_model", "model"), "sql2text_")),
}


@dataclass(frozen=True)
class AppliedDefaults:
    """The from-scratch defaults a command took from model folders (option -> value), for its message and manifest."""

    path: Path
    values: dict[str, Any]
    command: str = "sft"
    sources: tuple[Path, ...] = ()  # every training_defaults.json used (``path`` is the first)

    def message(self) -> str:
        shown = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in self.values.items())
        folders = " and ".join(str(p.parent) for p in (self.sources or (self.path,)))
        many = len(self.sources) > 1
        kind = "are `train init-tiny` models" if many else "is a `train init-tiny` model"
        return (
            f"[{self.command}] {folders} {kind} (random weights): using {'their' if many else 'its'} from-scratch "
            f"defaults {shown} from {self.path.name}, since these options were not given"
        )

    def record(self) -> dict[str, Any]:
        return {"file": str(self.path.resolve()), "applied": dict(self.values)}


def apply_training_defaults(
    options: dict[str, Any], given: Collection[str], command: str = "sft"
) -> AppliedDefaults | None:
    """Set in ``options`` the training defaults saved beside the models ``command`` trains (see
    :data:`TRAINED_MODELS`), for the options not in ``given``. Returns what was applied, or ``None``.

    Called by the training commands only (``train sft``, ``vbi``, ``spft``, ``selfplay``): library callers
    (``run_sft(SFTConfig(...))``, the experiment runner) get exactly the values they pass.
    """
    applied: dict[str, Any] = {}
    sources: list[Path] = []
    for names, prefix in TRAINED_MODELS[command]:
        model = next((options[n] for n in names if options.get(n)), None)
        own = training_defaults(model) if model else {}
        took = {prefix + k: v for k, v in own.items() if prefix + k in options and prefix + k not in given}
        if took:
            applied.update(took)
            source = Path(str(model)) / TRAINING_DEFAULTS_FILE
            if source not in sources:
                sources.append(source)
    if not applied:
        return None
    options.update(applied)
    return AppliedDefaults(sources[0], applied, command, tuple(sources))


@dataclass(frozen=True)
class TinyConfig:
    """Shape of the tiny model; defaults train a few steps per second on one CPU core."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vocab_size: int = 2000
    max_position_embeddings: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.vocab_size < 300:
            raise ConfigError(f"vocab_size must be >= 300 (256 bytes + special tokens), got {self.vocab_size}")


def corpus_texts(data: str | Path) -> list[str]:
    """Prompts, schema prompts, questions and SQL of both splits, in file order (deterministic)."""
    texts: list[str] = []
    for path in split_paths(data):
        for ex in read_examples(path):
            texts.extend(str(ex[f]) for f in TEXT_FIELDS if ex.get(f))
    return texts


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE on the texts, wrapped as a transformers fast tokenizer with ChatML specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # The same normalizer / pre-tokenizer as Qwen2's tokenizer class, which transformers picks for a
    # qwen2 config on load: training and loading then split text identically.
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )


def init_tiny(data: str | Path, out: str | Path, config: TinyConfig = TinyConfig()) -> Path:
    """Write a tiny Qwen2 model + tokenizer trained on ``data`` to ``out``; returns ``out``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    texts = corpus_texts(data)
    tokenizer = train_tokenizer(texts, config.vocab_size)
    model_cfg = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    model = Qwen2ForCausalLM(model_cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    from train.io import write_json
    from train.models.modeling import save_model

    out = Path(out)
    save_model(model, tokenizer, out)
    write_json(out / "tiny_config.json", asdict(config))
    write_json(out / TRAINING_DEFAULTS_FILE, FROM_SCRATCH_DEFAULTS)
    return out
