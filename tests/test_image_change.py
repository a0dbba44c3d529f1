"""image_change.py: each descriptor recovers a known change of real sevens and gives its null on unchanged ones."""

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F

from sevens import image_change as ic
from bench import effects
from default_data.sevens import affine_about_centre
from sevens.mnist import load_mnist_sevens
torch.set_num_threads(1)  # small tensors: one thread is fastest, and the numbers do not depend on the cores


@pytest.fixture(scope="module")
def real_sevens():
    return (load_mnist_sevens()["test"][:16] / 255.0).astype(np.float32)


@pytest.fixture(scope="module")
def many_sevens():
    return (load_mnist_sevens()["train"][:2400] / 255.0).astype(np.float32)


def traversal(sevens, change, low, middle, high):
    """Synthetic decoded pairs: sources at `middle`, targets at `low` and `high` (as image_change.axis_pairs)."""
    def apply(value):
        return np.stack([np.clip(change(image, value), 0, 1) for image in sevens]).astype(np.float32)

    sources = apply(middle)
    return np.concatenate([sources, sources]), np.concatenate([apply(low), apply(high)]), np.repeat([0, 1], len(sevens))


DIFFERING = {"images_differ": True, "critic_accuracy": 0.9, "critic_z": 30.0, "noise": False, "mapped": False,
             "tone_only": False,
             "change_place": "rows 0-27, columns 0-27"}  # what the critic says of images that differ


def named(pairs, span=2.0, nulls=()):
    return ic.verdict(ic.descriptors(*pairs), list(nulls), DIFFERING, 0, span, "z0 spreads")


# ---------------------------------------------------------------- the warps and blurs against scipy


def test_affine_warp_matches_scipys_bilinear_warp_about_the_centre(real_sevens):
    angle = np.deg2rad(25.0)
    matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) * 1.1
    expected = np.stack([affine_about_centre(image, matrix, offset_xy=(2.0, 1.5)) for image in real_sevens[:4]])
    ours = ic.affine_warp(torch.tensor(real_sevens[:4], dtype=torch.float64), torch.tensor(matrix).expand(4, 2, 2),
                          torch.tensor([[2.0, 1.5]], dtype=torch.float64).expand(4, 2)).numpy()
    # Where a sample falls just outside the image, scipy's constant mode gives 0 while grid_sample blends the
    # edge pixel with zero padding: they may differ on the outermost ring only.
    np.testing.assert_allclose(ours[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-6)


def test_gaussian_blur_matches_scipy(real_sevens):
    sigma = np.array([0.7, 1.5])
    images = real_sevens[:2].astype(np.float64)
    ours = ic.gaussian_blur(torch.tensor(images), torch.tensor(sigma)).numpy()
    for image, value, blurred in zip(images, sigma, ours):
        expected = scipy.ndimage.gaussian_filter(image, value, mode="constant", truncate=6 / value)
        np.testing.assert_allclose(blurred, expected, atol=1e-9)


# ---------------------------------------------------------------- each descriptor on a known change


def test_tone_curve_recovers_a_known_piecewise_linear_curve(real_sevens):
    knots = np.linspace(0, 1, ic.TONE_KNOTS)
    curve = np.sqrt(knots)[::-1] * 0.8 + 0.1  # falling, any shape
    sources = torch.tensor(np.concatenate([real_sevens, real_sevens]))
    targets = torch.tensor(np.interp(sources.numpy(), knots, curve).astype(np.float32))
    side = torch.tensor(np.repeat([0, 1], len(real_sevens)))
    fraction, shape = ic.tone_fit(sources, targets, side, float((targets - sources).pow(2).sum()))
    assert fraction > 0.999
    np.testing.assert_allclose(shape["curves"][0][[0, 8, 16]], curve[[0, 8, 16]], atol=0.02)


def test_kernel_fit_recovers_a_known_five_by_five_kernel(real_sevens):
    kernel = np.outer([1, 2, 3, 2, 1], [0, 1, 2, 1, 0]).astype(np.float32)
    kernel /= kernel.sum()
    sources = torch.tensor(np.concatenate([real_sevens, real_sevens]))
    targets = F.conv2d(sources.unsqueeze(1), torch.tensor(kernel)[None, None], padding=2).squeeze(1)
    side = torch.tensor(np.repeat([0, 1], len(real_sevens)))
    fraction, filters = ic.kernel_fit(sources, targets, side, float((targets - sources).pow(2).sum()))
    assert fraction > 0.99
    np.testing.assert_allclose(filters[0][0], kernel, atol=0.02)  # conv2d is a correlation: symmetric kernel here


def test_content_fit_finds_ink_erased_in_a_band_of_rows(real_sevens):
    sources, targets, side = traversal(real_sevens, effects.erased_rows, 0.0, 0.0, 6.0)
    change = float(((targets - sources) ** 2).sum())
    fraction, added = ic.content_fit(torch.tensor(sources), torch.tensor(targets), torch.tensor(side), change)
    assert fraction > 0.95
    assert np.all(added[0] == 0) and added[1].min() == -1.0  # nothing at the low end; erased at the high end
    assert ic.place(added[1]).startswith("rows 18-23, ")


def test_symmetry_fit_finds_the_mirror_at_one_end_only(real_sevens):
    sources, targets, side = traversal(real_sevens, effects.mirror, 0.0, 0.0, 1.0)
    s, t = torch.tensor(sources), torch.tensor(targets)
    fraction, maps = ic.symmetry_fit(s, t, torch.tensor(side), float((t - s).pow(2).sum()))
    assert fraction == pytest.approx(1.0) and maps == ["identity", "mirror-left-right"]


def test_symmetry_fit_finds_a_mirror_between_the_ends_when_the_middle_is_a_blend(real_sevens):
    low, high = real_sevens, real_sevens[:, :, ::-1].copy()
    middle = 0.5 * (low + high)
    s = torch.tensor(np.concatenate([middle, middle]))
    t = torch.tensor(np.concatenate([low, high]))
    side = torch.tensor(np.repeat([0, 1], len(real_sevens)))
    fraction, maps = ic.symmetry_fit(s, t, side, float((t - s).pow(2).sum()))
    assert fraction == pytest.approx(1.0) and maps == ["identity", "mirror-left-right"]


def test_grey_histogram_counts_the_inked_pixels_as_numpy_does(real_sevens):
    ours = ic.grey_histogram(torch.tensor(real_sevens[:3])).numpy() * 784 / 10.0
    for image, counts in zip(real_sevens[:3], ours):
        inked = image[image > 0]
        expected = np.histogram(np.ceil(inked * ic.GREY_BINS), bins=np.arange(0.5, ic.GREY_BINS + 1))[0]
        np.testing.assert_allclose(counts, expected)


# ---------------------------------------------------------------- the verdict on synthetic traversals


KNOWN_KINDS = [  # (kind, the change applied by bench/effects.py (scipy), its size a, the slope it should read)
    ("rotation", effects.rotation, 20.0, 20.0),
    ("shear", effects.shear, 0.3, 0.3),
    ("scale", effects.scale, 0.2, 0.2),
    ("scale-x", effects.scale_x, 0.25, 0.25),
    ("translation-x", effects.translation_x, 3.0, 3.0),
    ("translation-y", effects.translation_y, -2.5, -2.5),
    ("contrast", lambda x, a: effects.contrast(x, np.exp(a)), -0.5, -0.5),
    ("gamma", effects.gamma, 0.7, 0.7),
]


@pytest.mark.parametrize("kind, change, size, slope", KNOWN_KINDS, ids=[row[0] for row in KNOWN_KINDS])
def test_a_known_one_parameter_change_gets_its_family_kind_and_size(real_sevens, kind, change, size, slope):
    pairs = traversal(real_sevens, change, -size, 0.0, size)
    result = named(pairs)
    assert result["effect_kind"] == kind, result
    assert result["effect_family"] == ic.KINDS[kind][0]
    found = ic.descriptors(*pairs)
    assert ic.slope(found["values"][kind], 2.0) == pytest.approx(slope, rel=0.15)


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


@pytest.mark.parametrize("effect, low, middle, high, family, kind", CATEGORIES, ids=[row[0] for row in CATEGORIES])
def test_each_category_of_change_gets_its_family(real_sevens, effect, low, middle, high, family, kind):
    result = named(traversal(real_sevens, effects.EFFECTS[effect][1], low, middle, high))
    assert (result["effect_family"], result["effect_kind"]) == (family, kind), result


def bar_removed(image, amount):
    """The crossbar of bench/effects.py at darkness 1 - amount: a bar that the effect erases."""
    return effects.crossbar(image, 1.0 - amount)


@pytest.mark.parametrize("change, kind", [(effects.crossbar, "ink-added"), (bar_removed, "ink-erased")],
                         ids=["bar-added", "bar-erased"])
def test_ink_is_named_as_the_change_toward_the_high_end_when_only_the_low_end_shows_it(real_sevens, change, kind):
    result = named(traversal(real_sevens, change, 0.0, 1.0, 1.0))  # the middle and the high end alike
    assert (result["effect_family"], result["effect_kind"]) == ("content", kind), result
    assert "toward the high end" in result["effect_sentence"] and "the low end)" in result["effect_sentence"]


def test_a_change_its_null_explains_as_well_is_unknown(real_sevens):
    pairs = traversal(real_sevens, effects.rotation, -20.0, 0.0, 20.0)
    same_change_elsewhere = ic.descriptors(*traversal(real_sevens[::-1].copy(), effects.rotation, -20.0, 0.0, 20.0))
    result = named(pairs, nulls=[same_change_elsewhere])
    assert result["effect_family"] == "unknown" and "null" in result["effect_sentence"]


def test_each_descriptor_on_unrelated_clean_sevens_gives_its_null_and_names_nothing(real_sevens):
    sources = np.concatenate([real_sevens[:8], real_sevens[:8]])
    targets = np.concatenate([real_sevens[8:], np.roll(real_sevens[8:], 1, 0)])  # other sevens, unchanged
    side = np.repeat([0, 1], 8)
    found = ic.descriptors(sources, targets, side)
    null = ic.null_fractions([ic.descriptors(*ic.unrelated_pairs(sources, targets, side))])
    for family, fraction in found["fractions"].items():
        assert fraction < ic.EF_FLOOR and abs(fraction - null[family]) < 0.1, (family, fraction, null[family])
    assert ic.family_beyond_null(found["fractions"], null) == "unknown"


def test_unrelated_pairs_meet_each_source_with_another_sevens_target_at_the_same_end(real_sevens):
    sources, targets, side = traversal(real_sevens, effects.rotation, -20.0, 0.0, 20.0)
    same_sources, rolled, same_side = ic.unrelated_pairs(sources, targets, side)
    assert same_sources is sources and same_side is side
    n = len(real_sevens)
    np.testing.assert_array_equal(rolled[1:n], targets[: n - 1])  # low end: row i meets row i - 1's target
    np.testing.assert_array_equal(rolled[n + 2 :], targets[n : 2 * n - 2])  # high end: rolled by two
    rotation = named((sources, targets, side), nulls=[ic.descriptors(sources, rolled, side)])
    assert rotation["effect_kind"] == "rotation" and rotation["explained_null"]["geometry"] < 0.95


def test_the_simplest_family_wins_a_tie_and_nothing_below_the_floor_is_named():
    fractions = {"symmetry": 0.0, "geometry": 0.3, "tone": 0.97, "content": 0.9, "filter": 0.99}
    assert ic.family_beyond_null(fractions, {}) == "tone"
    assert ic.family_beyond_null({family: 0.4 for family in fractions}, {}) == "unknown"
    assert ic.family_beyond_null(fractions, {"tone": 0.99, "filter": 0.5}) == "filter"


# ---------------------------------------------------------------- the model-free check


def test_two_halves_of_the_clean_sevens_do_not_differ_and_have_no_noise(many_sevens):
    rng = np.random.default_rng(0)
    evidence = ic.evidence_from_images(many_sevens[:1200], many_sevens[1200:], rng)
    assert not evidence["images_differ"] and abs(evidence["critic_z"]) < ic.DIFFER_Z
    assert not evidence["noise"] and evidence["share_changed"] < 0.1


def test_the_critic_sees_a_rotation_and_the_roughness_sees_noise(many_sevens):
    rng = np.random.default_rng(1)
    angles = rng.uniform(-60, 60, 1200)
    rotated = np.stack([effects.rotation(image, angle) for image, angle in
                        zip(many_sevens[:1200], angles)]).astype(np.float32)
    evidence = ic.evidence_from_images(rotated, many_sevens[1200:], rng)
    assert evidence["images_differ"] and evidence["critic_accuracy"] > 0.7 and not evidence["noise"]
    # It scores every poor seven, in their order: the further turned, the more changed a seven looks.
    assert evidence["critic_scores"].shape == (1200,)
    assert scipy.stats.spearmanr(np.abs(angles), evidence["critic_scores"]).statistic > 0.5
    noisy = np.clip(many_sevens[:1200] + 0.2 * rng.standard_normal(many_sevens[:1200].shape), 0, 1)
    assert ic.noise_check(noisy.astype(np.float32), many_sevens[1200:], rng)["noise"]


@pytest.mark.parametrize("effect, flipped, expected", [
    ("mirror", effects.mirror, "mirror-left-right"), ("upside-down", effects.upside_down, "half-turn")])
def test_the_map_check_names_the_map_that_made_half_of_the_sevens(many_sevens, effect, flipped, expected):
    rng = np.random.default_rng(5)
    mapped = np.stack([flipped(image, value) for image, value in
                       zip(many_sevens[:1200], rng.uniform(0, 1, 1200))]).astype(np.float32)
    evidence = ic.evidence_from_images(mapped, many_sevens[1200:], rng)
    assert evidence["mapped"] and evidence["square_map"] == expected
    result = ic.verdict(None, [], evidence, 0, 0.0, "no latent spreads")
    assert (result["effect_family"], result["effect_kind"]) == ("symmetry", expected)


def test_the_map_check_takes_neither_a_shift_nor_a_turn_for_a_map_of_the_square(many_sevens):
    rng = np.random.default_rng(6)
    for change, low, high in ((effects.translation_x, -6.0, 6.0), (effects.rotation, -60.0, 60.0)):
        moved = np.stack([change(image, value) for image, value in
                          zip(many_sevens[:1200], rng.uniform(low, high, 1200))]).astype(np.float32)
        evidence = ic.evidence_from_images(moved, many_sevens[1200:], rng)
        # A turn of up to 60 degrees is taken for a quarter turn or a mirror by 16-36% of its changed sevens
        # (six seeds, 1200 vs 1200), under the MAPPED_SHARE of 50% that names a map.
        assert evidence["images_differ"] and not evidence["mapped"], (evidence["square_map"], evidence["mapped_share"])


def test_grey_ranks_are_kept_by_an_increasing_curve_and_changed_by_a_blur(many_sevens):
    sevens = many_sevens[:50]
    ranks = ic.grey_ranks(sevens)
    brute = np.stack([[np.sum(x < v) + (np.sum(x == v) + 1) / 2 for v in x] for x in sevens.reshape(50, -1)])
    np.testing.assert_allclose(ranks.reshape(50, -1), brute / 784, atol=1e-6)
    np.testing.assert_array_equal(ic.grey_ranks(0.1 + 0.8 * sevens**2.5), ranks)
    assert not np.allclose(ic.grey_ranks(scipy.ndimage.gaussian_filter(sevens, (0, 1, 1))), ranks)


@pytest.mark.parametrize("change, low, high, only_greys, only_fine, family, kind", [
    (effects.gamma, np.log(2.0), np.log(4.0), True, True, "tone", "grey-level-curve"),
    (effects.threshold, 1.0, 20.0, True, True, "tone", "grey-level-curve"),
    (effects.rotation, -60.0, 60.0, False, False, "unknown", "unknown"),
    (effects.sharpen, 0.0, 3.0, False, True, "filter", "sharpening"),
    (effects.stroke_width, 0.5, 1.8, False, True, "filter", "stroke-width")])
def test_the_tone_and_filter_checks_see_when_only_the_greys_or_the_fine_detail_changed(
        many_sevens, change, low, high, only_greys, only_fine, family, kind):
    rng = np.random.default_rng(7)
    changed = np.stack([np.clip(change(image, value), 0, 1) for image, value in
                        zip(many_sevens[:1200], rng.uniform(low, high, 1200))]).astype(np.float32)
    evidence = ic.evidence_from_images(changed, many_sevens[1200:], rng)
    assert evidence["images_differ"] and evidence["tone_only"] == only_greys, evidence["ranked_critic_z"]
    assert evidence["filter_only"] == only_fine, evidence["coarse_critic_z"]
    # With no axis, the images alone name it: the greys first (a curve keeps the coarse image too), then the detail.
    result = ic.filter_on_images(ic.verdict(None, [], evidence, 0, 0.0, "no latent spreads"), evidence)
    assert (result["effect_family"], result["effect_kind"]) == (family, kind), result["effect_sentence"]
    assert result["named_on"] == ("axis" if family == "unknown" else "images")


@pytest.mark.parametrize("change, low, high, only_content, kind", [
    (effects.crossbar, 0.2, 1.0, True, "ink-added"),
    (effects.erased_rows, 2.0, 6.0, True, "ink-erased"),
    (effects.rotation, -20.0, 20.0, False, "unknown"),
    (effects.stroke_width, 0.5, 1.8, False, "unknown")])  # thicker strokes: a change of every stroke's edge
def test_the_content_check_sees_when_the_whole_change_lives_in_a_few_pixels(many_sevens, change, low, high,
                                                                             only_content, kind):
    rng = np.random.default_rng(7)
    changed = np.stack([np.clip(change(image, value), 0, 1) for image, value in
                        zip(many_sevens[:1200], rng.uniform(low, high, 1200))]).astype(np.float32)
    test = ic.two_sample_test(changed, many_sevens[1200:], rng)
    evidence = {**test, **ic.content_check(changed, many_sevens[1200:], test, rng)}
    assert test["images_differ"] and evidence["content_only"] == only_content, evidence["masked_critic_z"]
    result = ic.content_on_images({"effect_family": "unknown", "effect_kind": "unknown", "named_on": "axis"}, evidence)
    assert result["effect_kind"] == kind, result


def test_the_content_check_finds_no_pixels_between_two_halves_of_the_clean_sevens(many_sevens):
    rng = np.random.default_rng(3)
    shuffled = many_sevens[rng.permutation(len(many_sevens))]  # MNIST's own order is not random (its writers)
    halves = shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2 :]
    test = ic.two_sample_test(*halves, rng)
    evidence = ic.content_check(*halves, test, rng)
    assert evidence["content_pixels"] == 0 and not evidence["content_only"], evidence


def test_the_content_checks_pixels_are_those_beyond_five_welch_standard_errors():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (400, 28, 28)).astype(np.float32)
    poor = rng.uniform(0, 1, (300, 28, 28)).astype(np.float32)
    poor[:, 3:5, 10:20] += 0.3  # 20 pixels, each about 15 standard errors away
    test = {"critic_z": 0.0}
    welch = scipy.stats.ttest_ind(poor.reshape(300, -1), clean.reshape(400, -1), equal_var=False).statistic
    evidence = ic.content_check(poor, clean, test, rng)
    # scipy's Welch t uses the unbiased variances; ours the plain ones: the same pixels at this margin.
    assert evidence["content_pixels"] == int(np.sum(np.abs(welch) >= ic.DIFFER_Z)) == 20
    assert evidence["content_place"] == "rows 3-4, columns 10-19"
    assert evidence["content_ink"] == pytest.approx(float((poor.mean(0) - clean.mean(0))[3:5, 10:20].sum()))
    assert not evidence["content_only"]  # the raw critic saw nothing to drop from


def test_the_images_name_content_only_when_the_axis_names_nothing():
    evidence = {**DIFFERING, "content_only": True, "content_pixels": 26, "content_place": "rows 14-15, columns 8-20",
                "content_ink": -9.0, "masked_critic_accuracy": 0.48, "masked_critic_z": -1.0}
    unknown = {"effect_family": "unknown", "effect_kind": "unknown", "effect_sentence": "", "named_on": "axis"}
    result = ic.content_on_images(unknown, evidence)
    assert (result["effect_family"], result["effect_kind"], result["named_on"]) == ("content", "ink-erased", "images")
    assert "rows 14-15, columns 8-20" in result["effect_sentence"] and "9.0 less ink" in result["effect_sentence"]
    geometry = {**unknown, "effect_family": "geometry", "effect_kind": "rotation"}
    assert ic.content_on_images(geometry, evidence) == geometry
    assert ic.content_on_images(unknown, {**evidence, "content_only": False}) == unknown
    assert ic.content_on_images(unknown, {**evidence, "images_differ": False}) == unknown


def test_the_fine_detail_gain_is_the_amplitude_ratio_above_a_quarter_cycle_per_pixel(many_sevens):
    clean, other = many_sevens[:200], many_sevens[200:400]
    assert ic.fine_detail_gain(3.0 * clean, clean) == pytest.approx(3.0, rel=1e-5)
    # Against scipy.fft on the 56 x 56 zero-padded grid, the fine band counted frequency by frequency.
    spectra = lambda images: scipy.fft.fft2(images.astype(np.float64), s=(56, 56))
    band = [(u, v) for u in range(56) for v in range(56)
            if np.hypot(scipy.fft.fftfreq(56)[u], scipy.fft.fftfreq(56)[v]) > 1 / ic.FINE_PERIOD]
    power = lambda images: np.mean([np.abs(spectra(images)[:, u, v]) ** 2 for u, v in band])
    assert ic.fine_detail_gain(other, clean) == pytest.approx(np.sqrt(power(other) / power(clean)), rel=1e-4)
    blurred = scipy.ndimage.gaussian_filter(clean, (0, 1, 1), mode="constant")
    assert ic.fine_detail_gain(blurred, clean) < 0.3  # a blur of 1 pixel passes |H| <= exp(-2 pi^2 / 16) = 0.29


def test_the_images_name_a_filter_only_when_the_axis_names_nothing():
    evidence = {**DIFFERING, "filter_only": True, "coarse_critic_accuracy": 0.51, "coarse_critic_z": 0.4,
                "fine_detail_gain": 1.4, "ink_mass_ratio": 1.02}
    unknown = {"effect_family": "unknown", "effect_kind": "unknown", "effect_sentence": "", "named_on": "axis"}
    assert ic.filter_on_images(unknown, evidence)["effect_kind"] == "sharpening"
    for mass, gain, kind, word in ((1.6, 1.1, "stroke-width", "thicker"), (0.7, 0.9, "stroke-width", "thinner"),
                                   (1.0, 0.4, "blur", "0.40x")):
        result = ic.filter_on_images(unknown, {**evidence, "ink_mass_ratio": mass, "fine_detail_gain": gain})
        assert (result["effect_family"], result["effect_kind"], result["named_on"]) == ("filter", kind, "images")
        assert word in result["effect_sentence"]
    geometry = {**unknown, "effect_family": "geometry", "effect_kind": "rotation"}
    assert ic.filter_on_images(geometry, evidence) == geometry  # an axis that names a family keeps it
    assert ic.filter_on_images(unknown, {**evidence, "filter_only": False}) == unknown


def test_the_image_tone_curve_reads_a_gain(many_sevens):
    test = {"held_out_clean": many_sevens[1200:], "held_out_changed": 0.5 * many_sevens[:1200], "critic_z": 50.0}
    rng = np.random.default_rng(0)
    curve = ic.tone_check(0.5 * many_sevens[:600], many_sevens[600:1200], test, rng)["image_tone_curve"]
    np.testing.assert_allclose(curve, 0.5 * np.array(ic.TONE_POINTS), atol=0.03)


def test_equal_mean_images_have_no_place_and_the_critic_leaves_torchs_stream_alone(many_sevens):
    assert ic.place(np.zeros((28, 28))) == "no pixel (the mean images are equal)"
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    evidence = ic.evidence_from_images(many_sevens[:600], many_sevens[:600], np.random.default_rng(0))
    assert not evidence["images_differ"]
    assert torch.equal(torch.rand(3), expected)


def test_no_axis_but_different_images_is_unknown_not_none(many_sevens):
    evidence = {"images_differ": True, "critic_accuracy": 0.7, "critic_z": 20.0, "noise": False, "mapped": False,
                "tone_only": False,
                "change_place": "rows 1-2, columns 3-4"}
    result = ic.verdict(None, [], evidence, 0, 0.0, "no latent spreads")
    assert result["effect_family"] == "unknown" and "does not hold" in result["effect_sentence"]
    quiet = {**evidence, "images_differ": False, "critic_z": 0.3}
    assert ic.verdict(None, [], quiet, 0, 0.0, "no latent spreads")["effect_family"] == "none"


# ---------------------------------------------------------------- the cross-check: the named change, on clean sevens


def test_separation_is_two_auc_minus_one_counted_pair_by_pair():
    rng = np.random.default_rng(3)
    scores, clean = rng.normal(0.7, 1.0, 40), np.round(rng.normal(0.0, 1.0, 30), 1)  # ties counted half
    pairs = (scores[:, None] > clean[None, :]) + 0.5 * (scores[:, None] == clean[None, :])
    assert ic.separation(scores, clean) == pytest.approx(2 * pairs.mean() - 1)
    assert ic.separation(clean, clean) == pytest.approx(0.0)


REPRODUCED = [  # (family, kind, effect, low, middle, high): the change from the middle to the high end
    ("geometry", "rotation", effects.rotation, -20.0, 0.0, 20.0),
    ("tone", "gamma", effects.gamma, -0.7, 0.0, 0.7),
    ("filter", "blur", effects.blur, 0.0, 0.0, 1.5),
    ("content", "ink-added", effects.crossbar, 0.0, 0.0, 1.0),
    ("symmetry", "mirror-left-right", effects.mirror, 0.0, 0.0, 1.0),
]


@pytest.mark.parametrize("family, kind, effect, low, middle, high", REPRODUCED, ids=[row[1] for row in REPRODUCED])
def test_the_named_change_is_applied_to_other_sevens_as_fitted(real_sevens, family, kind, effect, low, middle, high):
    found = ic.descriptors(*traversal(real_sevens, effect, low, middle, high))
    others = (load_mnist_sevens()["test"][100:108] / 255.0).astype(np.float32)
    expected = np.stack([np.clip(effect(image, high), 0, 1) for image in others])
    error = np.sum((ic.reproduce(family, kind, found, others) - expected) ** 2)
    assert error < 0.1 * np.sum((others - expected) ** 2)


def test_a_name_whose_change_the_critic_does_not_see_in_the_poor_sevens_becomes_unknown(many_sevens):
    rng = np.random.default_rng(4)
    rotated = np.stack([effects.rotation(image, angle) for image, angle in
                        zip(many_sevens[:1200], rng.uniform(10, 40, 1200))]).astype(np.float32)
    evidence = ic.evidence_from_images(rotated, many_sevens[1200:], rng)
    right = traversal(many_sevens[:16], effects.rotation, 0.0, 15.0, 30.0)
    wrong = traversal(many_sevens[:16], effects.scale, 0.0, 0.1, 0.2)  # a zoom the critic of turns hardly sees
    for pairs, family in ((right, "geometry"), (wrong, "unknown")):
        found = ic.descriptors(*pairs)
        result = ic.cross_check(ic.verdict(found, [], evidence, 0, 2.0, "z0 spreads"), found, evidence)
        assert result["effect_family"] == family, result
    assert result["critic_reproduced"] < ic.REPRODUCED_SHARE and "look changed" in result["effect_sentence"]
