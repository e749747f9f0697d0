"""Loading models and tokenizers (hub id or local path), full fine-tuning or LoRA, dtype by device.

A local folder with ``adapter_config.json`` is a LoRA adapter: its base model is loaded first and
the adapter put on top (trainable when asked, merged for pure inference).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, DataNotFoundError

#: ``--lora-targets all-linear``: LoRA on every linear layer (peft's name), not only the attention projections.
ALL_LINEAR = "all-linear"


@dataclass(frozen=True)
class LoraOptions:
    """LoRA settings; ``None`` in a config means full fine-tuning."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

    def __post_init__(self) -> None:
        if self.r <= 0:
            raise ConfigError(f"lora r must be > 0, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ConfigError("lora target_modules must name at least one module")
        if ALL_LINEAR in self.target_modules and len(self.target_modules) > 1:
            raise ConfigError(f"lora target_modules: {ALL_LINEAR} stands alone (it means every linear layer)")

    def peft_targets(self) -> list[str] | str:
        """peft's ``target_modules``: the names, or ``"all-linear"`` (every linear layer but the output head)."""
        return ALL_LINEAR if self.target_modules == (ALL_LINEAR,) else list(self.target_modules)


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str | None = None) -> Any:
    """bf16 on a GPU that supports it, fp32 elsewhere: the weights' dtype when no ``--dtype`` is given."""
    import torch

    device = device or pick_device()
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


#: ``--dtype`` values; ``auto`` resolves with :func:`resolve_dtype`.
DTYPES = ("auto", "bf16", "fp16", "fp32")
_TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def bf16_supported(device: str) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU with bf16, or a CPU with avx512_bf16 / AMX."""
    import torch

    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()) or bool(
            getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        )
    return False


def resolve_dtype(name: str, device: str | None = None) -> str:
    """``--dtype`` as what runs: ``auto`` is bf16 where :func:`bf16_supported`, else fp32 (the manifest
    records this). fp16 needs a GPU: on a CPU it neither trains (no grad scaler) nor runs fast."""
    from evaluation.errors import UnknownNameError

    if name not in DTYPES:
        raise UnknownNameError("dtype (--dtype)", name, DTYPES)
    device = device or pick_device()
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if name == "fp16" and device == "cpu":
        raise ConfigError("--dtype fp16 needs a GPU; on a CPU use bf16 (where supported) or fp32")
    return name


def torch_dtype(name: str) -> Any:
    """The torch dtype of a resolved ``--dtype`` (``bf16``, ``fp16``, ``fp32``)."""
    import torch

    return getattr(torch, _TORCH_DTYPES[name])


def precision_arguments(dtype: str) -> dict[str, bool]:
    """``TrainingArguments`` keywords for a resolved ``--dtype``: mixed precision (autocast) over fp32
    master weights for bf16 / fp16, plain fp32 otherwise. On a CPU, accelerate runs bf16 as
    ``torch.autocast("cpu", dtype=torch.bfloat16)``: a LoRA step of SmolLM2 about 2.5x faster than fp32."""
    return {"bf16": dtype == "bf16", "fp16": dtype == "fp16"}


#: A hub id: ``org/name``, nothing more (a path with more parts, or starting with ``.``, ``/``, ``~``, is local).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def is_local(model: str | Path) -> bool:
    """Whether ``model`` names a local folder rather than a hub id.

    It does when it exists, when it is not shaped ``org/name``, or when its first part is an existing
    folder (``models/tiyn`` beside ``models/``): such a typo must fail at once instead of a minute of hub
    retries ending in "check your internet connection".
    """
    s = str(model)
    if Path(s).expanduser().exists() or not _HUB_ID.fullmatch(s):
        return True
    return Path(s).parent.is_dir()


def is_adapter(model: str | Path) -> bool:
    return (Path(model) / "adapter_config.json").is_file()


def quiet_transformers() -> None:
    """Silence transformers' own progress bars ("Loading weights", "Writing model shards"): our commands
    print their own progress lines, and a bar per load drowned them (a run loads models many times)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def free_memory() -> None:
    """Give back what a finished stage held (Python garbage, CUDA's cached blocks) before the next loads a model."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def check_model_exists(model: str | Path) -> None:
    if is_local(model) and not Path(str(model)).expanduser().is_dir():
        raise DataNotFoundError(f"{model}: no such model folder{_did_you_mean(Path(str(model)).expanduser())}")
    if Path(str(model)).is_dir():
        p = Path(str(model))
        if not ((p / "config.json").is_file() or is_adapter(p)):
            raise DataNotFoundError(f"model path '{model}' has no config.json or adapter_config.json")


def _did_you_mean(path: Path) -> str:
    """`` (did you mean models/tiny?)`` for a close folder beside ``path``; else how to name a hub model."""
    import difflib

    parent = path.parent
    folders = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
    close = difflib.get_close_matches(path.name, folders, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {parent / close[0] if str(parent) != '.' else close[0]}?)"
    return " (give a model folder, or a hub id like 'HuggingFaceTB/SmolLM2-135M-Instruct')"


def load_tokenizer(model: str | Path, *, padding_side: str = "right") -> Any:
    from transformers import AutoTokenizer

    check_model_exists(model)
    quiet_transformers()
    try:
        tok = AutoTokenizer.from_pretrained(str(model))
    except (OSError, ValueError) as e:
        raise DataNotFoundError(f"cannot load a tokenizer from '{model}': {e}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def base_model_of(model: str | Path) -> str:
    """The base model id of an adapter folder, or the model itself."""
    if is_adapter(model):
        cfg = json.loads((Path(model) / "adapter_config.json").read_text(encoding="utf-8"))
        return str(cfg.get("base_model_name_or_path"))
    return str(model)


def load_model(
    model: str | Path,
    *,
    lora: LoraOptions | None = None,
    trainable: bool = True,
    dtype: Any = None,
    device: str | None = None,
) -> Any:
    """A causal LM ready to train (``trainable``) or to generate (eval mode, adapters merged)."""
    from transformers import AutoModelForCausalLM

    check_model_exists(model)
    quiet_transformers()
    dtype = dtype or pick_dtype(device)
    try:
        if is_adapter(model):
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(base_model_of(model), dtype=dtype)
            m = PeftModel.from_pretrained(base, str(model), is_trainable=trainable)
            if not trainable:
                m = m.merge_and_unload()
        else:
            m = AutoModelForCausalLM.from_pretrained(str(model), dtype=dtype)
            if lora is not None and trainable:
                from peft import LoraConfig, get_peft_model

                cfg = LoraConfig(
                    r=lora.r,
                    lora_alpha=lora.alpha,
                    lora_dropout=lora.dropout,
                    target_modules=lora.peft_targets(),
                    task_type="CAUSAL_LM",
                )
                m = get_peft_model(m, cfg)
    except (OSError, ValueError) as e:
        raise DataNotFoundError(f"cannot load a model from '{model}': {e}") from None
    _expect_tied_keys_missing(m)
    if device:
        m = m.to(device)
    if not trainable:
        m.eval()
    return m


def tied_weight_keys(model: Any) -> set[str]:
    """Parameter names that are copies of others when the model ties its embeddings (``lm_head.weight``)."""
    cfg = getattr(model, "config", None)
    text_cfg = cfg.get_text_config() if cfg is not None and hasattr(cfg, "get_text_config") else cfg
    if not getattr(text_cfg, "tie_word_embeddings", False):
        return set()
    keys = getattr(model, "_tied_weights_keys", None) or ()
    return set(keys.keys() if isinstance(keys, dict) else keys)


def _expect_tied_keys_missing(model: Any) -> None:
    """Tell transformers that a checkpoint lacks the tied ``lm_head.weight`` on purpose.

    ``save_pretrained`` leaves tied copies out; when ``Trainer`` reloads the best checkpoint it warns
    "There were missing keys in the checkpoint model loaded: ['lm_head.weight']" unless those keys are
    the model's ``_keys_to_ignore_on_save`` — then it re-ties them instead. Saving is unchanged (the
    tied copy is never written anyway).
    """
    tied = tied_weight_keys(model)
    if tied and not getattr(model, "_keys_to_ignore_on_save", None):
        model._keys_to_ignore_on_save = tied


def share_like_other_outputs(folder: str | Path) -> None:
    """Give model files the permissions of our other outputs (``0o644``).

    safetensors writes weights with mode ``0o600`` (a private temporary file moved into place), so a
    saved model was unreadable for other users while its config and tokenizer beside it were not.
    """
    from evaluation.fileio import FILE_MODE

    for f in Path(folder).rglob("*"):
        if f.is_file() and not f.is_symlink() and (f.stat().st_mode & 0o777) == 0o600:
            f.chmod(FILE_MODE)


def check_compatible(model: Any, tokenizer: Any, *, where: str = "model") -> None:
    """The tokenizer's ids must all index the model's embedding table, and generation needs EOS."""
    n_embed = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > n_embed:
        raise ConfigError(
            f"tokenizer and {where} do not match: the tokenizer has {len(tokenizer)} tokens but the model's "
            f"embedding has {n_embed} rows (vocab_size); use the tokenizer saved with the model"
        )
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"the tokenizer of {where} has no eos_token")


def save_model(model: Any, tokenizer: Any, out: str | Path) -> None:
    """Weights (or adapter) + tokenizer in one folder, loadable by :func:`load_model`."""
    quiet_transformers()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    share_like_other_outputs(out)
