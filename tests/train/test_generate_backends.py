"""The generator factory and the backend options: validation, stop strings, `predict --limit`, resuming a
killed prediction run, and the OpenAI backend's handling of server faults (a scripted local HTTP server:
500s, a slow answer, a wrong model, a refused connection). The live `transformers serve` tests are in
test_openai_backend.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluation.errors import ConfigError, UnknownNameError
from train.models.backend_config import BACKEND_FIELDS, GenerationBackendConfig, backend_config_from, backend_config_of
from train.models.decoding import GenerationOptions, partial_path
from train.models.formatting import cut_at_stop


def test_backend_config_checks_name_the_option():
    assert GenerationBackendConfig().backend == "hf"
    with pytest.raises(UnknownNameError, match="did you mean 'openai'"):
        GenerationBackendConfig(backend="opnai")
    with pytest.raises(ConfigError, match="--base-url"):
        GenerationBackendConfig(backend="openai")
    with pytest.raises(ConfigError, match="--concurrency"):
        GenerationBackendConfig(concurrency=0)
    with pytest.raises(ConfigError, match="--request-timeout"):
        GenerationBackendConfig(request_timeout=0)
    with pytest.raises(ConfigError, match="--retries"):
        GenerationBackendConfig(retries=-1)


def test_backend_options_cast_and_loop_configs_carry_the_same_fields():
    cfg = backend_config_from(
        {"backend": "openai", "base_url": "http://h:1/v1", "concurrency": "3", "request_timeout": "2.5"}
    )
    assert (cfg.concurrency, cfg.request_timeout, cfg.retries) == (3, 2.5, 3)
    with pytest.raises(UnknownNameError, match="base_url"):
        backend_config_from({"base_ulr": "x"})
    from train.selfplay_config import RESUMABLE_CHANGES, SelfPlayConfig
    from train.vbi_config import VBIConfig

    sp = SelfPlayConfig(data="d", out="o", model="m", backend="openai", base_url="http://h:1/v1", retries=0)
    assert backend_config_of(sp) == GenerationBackendConfig(backend="openai", base_url="http://h:1/v1", retries=0)
    assert set(BACKEND_FIELDS) <= RESUMABLE_CHANGES  # a resumed run may move generation to a server
    assert backend_config_of(VBIConfig(model="m", out="o")) == GenerationBackendConfig()


def test_every_generating_command_has_the_backend_options():
    from train.cli import main

    for cmd in ("predict", "selfplay", "vbi", "spft"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0, res.output
        for opt in ("--backend", "--base-url", "--served-model", "--concurrency", "--request-timeout", "--retries"):
            assert opt in res.output, (cmd, opt)


def test_stop_strings_cut_and_keep_old_hashes():
    assert cut_at_stop("SELECT a FROM t; x", [";"]) == "SELECT a FROM t"
    assert cut_at_stop("abc", ["", "z"]) == "abc"
    # no stop strings: the same hash as before the field existed (cached predictions stay valid)
    assert GenerationOptions().settings_hash("m") == "188fb434dbd72c54"
    assert GenerationOptions(stop=(";",)).settings_hash("m") != GenerationOptions().settings_hash("m")


# ---- predict --limit, resume (in-process backend, tiny model) -------------------------------------

torch_needed = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("torch"), reason="needs torch (train extra)"
)


@torch_needed
def test_predict_limit_stop_and_resume_after_a_kill(tiny_model, tiny_data, tmp_path):
    from train.cli import main

    out = tmp_path / "preds.jsonl"
    args = [
        "predict",
        "--model",
        str(tiny_model),
        "--data",
        str(tiny_data / "val.jsonl"),
        "--out",
        str(out),
        "--max-new-tokens",
        "6",
    ]
    res = CliRunner().invoke(main, [*args, "--limit", "3"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["syn-000024", "syn-000025", "syn-000026"] and {r["backend"] for r in rows} == {
        "hf"
    }
    assert not partial_path(out).exists()
    assert CliRunner().invoke(main, [*args, "--limit", "0"]).exit_code == 2

    # a run killed after 3 rows and in the middle of the 4th: the rerun keeps them and writes the rest
    marked = [dict(r, raw="WRITTEN BEFORE THE KILL") for r in rows]
    partial_path(out).write_text("".join(json.dumps(r) + "\n" for r in marked) + '{"id": "syn-0000')
    out.unlink()
    res = CliRunner().invoke(main, [*args, "--limit", "5"])
    assert res.exit_code == 0, res.output
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["raw"] for r in again[:3]] == ["WRITTEN BEFORE THE KILL"] * 3
    assert len(again) == 5 and again[3]["raw"] != "WRITTEN BEFORE THE KILL" and not partial_path(out).exists()

    # a partial file from other settings is not reused
    partial_path(out).write_text("".join(json.dumps(r) + "\n" for r in marked))
    assert CliRunner().invoke(main, [*args, "--limit", "3", "--max-new-tokens", "4"]).exit_code == 0
    assert all(json.loads(x)["raw"] != "WRITTEN BEFORE THE KILL" for x in out.read_text().splitlines())

    # stop strings end the output before them, in the HF backend too
    res = CliRunner().invoke(
        main, [*args, "--limit", "3", "--task", "sql2text", "--stop", "e", "--max-new-tokens", "12"]
    )
    assert res.exit_code == 0, res.output
    assert all("e" not in json.loads(x)["raw"] for x in out.read_text().splitlines())


# ---- server faults (scripted local server speaking the OpenAI routes) ------------------------------

NEEDS_OPENAI = "the openai client comes with the train extra: pip install -e '.[train]'"


class _Script:
    """What the scripted server does: model list, and per /v1/completions request a status or a delay."""

    def __init__(self, models=("m",), status=200, delay=0.0):
        self.models, self.status, self.delay, self.calls = list(models), status, delay, 0


def _serve(script: _Script):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def _send(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            try:
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def do_GET(self):
            self._send(
                200,
                {
                    "object": "list",
                    "data": [{"id": m, "object": "model", "created": 0, "owned_by": "x"} for m in script.models],
                },
            )

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            script.calls += 1
            time.sleep(script.delay)
            if script.status != 200:
                return self._send(script.status, {"error": {"message": "boom"}})
            self._send(
                200,
                {
                    "id": "c",
                    "object": "text_completion",
                    "created": 0,
                    "model": script.models[0],
                    "choices": [{"index": 0, "text": "SELECT 1; SELECT 2", "finish_reason": "stop"}],
                },
            )

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def scripted():
    pytest.importorskip("openai", reason=NEEDS_OPENAI)
    servers = []

    def start(**kw):
        script = _Script(**kw)
        srv = _serve(script)
        servers.append(srv)
        return script, f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _gen(url, **kw):
    from train.models.openai_backend import OpenAIGenerator

    cfg = GenerationBackendConfig(backend="openai", base_url=url, **kw)
    return OpenAIGenerator(
        cfg, GenerationOptions(max_new_tokens=4, stop=(";",)), "m", fingerprint="0" * 64, progress=False
    )


def test_server_answers_in_order_and_stop_is_applied(scripted):
    script, url = scripted()
    assert _gen(url, concurrency=3).generate(["a", "b", "c", "d"]) == ["SELECT 1"] * 4
    assert script.calls == 4


def test_server_500_is_retried_a_bounded_number_of_times(scripted):
    from train.models.openai_backend import GenerationServerError

    script, url = scripted(status=500)
    with pytest.raises(GenerationServerError, match=r"HTTP 500 after 2 retries"):
        _gen(url, retries=2, concurrency=1).generate(["a"])
    assert script.calls == 3  # the first try + 2 retries, then a clear error


def test_slow_server_times_out_with_a_clear_error(scripted):
    from train.models.openai_backend import GenerationServerError

    script, url = scripted(delay=1.5)
    t = time.monotonic()
    with pytest.raises(GenerationServerError, match=r"no answer from .* within 0.3 s after 1 retries"):
        _gen(url, retries=1, request_timeout=0.3, concurrency=1).generate(["a"])
    assert time.monotonic() - t < 6 and script.calls == 2


def test_wrong_model_and_refused_connection(scripted):
    from train.models.openai_backend import GenerationServerError, ModelNotServedError

    _script, url = scripted(models=("someone-else",))
    with pytest.raises(
        ModelNotServedError, match="serves 'someone-else', not m .*--served-model-name ckpt-0000000000000000"
    ):
        _gen(url)
    _script, url = scripted(models=("ckpt-0000000000000000",))  # named by the checkpoint fingerprint: accepted
    assert _gen(url).served_name == "ckpt-0000000000000000"
    with pytest.raises(ModelNotServedError, match="does not serve --served-model 'nope'"):
        _gen(url, served_model="nope")

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        GenerationServerError, match=r"cannot reach the generation server at http://127.0.0.1:\d+/v1 .*is it running"
    ):
        _gen(f"http://127.0.0.1:{port}/v1", retries=0)


def test_cli_error_for_an_unreachable_server(tiny_model, tiny_data, tmp_path):
    pytest.importorskip("openai", reason=NEEDS_OPENAI)
    from train.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = CliRunner().invoke(
        main,
        [
            "predict",
            "--model",
            str(tiny_model),
            "--data",
            str(tiny_data / "val.jsonl"),
            "--out",
            str(tmp_path / "p.jsonl"),
            "--backend",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--retries",
            "0",
        ],
    )
    assert res.exit_code == 1 and "Error: listing the served models: cannot reach" in res.output, res.output
    assert not (tmp_path / "p.jsonl").exists()


def test_docstring_examples():
    import doctest

    from train.models import backend_config, decoding

    assert doctest.testmod(decoding).failed == 0
    if __import__("importlib").util.find_spec("openai"):
        from train.models import openai_backend

        assert doctest.testmod(openai_backend).failed == 0
    assert doctest.testmod(backend_config).failed == 0


def test_predictions_match_the_prediction_schema():
    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "data_schemas" / "prediction.schema.json").read_text())
    row = {"id": "1", "db_id": "x", "sql": "SELECT 1", "raw": "SELECT 1", "gen_hash": "ab", "backend": "openai"}
    jsonschema.validate(row, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(row, backend="vllm"), schema)


def test_spft_passes_the_backend_to_its_selfplay_steps(tmp_path):
    from train.spft import selfplay_config
    from train.spft_config import SpftConfig

    cfg = SpftConfig(model="m", out=str(tmp_path), backend="openai", base_url="http://h:1/v1", concurrency=2)
    sp = selfplay_config(cfg, 1, tmp_path / "round-1")
    assert (
        backend_config_of(sp)
        == backend_config_of(cfg)
        == GenerationBackendConfig(backend="openai", base_url="http://h:1/v1", concurrency=2)
    )


def test_the_loop_and_an_experiment_give_self_play_the_same_settings(tmp_path, monkeypatch):
    """`train spft`'s self-play stage and an experiment's self-play baseline read one helper: every
    optimiser, LoRA, precision, length and logging value of the loop reaches both SelfPlayConfigs."""
    from dataclasses import asdict

    import train.selfplay
    from train.experiment.arms import SeedRun
    from train.selfplay_config import selfplay_fields_of
    from train.spft import selfplay_config
    from train.spft_config import SpftConfig

    cfg = SpftConfig(
        model="m",
        out=str(tmp_path),
        selfplay_learning_rate=7e-5,
        selfplay_epochs=2.0,
        selfplay_batch_size=3,
        lam=0.3,
        lora=True,
        lora_r=4,
        lora_targets=("all-linear",),
        dtype="fp32",
        max_length=300,
        max_new_tokens=50,
        logging_steps=7,
    )
    wanted = selfplay_fields_of(cfg)
    assert wanted["learning_rate"] == 7e-5 and wanted["batch_size"] == 3 and wanted["lora_r"] == 4
    loop = asdict(selfplay_config(cfg, 1, tmp_path / "round-1"))
    assert {k: loop[k] for k in wanted} == wanted

    seen = {}
    monkeypatch.setattr(train.selfplay, "run_selfplay", lambda c: seen.setdefault("cfg", c) and None)
    run = SeedRun.__new__(SeedRun)
    run.cfg, run.seed, run.dir = type("C", (), {"baseline_pairs": 0})(), 0, tmp_path
    (tmp_path / "selfplay-data").mkdir()
    (tmp_path / "selfplay-data" / "manifest.json").write_text("{}")
    monkeypatch.setattr(run, "real", lambda: tmp_path, raising=False)
    monkeypatch.setattr(run, "loop_config", lambda: cfg, raising=False)
    with pytest.raises(AttributeError):  # the stub returns no result; the config is what is checked
        run.selfplay("spin", "start-model", "spin", 1)
    baseline = asdict(seen["cfg"])
    assert {k: baseline[k] for k in wanted} == wanted
