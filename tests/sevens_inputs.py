"""Inputs shared by the tests of sevens/: synthetic traversals, changed sevens and the checks on
the images through a given one (the fixtures that compute each once are in sevens_fixtures.py)."""

import numpy as np

from bench import effects
from sevens.critic import two_sample_test
from sevens.image_checks import checks_in_order, place
from sevens.verdict import verdict

# Sevens per synthetic traversal, all changed alike: with 4, every named kind still explains 99%
# of the change and reads its size within 1%.
TRAVERSAL_ROWS = 4
CHANGED_ROWS = 1200  # changed and clean sevens per check on the images: at 600, z falls short
# Changed training sevens that several tests read:
# name -> (change of bench/effects.py, its range, the seed of its draws, the last check read).
CHANGED = {
    "rotation": (effects.rotation, -60.0, 60.0, 1, "filter"),
    "mirror": (effects.mirror, 0.0, 1.0, 5, "map"),
    "upside-down": (effects.upside_down, 0.0, 1.0, 5, "map"),
    "translation-x": (effects.translation_x, -6.0, 6.0, 6, "map"),
    "gamma": (effects.gamma, np.log(2.0), np.log(4.0), 7, "filter"),
    "threshold": (effects.threshold, 1.0, 20.0, 7, "filter"),
    "sharpen": (effects.sharpen, 0.0, 3.0, 7, "filter"),
    "stroke-width": (effects.stroke_width, 0.5, 1.8, 7, "filter"),
}
# What the critic says of images that differ.
DIFFERING = {"images_differ": True, "critic_accuracy": 0.9, "critic_z": 30.0, "noise": False,
             "mapped": False, "tone_only": False, "change_place": "rows 0-27, columns 0-27"}


def traversal(sevens, change, low, middle, high):
    """Synthetic decoded pairs: sources at `middle`, targets at `low` and `high` (as
    along_axis.axis_pairs)."""
    def apply(value):
        changed = [np.clip(change(image, value), 0, 1) for image in sevens]
        return np.stack(changed).astype(np.float32)

    sources = apply(middle)
    targets = np.concatenate([apply(low), apply(high)])
    return np.concatenate([sources, sources]), targets, np.repeat([0, 1], len(sevens))


def named(found, span=2.0, nulls=()):
    """The verdict on descriptors `found` of images that differ."""
    return verdict(found, list(nulls), DIFFERING, 0, span, "z0 spreads")


def changed_sevens(many_sevens, change, low, high, rng):
    """The first CHANGED_ROWS sevens, each changed by a value drawn uniformly in [low, high], and
    the values."""
    values = rng.uniform(low, high, CHANGED_ROWS)
    changed = [np.clip(change(image, value), 0, 1) for image, value in zip(many_sevens, values)]
    return np.stack(changed).astype(np.float32), values


def evidence_through(poor, clean, rng, last: str) -> dict:
    """image_checks.evidence_from_images's checks in its order (checks_in_order), so with the same
    draws, through the one named `last`: the keys a test reads, without the critics it does not."""
    test = two_sample_test(poor, clean, rng)
    evidence = {**test, "change_place": place(test["mean_difference"])}
    for name, check in checks_in_order(poor, clean, test, rng):
        evidence.update(check())
        if name == last:
            return evidence
    raise ValueError(f"no check named {last!r}")
