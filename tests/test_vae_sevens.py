"""vae_sevens.py: the VAE's hand-written math against NumPy and torch.distributions, and the CLI."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from sevens import verdict
import vae_sevens as vae
from bench import effects
from common import run_cli
from sevens.mnist import load_mnist_sevens
from safety import RUN_MARKER, run_folder

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
    noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return mu, log_variance, mu + torch.exp(0.5 * log_variance) * noise


def test_plain_objective_is_the_negative_elbo_written_out_in_numpy():
    torch.manual_seed(0)
    model = vae.ConvVAE(3, plain=True).double()
    images = torch.rand(4, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = vae.loss_terms(model, images, vae.PLAIN_OBJECTIVE, 100, torch.Generator().manual_seed(5))
    mu, log_variance, z = replayed_decoder_input(model, images, 5)
    as_numpy = lambda t: t.detach().numpy()  # noqa: E731
    reconstruction, kl = numpy_loss(as_numpy(model.decode(z)), images.numpy(), as_numpy(mu), as_numpy(log_variance))
    assert terms["reconstruction"].item() == pytest.approx(reconstruction, rel=1e-9)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-9)
    assert terms["objective"].item() == pytest.approx(reconstruction + kl, rel=1e-9)


def test_default_objective_adds_beta_kl_the_weighted_tc_and_the_grey_level_term():
    torch.manual_seed(0)
    model = vae.ConvVAE(3).double()
    images = torch.rand(5, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = vae.loss_terms(model, images, vae.DEFAULT_OBJECTIVE, 50, torch.Generator().manual_seed(1))
    mu, log_variance, z = replayed_decoder_input(model, images, 1)
    logits = model.decode(z)
    weights = vae.DEFAULT_OBJECTIVE
    expected = (terms["reconstruction"] + weights["beta"] * terms["kl"]
                + (weights["tc_weight"] - 1) * vae.total_correlation(z, mu, log_variance, 50)
                + weights["grey_level_weight"] * vae.grey_level_distance(torch.sigmoid(logits), images).mean())
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
        assert pairs == pytest.approx(scipy.stats.wasserstein_distance(m.ravel(), x.ravel()), rel=1e-9)


def test_grey_level_distance_ignores_where_the_ink_is_but_not_how_dark_it_is():
    thin_dark, thick_faint = np.zeros((28, 28)), np.zeros((28, 28))
    thin_dark[4:24, 13] = 1.0
    thick_faint[4:24, 12:16] = 0.25  # the same ink mass spread over four columns
    shuffled = np.random.default_rng(0).permutation(thin_dark.ravel()).reshape(28, 28)
    distance = lambda a, b: vae.grey_level_distance(torch.tensor(a)[None], torch.tensor(b)[None]).item()  # noqa: E731
    assert distance(shuffled, thin_dark) == 0.0
    assert distance(thick_faint, thin_dark) == pytest.approx(20 * 0.75**2 + 60 * 0.25**2)


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


# ---------------------------------------------------------------- axes


def test_spread_axes_solve_the_generalised_eigenproblem_as_whitening_by_the_clean_covariance_does():
    rng = np.random.default_rng(0)
    clean = rng.standard_normal((4000, 3)) @ rng.standard_normal((3, 3))
    poor = rng.standard_normal((5000, 3)) @ rng.standard_normal((3, 3)) + 0.3
    axes = vae.spread_axes(poor, clean)
    # Reference: whiten by C^{-1/2}, then the ordinary eigenvalues of C^{-1/2} S C^{-1/2} (numpy only).
    covariance = np.cov(clean.T, ddof=0)
    covariance += vae.RIDGE * np.trace(covariance) / 3 * np.eye(3)
    deviation = poor - clean.mean(0)
    spread = deviation.T @ deviation / len(poor)
    values, vectors = np.linalg.eigh(covariance)
    inverse_root = vectors @ np.diag(values**-0.5) @ vectors.T
    np.testing.assert_allclose(axes.scores, np.sort(np.linalg.eigvalsh(inverse_root @ spread @ inverse_root))[::-1],
                               rtol=1e-9)
    for k, direction in enumerate(axes.unmixing):  # each axis's Rayleigh quotient is its ratio
        assert direction @ spread @ direction / (direction @ covariance @ direction) == pytest.approx(axes.scores[k])
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
    axes = vae.spread_axes(poor, clean)
    assert axes.scores[0] > 3 * vae.SPREAD_MARGIN and np.all(axes.scores[1:] < 1.2)
    effect = axes.from_model(poor)[:, 0]
    assert abs(np.corrcoef(effect, poor @ np.linalg.solve(mixing @ mixing.T, direction))[0, 1]) > 0.9
    same = vae.spread_axes(rng.standard_normal((6000, 3)) @ mixing.T, clean)
    assert same.scores[0] < vae.SPREAD_MARGIN  # no effect: nothing stands out


# ---------------------------------------------------------------- model and traversals


def test_traversal_codes_vary_one_axis_from_minus_five_to_five_by_half():
    fixed = np.array([[0.3, -1.2, 0.7], [2.0, -0.1, 0.4]])
    codes = vae.traversal_codes(fixed)
    assert codes.shape == (3, 2, 21, 3)
    for k in range(3):
        np.testing.assert_allclose(codes[k, :, :, k], np.tile(np.arange(-5.0, 5.01, 0.5), (2, 1)))
        others = np.delete(codes[k], k, axis=-1)
        np.testing.assert_array_equal(others, np.repeat(np.delete(fixed, k, axis=1)[:, None], 21, 1))


@pytest.mark.parametrize("plain", [False, True])
def test_both_decoders_turn_codes_into_28_by_28_logits_with_gradients_to_every_latent(plain):
    model = vae.ConvVAE(3, plain=plain)
    codes = torch.randn(5, 3, requires_grad=True)
    logits = model.decode(codes)
    assert logits.shape == (5, 28, 28)
    logits.sum().backward()
    assert torch.all(codes.grad.abs() > 0)


def test_warped_decoder_starts_on_its_fixed_grid():
    decoder = vae.WarpedBroadcastDecoder(3)
    side = vae.GRID_SIDE
    grid = decoder.coordinates.reshape(side, side, 2)  # (row, column, (x, y))
    np.testing.assert_allclose(grid[0, :, 0].numpy(), np.linspace(-1, 1, side), atol=1e-6)  # x along a row
    np.testing.assert_allclose(grid[:, 0, 1].numpy(), np.linspace(-1, 1, side), atol=1e-6)  # y down a column
    torch.testing.assert_close(decoder.grid_coordinates(torch.randn(4, 3)), decoder.coordinates.expand(4, -1, -1))


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
        decoder.to_warp.weight[4, 0] = 2.0 / (vae.GRID_SIDE - 1)  # b_x = z * one cell
        still, moved = decoder(torch.tensor([[0.0], [1.0]])).squeeze(1)
    # moved(x) = still(x + one cell): the picture moves left by one cell, two pixels after the 14 -> 28 step
    torch.testing.assert_close(moved[:, 2:-4], still[:, 4:-2])


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
    terms = [vae.loss_terms(model, images, vae.DEFAULT_OBJECTIVE, 100, torch.Generator().manual_seed(1), guide)
             for guide in (None, (2, targets))]
    mu = model.encode(images)[0][:, 2]
    expected = vae.GUIDE_WEIGHT * ((mu - targets) ** 2).mean()
    torch.testing.assert_close(terms[1]["objective"] - terms[0]["objective"], expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(terms[1]["neg_elbo"], terms[0]["neg_elbo"])  # the reported ELBO stays the ELBO


def test_guided_training_puts_the_targets_on_the_chosen_latent():
    import argparse

    sevens = (load_mnist_sevens()["train"][:256] / 255.0).astype(np.float32)
    images = torch.as_tensor(sevens)
    targets = torch.as_tensor(scipy.stats.zscore(images.mean((1, 2)).numpy()), dtype=torch.float32)  # ink per seven
    args = argparse.Namespace(epochs=15, guide_epochs=5, lr=2e-3, seed=0, batch_size=64, quiet=True)
    torch.manual_seed(0)
    model = vae.ConvVAE(2)
    splits = {"train": images, "validation": images[:32], "test": images[:32]}
    history, _ = vae.train(model, splits, vae.DEFAULT_OBJECTIVE, args, "cpu", guide=(1, targets))
    assert [entry["epoch"] for entry in history] == list(range(16, 21))  # a third as many again, numbered on
    mu = vae.encode_means(model, sevens, "cpu")[:, 1]
    assert scipy.stats.spearmanr(mu, targets.numpy()).statistic > 0.9
    torch.manual_seed(0)  # the same five epochs without the guide leave that latent to whatever it takes
    unguided = vae.ConvVAE(2)
    vae.train(unguided, splits, vae.DEFAULT_OBJECTIVE, argparse.Namespace(**{**vars(args), "epochs": 5}), "cpu")
    assert abs(scipy.stats.spearmanr(vae.encode_means(unguided, sevens, "cpu")[:, 1], targets.numpy()).statistic) < 0.8


@pytest.mark.slow
def test_images_that_differ_with_no_spreading_latent_make_a_guided_run(tmp_path, capsys, monkeypatch):
    write_sevens(tmp_path / "data", n_train=300)
    monkeypatch.setattr(vae, "SPREAD_MARGIN", 1e9)  # no axis can carry the change before the guide
    finished = run_in_process(capsys, "--quick", "--quiet", "--data-dir", str(tmp_path / "data"), "--out",
                              str(tmp_path / "run"))
    assert finished.returncode == 0, finished.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["images_differ"] and metrics["guided_latent"] in range(3)
    assert [entry["epoch"] for entry in metrics["history"]] == [1, 2, 3]  # 2 epochs, then 1 guided
    assert metrics["effect_family"] == "unknown" and "does not hold" in metrics["effect_sentence"]


# ---------------------------------------------------------------- the command line


def write_sevens(folder, n_train=64, n_test=24, shape=(28, 28), seed=0):
    """Real sevens turned by a random angle, with the angle as te7's truth."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sevens = load_mnist_sevens()["train"] / 255.0
    for name, count in (("tr7", n_train), ("te7", n_test)):
        angles = rng.uniform(-60, 60, count).astype(np.float32)
        images = np.stack([effects.rotation(seven, angle) for seven, angle in zip(sevens[:count], angles)])
        if shape != (28, 28):
            images = np.zeros((count, *shape))
        with open(folder / f"{name}.pkl", "wb") as stream:
            pickle.dump(images.astype(np.float32), stream)
        np.save(folder / f"{name}_truth_rotation.npy", angles)


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


EXPECTED_OUTPUTS = [RUN_MARKER, "metrics.json", "test_latents.npz", "model.pt", "traversal.png", "effect.png",
                    "reconstructions.png", "curves.png"]
SCHEMA = {"script", "model", "seed", "quick", "seconds", "threads", "device", "data", "effect_dimension",
          "effect_kind", "effect_sentence", "axis_scores", "truth_file", "spearman_with_truth"}


@pytest.mark.slow
def test_quick_run_writes_every_output_and_repeats_exactly(tmp_path):
    write_sevens(tmp_path / "data")
    common_arguments = ["--quick", "--quiet", "--k", "2", "--data-dir", str(tmp_path / "data")]
    finished = run_script(*common_arguments, "--out", str(tmp_path / "a"))
    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.strip().splitlines()) == 1  # one summary line
    assert "beta-TC-VAE" in finished.stdout
    assert "te7_truth_rotation.npy" in finished.stdout or "no latent" in finished.stdout  # truth quoted with an axis
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == sorted(EXPECTED_OUTPUTS)
    first = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert SCHEMA <= set(first) and first["quick"] and first["script"] == "vae_sevens.py" and not first["plain"]
    assert set(first["data"]) == {"train", "test", "reference"} and first["threads"] == 1
    assert first["truth_file"] == "te7_truth_rotation.npy" and len(first["spearman_with_truth"]) == 2
    assert first["effect_family"] in verdict.FAMILIES
    assert first["effect_dimension"] is None or first["axis_scores"][0] >= vae.SPREAD_MARGIN
    assert 0.0 <= first["critic_accuracy"] <= 1.0 and isinstance(first["images_differ"], bool)
    latents = np.load(tmp_path / "a" / "test_latents.npz")
    assert latents["mu"].shape == (24, 2)
    axes = vae.Axes(latents["axes_unmixing"], latents["axes_centre"], None)
    np.testing.assert_allclose(axes.from_model(latents["model_mu"]), latents["mu"], atol=1e-9)
    checkpoint = torch.load(tmp_path / "a" / "model.pt", weights_only=True)  # loads without unpickling code
    vae.ConvVAE(2).load_state_dict(checkpoint["state_dict"])

    # A second process too: in this one, earlier tests may have changed torch's thread count.
    again = run_script(*common_arguments, "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "b" / "metrics.json").read_text())
    for key in ("test_neg_elbo", "axis_scores", "spearman_with_truth", "effect_kind", "history"):
        assert first[key] == second[key], key


@pytest.mark.slow
def test_plain_vae_runs_end_to_end(tmp_path, capsys):
    write_sevens(tmp_path / "data")
    finished = run_in_process(capsys, "--quick", "--quiet", "--plain", "--data-dir", str(tmp_path / "data"),
                              "--out", str(tmp_path / "plain"))
    assert finished.returncode == 0, finished.stderr
    assert "plain VAE" in finished.stdout
    metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert metrics["plain"] and metrics["data"]["reference"]["path"].startswith("assets/mnist_sevens.npz")
    assert 0.0 <= metrics["critic_accuracy"] <= 1.0


def assert_one_line_error(finished, *fragments):
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), finished.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("arguments, fragment", [
    (["--k", "0"], "--k"), (["--k", "9"], "--k: expected a finite int in [1, 5]"), (["--k", "three"], "--k"), (["--threads", "-1"], "--threads"),
    (["--lr", "nan"], "--lr"), (["--epochs", "0"], "--epochs"), (["--reference", "no-such-file"], "--reference"),
    (["--lr", "1e308"], "--lr: expected a finite float in (0, 1]"), (["--lr", "1e10"], "in (0, 1]"),
    (["--seed", str(2**70)], "--seed: expected a finite int in [0, 2**64)"), (["--threads", "1000000"], "--threads"),
])
def test_bad_options_are_one_clear_error_before_any_work(tmp_path, capsys, arguments, fragment):
    write_sevens(tmp_path / "data", n_train=16, n_test=16)
    finished = run_in_process(capsys, *arguments, "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, fragment)
    assert not (tmp_path / "out").exists()


def test_an_existing_file_as_out_is_refused_and_kept(tmp_path, capsys):
    write_sevens(tmp_path / "data", n_train=16, n_test=16)
    (tmp_path / "notes.txt").write_text("mine")
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "notes.txt"))
    assert_one_line_error(finished, "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_two_truth_files_are_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path / "data", n_train=16, n_test=16)
    np.save(tmp_path / "data" / "te7_truth_shift.npy", np.zeros(16, dtype=np.float32))
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "te7_truth_rotation.npy", "te7_truth_shift.npy")
    assert not (tmp_path / "out").exists()


def test_a_constant_truth_file_is_one_clear_error_before_any_work(tmp_path, capsys):
    write_sevens(tmp_path / "data", n_train=16, n_test=16)
    np.save(tmp_path / "data" / "te7_truth_rotation.npy", np.full(16, 3.0, dtype=np.float32))
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "te7_truth_rotation.npy", "vary")
    assert not (tmp_path / "out").exists()


def test_wrong_image_size_is_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path / "data", n_train=16, n_test=16, shape=(32, 32))
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "tr7.pkl", "28, 28", "(16, 32, 32)")
    assert not (tmp_path / "out").exists()


def test_missing_file_is_one_clear_error(tmp_path, capsys):
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "tr7.pkl", "not found")
    assert not (tmp_path / "out").exists()


def test_values_outside_zero_one_are_one_clear_error(tmp_path, capsys):
    write_sevens(tmp_path / "data", n_train=16, n_test=16)
    with open(tmp_path / "data" / "te7.pkl", "wb") as stream:
        pickle.dump(np.full((16, 28, 28), 255.0, dtype=np.float32), stream)
    finished = run_in_process(capsys, "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "te7.pkl", "[0, 1]")


def test_a_diverging_run_stops_in_one_line_naming_the_epoch_and_lr_and_keeps_the_previous_folder(tmp_path, capsys):
    write_sevens(tmp_path / "data")
    with run_folder(tmp_path / "out") as folder:  # a previous run folder
        (folder / "metrics.json").write_text("{}\n")
    before = sorted((path.name, path.read_bytes()) for path in (tmp_path / "out").iterdir())
    finished = run_in_process(capsys, "--quick", "--quiet", "--lr", "1", "--data-dir", str(tmp_path / "data"),
                              "--out", str(tmp_path / "out"))
    assert_one_line_error(finished, "error: epoch ", "the training loss became nan", "lower --lr (now 1)")
    assert sorted((path.name, path.read_bytes()) for path in (tmp_path / "out").iterdir()) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "out"]
