"""A live `transformers serve` (from `transformers[serving]`, installed by the train extra) on 127.0.0.1:
greedy predictions over `--backend openai` equal the in-process backend's on the same prompts, and
`train predict` / `train selfplay --backend openai` run end to end on the demo corpus against it.

The server is started and stopped here (a free port, bounded waits) and serves a tiny model made by
`train init-tiny` whose weights are jittered (a fresh tiny model answers every prompt with the same
newlines, which would make the equality check vacuous). Skipped only when the serving extra is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

MISSING = [m for m in ("openai", "fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
START_TIMEOUT_S = 120


def _run(cli, args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Demo-corpus data and the jittered tiny model the server will serve."""
    import torch

    from synth.cli import main as synth_main
    from train.cli import main as train_main
    from train.models.modeling import load_model, load_tokenizer

    root = tmp_path_factory.mktemp("served")
    data, tiny, served = root / "out", root / "tiny", root / "served"
    _run(synth_main, ["generate", "--db", "demo", "--n", "40", "--out", data, "--seed", "0", "--no-progress"])
    _run(train_main, ["init-tiny", "--data", data, "--out", tiny, "--vocab-size", "800"])
    model, tok = load_model(tiny, trainable=False), load_tokenizer(tiny)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
    # `transformers serve` samples only when the model's generation config says so (temperature > 0 alone
    # does not switch sampling on); greedy requests (temperature 0) turn it off again. docs/train.md, Serving.
    model.generation_config.do_sample = True
    model.save_pretrained(str(served))
    tok.save_pretrained(str(served))
    return data, served


@contextlib.contextmanager
def serving(model: Path, log: Path) -> Iterator[str]:
    """`transformers serve MODEL` (float32, CPU) on a free port; yields its base URL; stopped on exit."""
    if MISSING:
        pytest.skip(f"serving extra not installed ({', '.join(MISSING)} missing): pip install -e '.[train]'")
    port = _free_port()
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", TRANSFORMERS_VERBOSITY="error")
    cmd = [
        sys.executable,
        "-c",
        "from transformers.cli.transformers import main; main()",
        "serve",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--dtype",
        "float32",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not up within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory):
    """The jittered tiny model served; yields the base URL."""
    _data, served = demo
    with serving(served, tmp_path_factory.mktemp("serve-log") / "serve.log") as url:
        yield url


def test_greedy_over_the_server_equals_in_process(demo, server):
    from train.io import read_examples
    from train.models.backend_config import GenerationBackendConfig
    from train.models.decoding import GenerationOptions, load_generator, predict

    data, served = demo
    examples = read_examples(data / "val.jsonl")[:6]
    opts = GenerationOptions(max_new_tokens=16, batch_size=3)
    local = load_generator(served, opts)
    remote = load_generator(served, opts, GenerationBackendConfig(backend="openai", base_url=server, concurrency=3))
    assert remote.served_name == str(served)
    a = predict(local, local.tokenizer, examples, options=opts, model_id=str(served))
    b = predict(remote, remote.tokenizer, examples, options=opts, model_id=str(served))
    assert {r["backend"] for r in a} == {"hf"} and {r["backend"] for r in b} == {"openai"}
    assert len({r["raw"] for r in a}) > 1  # the outputs differ between prompts: the equality says something
    assert [r["raw"] for r in b] == [r["raw"] for r in a]
    assert [r["sql"] for r in b] == [r["sql"] for r in a] and [r["gen_hash"] for r in b] == [r["gen_hash"] for r in a]


def test_predict_cli_against_the_server_and_a_wrong_model(demo, server, tmp_path):
    from train.cli import main

    data, served = demo
    out = tmp_path / "preds.jsonl"
    _run(
        main,
        [
            "predict",
            "--model",
            served,
            "--data",
            data / "val.jsonl",
            "--out",
            out,
            "--max-new-tokens",
            "16",
            "--limit",
            "4",
            "--backend",
            "openai",
            "--base-url",
            server,
        ],
    )
    rows = _lines(out)
    assert len(rows) == 4 and {r["backend"] for r in rows} == {"openai"}

    other = data  # any other path: the server does not serve it
    res = CliRunner().invoke(
        main,
        [
            "predict",
            "--model",
            str(served),
            "--data",
            str(data / "val.jsonl"),
            "--out",
            str(tmp_path / "x.jsonl"),
            "--backend",
            "openai",
            "--base-url",
            server,
            "--served-model",
            str(other),
        ],
    )
    assert res.exit_code == 1 and "does not serve --served-model" in res.output, res.output


def test_selfplay_with_a_served_opponent(demo, server, tmp_path):
    """Round 1: m0 (served) plays itself; its SQL comes from the server, the new m1 is generated locally."""
    from train.cli import main

    data, served = demo
    sp = tmp_path / "sp"
    _run(
        main,
        [
            "selfplay",
            "--data",
            data,
            "--model",
            served,
            "--out",
            sp,
            "--rounds",
            "1",
            "--max-length",
            "512",
            "--max-new-tokens",
            "16",
            "--learning-rate",
            "1e-3",
            "--logging-steps",
            "1",
            "--backend",
            "openai",
            "--base-url",
            server,
        ],
    )
    rounds = _lines(sp / "rounds.jsonl")
    assert len(rounds) == 1 and rounds[0]["opponent"] == "m0" and rounds[0]["pairs"] > 0
    m0 = [_lines(p) for p in sorted((sp / "cache").glob("preds-m0-*.jsonl"))]
    m1 = [_lines(p) for p in sorted((sp / "cache").glob("preds-m1-*.jsonl"))]
    assert m0 and all(r["backend"] == "openai" for rows in m0 for r in rows)
    assert m1 and all(r["backend"] == "hf" for rows in m1 for r in rows)  # not served: generated here
    pairs = _lines(sp / "round-1" / "pairs.jsonl")
    assert {p["rejected"] for p in pairs} <= {r["sql"] for rows in m0 for r in rows}


def test_question_writer_and_sampling_over_the_server(demo, server, tmp_path):
    """The SQL-to-Text writer gets the server's greedy questions (equal to its in-process ones); sampled
    requests give different samples for the copies of one prompt, and the same ones when repeated."""
    from synth.questions import get_writer
    from synth.sources import resolve_benchmark
    from train.models.backend_config import GenerationBackendConfig
    from train.models.decoding import GenerationOptions, load_generator

    _data, served = demo
    schema = next(iter(resolve_benchmark("demo").schemas.values()))
    table = schema.tables[0]
    items = [
        (f"SELECT count(*) FROM {table.name}", schema),
        (f"SELECT {table.columns[0].name} FROM {table.name}", schema),
    ]
    local = get_writer("model", path=str(served), cache_dir=str(tmp_path / "c"), max_new_tokens=12)
    remote = get_writer(
        "model", path=str(served), cache_dir=str(tmp_path / "c"), max_new_tokens=12, backend="openai", base_url=server
    )
    assert remote.write_batch(items) == local.write_batch(items)
    assert remote._generator.backend == "openai"

    opts = GenerationOptions(max_new_tokens=12, do_sample=True, temperature=1.0, seed=3)
    gen = load_generator(served, opts, GenerationBackendConfig(backend="openai", base_url=server, concurrency=1))
    prompt = gen.tokenizer.apply_chat_template(
        [{"role": "user", "content": "SELECT"}], tokenize=False, add_generation_prompt=True
    )
    first, again = gen.generate([prompt] * 3), gen.generate([prompt] * 3)
    assert len(set(first)) > 1 and first == again


def test_smollm2_greedy_over_the_server_equals_in_process(smollm2, tiny_data, tmp_path):
    """The real model (SmolLM2-135M-Instruct, its chat template rendered here, end-of-turn = EOS): the
    greedy answers of `transformers serve` equal the in-process ones, text-to-SQL prompts and chat turns
    alike; some stop at end-of-turn long before the token limit, and none shows the chat's special tokens."""
    from train.io import read_examples
    from train.models.backend_config import GenerationBackendConfig
    from train.models.decoding import GenerationOptions, load_generator, predict

    examples = read_examples(tiny_data / "val.jsonl")[:4]
    for i, text in enumerate(("Say hello.", "Name a colour.")):
        examples.append({**examples[0], "id": f"chat-{i}", "prompt": text})
    opts = GenerationOptions(max_new_tokens=24, batch_size=3)
    with serving(smollm2, tmp_path / "serve.log") as url:
        remote = load_generator(smollm2, opts, GenerationBackendConfig(backend="openai", base_url=url, concurrency=3))
        assert remote.served_name == str(smollm2)
        b = predict(remote, remote.tokenizer, examples, options=opts, model_id=str(smollm2))
    local = load_generator(smollm2, opts)
    a = predict(local, local.tokenizer, examples, options=opts, model_id=str(smollm2))
    raw = [r["raw"] for r in a]
    assert [r["raw"] for r in b] == raw
    assert len(set(raw)) == len(raw)  # every prompt its own answer: the equality says something
    assert all("<|im_end|>" not in t and "<|im_start|>" not in t for t in raw)
    tokens = [len(local.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in raw]
    assert min(tokens) < 20, raw  # stopped at end-of-turn on both sides, not at max_new_tokens
