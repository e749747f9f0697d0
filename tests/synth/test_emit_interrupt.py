"""A Ctrl-C while ``write_all`` moves its staged files into place (issue 13: "a Ctrl-C delivered at any
moment of `synth generate` leaves either the complete, byte-identical output or nothing"): the moves
finish, then the interrupt ends the command -- the folder is never half new, half old."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from synth import emit


def test_interrupt_between_two_moves_is_held_until_all_files_are_in_place(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("train.jsonl", "val.jsonl", "manifest.json"):
        (out / name).write_text("old\n")
    real_replace = os.replace
    calls = []

    def replace_then_interrupt(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 1:  # the user presses Ctrl-C right after the first file moved
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(emit.os, "replace", replace_then_interrupt)
    files = {"train.jsonl": b"new train\n", "val.jsonl": b"new val\n", "manifest.json": b"{}\n"}
    with pytest.raises(KeyboardInterrupt):
        emit.write_all(out, files)
    assert len(calls) == 3  # every move happened before the interrupt was raised
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files  # complete and new: no tmp files left
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_without_an_interrupt_nothing_changes(tmp_path):
    paths = emit.write_all(tmp_path / "o", {"a.jsonl": b"1\n", "manifest.json": b"{}\n"})
    assert [p.name for p in paths] == ["a.jsonl", "manifest.json"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_the_moves_run_as_before(tmp_path):
    errors = []

    def run():
        try:
            emit.write_all(tmp_path / "t", {"a.jsonl": b"1\n"})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert not errors and (tmp_path / "t" / "a.jsonl").read_bytes() == b"1\n"
