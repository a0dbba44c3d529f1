"""vae_sevens.py's model and loss math against NumPy and torch.distributions; sevens/axes.py's axes
against a whitening written out in NumPy; the decoders and the traversal codes."""

import numpy as np
import pytest
import scipy.stats
import torch

import vae_sevens as vae
from sevens import axes as axes_module
from sevens.warped_decoder import GRID_SIDE, WarpedBroadcastDecoder


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
    generator = torch.Generator().manual_seed(2)
    noise = torch.randn((200_000, 2), generator=generator, dtype=torch.float64)
    z = vae.ConvVAE.reparameterize(mu, log_variance, noise)
    torch.testing.assert_close(z.mean(0), mu, atol=0.01, rtol=0)
    torch.testing.assert_close(z.var(0), log_variance.exp(), atol=0.0, rtol=0.02)


# ---------------------------------------------------------------- the loss
def numpy_loss(logits, images, mu, log_variance):
    """The homework's cross-entropy and the KL of one batch, written out in NumPy."""
    probability = 1 / (1 + np.exp(-logits))
    log_likelihood = images * np.log(probability) + (1 - images) * np.log(1 - probability)
    reconstruction = -log_likelihood.reshape(len(images), -1).sum(1)
    kl = -0.5 * (1 + log_variance - mu**2 - np.exp(log_variance)).sum(1)
    return reconstruction.mean(), kl.mean()


def replayed_decoder_input(model, images, seed):
    mu, log_variance = model.encode(images)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(mu.shape, generator=generator, dtype=torch.float64)
    return mu, log_variance, mu + torch.exp(0.5 * log_variance) * noise


def test_plain_objective_is_the_negative_elbo_written_out_in_numpy():
    torch.manual_seed(0)
    model = vae.ConvVAE(3, plain=True).double()
    images = torch.rand(4, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = vae.loss_terms(model, images, vae.PLAIN_OBJECTIVE, 100,
                           torch.Generator().manual_seed(5))
    mu, log_variance, z = replayed_decoder_input(model, images, 5)
    logits = model.decode(z).detach().numpy()
    reconstruction, kl = numpy_loss(logits, images.numpy(), mu.detach().numpy(),
                                    log_variance.detach().numpy())
    assert terms["reconstruction"].item() == pytest.approx(reconstruction, rel=1e-9)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-9)
    assert terms["objective"].item() == pytest.approx(reconstruction + kl, rel=1e-9)


def test_default_objective_adds_beta_kl_the_weighted_tc_and_the_grey_level_term():
    torch.manual_seed(0)
    model = vae.ConvVAE(3).double()
    images = torch.rand(5, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = vae.loss_terms(model, images, vae.DEFAULT_OBJECTIVE, 50,
                           torch.Generator().manual_seed(1))
    mu, log_variance, z = replayed_decoder_input(model, images, 1)
    logits = model.decode(z)
    weights = vae.DEFAULT_OBJECTIVE
    tc = vae.total_correlation(z, mu, log_variance, 50)
    grey_level = vae.grey_level_distance(torch.sigmoid(logits), images).mean()
    expected = (terms["reconstruction"] + weights["beta"] * terms["kl"]
                + (weights["tc_weight"] - 1) * tc + weights["grey_level_weight"] * grey_level)
    torch.testing.assert_close(terms["objective"], expected)
    torch.testing.assert_close(terms["neg_elbo"], terms["reconstruction"] + terms["kl"])


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
        wasserstein = scipy.stats.wasserstein_distance(m.ravel(), x.ravel())
        assert pairs == pytest.approx(wasserstein, rel=1e-9)


def grey_level_distance_of(a, b):
    return vae.grey_level_distance(torch.tensor(a)[None], torch.tensor(b)[None]).item()


def test_grey_level_distance_ignores_where_the_ink_is_but_not_how_dark_it_is():
    thin_dark, thick_faint = np.zeros((28, 28)), np.zeros((28, 28))
    thin_dark[4:24, 13] = 1.0
    thick_faint[4:24, 12:16] = 0.25  # the same ink mass spread over four columns
    shuffled = np.random.default_rng(0).permutation(thin_dark.ravel()).reshape(28, 28)
    assert grey_level_distance_of(shuffled, thin_dark) == 0.0
    expected = 20 * 0.75**2 + 60 * 0.25**2
    assert grey_level_distance_of(thick_faint, thin_dark) == pytest.approx(expected)


def numpy_total_correlation(z, mu, log_variance, dataset_size):
    batch, latent_dims = z.shape
    squared = (z[:, None] - mu[None]) ** 2 / np.exp(log_variance[None])
    log_q = -0.5 * (np.log(2 * np.pi) + log_variance[None] + squared)
    log_nm = np.log(dataset_size * batch)
    log_joint = np.log(np.exp(log_q.sum(2)).sum(1)) - log_nm
    log_marginals = sum(np.log(np.exp(log_q[:, :, k]).sum(1)) - log_nm for k in range(latent_dims))
    return float((log_joint - log_marginals).mean())


def test_minibatch_weighted_total_correlation_equals_the_numpy_formula():
    mu, log_variance = random_posterior(batch=7)
    generator = torch.Generator().manual_seed(4)
    z = mu + torch.exp(0.5 * log_variance) * torch.randn(mu.shape, generator=generator,
                                                         dtype=torch.float64)
    ours = vae.total_correlation(z, mu, log_variance, dataset_size=500).item()
    expected = numpy_total_correlation(z.numpy(), mu.numpy(), log_variance.numpy(), 500)
    assert ours == pytest.approx(expected, rel=1e-9)


def test_total_correlation_estimate_is_larger_for_correlated_latents():
    """Codes on a diagonal line (z0 = z1) share information: their TC must exceed independent
    codes'."""
    rng = np.random.default_rng(0)
    scale = torch.full((256, 2), -6.0, dtype=torch.float64)  # tight posteriors
    independent = torch.tensor(rng.standard_normal((256, 2)))
    line = torch.tensor(np.repeat(rng.standard_normal((256, 1)), 2, axis=1))
    tc_independent = vae.total_correlation(independent, independent, scale, 256).item()
    tc_line = vae.total_correlation(line, line, scale, 256).item()
    assert tc_line > tc_independent + 1.0


# ---------------------------------------------------------------- room for a change the code missed
def test_guide_targets_pick_the_least_used_latent_and_standardise_the_critic_scores():
    scores = np.array([3.0, -1.0, 5.0, 1.0])
    latent, targets = vae.guide_targets(scores, [0.9, 0.05, 2.0], "cpu")
    assert latent == 1
    np.testing.assert_allclose(targets.numpy(), (scores - scores.mean()) / scores.std(), rtol=1e-6)


def test_the_guide_adds_its_weighted_squared_gap_to_the_objective():
    torch.manual_seed(0)
    model = vae.ConvVAE(3)
    images = torch.rand(8, 28, 28)
    targets = torch.linspace(-1.0, 1.0, 8)
    terms = [vae.loss_terms(model, images, vae.DEFAULT_OBJECTIVE, 100,
                            torch.Generator().manual_seed(1), guide)
             for guide in (None, (2, targets))]
    mu = model.encode(images)[0][:, 2]
    expected = vae.GUIDE_WEIGHT * ((mu - targets) ** 2).mean()
    gap = terms[1]["objective"] - terms[0]["objective"]
    torch.testing.assert_close(gap, expected, rtol=1e-4, atol=1e-4)
    # the reported ELBO stays the ELBO
    torch.testing.assert_close(terms[1]["neg_elbo"], terms[0]["neg_elbo"])


# ---------------------------------------------------------------- axes
def whitened_spread_ratios(poor, clean):
    """The ratios of S v = lambda C v the NumPy way: whiten by C^{-1/2}, then the ordinary
    eigenvalues of C^{-1/2} S C^{-1/2}; also S and C."""
    covariance = np.cov(clean.T, ddof=0)
    covariance += axes_module.RIDGE * np.trace(covariance) / 3 * np.eye(3)
    deviation = poor - clean.mean(0)
    spread = deviation.T @ deviation / len(poor)
    values, vectors = np.linalg.eigh(covariance)
    inverse_root = vectors @ np.diag(values**-0.5) @ vectors.T
    ratios = np.sort(np.linalg.eigvalsh(inverse_root @ spread @ inverse_root))[::-1]
    return ratios, spread, covariance


def test_spread_axes_solve_the_generalised_eigenproblem_as_whitening_by_the_clean_covariance_does():
    rng = np.random.default_rng(0)
    clean = rng.standard_normal((4000, 3)) @ rng.standard_normal((3, 3))
    poor = rng.standard_normal((5000, 3)) @ rng.standard_normal((3, 3)) + 0.3
    axes = axes_module.spread_axes(poor, clean)
    ratios, spread, covariance = whitened_spread_ratios(poor, clean)
    np.testing.assert_allclose(axes.scores, ratios, rtol=1e-9)
    for k, direction in enumerate(axes.unmixing):  # each axis's Rayleigh quotient is its ratio
        quotient = direction @ spread @ direction / (direction @ covariance @ direction)
        assert quotient == pytest.approx(axes.scores[k])
    on_axes = axes.from_model(poor)
    np.testing.assert_allclose(on_axes.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(on_axes.std(0), 1.0, rtol=1e-9)
    np.testing.assert_allclose(axes.to_model(on_axes), poor, atol=1e-9)


def test_spread_axes_find_a_known_extra_spread_and_nothing_where_there_is_none():
    rng = np.random.default_rng(1)
    mixing = np.array([[1.0, 0.4, 0.0], [0.2, 1.5, -0.3], [0.0, 0.5, 0.7]])
    clean = rng.standard_normal((6000, 3)) @ mixing.T
    direction = np.array([0.6, -0.8, 0.0])
    poor = rng.standard_normal((6000, 3)) @ mixing.T + rng.uniform(-4, 4, (6000, 1)) * direction
    axes = axes_module.spread_axes(poor, clean)
    assert axes.scores[0] > 3 * vae.SPREAD_MARGIN and np.all(axes.scores[1:] < 1.2)
    effect = axes.from_model(poor)[:, 0]
    truth = poor @ np.linalg.solve(mixing @ mixing.T, direction)
    assert abs(np.corrcoef(effect, truth)[0, 1]) > 0.9
    same = axes_module.spread_axes(rng.standard_normal((6000, 3)) @ mixing.T, clean)
    assert same.scores[0] < vae.SPREAD_MARGIN  # no effect: nothing stands out


# ---------------------------------------------------------------- model and traversals
def test_traversal_codes_vary_one_axis_from_minus_five_to_five_by_half():
    fixed = np.array([[0.3, -1.2, 0.7], [2.0, -0.1, 0.4]])
    codes = vae.traversal_codes(fixed)
    assert codes.shape == (3, 2, 21, 3)
    for k in range(3):
        np.testing.assert_allclose(codes[k, :, :, k], np.tile(np.arange(-5.0, 5.01, 0.5), (2, 1)))
        others = np.delete(codes[k], k, axis=-1)
        expected = np.repeat(np.delete(fixed, k, axis=1)[:, None], 21, 1)
        np.testing.assert_array_equal(others, expected)


@pytest.mark.parametrize("plain", [False, True])
def test_both_decoders_turn_codes_into_28_by_28_logits_with_gradients_to_every_latent(plain):
    model = vae.ConvVAE(3, plain=plain)
    codes = torch.randn(5, 3, requires_grad=True)
    logits = model.decode(codes)
    assert logits.shape == (5, 28, 28)
    logits.sum().backward()
    assert torch.all(codes.grad.abs() > 0)


def test_warped_decoder_starts_on_its_fixed_grid():
    decoder = WarpedBroadcastDecoder(3)
    grid = decoder.coordinates.reshape(GRID_SIDE, GRID_SIDE, 2)  # (row, column, (x, y))
    line = np.linspace(-1, 1, GRID_SIDE)
    np.testing.assert_allclose(grid[0, :, 0].numpy(), line, atol=1e-6)  # x along a row
    np.testing.assert_allclose(grid[:, 0, 1].numpy(), line, atol=1e-6)  # y down a column
    still = decoder.coordinates.expand(4, -1, -1)
    torch.testing.assert_close(decoder.grid_coordinates(torch.randn(4, 3)), still)


def test_warped_grid_is_the_affine_map_of_the_code_written_out_in_numpy():
    decoder = WarpedBroadcastDecoder(2)
    weights = np.random.default_rng(0).normal(size=(6, 2))
    with torch.no_grad():
        decoder.to_warp.weight.copy_(torch.tensor(weights, dtype=torch.float32))
    codes = np.array([[0.5, -1.0], [2.0, 0.3]])
    z = torch.tensor(codes, dtype=torch.float32)
    moved = decoder.grid_coordinates(z).detach().numpy()  # (2, 196, 2)
    grid = decoder.coordinates.numpy()  # (196, 2), rows (x, y)
    for code, cells in zip(codes, moved):
        warp = weights @ code  # [vec A, b]
        expected = grid @ (np.eye(2) + warp[:4].reshape(2, 2)).T + warp[4:]  # (I + A) (x, y) + b
        np.testing.assert_allclose(cells, expected, rtol=1e-5, atol=1e-5)


def test_a_warp_moves_the_decoded_image():
    # A code that only shifts the grid by one cell (2 / 13 in grid units) moves the picture by two
    # pixels.
    torch.manual_seed(0)
    decoder = WarpedBroadcastDecoder(1)
    with torch.no_grad():
        decoder.from_latent.weight.zero_()
        decoder.to_warp.weight.zero_()
        decoder.to_warp.weight[4, 0] = 2.0 / (GRID_SIDE - 1)  # b_x = z * one cell
        still, moved = decoder(torch.tensor([[0.0], [1.0]])).squeeze(1)
    # moved(x) = still(x + one cell): the picture moves left by one cell, two pixels after 14 -> 28
    torch.testing.assert_close(moved[:, 2:-4], still[:, 4:-2])
