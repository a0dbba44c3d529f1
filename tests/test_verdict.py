"""sevens/verdict.py: a known change along a synthetic traversal of real sevens gets its family,
its kind and its size; a change its null explains as well, or no axis, is unknown."""

import numpy as np
import pytest
import torch

from bench import effects
from sevens.changes import KINDS
from sevens.descriptors import descriptors
from sevens.verdict import family_beyond_null, slope, verdict
from tests.sevens_inputs import named, traversal

pytest_plugins = ["tests.sevens_fixtures"]  # traversal_sevens, described
torch.set_num_threads(1)  # small tensors: one thread is fastest, and the numbers do not vary

KNOWN_KINDS = [  # (kind, the change of bench/effects.py (scipy), its size a, the slope it reads)
    ("rotation", effects.rotation, 20.0, 20.0),
    ("shear", effects.shear, 0.3, 0.3),
    ("scale", effects.scale, 0.2, 0.2),
    ("scale-x", effects.scale_x, 0.25, 0.25),
    ("translation-x", effects.translation_x, 3.0, 3.0),
    ("translation-y", effects.translation_y, -2.5, -2.5),
    ("contrast", lambda x, a: effects.contrast(x, np.exp(a)), -0.5, -0.5),
    ("gamma", effects.gamma, 0.7, 0.7),
]
CATEGORIES = [  # (effect of bench/effects.py, low, middle, high, family, kind)
    ("swirl", -1.2, 0.0, 1.2, "geometry", "non-rigid"),
    ("fog", 0.05, 0.25, 0.45, "tone", "background-grey"),
    ("threshold", 2.0, 8.0, 18.0, "tone", "grey-level-curve"),
    ("blur", 0.2, 1.0, 1.8, "filter", "blur"),
    ("motion-blur", 1.0, 3.0, 7.0, "filter", "directional-blur"),
    ("stroke-width", -0.5, 0.5, 1.5, "filter", "stroke-width"),
    ("crossbar", 0.0, 0.0, 1.0, "content", "ink-added"),
    ("corner-blob", 0.0, 0.0, 3.0, "content", "ink-added"),
    ("erased-rows", 0.0, 0.0, 6.0, "content", "ink-erased"),
    ("upside-down", 0.0, 0.0, 1.0, "symmetry", "half-turn"),
]


def bar_removed(image, amount):
    """The crossbar of bench/effects.py at darkness 1 - amount: a bar that the effect erases."""
    return effects.crossbar(image, 1.0 - amount)


@pytest.mark.parametrize("kind, change, size, slope_read", KNOWN_KINDS,
                         ids=[row[0] for row in KNOWN_KINDS])
def test_a_known_one_parameter_change_gets_its_family_kind_and_size(described, kind, change, size,
                                                                    slope_read):
    found = described(change, -size, 0.0, size)
    result = named(found)
    assert result["effect_kind"] == kind, result
    assert result["effect_family"] == KINDS[kind][0]
    assert slope(found["values"][kind], 2.0) == pytest.approx(slope_read, rel=0.15)


@pytest.mark.parametrize("effect, low, middle, high, family, kind", CATEGORIES,
                         ids=[row[0] for row in CATEGORIES])
def test_each_category_of_change_gets_its_family(described, effect, low, middle, high, family,
                                                 kind):
    result = named(described(effects.EFFECTS[effect][1], low, middle, high))
    assert (result["effect_family"], result["effect_kind"]) == (family, kind), result


@pytest.mark.parametrize("change, kind", [(effects.crossbar, "ink-added"),
                                          (bar_removed, "ink-erased")],
                         ids=["bar-added", "bar-erased"])
def test_ink_is_named_as_the_change_toward_the_high_end_when_only_the_low_end_shows_it(
        described, change, kind):
    result = named(described(change, 0.0, 1.0, 1.0))  # the middle and the high end alike
    assert (result["effect_family"], result["effect_kind"]) == ("content", kind), result
    sentence = result["effect_sentence"]
    assert "toward the high end" in sentence and "the low end)" in sentence


def test_a_change_its_null_explains_as_well_is_unknown(traversal_sevens, described):
    found = described(effects.rotation, -20.0, 0.0, 20.0)
    elsewhere = traversal(traversal_sevens[::-1].copy(), effects.rotation, -20.0, 0.0, 20.0)
    result = named(found, nulls=[descriptors(*elsewhere)])  # the same change, other sevens
    assert result["effect_family"] == "unknown" and "null" in result["effect_sentence"]


def test_the_simplest_family_wins_a_tie_and_nothing_below_the_floor_is_named():
    fractions = {"symmetry": 0.0, "geometry": 0.3, "tone": 0.97, "content": 0.9, "filter": 0.99}
    assert family_beyond_null(fractions, {}) == "tone"
    assert family_beyond_null({family: 0.4 for family in fractions}, {}) == "unknown"
    assert family_beyond_null(fractions, {"tone": 0.99, "filter": 0.5}) == "filter"


def test_no_axis_but_different_images_is_unknown_not_none():
    evidence = {"images_differ": True, "critic_accuracy": 0.7, "critic_z": 20.0, "noise": False,
                "mapped": False, "tone_only": False, "change_place": "rows 1-2, columns 3-4"}
    result = verdict(None, [], evidence, 0, 0.0, "no latent spreads")
    assert result["effect_family"] == "unknown" and "does not hold" in result["effect_sentence"]
    quiet = {**evidence, "images_differ": False, "critic_z": 0.3}
    assert verdict(None, [], quiet, 0, 0.0, "no latent spreads")["effect_family"] == "none"
