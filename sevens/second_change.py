"""Two changes at once? When the best single change, done again on clean sevens, leaves a critic
telling them from the poor sevens, a second change is made with it.

The first change A is the best single replay (replay.best_replay), with the strengths it read.
Clean sevens changed by A, at strengths drawn as the poor sevens' are, are the new clean sevens:
the candidates of the other families (candidates.py) are made again against them (a mark, a shift,
a grey-level map found between the poor sevens and A's replay), each walked after A and before it,

    C(x, v) = B(A(x, a), v)  or  A(B(x, v), a),   a drawn from A's spread, v read by B's reader,

and judged as every single change is. What A leaves is near the judge's 8-bit step, so here both
changes are read as the judge sees them (replay.visible): greys no screen shows (a blur's tails of
1e-6) would otherwise outweigh it in the moments and in B's reader. Two changes are named only
when they reach a higher confidence and completeness than A alone, and the fresh critic's z falls
by DIFFER_Z or more from A's: a second change that adds nothing, whose replay the critic tells
from the poor sevens less often by chance, is not named.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sevens.candidates import candidate_paths
from sevens.critic import DIFFER_Z
from sevens.replay import best_replay, confidence, draw_strengths, visible

SECOND_FAMILIES = 2  # second changes judged from the two families nearest by moments: a critic each
# Two paths of each: the mean difference's ink is nearest by moments whatever the change, and a mark
# drawn as it is comes close behind it (turn-and-mark, seed 1: 0.022 and 0.038).
PER_FAMILY = 2
RANK = {"unknown": 0, "partial": 1, "complete": 2}


def composed_path(first, first_strengths: dict, second, second_first: bool, seed: int):
    """A and B: A at strengths drawn from its spread (its own generator, so a replay repeats) and B
    at v, B after A, or before it when second_first (a turn and then a mark is not a mark and then
    a turn), rounded to the judge's 8 bits. Its family and kind are B's; its parameters both
    changes'."""
    rng = np.random.default_rng(seed)

    def apply(x, v):
        drawn = torch.as_tensor(draw_strengths(first_strengths, len(x), rng, first.continuous),
                                dtype=torch.float32)
        if second_first:
            both = first.apply(second.apply(x, v), drawn)
        else:
            both = second.apply(first.apply(x, drawn), v)
        return torch.as_tensor(visible(both.clamp(0.0, 1.0).numpy()))

    return dataclasses.replace(second, apply=apply,
                               parameters=first.parameters + second.parameters)


def with_second_change(named: dict, found, named_pair: tuple, evidence: dict, poor: np.ndarray,
                       sets: dict, seed: int, rng: np.random.Generator) -> tuple[dict, list]:
    """The named entry (with "first": A's entry when two changes are named) and the second
    changes' entries. found, named_pair, evidence, poor: as candidate_paths takes them; sets: as
    best_replay takes them."""
    first = named["path"]
    changed = first(evidence["fitting_clean"],
                    draw_strengths(named["strengths"], len(evidence["fitting_clean"]), rng,
                                   first.continuous))
    seconds = [path for path in candidate_paths(found, named_pair, evidence, poor, changed, seed)
               if path.family != first.family]  # another kind of change, not more of the same
    composed = [composed_path(first, named["strengths"], path, second_first, seed + 100 + k)
                for k, path in enumerate(seconds) for second_first in (False, True)]
    seen = {**sets, "poor": visible(sets["poor"])}  # the poor sevens' 8 bits, as the replays'
    best, entries = best_replay(composed, {}, seen, seed, rng,
                                judged=SECOND_FAMILIES * PER_FAMILY, per_family=PER_FAMILY)
    for entry in entries:
        entry["first"] = named
        entry["second_first"] = any(entry["path"] is path for path in composed[1::2])
    return (best, entries) if adds_to(named, best) else (named, entries)


def from_either_first(firsts: list, found, named_pair: tuple, evidence: dict, poor: np.ndarray,
                      sets: dict, seed: int, rng: np.random.Generator) -> tuple[dict, list]:
    """with_second_change from each first change (judged entries): the surest answer (confidence,
    then completeness) and every second change's entry. When no single change removes half of the
    difference, a critic tells every replay from the poor sevens almost always, so the best single
    one is a poor guide to the first change: the descriptors' own answer is tried too."""
    tried = [with_second_change(first, found, named_pair, evidence, poor, sets, seed, rng)
             for first in firsts]
    surest = max((named for named, _ in tried),
                 key=lambda entry: (RANK[confidence(entry)], entry["completeness"]))
    return surest, [entry for _, entries in tried for entry in entries]


def adds_to(first: dict, both: dict) -> bool:
    """Two changes are named over the first alone: a higher confidence, a higher completeness, and
    the fresh critic's z DIFFER_Z or more below the first's (a drop clear of the critics' noise: a
    critic trained on a faint change learns it at some draws and not at others)."""
    clearer = first["replay_critic_z"] - both["replay_critic_z"] >= DIFFER_Z
    return (RANK[confidence(both)] > RANK[confidence(first)] and clearer
            and both["completeness"] > first["completeness"])
