"""evaluation.fileio: atomic writes (old file intact, no temp file left) and JSONL errors naming file:line."""

from __future__ import annotations

import doctest
import os
import stat
from pathlib import Path

import pytest

from evaluation import fileio
from evaluation.errors import DataNotFoundError, InputError
from evaluation.fileio import iter_jsonl, iter_jsonl_objects, open_atomic, stage, write_atomic


def test_docstring_examples_run():
    result = doctest.testmod(fileio)
    assert result.attempted > 0 and result.failed == 0


def test_write_atomic_writes_bytes_and_str_creates_parents_and_sets_mode(tmp_path: Path):
    target = tmp_path / "a" / "b" / "out.json"
    assert write_atomic(target, b"\x00raw") == target
    assert target.read_bytes() == b"\x00raw"
    write_atomic(target, "Café \u2028 x\n")
    assert target.read_bytes() == "Café \u2028 x\n".encode("utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["out.json"]


def test_failing_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "report.json"
    write_atomic(target, "old\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new content that never lands\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_open_atomic_block_raising_keeps_old_file_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with open_atomic(target) as f:
            f.write(b"half of the new")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["cache.npz"]
    with open_atomic(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["cache.npz"]


def test_failing_replace_removes_the_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "x.jsonl"
    target.write_text("old\n")

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["x.jsonl"]


def test_stage_writes_beside_the_target_without_replacing(tmp_path: Path):
    target = tmp_path / "train.jsonl"
    target.write_text("old\n")
    tmp = stage(target, b"new\n")
    assert tmp.parent == tmp_path and tmp.name.endswith(".tmp") and tmp.name.startswith(".train.jsonl.")
    assert tmp.read_bytes() == b"new\n" and target.read_text() == "old\n"
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o644


def test_iter_jsonl_numbers_lines_from_one_and_skips_blank_lines(tmp_path: Path):
    p = tmp_path / "a.jsonl"
    p.write_bytes('{"a": 1}\n\n   \n[2]\r\n"s\u2028t"\n'.encode("utf-8"))
    assert list(iter_jsonl(p)) == [(1, {"a": 1}), (4, [2]), (5, "s\u2028t")]


@pytest.mark.parametrize(
    "content,line,reason",
    [
        (b'{"a": 1}\n\n{"a": \n', 3, "invalid JSON (Expecting value: column 7)"),
        (b'{"a": 1}\n{"a": "SELE\n', 2, "invalid JSON (Unterminated string starting at: column 7)"),
        (b'{"a": 1}\n{"a": "SELE', 2, "invalid JSON (Unterminated string starting at: column 7)"),
        (b'{"a": 1}\n{"a": 2} x\n', 2, "invalid JSON (Extra data: column 10)"),
        (b'{"a": 1}\n{"a": "\xff"}\n', 2, "not UTF-8 text (invalid start byte)"),
    ],
    ids=["truncated", "cut-in-a-string", "cut-at-end-of-file", "trailing-garbage", "not-utf8"],
)
def test_iter_jsonl_errors_name_file_and_line(tmp_path: Path, content: bytes, line: int, reason: str):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        list(iter_jsonl(p))
    assert (e.value.path, e.value.line, e.value.reason) == (str(p), line, reason)
    assert str(e.value) == f"{p}:{line}: {reason}"


def test_iter_jsonl_objects_rejects_non_objects_with_line(tmp_path: Path):
    p = tmp_path / "rows.jsonl"
    p.write_text('{"id": 1}\n\n[1, 2]\n')
    with pytest.raises(InputError, match=r"rows\.jsonl:3: expected a JSON object"):
        list(iter_jsonl_objects(p))


def test_missing_file_raises_at_call_not_at_first_next(tmp_path: Path):
    for fn in (iter_jsonl, iter_jsonl_objects):
        with pytest.raises(DataNotFoundError, match=r"nope\.jsonl: file not found"):
            fn(tmp_path / "nope.jsonl")
        with pytest.raises(DataNotFoundError, match="a folder, not a JSONL file"):
            fn(tmp_path)  # a folder is not a JSONL file, and the message says so (issue 23.9)


def test_jsonl_text_is_the_layout_every_writer_had(tmp_path: Path):
    """train.io.write_jsonl, evaluate --details, build-prompts and the decoding partial file wrote
    ``json.dumps(row, ensure_ascii=False) + "\\n"`` per row; the one writer keeps those bytes."""
    import json

    from evaluation.fileio import jsonl_text, write_jsonl

    rows = [{"b": 1, "a": 'é \u2028 "q"'}, {"x": [1, 2.5, None], "y": {"z": True}}, "text", 3]
    want = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert jsonl_text(rows) == want and jsonl_text([]) == ""
    assert (
        jsonl_text(iter([{"p": tmp_path}])) == json.dumps({"p": str(tmp_path)}) + "\n"
    )  # str of what JSON cannot hold
    out = tmp_path / "sub" / "rows.jsonl"
    assert write_jsonl(out, iter(rows)) == out
    assert out.read_bytes() == want.encode("utf-8")
    assert [v for _, v in iter_jsonl(out)] == rows
    assert stat.S_IMODE(os.stat(out).st_mode) == fileio.FILE_MODE


def test_train_and_report_write_jsonl_through_fileio(tmp_path: Path):
    from types import SimpleNamespace

    from evaluation import report
    from train import io

    assert io.write_jsonl is fileio.write_jsonl
    rows = [{"id": "é", "ex": {"correct": True}}, {"id": 2, "ex": None}]
    report.write_details(tmp_path / "items.jsonl", [SimpleNamespace(to_json=lambda r=r: r) for r in rows])
    assert (tmp_path / "items.jsonl").read_text(encoding="utf-8") == fileio.jsonl_text(rows)
