"""GGUF files -> ordinary Hugging Face model folders (``train import-gguf``).

Quantized checkpoints are often shipped only as GGUF (llama.cpp's format). transformers can read
one (``from_pretrained(folder, gguf_file=...)``: de-quantized to float), but every command of this
toolkit takes a model folder; importing once gives a folder with safetensors, config, tokenizer
with its chat template and generation config, plus a manifest with the GGUF's sha256 and
quantization type, so that a run says which file its weights came from. The file is checked first
(readable header, an architecture transformers maps, quantization types the ``gguf`` package can
de-quantize), so a bad file ends in one line, and the folder is published atomically.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.console import echo
from evaluation.errors import DataNotFoundError, InputError, UnknownNameError
from evaluation.fileio import staged_folder
from evaluation.provenance import file_info
from train.fields import help_field as _h

IMPORT_COMMAND = "train import-gguf"


@dataclass(frozen=True)
class GgufImportConfig:
    """What ``train import-gguf`` reads and where it writes."""

    gguf: str = _h("The GGUF file to import.", "")
    out: str = _h("Output model folder (must not exist).", "")

    def __post_init__(self) -> None:
        if not self.gguf:
            raise InputError("give the GGUF file to import")
        if not self.out:
            raise InputError("give --out, the model folder to write")


@dataclass(frozen=True)
class GgufInfo:
    """What the GGUF header says: architecture, file type (its quantization), tensor types and counts."""

    architecture: str
    quantization: str
    tensor_types: dict[str, int]
    name: str | None = None


def read_gguf_info(path: str | Path) -> GgufInfo:
    """The header of ``path``, checked: readable, an architecture transformers loads, de-quantizable tensors.

    Reading maps the file without loading the weights, so this is quick even for large files.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such GGUF file")
    try:
        from gguf import GGUFReader, LlamaFileType
        from gguf.quants import dequantize
    except ImportError:  # pragma: no cover - the train extra has it
        raise DataNotFoundError("importing GGUF needs the 'gguf' package: pip install -e '.[train]'") from None
    try:
        reader = GGUFReader(path)
    except Exception as e:  # the reader raises ValueError, IndexError, struct / numpy errors on a bad file
        raise InputError(
            f"not a readable GGUF file (corrupt or truncated?): {type(e).__name__}: {e}", path=path
        ) from None

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    arch = field("general.architecture")
    if not arch:
        raise InputError("no general.architecture in the GGUF header", path=path)
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if arch not in GGUF_SUPPORTED_ARCHITECTURES:
        raise UnknownNameError("GGUF architecture (transformers cannot load it)", arch, GGUF_SUPPORTED_ARCHITECTURES)
    file_type = field("general.file_type")
    try:
        quantization = LlamaFileType(file_type).name if file_type is not None else "unknown"
    except ValueError:
        quantization = f"file_type {file_type}"
    types = Counter(t.tensor_type.name for t in reader.tensors)
    first = {}
    for t in reader.tensors:
        first.setdefault(t.tensor_type, t)
    for qtype, tensor in first.items():  # one tensor per type: what transformers will do for all of them
        try:
            dequantize(tensor.data, qtype)
        except NotImplementedError:
            raise InputError(
                f"quantization type {qtype.name} cannot be de-quantized by the gguf package", path=path
            ) from None
        except Exception as e:
            raise InputError(f"tensor {tensor.name} cannot be read (corrupt or truncated?): {e}", path=path) from None
    return GgufInfo(
        architecture=str(arch), quantization=quantization, tensor_types=dict(types), name=field("general.name")
    )


def import_gguf(config: GgufImportConfig) -> Path:
    """De-quantize ``config.gguf`` into the model folder ``config.out`` (float32 weights); returns it.

    Nothing is written when any step fails: the folder is built in a staging folder and renamed.
    """
    src = Path(config.gguf)
    out = Path(config.out)
    if out.exists():
        raise InputError("already exists; choose another folder (nothing was written)", path=out)
    start = time.perf_counter()
    info = read_gguf_info(src)
    echo(
        f"import-gguf: {src.name}: {info.architecture}, {info.quantization}, {sum(info.tensor_types.values())} tensors"
    )

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.manifest import write_manifest
    from train.models.modeling import quiet_transformers, save_model

    quiet_transformers()
    folder, name = str(src.resolve().parent), src.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        # transformers' de-quantizing loop draws its own tqdm bar on stderr; our line above says what runs
        with contextlib.redirect_stderr(io.StringIO()):
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, NotImplementedError) as e:
        raise InputError(f"transformers cannot load this GGUF: {type(e).__name__}: {e}", path=src) from None
    # The loaded model is marked as GGUF-quantized, and save_pretrained refuses such a model; its
    # weights are plain float tensors now, so the marker is dropped.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id  # the chat's end-of-turn token: generation stops there
    gen.pad_token_id = tokenizer.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    load_s = time.perf_counter() - start
    with staged_folder(out) as staging:
        save_model(model, tokenizer, staging)
        write_manifest(
            staging / "manifest.json",
            command=IMPORT_COMMAND,
            config=config,
            inputs={"gguf": {**file_info(src), "bytes": src.stat().st_size}},
            seed=None,
            counts={"tensors": sum(info.tensor_types.values()), "parameters": n_params},
            timings={"load_s": round(load_s, 2), "total_s": round(time.perf_counter() - start, 2)},
            results={
                "architecture": info.architecture,
                "model_class": type(model).__name__,
                "quantization": info.quantization,
                "tensor_types": info.tensor_types,
                "gguf_name": info.name,
                "dtype": "float32",
                "eos_token": tokenizer.eos_token,
                "chat_template": bool(tokenizer.chat_template),
            },
        )
    echo(f"import-gguf: {n_params / 1e6:.1f} M parameters written to {out} in {time.perf_counter() - start:.0f} s")
    return out
