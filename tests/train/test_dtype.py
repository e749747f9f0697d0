"""``--dtype auto|bf16|fp16|fp32``: what ``auto`` resolves to, and the mistakes caught before any work."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from evaluation.errors import ConfigError, UnknownNameError  # noqa: E402
from train.models.modeling import bf16_supported, precision_arguments, resolve_dtype, torch_dtype  # noqa: E402
from train.sft_config import SFTConfig  # noqa: E402


def test_auto_is_bf16_exactly_where_the_device_has_it() -> None:
    assert resolve_dtype("auto", "cpu") == ("bf16" if bf16_supported("cpu") else "fp32")
    assert resolve_dtype("fp32", "cpu") == "fp32" and resolve_dtype("bf16", "cpu") == "bf16"
    assert torch_dtype("bf16") is torch.bfloat16 and torch_dtype("fp32") is torch.float32


def test_training_is_autocast_over_fp32_weights() -> None:
    assert precision_arguments("bf16") == {"bf16": True, "fp16": False}
    assert precision_arguments("fp32") == {"bf16": False, "fp16": False}


def test_fp16_on_cpu_and_unknown_names_are_errors() -> None:
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        resolve_dtype("fp16", "cpu")
    with pytest.raises(UnknownNameError, match="did you mean 'bf16'"):
        SFTConfig(data="d", model="m", out="o", dtype="bf61")
