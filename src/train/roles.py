"""Who plays whom in a self-play round: main, opponent and reference model, per loss variant.

SPFT-SQL Algorithm 1 picks from the pool by D_val EX (main = best, opponent = worst not yet used);
SPIN and ExSPIN iterate one model, the opponent being the previous round's model that the main also
starts from; DPO keeps one fixed reference, the initial model, which also writes the negatives. The
rules per variant are the records of :data:`train.losses.VARIANTS`; this module only applies them
(no torch: cheap to import and test).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from train.losses import get_variant
from train.pool import Pool, PoolEntry


@dataclass(frozen=True)
class Roles:
    """The three models of one round: ``main`` is trained, ``opponent`` writes y', ``reference`` is p_ref."""

    main: PoolEntry
    opponent: PoolEntry
    reference: PoolEntry


def pick_roles(
    pool: Pool,
    variant: str,
    *,
    used_opponents: Collection[str] = (),
    previous: str | None = None,
    initial: str | None = None,
) -> Roles:
    """Roles for one round; ``previous`` = the model the last round produced, ``initial`` = round 1's main.

    ``previous`` and ``initial`` are ``None`` in round 1: the main is then the pool's best model for
    every variant (with ``--model M`` that is M).

    >>> pool = Pool((PoolEntry("m0", "a", "a", False, "given", 0.5), PoolEntry("m1", "b", "b", False, "x", 0.2)))
    >>> r = pick_roles(pool, "spft")
    >>> (r.main.id, r.opponent.id, r.reference.id)
    ('m0', 'm1', 'm1')
    >>> r = pick_roles(pool, "exspin", previous="m1")
    >>> (r.main.id, r.opponent.id, r.reference.id)
    ('m1', 'm1', 'm1')
    >>> r = pick_roles(pool, "dpo", used_opponents={"m1"}, initial="m1")
    >>> (r.main.id, r.opponent.id, r.reference.id)
    ('m0', 'm1', 'm1')
    >>> r = pick_roles(pool, "dpo")
    >>> (r.main.id, r.opponent.id, r.reference.id)
    ('m0', 'm0', 'm0')
    """
    v = get_variant(variant)
    if v.opponent == "previous":
        main = pool.get(previous) if previous else pool.main()
        opponent = main
    else:
        main = pool.main()
        if v.opponent == "initial":
            opponent = pool.get(initial) if initial else main
        else:
            opponent = pool.opponent(main, set(used_opponents))
    if v.reference == "initial":
        reference = pool.get(initial) if initial else main
    else:
        reference = opponent
    return Roles(main, opponent, reference)
