"""One resumable-run helper for ``train vbi``, ``train selfplay`` and ``train spft``.

A run folder holds ``state.json``: where the run is, plus the parameters it was made with. Loading
it checks both -- a corrupt file or a resume with other settings is a clear error naming the file or
the changed options, raised before anything in the folder is touched -- and saving it is atomic
(a kill leaves the old state or the new one, never half a file).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, InputError
from train.io import write_json

STATE_FILE = "state.json"


def run_parameters(config: Any, resumable: Collection[str] = ()) -> dict[str, Any]:
    """The config's fields as JSON values, without those a resume may change."""
    from evaluation.run_record import config_dict

    return {k: v for k, v in config_dict(config).items() if k not in set(resumable)}


def changed_parameters(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """``"name: old -> new"`` for every parameter present in both whose value differs.

    >>> changed_parameters({"lam": 0.1, "rounds": 2}, {"lam": 0.5, "rounds": 2, "new": 1})
    ['lam: 0.1 -> 0.5']
    """
    return [f"{k}: {saved[k]!r} -> {now[k]!r}" for k in sorted(now) if k in saved and now[k] != saved[k]]


def load_state(
    out: Path, *, parameters: Mapping[str, Any] | None = None, allowed: str = "", file: str = STATE_FILE
) -> dict[str, Any] | None:
    """The saved state of the run in ``out`` (``None`` for a new run). With ``parameters``, a state made
    with other values of them is refused (``allowed`` says what may change on resume)."""
    p = Path(out) / file
    if not p.is_file():
        return None
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(
            f"not valid JSON ({e.msg}); delete the run folder (or this file) to start over", path=p, line=e.lineno
        ) from None
    if not isinstance(state, dict):
        raise InputError("expected a JSON object; delete the run folder to start over", path=p)
    if parameters is not None:
        changed = changed_parameters(state.get("parameters", {}), parameters)
        if changed:
            raise ConfigError(
                f"{out} holds a run made with other settings ({'; '.join(changed)}); "
                f"resume with the same options{f' ({allowed})' if allowed else ''} or choose another --out"
            )
    return state


def save_state(out: Path, state: Mapping[str, Any], file: str = STATE_FILE) -> None:
    """Atomic write of ``state.json``."""
    write_json(Path(out) / file, dict(state))
