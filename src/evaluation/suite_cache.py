"""Test suites built on the fly for training signals, cached by database fingerprint (``--judge ts``).

``train vbi`` / ``train spft`` (VBI-FT's y+/y- split) and ``train selfplay`` (the reward R) can judge a
prediction on a test suite instead of the one database (Zhong et al. 2020): correct only if it
agrees with the gold on *every* suite database. There is no suite for synthetic data, so one is built
by :func:`evaluation.suite.build_db_suite` for the queries being judged and kept on disk.

**Golds of a suite.** The gold SQL of the examples being judged on that database (the synthetic D_val
queries, or the real pairs self-play answers), not the benchmark's training SQL of the database: the
distillation then keeps the databases that tell *these* queries from their near misses (the false
positives EX lets through), it needs nothing but the examples (BIRD, a user's databases and Spider's
dev/test databases have no training SQL of their own), and the suite does not depend on the model's
predictions. The price: another set of examples is another suite (one VBI iteration's D_val, one
self-play run's D_val), so a suite is reused when the same examples are judged again -- every round
of a self-play run, a resumed or repeated run, every model scored on the same D_val.

**Cache key** (:func:`suite_fingerprint`): sha256 of the ``.sqlite`` file's content, the distinct gold
SQL (sorted) and the suite-building parameters (:class:`~evaluation.suite.SuiteConfig` without
``workers``). Folder: ``<cache>/<db_id>-<fingerprint[:16]>/`` holding the suite files and
``suite.json`` (the full fingerprint, the build report). A suite is built in a staging folder of its
process and published complete by one rename, so runs sharing the cache (its default is shared)
never see half a suite nor break each other's builds; a folder without ``suite.json`` (an
interrupted build of an earlier version) is built again.

**Verdict** (:func:`ts_verdicts`): the evaluator's own TS code (:func:`evaluation.runner.ts_task`,
first failure in suite order wins, ``00_original`` first), no second comparator.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigError, InputError, UnknownNameError
from evaluation.executor import Limits
from evaluation.provenance import json_digest, sha256_file

__all__ = [
    "DEFAULT_SUITE_CACHE",
    "DEFAULT_SUITE_SIZE",
    "JUDGES",
    "CachedSuite",
    "SuiteCache",
    "TsItem",
    "check_judge",
    "check_judge_settings",
    "judge_resume_conflict",
    "suite_fingerprint",
    "ts_verdicts",
]

#: ``--judge`` choices: ``ex`` (one database, the default) or ``ts`` (every database of a suite).
JUDGES = ("ex", "ts")
#: Where suites are cached unless ``--suite-cache`` says otherwise (shared by runs: a second run reuses).
DEFAULT_SUITE_CACHE = Path("~/.cache/spft-sql/suites").expanduser()
#: ``--suite-size`` default: as ``evaluate build-suite --size`` (:class:`evaluation.suite.SuiteConfig`).
DEFAULT_SUITE_SIZE = 20
SUITE_INFO = "suite.json"
#: Bumped when what a cached suite holds changes meaning (old folders are then not reused).
CACHE_FORMAT = 1


def check_judge(name: str, option: str = "--judge") -> str:
    """``name`` if it is a judge, else an error naming the choices."""
    if name not in JUDGES:
        raise UnknownNameError(f"judge ({option})", name, JUDGES)
    return name


def check_judge_settings(judge: str, suite_size: int) -> None:
    """``judge`` is a judge and ``suite_size`` >= 1 (errors name the options): the one check of the
    ``--judge`` group, for ``synth generate`` and the ``train`` commands alike."""
    check_judge(judge)
    if suite_size < 1:
        raise ConfigError(
            f"suite_size (--suite-size) must be >= 1 (the original database is always in the suite), got {suite_size}"
        )


def judge_resume_conflict(saved: Mapping[str, Any], judge: str, suite_size: int) -> str:
    """``""``, or why a run saved with parameters ``saved`` cannot be resumed with this judge.

    A run saved before ``--judge`` existed was judged by EX. Mixing judges inside one run would give
    y+/y- (or rewards) of two meanings, so a change is refused, never silently mixed.

    >>> judge_resume_conflict({}, "ex", 20)
    ''
    >>> judge_resume_conflict({}, "ts", 20)
    "judge: 'ex' -> 'ts'"
    >>> judge_resume_conflict({"judge": "ts", "suite_size": 20}, "ts", 10)
    'suite_size: 20 -> 10'
    """
    was = saved.get("judge", "ex")
    if was != judge:
        return f"judge: {was!r} -> {judge!r}"
    if judge == "ts" and "suite_size" in saved and saved["suite_size"] != suite_size:
        return f"suite_size: {saved['suite_size']!r} -> {suite_size!r}"
    return ""


def _suite_parameters(config: Any) -> dict[str, Any]:
    """What decides a suite's content: every :class:`SuiteConfig` field but ``workers`` (and ``pad`` when
    off, so that the fingerprints of suites cached before it existed stay valid)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "workers" and not (k == "pad" and v is False)}


def suite_fingerprint(db_sha256: str, golds: Sequence[str], config: Any) -> str:
    """The cache key of one suite: database content, distinct golds (sorted), suite parameters.

    >>> from evaluation.suite import SuiteConfig
    >>> a = suite_fingerprint("ab", ["SELECT 1", "SELECT 2"], SuiteConfig())
    >>> a == suite_fingerprint("ab", ["SELECT 2", "SELECT 1", "SELECT 1"], SuiteConfig(workers=4))
    True
    >>> a == suite_fingerprint("ab", ["SELECT 1"], SuiteConfig())
    False
    """
    payload = {
        "format": CACHE_FORMAT,
        "db_sha256": db_sha256,
        "golds": sorted(set(golds)),
        "suite": _suite_parameters(config),
    }
    return json_digest(payload)


@dataclass(frozen=True)
class CachedSuite:
    """One suite on disk and how this process got it (``built`` now, or reused from the cache)."""

    db_id: str
    folder: Path
    fingerprint: str
    files: tuple[str, ...]  # suite order: 00_original first
    built: bool
    build_s: float  # seconds this process spent building it (0 when reused)
    report: dict  # the build's DbSuite report (neighbours, killed, suite_size ...)

    @property
    def paths(self) -> list[Path]:
        return [self.folder / f for f in self.files]

    def record(self) -> dict[str, Any]:
        """What a run manifest records of it."""
        r = self.report
        return {
            "db_id": self.db_id,
            "fingerprint": self.fingerprint,
            "suite_size": len(self.files),
            "neighbours": r.get("neighbours"),
            "distinguishable": r.get("distinguishable"),
            "killed": r.get("killed"),
            "golds": r.get("golds"),
            "build_report_s": r.get("seconds"),
        }


class SuiteCache:
    """Suites per (database content, golds, parameters) under ``root``; built once, then reused.

    ``builds`` / ``reuses`` count what this object did (a test checks that a second call builds nothing);
    ``used`` holds every suite it handed out, by folder name.
    """

    def __init__(self, root: str | Path | None = None, config: Any = None) -> None:
        from evaluation.suite import SuiteConfig

        self.root = Path(root).expanduser() if root else DEFAULT_SUITE_CACHE
        self.config = config if config is not None else SuiteConfig()
        self.builds = 0
        self.reuses = 0
        self.used: dict[str, CachedSuite] = {}
        self._db_sha: dict[tuple[Path, int, int], str] = {}

    def db_sha256(self, path: Path) -> str:
        """Content hash of a database file (once per file version in this process)."""
        st = path.stat()
        key = (path.resolve(), st.st_size, st.st_mtime_ns)
        if key not in self._db_sha:
            self._db_sha[key] = sha256_file(path)
        return self._db_sha[key]

    def suite_for(self, db_id: str, db_path: str | Path, golds: Sequence[str]) -> CachedSuite:
        """The suite of ``db_id`` for these golds: from the cache, else built now (and cached).

        Safe when several runs share the cache (the default folder is shared): a suite is built in a
        staging folder of this process and published by one rename, complete with ``suite.json``; when
        another process published the same suite first, its copy is used and this one dropped (both
        are the same bytes: the build is deterministic)."""
        db_path = Path(db_path)
        if not db_path.is_file():
            raise InputError("database file not found; cannot build its test suite", path=db_path)
        fp = suite_fingerprint(self.db_sha256(db_path), golds, self.config)
        folder = self.root / f"{db_id}-{fp[:16]}"
        meta = self._read_info(folder, fp)
        built, seconds = False, 0.0
        if meta is not None:
            self.reuses += 1
        else:
            t0 = time.perf_counter()
            meta, published = self._build(db_id, db_path, golds, folder, fp)
            seconds = round(time.perf_counter() - t0, 3)
            if published:
                self.builds += 1
                built = True
            else:  # another process published it while this one was building
                self.reuses += 1
        suite = CachedSuite(db_id, folder, fp, tuple(meta["files"]), built, seconds, meta["report"])
        self.used[folder.name] = suite
        return suite

    @staticmethod
    def _read_info(folder: Path, fp: str) -> dict | None:
        """The ``suite.json`` of a complete suite folder, or ``None`` (absent, or an interrupted build)."""
        info = folder / SUITE_INFO
        if not info.is_file():
            return None
        try:
            meta = json.loads(info.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg}); delete {folder} to rebuild the suite", path=info) from None
        if meta.get("fingerprint") != fp:
            raise ConfigError(
                f"{info}: fingerprint {meta.get('fingerprint')!r} is not {fp!r} (a key collision "
                f"or an edited cache); delete {folder} to rebuild the suite"
            )
        return meta

    def _build(self, db_id: str, db_path: Path, golds: Sequence[str], folder: Path, fp: str) -> tuple[dict, bool]:
        """Build into a staging folder of this process, then publish it as ``folder`` with one rename.
        Returns the suite's ``suite.json`` content and whether this process published it."""
        from evaluation.fileio import write_atomic
        from evaluation.suite import build_db_suite

        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            rep = build_db_suite(db_id, db_path, sorted(set(golds)), staging, self.config)
            meta = {
                "format": CACHE_FORMAT,
                "fingerprint": fp,
                "db_id": db_id,
                "db_path": str(db_path),
                "db_sha256": self.db_sha256(db_path),
                "parameters": _suite_parameters(self.config),
                "files": rep.files,
                "report": rep.to_json(),
            }
            write_atomic(staging / SUITE_INFO, json.dumps(meta, indent=2, sort_keys=True) + "\n")
            for _ in range(2):
                try:
                    os.rename(staging, folder)  # fails when folder exists and is not empty
                    return meta, True
                except OSError:
                    theirs = self._read_info(folder, fp)
                    if theirs is not None:
                        return theirs, False
                    # a folder without suite.json: an interrupted build of an older version; replace it
                    shutil.rmtree(folder, ignore_errors=True)
            raise InputError(f"cannot publish the suite built in {staging}", path=folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def summary(self, also: Sequence[str] = ()) -> dict[str, Any]:
        """For a run manifest: where the cache is, the parameters, and every suite used, by folder --
        those this object handed out and the folders named in ``also`` (used before a resume; read from
        their ``suite.json``, ``None`` when it is gone)."""
        suites: dict[str, Any] = {name: s.record() for name, s in self.used.items()}
        for name in also:
            if name not in suites:
                info = self.root / name / SUITE_INFO
                try:
                    meta = json.loads(info.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    suites[name] = None
                    continue
                suites[name] = CachedSuite(
                    meta["db_id"], info.parent, meta["fingerprint"], tuple(meta["files"]), False, 0.0, meta["report"]
                ).record()
        return {
            "suite_cache": str(self.root),
            "parameters": _suite_parameters(self.config),
            "suites": dict(sorted(suites.items())),
        }


@dataclass(frozen=True)
class TsItem:
    """One prediction to judge on the suite of its database."""

    id: str
    db_id: str
    db_path: Path
    gold_sql: str
    pred_sql: str


def ts_verdicts(
    items: Sequence[TsItem],
    cache: SuiteCache,
    *,
    golds: Mapping[str, Sequence[str]] | None = None,
    limits: Limits | None = None,
    compare: str = "spider",
    keep_distinct: bool = False,
) -> tuple[dict[str, Any], dict[str, CachedSuite]]:
    """TS verdict (:class:`evaluation.verdict.Verdict`) per item id, and the suite used per db_id.

    ``golds[db_id]`` are the queries the suite of ``db_id`` is built for (default: the items' golds of
    that database); a caller judging only some predictions passes all of its golds, so the suite does
    not depend on which predictions it judges. Item ids must be unique.
    """
    from evaluation.inputs import Item
    from evaluation.runner import EvalConfig, merge_ts, ts_task

    if len({it.id for it in items}) != len(items):
        raise ConfigError("ts_verdicts: item ids must be unique")
    by_db: dict[tuple[str, Path], list[TsItem]] = {}
    for it in items:
        by_db.setdefault((it.db_id, Path(it.db_path)), []).append(it)
    out: dict[str, Any] = {}
    suites: dict[str, CachedSuite] = {}
    for (db_id, db_path), group in sorted(by_db.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        wanted = list(golds[db_id]) if golds is not None and db_id in golds else [it.gold_sql for it in group]
        suite = cache.suite_for(db_id, db_path, wanted)
        suites[db_id] = suite
        config = EvalConfig(
            db_root=db_path.parent.parent,
            metrics=("ts",),
            suite_dir=cache.root,
            compare=compare,
            keep_distinct=keep_distinct,
            limits=limits or Limits(),
            workers=1,
            flag_ambiguous=False,
        )
        pairs = [Item(it.id, db_id, it.gold_sql, it.pred_sql) for it in group]
        outcome = ts_task(pairs, suite.paths, config)
        for it in group:
            out[it.id] = merge_ts(db_id, len(suite.files), [outcome[it.id]], config)
    return out, suites
