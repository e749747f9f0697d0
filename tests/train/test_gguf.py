"""``train import-gguf``: a bad GGUF ends in one ``Error:`` line with nothing written; the SmolLM2
folder that ``make smollm2`` imports is a complete Hugging Face model folder with its provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

from train.cli import main  # noqa: E402

SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def write_gguf(path: Path, arch: str, tensor: np.ndarray, raw_dtype=None) -> Path:
    w = gguf.GGUFWriter(str(path), arch)
    w.add_tensor("token_embd.weight", tensor, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def run_import(src: Path, out: Path):
    return CliRunner().invoke(main, ["import-gguf", str(src), "--out", str(out)])


def assert_one_line_error(res, *needles: str) -> None:
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize(
    "case, needles",
    [
        ("architecture", ("unknown GGUF architecture", "'notallama'")),
        ("quantization", ("quantization type Q8_1 cannot be de-quantized",)),
        ("garbage", ("not a readable GGUF file", "magic")),
        ("truncated", ("not a readable GGUF file",)),
        ("missing", ("no such GGUF file",)),
    ],
)
def test_bad_gguf_is_one_error_line_and_nothing_written(tmp_path: Path, case: str, needles: tuple[str, ...]) -> None:
    src = tmp_path / f"{case}.gguf"
    if case == "architecture":
        write_gguf(src, "notallama", np.zeros((4, 8), dtype=np.float32))
    elif case == "quantization":  # a type gguf can read but not de-quantize
        write_gguf(src, "llama", np.zeros((1, 40), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q8_1)
    elif case == "garbage":
        src.write_bytes(b"\x00" * 4096)
    elif case == "truncated":
        whole = write_gguf(tmp_path / "whole.gguf", "llama", np.ones((64, 64), dtype=np.float32)).read_bytes()
        src.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "models" / "m"
    res = run_import(src, out)
    assert_one_line_error(res, *needles)
    assert not out.exists()
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())  # no staging left


def test_existing_out_is_refused_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = run_import(tmp_path / "missing.gguf", out)
    assert_one_line_error(res, "already exists", str(out))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_smollm2_folder_is_a_complete_model_with_provenance(smollm2: Path) -> None:
    """What ``make smollm2`` imported: the pinned GGUF, its quantization, a chat template, and generation
    that stops at the chat's end-of-turn token."""
    for name in ("model.safetensors", "config.json", "tokenizer.json", "generation_config.json", "manifest.json"):
        assert (smollm2 / name).is_file(), name
    man = json.loads((smollm2 / "manifest.json").read_text())
    assert man["command"] == "train import-gguf"
    assert man["inputs"]["gguf"]["sha256"] == SMOLLM2_GGUF_SHA256
    assert man["results"]["quantization"] == "MOSTLY_Q4_1"
    assert man["results"]["architecture"] == "llama"
    assert man["counts"]["parameters"] == 134_515_008
    from transformers import AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(smollm2)
    assert tok.chat_template and tok.eos_token == "<|im_end|>"
    gen = GenerationConfig.from_pretrained(smollm2)
    assert gen.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert "quantization_config" not in json.loads((smollm2 / "config.json").read_text())
