"""bench/shear_analysis.py: its slant statistic and its anti-aliased shear, which the README's shear figures rest on."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from make_data import add_effect, load_mnist_sevens

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("shear_analysis", REPO / "bench" / "shear_analysis.py")
shear_analysis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shear_analysis)


def sevens(count=40):
    return load_mnist_sevens()["test"][:count] / 255.0


@pytest.mark.parametrize("shear", [-0.6, -0.2, 0.3, 0.6])
def test_a_shear_adds_itself_to_the_slant(shear):
    # mu11' = mu11 - s mu02 under x' = x + s (c - y), exactly, as long as no ink leaves the frame
    # (bilinear sampling along rows keeps the first and second moments).
    originals = sevens()
    sheared = np.stack([add_effect(seven, "shear", shear) for seven in originals])
    kept_whole = np.isclose(sheared.sum(axis=(1, 2)), originals.sum(axis=(1, 2)), rtol=1e-6, atol=0)
    added = shear_analysis.slant(sheared) - shear_analysis.slant(originals)
    assert kept_whole.sum() >= 25
    np.testing.assert_allclose(added[kept_whole], shear, atol=1e-6)


def test_an_upright_bar_has_no_slant_and_a_leaning_one_has_its_shear():
    bar = np.zeros((1, 28, 28))
    bar[0, 4:24, 13:15] = 1.0
    leaning = add_effect(bar[0], "shear", 0.5)[None]
    assert abs(shear_analysis.slant(bar)[0]) < 1e-9
    assert shear_analysis.slant(leaning)[0] == pytest.approx(0.5, abs=0.02)


def test_the_antialiased_shear_keeps_the_ink_and_the_geometry_of_the_bilinear_one():
    for seven, shear in zip(sevens(10), np.linspace(-0.6, 0.6, 10)):
        smooth = shear_analysis.antialiased_shear(seven, shear)
        bilinear = add_effect(seven, "shear", shear)
        assert smooth.shape == (28, 28)
        assert smooth.sum() == pytest.approx(bilinear.sum(), rel=0.02)
        assert shear_analysis.slant(smooth[None])[0] == pytest.approx(shear_analysis.slant(bilinear[None])[0], abs=0.02)


def test_leave_one_out_neighbours_never_see_their_own_truth():
    codes = np.arange(10.0)[:, None]
    truth = np.where(np.arange(10) == 4, 100.0, 0.0)
    prediction = shear_analysis.leave_one_out_knn(codes, truth, neighbours=2)
    assert prediction[4] == 0.0  # its neighbours 3 and 5 hold 0; its own 100 is left out
    assert prediction[3] == prediction[5] == 50.0


def test_noise_to_code_variance_reads_the_latent_that_follows_the_truth():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(500)
    mu = np.stack([rng.standard_normal(500), 2.0 * truth], axis=1)  # latent 1 follows the truth, variance 4
    log_variance = np.stack([np.zeros(500), np.full(500, np.log(0.5))], axis=1)
    ratio = shear_analysis.noise_to_code_variance(mu, log_variance, truth)
    assert ratio == pytest.approx(0.5 / np.var(2.0 * truth))


def vertical_bars(count: int, seed: int):
    """Bars of random contrast c and width w (1-5 px): ink mass c * 20 w, ink intensity exactly c."""
    rng = np.random.default_rng(seed)
    contrast, widths = rng.uniform(0.2, 1.0, count), rng.integers(1, 6, count)
    images = np.zeros((count, 28, 28))
    for image, c, w in zip(images, contrast, widths):
        image[4:24, 12 : 12 + w] = c
    return images, contrast, widths


def test_ink_statistics_in_code_tells_a_code_of_ink_mass_from_one_of_contrast():
    images, contrast, widths = vertical_bars(300, seed=1)
    mass_code = (contrast * widths)[:, None]
    held = shear_analysis.ink_statistics_in_code(mass_code, contrast, images)
    assert held["vae_contrast_knn_ink_mass_abs_spearman"] > 0.95
    assert held["vae_contrast_knn_ink_intensity_abs_spearman"] < 0.9
    assert held["contrast_vs_ink_intensity_abs_spearman"] == pytest.approx(1.0)
    contrast_code = contrast[:, None]
    assert shear_analysis.ink_statistics_in_code(contrast_code, contrast, images)[
        "vae_contrast_knn_ink_intensity_abs_spearman"] > 0.95


def test_a_blur_makes_thin_dark_strokes_look_like_thick_faint_ones():
    images, contrast, _ = vertical_bars(200, seed=2)
    sharp = shear_analysis.intensity_after_blur(images, contrast, sigmas=(0.0,))
    blurred = shear_analysis.intensity_after_blur(images, contrast, sigmas=(2.0,))
    assert sharp["contrast_vs_ink_intensity_blur_0px_abs_spearman"] == pytest.approx(1.0)
    assert blurred["contrast_vs_ink_intensity_blur_2px_abs_spearman"] < 0.95


def test_shearing_about_the_image_centre_row_is_make_datas_shear():
    for seven, shear in zip(sevens(5), (-0.6, -0.3, 0.1, 0.4, 0.6)):
        expected = add_effect(seven, "shear", shear)
        sheared = np.clip(shear_analysis.shear_about_row(seven, shear, 13.5), 0.0, 1.0)
        np.testing.assert_allclose(sheared, expected, atol=1e-6)


def test_deslanting_takes_out_the_slant_and_keeps_the_ink():
    originals = sevens(20)
    straight = shear_analysis.deslanted(originals)
    assert np.abs(shear_analysis.slant(straight)).max() < 0.03
    np.testing.assert_allclose(straight.sum(axis=(1, 2)), originals.sum(axis=(1, 2)), rtol=0.02)


def leaning_bars(count: int, seed: int):
    """Bars whose own slant is set by their width (a shape the shear leaves alone), then sheared by s."""
    rng = np.random.default_rng(seed)
    widths, shears = rng.integers(1, 6, count), rng.uniform(-0.6, 0.6, count)
    images = np.zeros((count, 28, 28))
    for image, width, shear in zip(images, widths, shears):
        bar = np.zeros((28, 28))
        bar[4:24, 12 : 12 + width] = 1.0
        image[:] = add_effect(add_effect(bar, "shear", 0.12 * (width - 3)), "shear", shear)
    return images, shears


def test_shape_components_recover_the_shear_when_the_shape_predicts_the_writers_slant():
    train_images, train_shear = leaning_bars(400, seed=3)
    test_images, test_shear = leaning_bars(200, seed=4)
    held = shear_analysis.shear_from_slant_and_shape(
        train_images, train_shear, test_images, test_shear, components=(0, 2))
    slant_alone = held["slant_and_0_shape_components_abs_spearman"]
    with_shape = held["slant_and_2_shape_components_abs_spearman"]
    assert slant_alone < 0.95  # the bars' own slant blurs the total slant
    assert with_shape > 0.98 and with_shape > slant_alone + 0.03
