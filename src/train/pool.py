"""The model pool of self-play (SPFT-SQL Algorithm 1): a registry on disk, ``pool.json``.

Each entry records where a candidate lives, what it derives from, and its EX on D_val together
with the hash of the D_val it was measured on (a score on other data is not reused).

Tie-break (D_val EX is coarse: tiny models often tie, e.g. all at 0): the main is the most recently
added of the best (the latest round or iteration, which saw the most training), the opponent the
earliest added of the worst unused. Summaries say "tie" when it decided (:meth:`Pool.tie_note`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from evaluation.errors import DataNotFoundError, InputError
from train.io import write_json

POOL_FILE = "pool.json"
POOL_VERSION = 1
#: What decides between models of equal D_val EX, per role (see the module docstring).
TIE_RULES = {"main": "the most recently added wins", "opponent": "the earliest added wins"}


@dataclass(frozen=True)
class PoolEntry:
    """One candidate model: ``adapter`` is true when ``path`` holds a LoRA adapter on ``base_model``."""

    id: str
    path: str
    base_model: str
    adapter: bool
    origin: str
    val_ex: float | None = None
    val_hash: str | None = None
    used_as_opponent: bool = False  # played an opponent already: stays in M, never the opponent again (M′)

    def scored_on(self, val_hash: str) -> bool:
        return self.val_ex is not None and self.val_hash == val_hash


@dataclass(frozen=True)
class Pool:
    entries: tuple[PoolEntry, ...]

    def get(self, model_id: str) -> PoolEntry:
        for e in self.entries:
            if e.id == model_id:
                return e
        from evaluation.errors import UnknownNameError

        raise UnknownNameError("pool model", model_id, [e.id for e in self.entries])

    def add(self, entry: PoolEntry) -> Pool:
        return Pool(tuple(e for e in self.entries if e.id != entry.id) + (entry,))

    def used_opponents(self) -> set[str]:
        """Ids of the models that have played an opponent (in this run or in an earlier round's)."""
        return {e.id for e in self.entries if e.used_as_opponent}

    def mark_used(self, model_id: str) -> Pool:
        """The pool with ``model_id`` marked as a used opponent (kept in M, left out of M′)."""
        return Pool(tuple(replace(e, used_as_opponent=True) if e.id == model_id else e for e in self.entries))

    def with_score(self, model_id: str, val_ex: float, val_hash: str) -> Pool:
        return Pool(
            tuple(replace(e, val_ex=val_ex, val_hash=val_hash) if e.id == model_id else e for e in self.entries)
        )

    def next_id(self) -> str:
        """``m<N>`` with N the pool size, or the next free N: a given pool.json may already use that id
        (e.g. ``m1, m2``), and :meth:`add` would then silently replace that model."""
        taken = {e.id for e in self.entries}
        k = len(self.entries)
        while f"m{k}" in taken:
            k += 1
        return f"m{k}"

    def main(self) -> PoolEntry:
        """Highest D_val EX; on ties the most recently added (the latest self-play round)."""
        scored = [(e.val_ex or 0.0, i, e) for i, e in enumerate(self.entries)]
        return max(scored, key=lambda t: (t[0], t[1]))[2]

    def tied_with(self, entry: PoolEntry, among: Collection[str] | None = None) -> tuple[str, ...]:
        """Ids of the other models with exactly ``entry``'s D_val EX (unscored counts as 0); ``among``
        limits them to the candidates of a choice (the opponent is chosen among the unused non-mains)."""
        ex = entry.val_ex or 0.0
        return tuple(
            e.id
            for e in self.entries
            if e.id != entry.id and (among is None or e.id in among) and (e.val_ex or 0.0) == ex
        )

    def tie_note(self, entry: PoolEntry, role: str = "main", among: Collection[str] | None = None) -> str:
        """``""``, or why ``entry`` was chosen among equals, for run summaries: ``"tie with m1 on D_val
        EX 0.000: the most recently added wins"`` (``role="opponent"``: the earliest added wins)."""
        others = self.tied_with(entry, among)
        if not others:
            return ""
        return f"tie with {', '.join(others)} on D_val EX {entry.val_ex or 0.0:.3f}: {TIE_RULES[role]}"

    def tie_mark(self, entry: PoolEntry, role: str = "main", among: Collection[str] | None = None) -> str:
        """The short form of :meth:`tie_note` for one-line round summaries: ``"tie with m1, newest wins"``."""
        others = self.tied_with(entry, among)
        if not others:
            return ""
        return f"tie with {', '.join(others)}, {'newest' if role == 'main' else 'oldest'} wins"

    def opponent_candidates(self, main: PoolEntry, used: Collection[str]) -> set[str]:
        """Ids :meth:`opponent` chooses from: neither the main nor an already used opponent."""
        return {e.id for e in self.entries if e.id != main.id and e.id not in used}

    def opponent(self, main: PoolEntry, used: set[str]) -> PoolEntry:
        """Lowest D_val EX among models that are neither the main nor an already used opponent.

        When no such model is left, the main plays against itself (SPIN: its own previous output).
        On ties the earliest added wins.
        """
        among = self.opponent_candidates(main, used)
        cands = [(e.val_ex or 0.0, i, e) for i, e in enumerate(self.entries) if e.id in among]
        if not cands:
            return main
        return min(cands, key=lambda t: (t[0], t[1]))[2]


def new_pool(model: str) -> Pool:
    from train.models.modeling import base_model_of, is_adapter

    path = str(Path(model).resolve()) if Path(model).exists() else model
    return Pool((PoolEntry("m0", path, base_model_of(model), is_adapter(model), "given"),))


def load_pool(folder: str | Path) -> Pool:
    path = Path(folder) / POOL_FILE
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no pool registry here (create one with `train selfplay --model M`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path=path, line=e.lineno) from None
    models = raw.get("models") if isinstance(raw, dict) else None
    if not models:
        raise InputError("no models in the pool", path=path, field="models")
    entries = []
    seen: dict[str, int] = {}
    for i, m in enumerate(models):
        for key in ("id", "path", "base_model", "adapter", "origin"):
            if key not in m:
                raise InputError(f"model #{i} misses '{key}'", path=path, field=f"models[{i}].{key}")
        if m["id"] in seen:  # ids key scores, roles and rounds: two models under one id would be conflated
            raise InputError(
                f"model #{i} reuses the id '{m['id']}' of model #{seen[m['id']]}; give each model its own id",
                path=path,
                field=f"models[{i}].id",
            )
        seen[m["id"]] = i
        entry = PoolEntry(**{k: m[k] for k in PoolEntry.__dataclass_fields__ if k in m})
        if not Path(entry.path).is_absolute() and (Path(folder) / entry.path).exists():
            entry = replace(entry, path=str((Path(folder) / entry.path).resolve()))  # relative to the pool
        entries.append(entry)
    return Pool(tuple(entries))


def save_pool(folder: str | Path, pool: Pool) -> None:
    write_json(Path(folder) / POOL_FILE, {"version": POOL_VERSION, "models": [asdict(e) for e in pool.entries]})
