"""sevens/cross_checks.py: the named change, applied to other sevens, is the change fitted; a name
whose change the critic does not see in the poor sevens becomes unknown; and the images name a
filter or content only when the axis names nothing."""

import numpy as np
import pytest
import torch

from bench import effects
from sevens.critic import separation
from sevens.cross_checks import (REPRODUCED_SHARE, content_on_images, cross_check,
                                 filter_on_images, reproduce)
from sevens.descriptors import descriptors
from sevens.mnist import load_mnist_sevens
from sevens.verdict import verdict
from tests.sevens_inputs import DIFFERING, TRAVERSAL_ROWS, traversal

pytest_plugins = ["tests.sevens_fixtures"]  # many_sevens, described, changed_evidence
torch.set_num_threads(1)  # small tensors: one thread is fastest, and the numbers do not vary
UNKNOWN = {"effect_family": "unknown", "effect_kind": "unknown", "effect_sentence": "",
           "named_on": "axis"}
# (family, kind, effect, low, middle, high): the change from the middle to the high end.
REPRODUCED = [
    ("geometry", "rotation", effects.rotation, -20.0, 0.0, 20.0),
    ("tone", "gamma", effects.gamma, -0.7, 0.0, 0.7),
    ("filter", "blur", effects.blur, 0.0, 0.0, 1.5),
    ("content", "ink-added", effects.crossbar, 0.0, 0.0, 1.0),
    ("symmetry", "mirror-left-right", effects.mirror, 0.0, 0.0, 1.0),
]


def test_separation_is_two_auc_minus_one_counted_pair_by_pair():
    rng = np.random.default_rng(3)
    scores = rng.normal(0.7, 1.0, 40)
    clean = np.round(rng.normal(0.0, 1.0, 30), 1)  # ties counted half
    pairs = (scores[:, None] > clean[None, :]) + 0.5 * (scores[:, None] == clean[None, :])
    assert separation(scores, clean) == pytest.approx(2 * pairs.mean() - 1)
    assert separation(clean, clean) == pytest.approx(0.0)


@pytest.mark.parametrize("family, kind, effect, low, middle, high", REPRODUCED,
                         ids=[row[1] for row in REPRODUCED])
def test_the_named_change_is_applied_to_other_sevens_as_fitted(described, family, kind, effect,
                                                               low, middle, high):
    found = described(effect, low, middle, high)
    others = (load_mnist_sevens()["test"][100:108] / 255.0).astype(np.float32)
    expected = np.stack([np.clip(effect(image, high), 0, 1) for image in others])
    error = np.sum((reproduce(family, kind, found, others) - expected) ** 2)
    assert error < 0.1 * np.sum((others - expected) ** 2)


def test_a_name_whose_change_the_critic_does_not_see_in_the_poor_sevens_becomes_unknown(
        many_sevens, changed_evidence):
    evidence = changed_evidence("rotation")[2]  # poor sevens turned by up to 60 degrees either way
    sevens = many_sevens[:TRAVERSAL_ROWS]
    right = traversal(sevens, effects.rotation, 0.0, 15.0, 30.0)
    wrong = traversal(sevens, effects.scale, 0.0, 0.1, 0.2)  # a zoom the critic hardly sees
    for pairs, family in ((right, "geometry"), (wrong, "unknown")):
        found = descriptors(*pairs)
        result = cross_check(verdict(found, [], evidence, 0, 2.0, "z0 spreads"), found, evidence)
        assert result["effect_family"] == family, result
    assert result["critic_reproduced"] < REPRODUCED_SHARE
    assert "look changed" in result["effect_sentence"]


# ---------------------------------------------------------------- still unknown: the images name it


def test_the_images_name_a_filter_only_when_the_axis_names_nothing():
    evidence = {**DIFFERING, "filter_only": True, "coarse_critic_accuracy": 0.51,
                "coarse_critic_z": 0.4, "fine_detail_gain": 1.4, "ink_mass_ratio": 1.02}
    assert filter_on_images(UNKNOWN, evidence)["effect_kind"] == "sharpening"
    for mass, gain, kind, word in ((1.6, 1.1, "stroke-width", "thicker"),
                                   (0.7, 0.9, "stroke-width", "thinner"),
                                   (1.0, 0.4, "blur", "0.40x")):
        result = filter_on_images(UNKNOWN, {**evidence, "ink_mass_ratio": mass,
                                            "fine_detail_gain": gain})
        named = (result["effect_family"], result["effect_kind"], result["named_on"])
        assert named == ("filter", kind, "images")
        assert word in result["effect_sentence"]
    geometry = {**UNKNOWN, "effect_family": "geometry", "effect_kind": "rotation"}
    assert filter_on_images(geometry, evidence) == geometry  # an axis that names a family keeps it
    assert filter_on_images(UNKNOWN, {**evidence, "filter_only": False}) == UNKNOWN


def test_the_images_name_content_only_when_the_axis_names_nothing():
    evidence = {**DIFFERING, "content_only": True, "content_pixels": 26,
                "content_place": "rows 14-15, columns 8-20", "content_ink": -9.0,
                "masked_critic_accuracy": 0.48, "masked_critic_z": -1.0}
    result = content_on_images(UNKNOWN, evidence)
    named = (result["effect_family"], result["effect_kind"], result["named_on"])
    assert named == ("content", "ink-erased", "images")
    sentence = result["effect_sentence"]
    assert "rows 14-15, columns 8-20" in sentence and "9.0 less ink" in sentence
    geometry = {**UNKNOWN, "effect_family": "geometry", "effect_kind": "rotation"}
    assert content_on_images(geometry, evidence) == geometry
    assert content_on_images(UNKNOWN, {**evidence, "content_only": False}) == UNKNOWN
    assert content_on_images(UNKNOWN, {**evidence, "images_differ": False}) == UNKNOWN
