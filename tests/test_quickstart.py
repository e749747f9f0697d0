"""The README and the docs stay runnable (issue 13.3/13.4).

* Every ``synth`` / ``train`` / ``evaluate`` line in a fenced ``bash`` block of README.md and docs/*.md
  must name a real command and real options, with values its types accept (click parses it, nothing
  runs). ``...`` and ``[optional]`` parts of a line are allowed placeholders.
* The README's "Quickstart on Spider" block is run **as printed**, line by line in one bash shell in a
  temporary folder, with only its sizes made small: :data:`SMALL` lists every change (bigger values of
  the same options, or extra options appended). A line that fails fails the test, so the README cannot
  drift. The shell is a reader's: nothing activated, the venv's ``bin`` not on ``PATH`` -- the block's
  own first line activates ``.venv`` (a link to this test's venv in the temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def bash_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, command) of every command in the fenced bash blocks of a Markdown file."""
    return bash_commands(path.read_text(encoding="utf-8"))


def bash_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) in the fenced bash blocks of ``text``; ``\\`` continuations joined,
    comments dropped."""
    out: list[tuple[int, str]] = []
    inside, pending, start = False, "", 0
    for no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            inside = line.strip() == "```bash" and not inside
            continue
        if not inside:
            continue
        code = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if not pending:
            start = no
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        cmd = (pending + code).strip()
        pending = ""
        if cmd:
            out.append((start, cmd))
    return out


def _quickstart_block() -> list[str]:
    """The commands of the Quickstart section's first bash block (later blocks there are optional extras)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart on Spider", 1)[1].split("\n## ", 1)[0]
    first = section.split("```bash", 1)[-1].split("\n```", 1)[0]
    cmds = [c for _, c in bash_commands("```bash" + first + "\n```")]
    assert cmds, "no bash block in the README's Quickstart section"
    return cmds


def _groups() -> dict[str, click.Command]:
    from evaluation.cli import main as evaluate_main
    from synth.cli import main as synth_main
    from train.cli import main as train_main

    return {"synth": synth_main, "train": train_main, "evaluate": evaluate_main}


def _our_command(cmd: str) -> list[str] | None:
    """The argv of one of our CLIs in a docs line (``accelerate launch ... -m train.cli X`` too)."""
    cmd = cmd.replace("$SPFT_DATA_ROOT", "/data")
    if "-m train.cli " in cmd:
        cmd = "train " + cmd.split("-m train.cli ", 1)[1]
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    return argv if argv and argv[0] in ("synth", "train", "evaluate") else None


def _placeholders_out(argv: list[str]) -> tuple[list[str], bool]:
    """Drop ``...``; unwrap ``[--opt V]``; ``--a/--b`` -> ``--a``. Returns (argv, had placeholders)."""
    out, loose = [], False
    for a in argv:
        if a in ("...", "…"):
            loose = True
            continue
        if a.startswith("[") or a.endswith("]"):
            loose = True
            a = a.strip("[]")
        if a.startswith("--") and "/--" in a:
            a = a.split("/", 1)[0]
        if a:
            out.append(a)
    return out, loose


DOC_COMMANDS = [(p, no, c) for p in DOCS for no, c in bash_blocks(p) if _our_command(c)]


@pytest.mark.parametrize(("path", "line", "cmd"), DOC_COMMANDS, ids=[f"{p.name}:{n}" for p, n, _ in DOC_COMMANDS])
def test_docs_commands_parse(path: Path, line: int, cmd: str) -> None:
    argv, loose = _placeholders_out(_our_command(cmd) or [])
    group = _groups()[argv[0]]
    where = f"{path.name}:{line}: {cmd}"
    try:
        if isinstance(group, click.Group):
            ctx = click.Context(group, info_name=argv[0])
            sub = group.get_command(ctx, argv[1])
            assert sub is not None, f"{where}: no command '{argv[1]}'"
            sub.make_context(argv[1], argv[2:], parent=ctx)
        else:
            group.make_context(argv[0], argv[1:])
    except click.MissingParameter:
        if not loose:
            raise AssertionError(f"{where}: a required option is missing") from None
    except click.UsageError as e:
        raise AssertionError(f"{where}: {e.format_message()}") from None


#: The Quickstart's sizes made small for CI: (command prefix, option, small value or None to append).
SMALL: tuple[tuple[str, str, str], ...] = (
    ("synth templates", "--top", "3"),
    ("synth generate", "--n", "60"),
    ("synth build-prompts", "--limit", "6"),
    ("train sft", "--epochs", "1"),
    ("train sft", "--eval-ex-limit", "2"),
    ("train sft", "--max-new-tokens", "16"),
    ("train predict", "--max-new-tokens", "16"),
    ("train selfplay", "--rounds", "1"),
    ("train selfplay", "--max-new-tokens", "16"),
)


def small(cmd: str) -> str:
    """``cmd`` with the sizes of :data:`SMALL` (an option already present gets the small value)."""
    for prefix, opt, value in SMALL:
        if not cmd.startswith(prefix + " "):
            continue
        if re.search(rf"(^|\s){re.escape(opt)}\s", cmd):
            cmd = re.sub(rf"((?:^|\s){re.escape(opt)}\s+)\S+", rf"\g<1>{value}", cmd)
        else:
            cmd += f" {opt} {value}"
    return cmd


def test_small_only_shrinks_sizes() -> None:
    assert small("synth generate --db spider --n 3000 --out out/") == "synth generate --db spider --n 60 --out out/"
    assert small("synth build-prompts --data dev.json") == "synth build-prompts --data dev.json --limit 6"
    assert small("evaluate --metric ex") == "evaluate --metric ex"


def unactivated_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no venv active, no venv ``bin`` on ``PATH``."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "activate").is_file()
    )
    return {**env, **extra}


@pytest.mark.slow
def test_readme_quickstart_runs_as_printed(tmp_path: Path, data_root: Path) -> None:
    cmds = _quickstart_block()
    assert cmds[0] == "source .venv/bin/activate", cmds[0]  # a reader's shell has nothing activated
    assert cmds[1].startswith("export SPFT_DATA_ROOT="), cmds[1]  # the data root line, replaced by ours
    (tmp_path / ".venv").symlink_to(BIN.parent, target_is_directory=True)  # the repository's .venv
    env = unactivated_env(
        HOME=str(tmp_path / "home"),  # the value-index cache goes to ~/.cache/spft-sql/values
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    assert subprocess.run(["bash", "-c", "command -v synth"], env=env, capture_output=True).returncode != 0
    # one shell for the whole block, as a reader types it; each line's exit status and time go to a log
    log = tmp_path / "lines.log"
    lines = [cmds[0], f"export SPFT_DATA_ROOT={shlex.quote(str(data_root))}", *map(small, cmds[2:])]
    script = "".join(
        f't0=$(date +%s.%N); {line}\nrc=$?; echo "$rc $t0 $(date +%s.%N)" >> {shlex.quote(str(log))}; '
        f"[ $rc -eq 0 ] || exit $rc\n"
        for line in lines
    )
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    done = log.read_text().splitlines() if log.exists() else []
    timings = [(line, round(float(b) - float(a), 1)) for line, (_, a, b) in zip(lines, (d.split() for d in done))]
    failed = lines[len(done) - 1] if done and done[-1].split()[0] != "0" else None
    assert r.returncode == 0 and not failed, (
        f"README Quickstart line failed: {failed}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    )
    for name in (
        "out/train.jsonl",
        "dev_prompts.jsonl",
        "models/tiny/config.json",
        "ckpt/config.json",
        "preds.jsonl",
        "report.json",
        "items.jsonl",
        "runs/sp/pool.json",
    ):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "home" / ".cache" / "spft-sql" / "values").is_dir()  # the cache the README names
    print(timings)


@pytest.mark.slow
def test_vbi_docs_model_writer_line_runs(tmp_path: Path) -> None:
    """docs/vbi.md's `synth generate --writer model` line works from the `synth` CLI (issue 13.4)."""
    lines = [c for _, c in bash_blocks(REPO / "docs" / "vbi.md") if "--writer model" in c]
    assert lines, "docs/vbi.md no longer shows `synth generate --writer model`"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }

    def run(cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert run("synth generate --db demo --n 40 --out tok --seed 0").returncode == 0
    assert run("train init-tiny --data tok --out writer").returncode == 0
    # the documented line, with the SQL-to-Text checkpoint it names replaced by the tiny model, and fewer examples
    cmd = re.sub(r"path=\S+", "path=writer", small(lines[0]).replace("--n 60", "--n 20"))
    r = run(cmd + " --writer-option max_new_tokens=8")
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    out = Path(tmp_path / re.search(r"--out (\S+)", cmd).group(1))
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert first["question_writer"].startswith("model:")  # written by the model writer (or its counted fallback)


def test_quickstart_outputs_are_ignored_by_git() -> None:
    """Run in the repository root, the Quickstart's outputs must not show up as untracked files (issue 23.9)."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = set()
    for cmd in _quickstart_block():
        argv = shlex.split(cmd.replace("$SPFT_DATA_ROOT", "/data"))
        outputs |= {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--report", "--details")}
    assert {"out/", "models/tiny", "ckpt/", "preds.jsonl", "report.json"} <= outputs
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", *sorted(outputs)], cwd=REPO, capture_output=True, text=True
    )
    assert sorted(r.stdout.split()) == sorted(outputs), f"not ignored: {sorted(outputs - set(r.stdout.split()))}"
