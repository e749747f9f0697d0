"""Issue 23: what a new user meets before any command runs -- make's checks, which torch gets installed,
and what the README says about activating .venv and about exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_make
def test_make_test_without_the_data_root_fails_once_up_front(tmp_path: Path) -> None:
    """23.9: it installed, linted and then failed test by test. PYTHON=false: any install step would fail
    differently, so the message proves the check ran first."""
    r = _make("test", f"SPFT_DATA_ROOT={tmp_path}/none", f"VENV={tmp_path}/venv", "PYTHON=false")
    assert r.returncode != 0
    assert r.stderr.count("FATAL: Spider data not found under SPFT_DATA_ROOT=") == 1, r.stderr
    assert not (tmp_path / "venv").exists()


@needs_make
def test_torch_index_reaches_only_the_torch_install(tmp_path: Path) -> None:
    """23.10: a CPU-only install on an ordinary machine needs PyTorch's CPU index for torch alone."""
    plain = _make("-n", "setup-train", f"VENV={tmp_path}/v").stdout.splitlines()
    cpu = _make("-n", "setup-train", f"VENV={tmp_path}/v", f"TORCH_INDEX={CPU_INDEX}").stdout.splitlines()
    torch_plain = [line for line in plain if "torch==" in line]
    torch_cpu = [line for line in cpu if "torch==" in line]
    assert len(torch_plain) == 1 and CPU_INDEX not in torch_plain[0]
    assert torch_cpu == [f"{tmp_path}/v/bin/pip install -q {CPU_INDEX} 'torch==2.13.0'"]
    assert [line for line in cpu if CPU_INDEX in line] == torch_cpu  # the other installs keep pip's index


def test_readme_says_which_torch_and_how_to_get_the_cpu_build() -> None:
    assert "CUDA" in README and "TORCH_INDEX" in README and CPU_INDEX in README
    assert "CPU torch wheel" not in README  # it is CPU-only only where pip reads this machine's mirror


def test_readme_quickstart_starts_by_activating_the_venv() -> None:
    """23.1: `synth templates ...` -> `bash: synth: command not found`."""
    section = README.split("## Quickstart on Spider", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1]
    assert block.lstrip().startswith("source .venv/bin/activate")
    assert ".venv/bin/synth" in section and "make setup-train" in section


def test_a_missing_required_option_is_clicks_usage_error_as_the_readme_says() -> None:
    """23.8: the README said every user mistake exits 1; click's usage errors exit 2."""
    from synth.cli import main

    res = CliRunner().invoke(main, ["generate", "--db", "demo"])
    assert res.exit_code == 2 and "Missing option '--out'" in res.output
    assert "usage error" in README and "exit 2" in README


def test_docs_point_to_no_markdown_file_outside_the_repository() -> None:
    """23.8: docs/architecture.md named `../shared/DESIGN.md`, which a clone does not have."""
    bad = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for name in set(re.findall(r"(?<![\w/])((?:\.\./|\./)?[\w./-]*\.md)\b", page.read_text(encoding="utf-8"))):
            if re.match(r"[A-Z]+/", name):  # a placeholder folder (OUT/, DIR/)
                continue
            found = [p for p in ((page.parent / name).resolve(), (REPO / name).resolve()) if p.exists()]
            if not any(p.is_relative_to(REPO) for p in found):
                bad.append(f"{page.name}: {name}")
    assert not bad, bad
