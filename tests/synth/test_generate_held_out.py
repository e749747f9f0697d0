"""``GenerateConfig.held_out``: queries of a held-out split are never made, and others take their place.

``train vbi`` passes its selection split and ``--exclude-sql`` files (a test split). Before, a
synthetic query equal to one was dropped after generation (1-10 of 660 per iteration of the
tiny-indomain runs), so an iteration had fewer examples than asked for.
"""

from __future__ import annotations

import json

import pytest

from evaluation.errors import ConfigError
from synth.generation import GenerateConfig, collision_key, generate


def _pairs(result) -> list[tuple[str, str]]:
    return [(r["db_id"], r["sql"]) for r in sorted((*result.train, *result.val), key=lambda r: r["id"])]


def test_held_out_queries_are_replaced_never_made():
    base = dict(db="demo", n=200, val_size=20, seed=0, prompts=False)
    plain = generate(GenerateConfig(**base))
    # every fourth example of the plain run is "a test query", written the way Spider writes them
    held = {(d, collision_key(s.replace("'", '"').upper())) for d, s in _pairs(plain)[::4]}
    run = generate(GenerateConfig(**base, held_out=frozenset(held)))
    made = _pairs(run)
    assert len(made) == 200
    assert not {(d, collision_key(s)) for d, s in made} & held
    counts = run.manifest["counts"]
    assert counts["rejections"]["held_out"] >= 50  # the same seed draws them again, and they are replaced
    assert counts["rejection_examples"]["held_out"] == "matches a held-out query"  # no test SQL in the manifest
    assert run.manifest["parameters"]["held_out"]["count"] == len(held)
    assert plain.manifest["parameters"]["held_out"]["count"] == 0
    # the examples the held-out ones did not touch come first, in the same order
    kept = [p for p in _pairs(plain) if (p[0], collision_key(p[1])) not in held]
    assert made[: len(kept)] == kept
    parallel = generate(GenerateConfig(**base, held_out=frozenset(held), workers=2))
    assert json.dumps(parallel.manifest["counts"]) == json.dumps(counts)
    assert parallel.files()["train.jsonl"] == run.files()["train.jsonl"]


def test_held_out_must_be_pairs_of_strings():
    with pytest.raises(ConfigError, match="held_out must hold"):
        GenerateConfig(db="demo", n=10, held_out=frozenset({("clinic",)}))
    assert GenerateConfig(db="demo", n=10, held_out=[["clinic", "select 1"]]).held_out == {("clinic", "select 1")}
