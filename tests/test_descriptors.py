"""sevens/changes.py and sevens/descriptors.py: the changes agree with scipy, each descriptor
recovers a known change of real sevens, and gives its null on unchanged ones."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import scipy.ndimage

from bench import effects
from default_data.sevens import affine_about_centre
from sevens.changes import affine_warp, gaussian_blur
from sevens.descriptors import (TONE_KNOTS, content_fit, descriptors, kernel_fit, null_fractions,
                                symmetry_fit, tone_fit, unrelated_pairs)
from sevens.image_checks import place
from sevens.verdict import EF_FLOOR, family_beyond_null
from tests.sevens_inputs import named, traversal

pytest_plugins = ["tests.sevens_fixtures"]  # real_sevens, traversal_sevens, described
torch.set_num_threads(1)  # small tensors: one thread is fastest, and the numbers do not vary


def both_ends(sevens):
    """Each seven twice, at the low and at the high end: (sources, side) of a traversal."""
    side = torch.tensor(np.repeat([0, 1], len(sevens)))
    return torch.tensor(np.concatenate([sevens, sevens])), side


# ---------------------------------------------------------------- the warps and blurs against scipy


def test_affine_warp_matches_scipys_bilinear_warp_about_the_centre(real_sevens):
    angle = np.deg2rad(25.0)
    matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) * 1.1
    expected = np.stack([affine_about_centre(image, matrix, offset_xy=(2.0, 1.5))
                         for image in real_sevens[:4]])
    ours = affine_warp(torch.tensor(real_sevens[:4], dtype=torch.float64),
                       torch.tensor(matrix).expand(4, 2, 2),
                       torch.tensor([[2.0, 1.5]], dtype=torch.float64).expand(4, 2)).numpy()
    # Where a sample falls just outside the image, scipy's constant mode gives 0 while grid_sample
    # blends the edge pixel with zero padding: they may differ on the outermost ring only.
    np.testing.assert_allclose(ours[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-6)


def test_gaussian_blur_matches_scipy(real_sevens):
    sigma = np.array([0.7, 1.5])
    images = real_sevens[:2].astype(np.float64)
    ours = gaussian_blur(torch.tensor(images), torch.tensor(sigma)).numpy()
    for image, value, blurred in zip(images, sigma, ours):
        expected = scipy.ndimage.gaussian_filter(image, value, mode="constant", truncate=6 / value)
        np.testing.assert_allclose(blurred, expected, atol=1e-9)


# ---------------------------------------------------------------- each descriptor on a known change


def test_tone_curve_recovers_a_known_piecewise_linear_curve(real_sevens):
    knots = np.linspace(0, 1, TONE_KNOTS)
    curve = np.sqrt(knots)[::-1] * 0.8 + 0.1  # falling, any shape
    sources, side = both_ends(real_sevens)
    targets = torch.tensor(np.interp(sources.numpy(), knots, curve).astype(np.float32))
    fraction, shape = tone_fit(sources, targets, side, float((targets - sources).pow(2).sum()))
    assert fraction > 0.999
    np.testing.assert_allclose(shape["curves"][0][[0, 8, 16]], curve[[0, 8, 16]], atol=0.02)


def test_kernel_fit_recovers_a_known_five_by_five_kernel(real_sevens):
    kernel = np.outer([1, 2, 3, 2, 1], [0, 1, 2, 1, 0]).astype(np.float32)
    kernel /= kernel.sum()
    sources, side = both_ends(real_sevens)
    targets = F.conv2d(sources.unsqueeze(1), torch.tensor(kernel)[None, None], padding=2).squeeze(1)
    fraction, filters = kernel_fit(sources, targets, side, float((targets - sources).pow(2).sum()))
    assert fraction > 0.99
    # conv2d is a correlation: a symmetric kernel here.
    np.testing.assert_allclose(filters[0][0], kernel, atol=0.02)


def test_content_fit_finds_ink_erased_in_a_band_of_rows(real_sevens):
    sources, targets, side = traversal(real_sevens, effects.erased_rows, 0.0, 0.0, 6.0)
    change = float(((targets - sources) ** 2).sum())
    fraction, added = content_fit(torch.tensor(sources), torch.tensor(targets), torch.tensor(side),
                                  change)
    assert fraction > 0.95
    # Nothing at the low end; erased at the high end.
    assert np.all(added[0] == 0) and added[1].min() == -1.0
    assert place(added[1]).startswith("rows 18-23, ")


def test_symmetry_fit_finds_the_mirror_at_one_end_only(real_sevens):
    sources, targets, side = traversal(real_sevens, effects.mirror, 0.0, 0.0, 1.0)
    s, t = torch.tensor(sources), torch.tensor(targets)
    fraction, maps = symmetry_fit(s, t, torch.tensor(side), float((t - s).pow(2).sum()))
    assert fraction == pytest.approx(1.0) and maps == ["identity", "mirror-left-right"]


def test_symmetry_fit_finds_a_mirror_between_the_ends_when_the_middle_is_a_blend(real_sevens):
    low, high = real_sevens, real_sevens[:, :, ::-1].copy()
    middle = 0.5 * (low + high)
    s, side = both_ends(middle)
    t = torch.tensor(np.concatenate([low, high]))
    fraction, maps = symmetry_fit(s, t, side, float((t - s).pow(2).sum()))
    assert fraction == pytest.approx(1.0) and maps == ["identity", "mirror-left-right"]


# ---------------------------------------------------------------- the null: unrelated pairs


def test_each_descriptor_on_unrelated_clean_sevens_gives_its_null_and_names_nothing(real_sevens):
    sources = np.concatenate([real_sevens[:8], real_sevens[:8]])
    # Other sevens, unchanged.
    targets = np.concatenate([real_sevens[8:], np.roll(real_sevens[8:], 1, 0)])
    side = np.repeat([0, 1], 8)
    found = descriptors(sources, targets, side)
    null = null_fractions([descriptors(*unrelated_pairs(sources, targets, side))])
    for family, fraction in found["fractions"].items():
        assert fraction < EF_FLOOR and abs(fraction - null[family]) < 0.1, (family, fraction,
                                                                              null[family])
    assert family_beyond_null(found["fractions"], null) == "unknown"


def test_unrelated_pairs_meet_each_source_with_another_sevens_target_at_the_same_end(
        traversal_sevens, described):
    sources, targets, side = traversal(traversal_sevens, effects.rotation, -20.0, 0.0, 20.0)
    same_sources, rolled, same_side = unrelated_pairs(sources, targets, side)
    assert same_sources is sources and same_side is side
    n = len(traversal_sevens)
    # Low end: row i meets row i - 1's target; high end: rolled by two.
    np.testing.assert_array_equal(rolled[1:n], targets[: n - 1])
    np.testing.assert_array_equal(rolled[n + 2 :], targets[n : 2 * n - 2])
    found = described(effects.rotation, -20.0, 0.0, 20.0)  # the same pairs
    rotation = named(found, nulls=[descriptors(sources, rolled, side)])
    assert rotation["effect_kind"] == "rotation" and rotation["explained_null"]["geometry"] < 0.95
