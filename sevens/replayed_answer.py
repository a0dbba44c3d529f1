"""What is named, and how sure is it? The answer that, done again on clean sevens, a fresh critic
cannot tell from the poor sevens.

The descriptors' verdict (verdict.py, cross_checks.py) decides which candidate is made first; every
candidate (candidates.py) is replayed and judged (replay.py); the simplest complete one is named.
When none is complete, a grey-level map per strength (grey_maps.py) is judged too where the change
is in the greys, and then a second change on top of the best (second_change.py).
effect_confidence: `complete` (the replay removes at least replay.COMPLETE_SHARE of what a critic
sees between poor and clean sevens), `partial` (at least replay.PARTIAL_SHARE: named with its
share) or `unknown` (the best replay removes less: the family is `unknown`, with where the change
lives). `none` needs no replay: the clean sevens themselves are its replay, and the first critic
already cannot tell them from the poor ones (complete). When the critic sees no difference but an
axis names a family, nothing can be replayed against: the name stands with confidence `unknown`;
so it does when the judge's own critic, on its fewer sevens, cannot tell the poor sevens from the
clean ones (a faint change: its z below DIFFER_Z), since then no replay can be judged.
"""

from __future__ import annotations

import numpy as np

from sevens.candidates import CANDIDATE_FLOOR, candidate_paths, only_greys, own_answers
from sevens.critic import DIFFER_Z
from sevens.grey_maps import grey_maps_path
from sevens.second_change import adds_to, from_either_first
from sevens.replay import (CALIBRATION_SEVENS, JUDGE_SEVENS, REGRESSION_SEVENS, baseline_test,
                           best_replay, confidence, figure_examples, percentiles)

REPLAY_KEYS = ("replay_critic_accuracy", "replay_critic_z", "completeness", "effect_confidence")
WORDS_PERCENTILES = (5, 95)  # a replayed strength is quoted from its 5th to its 95th percentile


def replayed_answer(result: dict, found, evidence: dict, poor: np.ndarray, readers: dict,
                    seed: int, rng: np.random.Generator) -> tuple[dict, dict | None]:
    """The answer named by the replay, from the descriptors' result, their fits along the axis
    (found, or None), the images' evidence, the poor sevens (N, 28, 28) and the readers (name ->
    (read, the poor sevens' readings)); and replay.png's images (None without a replay)."""
    described = {"descriptor_family": result["effect_family"],
                 "descriptor_kind": result["effect_kind"],
                 "descriptor_sentence": result["effect_sentence"]}
    if result["effect_family"] == "none" or not evidence["images_differ"]:
        return unreplayed(result, described, "complete" if result["effect_family"] == "none"
                          else "unknown"), None
    fitting = evidence["fitting_clean"]
    # Each path's reader is fitted on other clean sevens than R(v) is read on, unless there are
    # too few (a small data set: then on the same).
    others = fitting[CALIBRATION_SEVENS:] if len(fitting) >= 2 * CALIBRATION_SEVENS else fitting
    sets = {"poor": poor[rng.permutation(len(poor))[:JUDGE_SEVENS]],
            "clean": evidence["held_out_clean"][:JUDGE_SEVENS],
            "calibration": fitting[:CALIBRATION_SEVENS], "regression": others[:REGRESSION_SEVENS]}
    sets["baseline"] = baseline = baseline_test(sets["poor"], sets["clean"], seed)  # once a run
    if baseline["critic_z"] < DIFFER_Z:  # the judge does not see the change: it judges nothing
        return unreplayed(result, described, "unknown", (
            f"{result['effect_sentence']}; not replayed: the replay's critic tells the poor sevens "
            f"from the clean ones at only {100 * baseline['critic_accuracy']:.1f}% (z "
            f"{baseline['critic_z']:.1f} < {DIFFER_Z:.0f}), so no replay can be judged")), None
    named_pair = (result["effect_family"], result["effect_kind"])
    candidates = candidate_paths(found, named_pair, evidence, poor, fitting, seed)
    own = own_answers(candidates, named_pair, found)
    named, entries = best_replay(candidates, readers, sets, seed, rng, own)
    if confidence(named) != "complete":  # a richer fit than the moments rank
        named, richer = with_grey_maps(named, found, evidence, poor, readers, sets, seed, rng)
        entries += richer
    if confidence(named) != "complete":  # a second change on top of the best one
        firsts = first_changes(named, entries, own, found)
        named, seconds = from_either_first(firsts, found, named_pair, evidence, poor, sets, seed,
                                           rng)
        entries += seconds
    figure = figure_examples(named, poor, named["strengths"]["modes"], sets["clean"])
    judged = [judged_record(entry) for entry in entries if "completeness" in entry]
    return {**result, **described, **named_words(named, evidence),
            "replay_candidates": judged}, figure


def with_grey_maps(named: dict, found, evidence: dict, poor: np.ndarray, readers: dict,
                   sets: dict, seed: int, rng: np.random.Generator) -> tuple[dict, list]:
    """When no candidate is complete, an axis spreads and the change is in the greys (tone explains
    CANDIDATE_FLOOR along the axis, or the grey ranks hide it on the images): a grey-level map per
    strength bin of the axis reading (grey_maps.py), judged whatever its moments (a map that folds
    greys back matches the mean image only once it is right). It is named over the best candidate
    as a second change is (second_change.adds_to): a higher confidence, and the fresh critic's z
    lower by DIFFER_Z. Returns the named entry and the maps' entries."""
    in_greys = found is not None and (found["fractions"]["tone"] >= CANDIDATE_FLOOR
                                      or only_greys(evidence))
    if "axis" not in readers or not in_greys:
        return named, []
    maps = grey_maps_path(poor, evidence["fitting_clean"], readers["axis"][1])
    best, entries = best_replay([maps], readers, sets, seed, rng, judged=1)
    return (best if adds_to(named, best) else named), entries


def first_changes(named: dict, entries: list, own: list, found) -> list:
    """The first changes a second one is tried on: the named entry and, when it is `unknown`, the
    descriptors' answer read along the axis (or, without an axis read, its most complete judged
    entry when that is another path), and the most complete judged entry of the family explaining
    most along the axis, read along it. The axis holds one change's strength even where a second
    change throws the readers of the images off (contrast read on blurred sevens) or leaves a
    critic at 100% whatever the first (a turn and a mark)."""
    if confidence(named) != "unknown":
        return [named]
    judged = [entry for entry in entries if "completeness" in entry]
    own_entries = [entry for entry in judged if own and entry["path"] is own[0]]
    own_along = [entry for entry in own_entries if entry.get("reader") == "axis"]
    axis_family = None if found is None else max(found["fractions"], key=found["fractions"].get)
    axis_entries = [entry for entry in judged if entry.get("reader") == "axis"
                    and entry["path"].family == axis_family]
    firsts = [named]
    if own_along and own_along[0] is not named:  # the same path, other strengths than named's
        firsts.append(own_along[0])
    for chosen in ([] if own_along else own_entries, axis_entries):
        chosen = [entry for entry in chosen
                  if all(entry["path"] is not first["path"] for first in firsts)]
        if chosen:
            firsts.append(max(chosen, key=lambda entry: entry["completeness"]))
    return firsts


def unreplayed(result: dict, described: dict, sure: str, sentence: str | None = None) -> dict:
    """The descriptors' answer as it stands, nothing replayed: its confidence (and sentence)."""
    return {**result, **described, **dict.fromkeys(REPLAY_KEYS[:3]), "effect_confidence": sure,
            "effect_sentence": sentence or result["effect_sentence"], "second_family": None,
            "second_kind": None, "replay_candidates": []}


def judged_record(entry: dict) -> dict:
    """What metrics.json keeps of a judged candidate: which change, read how, and its verdict."""
    after = entry.get("first")
    return {"family": entry["path"].family, "kind": entry["path"].kind, "reader": entry["reader"],
            "after": None if after is None else f"{after['path'].family}/{after['path'].kind}",
            "moment_distance": entry["distance"], "completeness": entry["completeness"],
            "replay_critic_accuracy": entry["replay_critic_accuracy"],
            "replay_critic_z": entry["replay_critic_z"]}


def named_words(named: dict, evidence: dict) -> dict:
    """effect_family, _kind, _sentence and the replay's keys of the named entry."""
    path, sure = named["path"], confidence(named)
    strengths = named["strengths"]
    if path.family == "symmetry":
        share = strengths["weights"][strengths["grid"] >= 0.5].sum()
        words = f"a {path.kind} of {100 * share:.0f}% of the sevens"
    else:
        words = path.words(percentiles(strengths, WORDS_PERCENTILES))
    judged = (f"replayed on clean sevens (strengths read by the {named['reader']}, 5th to 95th "
              f"percentile), a critic tells them from the poor sevens at "
              f"{100 * named['replay_critic_accuracy']:.1f}% (chance 50%; the clean sevens as "
              f"they are: {100 * named['baseline_accuracy']:.1f}%): completeness "
              f"{named['completeness']:.2f}")
    family, kind = path.family, path.kind
    second = {"second_family": None, "second_kind": None}
    if "first" in named:  # two changes: the first one's words, then the second's
        first = named["first"]
        second = {"second_family": family, "second_kind": kind}
        first_words = first["path"].words(percentiles(first["strengths"], WORDS_PERCENTILES))
        words = (f"{words}, then {first_words}" if named["second_first"] else
                 f"{first_words}, then {family} ({kind}): {words}")
        family, kind = first["path"].family, first["path"].kind
    if sure == "complete":
        sentence = f"{family} ({kind}): {words}; {judged}"
    elif sure == "partial":
        sentence = (f"{family} ({kind}), partial: {words}; {judged}, so it explains "
                    f"{100 * named['completeness']:.0f}% of the difference, not all of it")
    else:
        sentence = (f"unknown: no change replayed on clean sevens removes half of what a critic "
                    f"sees (the best, {family} ({kind}), {words}; {judged}); the change lives in "
                    f"{evidence['change_place']}")
        family = kind = "unknown"
    if sure == "unknown":
        second = dict.fromkeys(second)
    return {"effect_family": family, "effect_kind": kind, "effect_sentence": sentence, **second,
            "named_on": "axis" if named["reader"] == "axis" else "images",
            "effect_confidence": sure, "completeness": named["completeness"],
            "replay_critic_accuracy": named["replay_critic_accuracy"],
            "replay_critic_z": named["replay_critic_z"]}

