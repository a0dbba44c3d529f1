"""vae_sevens.py: the VAE's hand-written math against NumPy and torch.distributions, and the CLI."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch

import vae_sevens as vae
from common import run_cli

REPO = Path(__file__).resolve().parents[1]


def random_posterior(seed=0, batch=6, latent_dims=3):
    generator = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, latent_dims, generator=generator, dtype=torch.float64)
    log_variance = torch.randn(batch, latent_dims, generator=generator, dtype=torch.float64) * 0.7
    return mu, log_variance


# ---------------------------------------------------------------- KL and reparameterisation


def test_closed_form_kl_matches_numpy_monte_carlo_within_one_percent():
    mu, log_variance = np.array([0.8, -1.5, 0.1]), np.array([-1.0, 0.5, -2.0])
    sigma = np.exp(0.5 * log_variance)
    rng = np.random.default_rng(0)
    z = mu + sigma * rng.standard_normal((1_000_000, 3))
    log_q = -0.5 * (np.log(2 * np.pi) + log_variance + ((z - mu) / sigma) ** 2)
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    monte_carlo = (log_q - log_p).mean(axis=0)  # (3,)
    closed = vae.kl_to_standard_normal(torch.tensor(mu), torch.tensor(log_variance)).numpy()
    np.testing.assert_allclose(closed, monte_carlo, rtol=0.01)


def test_closed_form_kl_matches_torch_distributions():
    mu, log_variance = random_posterior()
    q = torch.distributions.Normal(mu, torch.exp(0.5 * log_variance))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    reference = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(vae.kl_to_standard_normal(mu, log_variance), reference)


def test_reparameterisation_gradients_are_one_and_half_sigma_eps():
    mu, log_variance = random_posterior()
    mu.requires_grad_(True)
    log_variance.requires_grad_(True)
    noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = vae.ConvVAE.reparameterize(mu, log_variance, noise)
    grad_mu, grad_log_variance = torch.autograd.grad(z.sum(), (mu, log_variance))
    torch.testing.assert_close(grad_mu, torch.ones_like(mu))
    torch.testing.assert_close(grad_log_variance, 0.5 * torch.exp(0.5 * log_variance) * noise)


def test_reparameterised_samples_have_mean_mu_and_variance_sigma_squared():
    mu = torch.tensor([1.5, -0.5], dtype=torch.float64)
    log_variance = torch.tensor([0.4, -1.2], dtype=torch.float64)
    noise = torch.randn((200_000, 2), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    z = vae.ConvVAE.reparameterize(mu, log_variance, noise)
    torch.testing.assert_close(z.mean(0), mu, atol=0.01, rtol=0)
    torch.testing.assert_close(z.var(0), log_variance.exp(), atol=0.0, rtol=0.02)


# ---------------------------------------------------------------- likelihoods and the loss


def test_continuous_bernoulli_normaliser_matches_torch_log_prob():
    # Beyond |logit| ~ 30 torch clamps the probability itself; within it both are exact.
    logits = torch.tensor([-15.0, -4.0, -0.3, -1e-4, 0.0, 1e-3, 0.02, 2.5, 15.0], dtype=torch.float64)
    x = torch.linspace(0, 1, len(logits), dtype=torch.float64)
    ours = -vae.reconstruction_nll(logits.view(1, 1, -1), x.view(1, 1, -1), "continuous-bernoulli")
    reference = torch.distributions.ContinuousBernoulli(logits=logits).log_prob(x).sum()
    torch.testing.assert_close(ours[0], reference, rtol=1e-6, atol=1e-6)


def test_continuous_bernoulli_normaliser_tends_to_log_abs_logit_for_confident_pixels():
    logits = torch.tensor([-60.0, 40.0, 200.0], dtype=torch.float64)
    torch.testing.assert_close(vae.continuous_bernoulli_log_normaliser(logits), logits.abs().log())


def numpy_loss(logits, images, mu, log_variance, noise, likelihood):
    """The negative ELBO of one batch, written out in NumPy from the formulas of the module docstring."""
    probability = 1 / (1 + np.exp(-logits))
    log_likelihood = images * np.log(probability) + (1 - images) * np.log(1 - probability)
    if likelihood == "continuous-bernoulli":
        lam = probability
        log_likelihood = log_likelihood + np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    reconstruction = -log_likelihood.reshape(len(images), -1).sum(1)
    kl = -0.5 * (1 + log_variance - mu**2 - np.exp(log_variance)).sum(1)
    return reconstruction.mean(), kl.mean()


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
def test_loss_on_a_tiny_batch_equals_the_numpy_formula(likelihood):
    torch.manual_seed(0)
    model = vae.ConvVAE(3).double()
    images = torch.rand(4, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(5)
    terms = vae.loss_terms(model, images, likelihood, "vae", 1.0, 1.0, 100, generator)
    # Replay the same noise by hand.
    mu, log_variance = model.encode(images)
    noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    logits = model.decode(mu + torch.exp(0.5 * log_variance) * noise)
    as_numpy = lambda t: t.detach().numpy()  # noqa: E731
    reconstruction, kl = numpy_loss(as_numpy(logits), images.numpy(), as_numpy(mu), as_numpy(log_variance), None,
                                    likelihood)
    assert terms["reconstruction"].item() == pytest.approx(reconstruction, rel=1e-9)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-9)
    assert terms["objective"].item() == pytest.approx(reconstruction + kl, rel=1e-9)


def test_beta_scales_only_the_kl_term():
    torch.manual_seed(0)
    model = vae.ConvVAE(2).double()
    images = torch.rand(3, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    plain = vae.loss_terms(model, images, "bernoulli", "vae", 1.0, 1.0, 10, torch.Generator().manual_seed(1))
    heavy = vae.loss_terms(model, images, "bernoulli", "vae", 4.0, 1.0, 10, torch.Generator().manual_seed(1))
    expected = plain["reconstruction"] + 4.0 * plain["kl"]
    torch.testing.assert_close(heavy["objective"], expected)


def test_grey_level_distance_is_the_sorted_squared_difference_written_out_in_numpy():
    rng = np.random.default_rng(4)
    means, images = rng.random((3, 28, 28)), rng.random((3, 28, 28))
    ours = vae.grey_level_distance(torch.tensor(means), torch.tensor(images)).numpy()
    expected = ((np.sort(means.reshape(3, -1), 1) - np.sort(images.reshape(3, -1), 1)) ** 2).sum(1)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    # Sorting pairs the grey levels as the 1-D optimal transport does: with that pairing the mean
    # absolute difference is scipy's Wasserstein-1 distance between the two sets of grey levels.
    for m, x in zip(means, images):
        pairs = np.abs(np.sort(m.ravel()) - np.sort(x.ravel())).mean()
        assert pairs == pytest.approx(scipy.stats.wasserstein_distance(m.ravel(), x.ravel()), rel=1e-9)


def test_grey_level_distance_ignores_where_the_ink_is_but_not_how_dark_it_is():
    thin_dark, thick_faint = np.zeros((28, 28)), np.zeros((28, 28))
    thin_dark[4:24, 13] = 1.0
    thick_faint[4:24, 12:16] = 0.25  # the same ink mass spread over four columns
    shuffled = np.random.default_rng(0).permutation(thin_dark.ravel()).reshape(28, 28)
    distance = lambda a, b: vae.grey_level_distance(torch.tensor(a)[None], torch.tensor(b)[None]).item()  # noqa: E731
    assert distance(shuffled, thin_dark) == 0.0
    assert distance(thick_faint, thin_dark) == pytest.approx(20 * 0.75**2 + 60 * 0.25**2)


def test_grey_level_weight_adds_its_term_to_the_objective_and_nothing_to_the_elbo():
    torch.manual_seed(0)
    model = vae.ConvVAE(3, "warped-broadcast").double()
    images = torch.rand(4, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    off = vae.loss_terms(model, images, "bernoulli", "tc-vae", 2.0, 6.0, 100, torch.Generator().manual_seed(5))
    on = vae.loss_terms(model, images, "bernoulli", "tc-vae", 2.0, 6.0, 100, torch.Generator().manual_seed(5),
                        grey_level_weight=3.0)
    mu, log_variance = model.encode(images)
    noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    means = torch.sigmoid(model.decode(mu + torch.exp(0.5 * log_variance) * noise))
    expected_term = vae.grey_level_distance(means, images).mean()
    torch.testing.assert_close(on["objective"], off["objective"] + 3.0 * expected_term)
    torch.testing.assert_close(on["neg_elbo"], off["neg_elbo"])


def numpy_total_correlation(z, mu, log_variance, dataset_size):
    batch, latent_dims = z.shape
    log_q = -0.5 * (np.log(2 * np.pi) + log_variance[None] + (z[:, None] - mu[None]) ** 2 / np.exp(log_variance[None]))
    log_nm = np.log(dataset_size * batch)
    log_joint = np.log(np.exp(log_q.sum(2)).sum(1)) - log_nm
    log_marginals = sum(np.log(np.exp(log_q[:, :, k]).sum(1)) - log_nm for k in range(latent_dims))
    return float((log_joint - log_marginals).mean())


def test_minibatch_weighted_total_correlation_equals_the_numpy_formula():
    mu, log_variance = random_posterior(batch=7)
    z = mu + torch.exp(0.5 * log_variance) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(4),
                                                         dtype=torch.float64)
    ours = vae.total_correlation(z, mu, log_variance, dataset_size=500).item()
    assert ours == pytest.approx(numpy_total_correlation(z.numpy(), mu.numpy(), log_variance.numpy(), 500), rel=1e-9)


def test_total_correlation_estimate_is_larger_for_correlated_latents():
    """Codes on a diagonal line (z0 = z1) share information: their TC must exceed independent codes'."""
    rng = np.random.default_rng(0)
    scale = torch.full((256, 2), -6.0, dtype=torch.float64)  # tight posteriors
    independent = torch.tensor(rng.standard_normal((256, 2)))
    line = torch.tensor(np.repeat(rng.standard_normal((256, 1)), 2, axis=1))
    tc_independent = vae.total_correlation(independent, independent, scale, 256).item()
    tc_line = vae.total_correlation(line, line, scale, 256).item()
    assert tc_line > tc_independent + 1.0


def test_tc_vae_objective_adds_the_weighted_total_correlation():
    torch.manual_seed(0)
    model = vae.ConvVAE(3).double()
    images = torch.rand(5, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = vae.loss_terms(model, images, "bernoulli", "tc-vae", 1.0, 6.0, 50, torch.Generator().manual_seed(1))
    torch.testing.assert_close(terms["objective"], terms["neg_elbo"] + 5.0 * terms["tc"])


# ---------------------------------------------------------------- traversals and statistics


@pytest.mark.parametrize("dimension", [0, 2, 4])
def test_traversal_codes_vary_one_column_from_minus_five_to_five_by_half(dimension):
    fixed = np.array([0.3, -1.2, 0.7, 2.0, -0.1])
    codes = vae.traversal_codes(dimension, fixed)
    assert codes.shape == (21, 5)
    np.testing.assert_allclose(codes[:, dimension], np.arange(-5.0, 5.01, 0.5))
    others = np.delete(codes, dimension, axis=1)
    np.testing.assert_array_equal(others, np.tile(np.delete(fixed, dimension), (21, 1)))


def bar_image(angle_degrees, width=3, length=18):
    """A bar through the centre, rotated counter-clockwise on screen by `angle_degrees` from horizontal."""
    image = np.zeros((28, 28))
    image[14 - width // 2 : 14 - width // 2 + width, 14 - length // 2 : 14 + length // 2] = 1.0
    return np.clip(scipy.ndimage.rotate(image, angle_degrees, reshape=False, order=1), 0, 1)


@pytest.mark.parametrize("angle", [-60.0, -25.0, 0.0, 15.0, 45.0, 80.0])
def test_orientation_statistic_recovers_a_rotated_bar_within_two_degrees(angle):
    orientation = vae.image_statistics(bar_image(angle))["orientation"]
    assert vae.unwrap_orientation(orientation, angle) == pytest.approx(angle, abs=2.0)


def test_stroke_width_measures_a_bar_and_ignores_contrast():
    for width in (2, 3, 5):
        for angle in (0.0, 20.0, 45.0):
            stats = vae.image_statistics(bar_image(angle, width=width, length=20))
            assert stats["stroke_width"] == pytest.approx(width, rel=0.06)
    faint = vae.image_statistics(0.3 * bar_image(0.0, width=3))
    bold = vae.image_statistics(bar_image(0.0, width=3))
    assert faint["stroke_width"] == pytest.approx(bold["stroke_width"], rel=1e-9)
    assert faint["ink_intensity"] == pytest.approx(0.3 * bold["ink_intensity"], rel=1e-9)


def test_centre_of_mass_follows_a_shift():
    image = bar_image(30.0)
    shifted = np.roll(image, 4, axis=1)
    moved = vae.image_statistics(shifted)["centre_x"] - vae.image_statistics(image)["centre_x"]
    assert moved == pytest.approx(4.0, abs=1e-9)


def test_traversal_evidence_names_the_latent_that_turns_the_bar_and_the_orientation_statistic():
    steps = np.linspace(-1, 1, vae.EVIDENCE_STEPS)
    turning = np.stack([bar_image(40.0 * t) for t in steps])  # latent 2 turns the bar
    fading = np.stack([(0.95 + 0.05 * t) * bar_image(0.0) for t in steps])  # latent 0 barely changes the ink
    still = np.stack([bar_image(0.0) for _ in steps])
    images = np.stack([np.stack([fading] * 4), np.stack([still] * 4), np.stack([turning] * 4)])  # (3, 4, steps, 28, 28)
    positions = np.tile(steps, (3, 1))
    angles = np.linspace(-50, 50, 30)
    data = vae.image_statistics(np.stack([bar_image(angle) for angle in angles]))
    rng = np.random.default_rng(0)
    train_mu = np.column_stack([rng.standard_normal(30), rng.standard_normal(30), angles / 30])  # latent 2 ~ angle
    evidence, stats = vae.traversal_evidence(images, positions, data, train_mu, orientation_reference=0.0)
    assert evidence["effect_dimension"] == 2 and evidence["effect_statistic"] == "orientation"
    assert evidence["monotonicity"]["orientation"][2] == pytest.approx(1.0)
    assert stats["orientation"].shape == (3, 4, vae.EVIDENCE_STEPS)


# ---------------------------------------------------------------- the latent axes


def test_gaussian_log_cosh_constant_is_the_normal_expectation_by_quadrature():
    import scipy.integrate

    density = scipy.stats.norm.pdf
    value, _ = scipy.integrate.quad(lambda u: (np.logaddexp(u, -u) - np.log(2.0)) * density(u), -40, 40,
                                    epsabs=1e-13, limit=200)
    assert vae.GAUSSIAN_LOG_COSH == pytest.approx(value, abs=1e-9)


def test_negentropy_is_near_zero_for_gaussian_columns_and_not_for_uniform_ones():
    rng = np.random.default_rng(0)
    gaussian, uniform = rng.standard_normal(200_000), rng.uniform(-1, 1, 200_000)
    values = vae.negentropy(np.column_stack([gaussian, 3.0 * uniform + 7.0]))
    assert values[0] < 1e-6
    assert values[1] > 100 * values[0] and values[1] > 1e-4  # and blind to the uniform's scale and offset
    assert vae.negentropy(uniform[:, None])[0] == pytest.approx(values[1])


def test_independent_axes_unmix_two_uniform_factors_from_a_gaussian_one():
    rng = np.random.default_rng(1)
    factors = np.column_stack([rng.uniform(-1, 1, 20_000), rng.standard_normal(20_000), rng.uniform(0, 5, 20_000)])
    mixing = np.array([[1.0, 0.6, -0.4], [0.3, 1.0, 0.8], [-0.7, 0.2, 1.0]])  # not a rotation
    codes = factors @ mixing.T + np.array([0.5, -1.0, 2.0])
    axes = vae.LatentAxes.independent(codes)
    on_axes = axes.from_model(codes)
    np.testing.assert_allclose(on_axes.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.cov(on_axes.T, ddof=0), np.eye(3), atol=1e-9)  # white
    correlation = np.abs(np.corrcoef(factors.T, on_axes.T)[:3, 3:])  # (factor, axis)
    for factor in (0, 2):  # each uniform factor lies on one axis, alone
        assert correlation[factor].max() > 0.995
    np.testing.assert_allclose(axes.to_model(on_axes), codes, atol=1e-9)


def test_independent_rotation_is_a_rotation_and_leaves_independent_axes_alone():
    rng = np.random.default_rng(2)
    white = np.column_stack([rng.uniform(-np.sqrt(3), np.sqrt(3), 20_000) for _ in range(3)])
    rotation = vae.independent_rotation(white)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.abs(rotation), np.eye(3), atol=0.03)


def test_posterior_variance_along_the_axes_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(3)
    axes = vae.LatentAxes(rng.standard_normal((3, 3)), rng.standard_normal(3))
    mu, log_variance = rng.standard_normal(3), rng.standard_normal(3)
    samples = mu + np.exp(0.5 * log_variance) * rng.standard_normal((400_000, 3))
    expected = np.log(axes.from_model(samples).var(0))
    np.testing.assert_allclose(axes.log_variance(log_variance), expected, atol=0.01)


def test_model_axes_change_nothing():
    codes = np.random.default_rng(4).standard_normal((10, 3))
    axes = vae.LatentAxes.model(3)
    np.testing.assert_array_equal(axes.from_model(codes), codes)
    np.testing.assert_array_equal(axes.to_model(codes), codes)


# ---------------------------------------------------------------- the command line


def write_sevens(folder, n_train=64, n_test=24, shape=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("tr7", n_train), ("te7", n_test)):
        images = np.zeros((count, *shape), dtype=np.float32)
        angles = rng.uniform(-60, 60, count).astype(np.float32)
        if shape == (28, 28):
            images = np.stack([bar_image(angle) for angle in angles]).astype(np.float32)
        with open(folder / f"{name}.pkl", "wb") as stream:
            pickle.dump(images, stream)
        np.save(folder / f"{name}_angles.npy", angles)


def run_script(*arguments):
    return subprocess.run([sys.executable, str(REPO / "vae_sevens.py"), *arguments], capture_output=True, text=True,
                          cwd=REPO)


def run_in_process(capsys, *arguments):
    """The CLI's main under run_cli, without paying for a new interpreter: (exit status, stdout, stderr)."""
    status = 0
    try:
        run_cli(lambda: vae.main(list(arguments)))
    except SystemExit as exit:
        status = exit.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(arguments, status, captured.out, captured.err)


@pytest.mark.parametrize("decoder", list(vae.DECODERS))
def test_every_decoder_turns_codes_into_28_by_28_logits_with_gradients_to_every_latent(decoder):
    model = vae.ConvVAE(3, decoder)
    codes = torch.randn(5, 3, requires_grad=True)
    logits = model.decode(codes)
    assert logits.shape == (5, 28, 28)
    logits.sum().backward()
    assert torch.all(codes.grad.abs() > 0)


def test_broadcast_decoder_gives_each_cell_its_own_coordinates():
    decoder = vae.SpatialBroadcastDecoder(3)
    side = vae.BROADCAST_SIDE
    grid = decoder.coordinates.reshape(side, side, 2)  # (row, column, (x, y))
    np.testing.assert_allclose(grid[0, :, 0].numpy(), np.linspace(-1, 1, side), atol=1e-6)  # x along a row
    np.testing.assert_allclose(grid[:, 0, 1].numpy(), np.linspace(-1, 1, side), atol=1e-6)  # y down a column
    assert torch.all(grid[:, :, 0] == grid[0:1, :, 0]) and torch.all(grid[:, :, 1] == grid[:, 0:1, 1])


def test_warped_decoder_starts_as_the_plain_broadcast_decoder():
    torch.manual_seed(0)
    warped = vae.WarpedBroadcastDecoder(3)
    plain = vae.SpatialBroadcastDecoder(3)
    plain.load_state_dict({name: value for name, value in warped.state_dict().items() if name != "to_warp.weight"})
    codes = torch.randn(4, 3)
    torch.testing.assert_close(warped(codes), plain(codes))


def test_warped_grid_is_the_affine_map_of_the_code_written_out_in_numpy():
    decoder = vae.WarpedBroadcastDecoder(2)
    weights = np.random.default_rng(0).normal(size=(6, 2))
    with torch.no_grad():
        decoder.to_warp.weight.copy_(torch.tensor(weights, dtype=torch.float32))
    codes = np.array([[0.5, -1.0], [2.0, 0.3]])
    moved = decoder.grid_coordinates(torch.tensor(codes, dtype=torch.float32)).detach().numpy()  # (2, 196, 2)
    grid = decoder.coordinates.numpy()  # (196, 2), rows (x, y)
    for code, cells in zip(codes, moved):
        warp = weights @ code  # [vec A, b]
        expected = grid @ (np.eye(2) + warp[:4].reshape(2, 2)).T + warp[4:]  # (I + A) (x, y) + b per cell
        np.testing.assert_allclose(cells, expected, rtol=1e-5, atol=1e-5)


def test_a_warp_moves_the_decoded_image():
    # A code that only shifts the grid by one cell (2 / 13 in grid units) moves the picture by two pixels.
    torch.manual_seed(0)
    decoder = vae.WarpedBroadcastDecoder(1)
    with torch.no_grad():
        decoder.from_latent.weight.zero_()
        decoder.to_warp.weight.zero_()
        decoder.to_warp.weight[4, 0] = 2.0 / (vae.BROADCAST_SIDE - 1)  # b_x = z * one cell
        still, moved = decoder(torch.tensor([[0.0], [1.0]])).squeeze(1)
    # moved(x) = still(x + one cell): the picture moves left by one cell, two pixels after the 14 -> 28 step
    torch.testing.assert_close(moved[:, 2:-4], still[:, 4:-2])


EXPECTED_OUTPUTS = ["metrics.json", "test_latents.npz", "model.pt", "traversal.png", "traversal_rows.png",
                    "traversal_stats.png", "samples.png", "reconstructions.png", "curves.png"]


@pytest.mark.slow
def test_quick_run_writes_every_output_and_repeats_exactly(tmp_path):
    write_sevens(tmp_path / "data")
    common_arguments = ["--quick", "--quiet", "--k", "2", "--data-dir", str(tmp_path / "data")]
    finished = run_script(*common_arguments, "--out", str(tmp_path / "a"))
    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.strip().splitlines()) == 1  # one summary line
    assert "beta-TC-VAE" in finished.stdout
    for name in EXPECTED_OUTPUTS:
        assert (tmp_path / "a" / name).is_file(), name
    first = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert first["objective"] == "tc-vae" and not first["plain_vae"]
    assert first["decoder"] == vae.DEFAULT_DECODER == "warped-broadcast" and first["beta"] == vae.DEFAULT_BETA
    assert first["grey_level_weight"] == vae.DEFAULT_GREY_LEVEL_WEIGHT == 1.0
    assert first["torch_threads"] == vae.DEFAULT_TORCH_THREADS
    assert len(first["spearman_with_truth"]) == 2 and first["truth_file"] == "te7_angles.npy"
    assert first["effect_statistic"] in vae.STATISTICS and 0 <= first["effect_dimension"] < 2
    assert first["axes"] == vae.DEFAULT_AXES == "independent" and len(first["axes_negentropy"]) == 2
    latents = np.load(tmp_path / "a" / "test_latents.npz")
    assert latents["mu"].shape == (24, 2) and latents["log_variance"].shape == (24, 2)
    axes = vae.LatentAxes(latents["axes_unmixing"], latents["axes_centre"])
    np.testing.assert_allclose(axes.from_model(latents["model_mu"]), latents["mu"], atol=1e-9)
    checkpoint = torch.load(tmp_path / "a" / "model.pt", weights_only=True)  # loads without unpickling code
    model = vae.ConvVAE(2, checkpoint["decoder"])
    model.load_state_dict(checkpoint["state_dict"])
    np.testing.assert_array_equal(checkpoint["axes_unmixing"].numpy(), latents["axes_unmixing"])

    # A second process too: in this one, earlier tests may have changed torch's thread count,
    # and a different number of threads sums in a different order.
    again = run_script(*common_arguments, "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "b" / "metrics.json").read_text())
    for key in ("test_neg_elbo", "kl_per_dimension", "spearman_with_truth", "effect_dimension", "effect_statistic",
                "history"):
        assert first[key] == second[key], key
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "test_latents.npz")["mu"], latents["mu"])


@pytest.mark.slow
def test_plain_flag_trains_the_homeworks_plain_vae(tmp_path, capsys):
    write_sevens(tmp_path / "data")
    finished = run_in_process(capsys, "--quick", "--quiet", "--plain", "--data-dir", str(tmp_path / "data"),
                              "--out", str(tmp_path / "plain"))
    assert finished.returncode == 0, finished.stderr
    assert "plain VAE" in finished.stdout
    metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert metrics["plain_vae"] and metrics["objective"] == "vae" and metrics["beta"] == 1.0
    assert metrics["decoder"] == "deconvolution" and metrics["tc_weight"] is None
    assert metrics["grey_level_weight"] == 0.0  # the homework's objective, nothing added
    assert metrics["axes"] == "model" and metrics["axes_unmixing"] == np.eye(3).tolist()


@pytest.mark.slow
def test_grey_level_weight_runs_end_to_end_and_is_recorded(tmp_path, capsys):
    write_sevens(tmp_path / "data")
    finished = run_in_process(capsys, "--quick", "--quiet", "--grey-level-weight", "5", "--data-dir",
                              str(tmp_path / "data"), "--out", str(tmp_path / "grey"))
    assert finished.returncode == 0, finished.stderr
    assert "grey-level weight 5" in finished.stdout
    metrics = json.loads((tmp_path / "grey" / "metrics.json").read_text())
    assert metrics["grey_level_weight"] == 5.0 and not metrics["plain_vae"]


def assert_one_line_error(finished, *fragments):
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), finished.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("k", ["0", "9"])
def test_latent_count_outside_one_to_five_is_one_clear_error(tmp_path, capsys, k):
    write_sevens(tmp_path, n_train=4, n_test=2)
    finished = run_in_process(capsys, "--k", k, "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, f"--k {k}")
    assert not (tmp_path / "out").exists()


def test_negative_thread_count_is_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path, n_train=4, n_test=2)
    finished = run_in_process(capsys, "--threads", "-1", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "--threads >= 0")
    assert not (tmp_path / "out").exists()


def test_model_name_states_a_grey_level_weight_the_axes_and_names_the_plain_vae():
    plain = {"objective": "vae", "beta": 1.0, "decoder": "deconvolution", "tc_weight": None, "axes": "model"}
    assert "plain VAE" in vae.model_name({**plain, "plain_vae": True, "grey_level_weight": 0.0})
    assert (vae.model_name({**plain, "plain_vae": False, "grey_level_weight": 5.0})
            == "VAE (beta=1, deconvolution decoder, grey-level weight 5)")
    default = {"objective": "tc-vae", "beta": 2.0, "decoder": "warped-broadcast", "tc_weight": 6.0,
               "plain_vae": False, "grey_level_weight": 1.0, "axes": "independent"}
    assert (vae.model_name(default)
            == "beta-TC-VAE (tc_weight=6, beta=2, warped-broadcast decoder, grey-level weight 1, independent axes)")


def test_negative_grey_level_weight_is_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path, n_train=4, n_test=2)
    finished = run_in_process(capsys, "--grey-level-weight", "-1", "--data-dir", str(tmp_path),
                              "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "--grey-level-weight >= 0")
    assert not (tmp_path / "out").exists()


def test_wrong_image_size_is_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path, n_train=4, n_test=2, shape=(32, 32))
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "tr7.pkl", "28, 28", "(4, 32, 32)")
    assert not (tmp_path / "out").exists()


def test_missing_file_is_one_clear_error(tmp_path, capsys):
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "tr7.pkl", "not found")
    assert not (tmp_path / "out").exists()


def test_values_outside_zero_one_are_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path, n_train=16, n_test=2)
    with open(tmp_path / "te7.pkl", "wb") as stream:
        pickle.dump(np.full((2, 28, 28), 255.0, dtype=np.float32), stream)
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "te7.pkl", "[0, 1]")
