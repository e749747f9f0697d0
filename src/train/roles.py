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


def role_ties(
    pool: Pool,
    variant: str,
    roles: Roles,
    *,
    used_opponents: Collection[str] = (),
    previous: str | None = None,
) -> dict[str, str]:
    """``{"main": ..., "opponent": ...}``: :meth:`Pool.tie_mark` for each role that was chosen by D_val
    EX among equals (only tied roles are keys), so a round summary can say "tie" where the rule decided.

    A main continued from the previous round and an opponent that is the previous or initial model (or
    the main itself, when no unused model is left) were not chosen by EX: no tie can have decided them.

    >>> pool = Pool((PoolEntry("m0", "a", "a", False, "given", 0.0), PoolEntry("m1", "b", "b", False, "x", 0.0)))
    >>> role_ties(pool, "spft", pick_roles(pool, "spft"))
    {'main': 'tie with m0, newest wins'}
    >>> pool = pool.add(PoolEntry("m2", "c", "c", False, "x", 0.5))
    >>> role_ties(pool, "spft", pick_roles(pool, "spft"))
    {'opponent': 'tie with m1, oldest wins'}
    """
    v = get_variant(variant)
    ties: dict[str, str] = {}
    if not (v.opponent == "previous" and previous):
        mark = pool.tie_mark(roles.main, "main")
        if mark:
            ties["main"] = mark
    if v.opponent == "worst_unused" and roles.opponent.id != roles.main.id:
        mark = pool.tie_mark(roles.opponent, "opponent", pool.opponent_candidates(roles.main, set(used_opponents)))
        if mark:
            ties["opponent"] = mark
    return ties
