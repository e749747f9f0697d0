"""The shape docs/architecture.md promises, checked on the source (AST, no imports): the layers point
down (evaluation <- synth <- train), and no module imports another module's private name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYER = {"evaluation": 0, "synth": 1, "train": 2}


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in ``path``, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
    return out


FILES = sorted(p for pkg in LAYER for p in (SRC / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down_and_take_no_private_names(path: Path) -> None:
    own = LAYER[path.relative_to(SRC).parts[0]]
    for module, names, line in _imports(path):
        top = module.split(".")[0]
        if top not in LAYER:
            continue
        assert LAYER[top] <= own, f"{path.relative_to(SRC)}:{line} imports {module} (a higher layer)"
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{path.relative_to(SRC)}:{line} imports private {private} from {module}"


def test_the_scan_sees_the_packages() -> None:
    assert len(FILES) > 100 and any(m == "evaluation.console" for m, _, _ in _imports(SRC / "train" / "vbi.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_library_code_shows_bars_only_through_the_console_module(path: Path) -> None:
    """tqdm is imported by evaluation.console (and CLI modules) only: one place decides where bars go."""
    rel = path.relative_to(SRC)
    if rel.as_posix() == "evaluation/console.py" or rel.name.startswith("cli"):
        return
    for module, _, line in _imports(path):
        assert module.split(".")[0] != "tqdm", f"{rel}:{line} imports {module}; use evaluation.console.progress_bar"


def _calls_sqlite_connect(path: Path) -> list[int]:
    """Lines of ``sqlite3.connect(...)`` calls (``import sqlite3 as x`` too) and of ``from sqlite3 import
    connect`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {"sqlite3"} | {
        a.asname
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
        if a.name == "sqlite3" and a.asname
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect":
            if isinstance(node.func.value, ast.Name) and node.func.value.id in names:
                out.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "sqlite3":
            out += [node.lineno for a in node.names if a.name in ("connect", "*")]
    return out


ALL_FILES = sorted(SRC.rglob("*.py"))


def test_the_connect_scan_finds_the_executors_calls() -> None:
    assert _calls_sqlite_connect(SRC / "evaluation" / "executor.py")


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_executor_opens_sqlite(path: Path) -> None:
    """evaluation/executor.py is the one place that opens SQLite: ReadOnlyDatabase for untrusted SQL,
    connect_readonly / connect_writable for the project's own."""
    rel = path.relative_to(SRC)
    if rel.as_posix() == "evaluation/executor.py":
        return
    lines = _calls_sqlite_connect(path)
    assert not lines, f"{rel}:{lines[0]} opens SQLite; use evaluation.executor (ReadOnlyDatabase, connect_readonly)"


def _imports_hashlib(path: Path) -> list[int]:
    """Lines of ``import hashlib`` / ``from hashlib import ...`` in ``path`` (function-level ones too)."""
    return [line for module, _, line in _imports(path) if module.split(".")[0] == "hashlib"]


def test_the_hashlib_scan_finds_provenance() -> None:
    assert _imports_hashlib(SRC / "evaluation" / "provenance.py")


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_only_provenance_hashes(path: Path) -> None:
    """evaluation/provenance.py is the one place that hashes: file hashes (sha256_file, sha256_bytes) and
    cache and identity keys (digest, digest_iter, json_digest), whose values tests/test_keys.py pins."""
    rel = path.relative_to(SRC)
    if rel.as_posix() == "evaluation/provenance.py":
        return
    lines = _imports_hashlib(path)
    assert not lines, f"{rel}:{lines[0]} imports hashlib; use evaluation.provenance (digest, json_digest, sha256_file)"
