"""Problem 2: what was done to the "poor sevens"? A convolutional VAE finds the effect and names it.

    python vae_sevens.py --k 3           # data/tr7.pkl, te7.pkl -> results/vae_sevens_k3/
    python vae_sevens.py --k 3 --plain   # the homework's plain VAE -> results/vae_sevens_k3_plain/

1. Model: a VAE (Kingma & Welling, 2014) with K latents learns tr7 (a tenth held out). Default: beta-TC-VAE
   (Chen et al., 2018) with a warped spatial broadcast decoder and a grey-level term; --plain: the homework's.
2. Axes: the poor and the clean sevens (--reference) are encoded; the effect axis is the one along which the
   poor codes spread SPREAD_MARGIN times beyond the clean codes, S v = lambda C v. When the images differ
   (image_change.py's critic) and none does, the least used latent is tied to the critic's score, trained on.
3. Traversals: K-1 latents fixed, one from -5 to 5, on those axes (traversal.png).
4. What it is: image_change.py, along the effect axis: effect_family, effect_kind, effect_sentence or "unknown".
"""

from __future__ import annotations

from safety import interrupts  # noqa: F401  first: Ctrl-C during the imports is one line too
import argparse
import functools
import math
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from sevens import along_axis, image_checks
from common import (DEFAULT_DATA_DIR, DEFAULT_TORCH_THREADS, EPS, IMAGE_SHAPE, SEED_BOUND, THREADS_BOUND, Option,
                    data_entry, load_images, load_truth, parse_options, pick_device, run_cli, stop_if_diverged,
                    stream_rng, torch_generator)
from sevens.mnist import load_mnist_sevens
from safety import DataError, check_output_folder, run_folder, write_json
from sevens.figures import write_figures

REPO = Path(__file__).resolve().parent
IMAGE_SIDE = IMAGE_SHAPE[0]

OPTIONS = (  # every option of the script, once: name, type, default, help, bound; `quick`: its --quick value
    Option("k", int, 3, "latent dimensions K", "in [1, 5]"),  # the homework asks for 1 <= K <= 5
    Option("plain", bool, False, "the homework's plain VAE instead of the beta-TC-VAE"),
    Option("reference", str, "mnist", "clean sevens to compare with: mnist (MNIST's training sevens, shipped) or a "
                                      "pickle of (N, 28, 28) images"),
    Option("epochs", int, 30, "training epochs", ">= 1", quick=2),
    Option("batch_size", int, 128, "images per minibatch", ">= 2"),  # the TC estimate compares within a batch
    Option("lr", float, 1e-3, "Adam's step size", "in (0, 1]"),
    Option("seed", int, 0, "seed of the split, the initial weights, the minibatches and the figures", SEED_BOUND),
    Option("device", str, "auto", "auto, cpu or cuda (auto: CUDA when present)"),
    Option("threads", int, DEFAULT_TORCH_THREADS, "CPU threads for torch (0: all cores)", THREADS_BOUND),
    Option("data_dir", Path, DEFAULT_DATA_DIR, "folder with tr7.pkl and te7.pkl"),
    Option("out", Path, None, "run folder, replaced whole when the run succeeds; None: "
                              "results/vae_sevens_k{K}[_plain]"),
    Option("quiet", bool, False, "no progress bar"),
)
QUICK_TRAIN_IMAGES = 512  # --quick trains on this many sevens: seconds, for CI and the tests
VALIDATION_FRACTION = 0.1  # of tr7
EVAL_BATCH = 512

# Random streams, one per use.
SPLIT_STREAM, TRAIN_STREAM, EVALUATION_STREAM, FIGURE_STREAM, FIT_STREAM, CRITIC_STREAM, GUIDE_STREAM = range(7)

# Architecture.
CONV_CHANNELS = (32, 64)  # 28 -> 14 -> 7 with 4x4 kernels, stride 2, padding 1
HIDDEN_UNITS = 256
FEATURE_SIDE = IMAGE_SIDE // 4  # 7, the plain decoder's first feature map
GRID_SIDE = IMAGE_SIDE // 2  # 14, the broadcast decoder's grid, upsampled once to 28
GRID_UNITS = 64  # hidden units per grid cell

# Weights of the objective: reconstruction + beta KL + (tc_weight - 1) TC + grey_level_weight G (see loss_terms).
DEFAULT_OBJECTIVE = dict(beta=2.0, tc_weight=6.0, grey_level_weight=1.0)
PLAIN_OBJECTIVE = dict(beta=1.0, tc_weight=1.0, grey_level_weight=0.0)  # the negative ELBO itself
# When the images differ and no latent holds the change: a third as many epochs again (args.guide_epochs) with
# the least used latent's mean tied to the critic's standardised score, + GUIDE_WEIGHT (mu_u - s)^2.
GUIDE_WEIGHT = 200.0  # at 20 the mean followed the score at r 0.4 only (docs/experiments.md); at 200, 0.96-0.97
MODEL_NAMES = {False: "beta-TC-VAE (beta {beta:g}, TC weight {tc_weight:g}, grey-level weight {grey_level_weight:g}, "
                      "warped broadcast decoder)".format(**DEFAULT_OBJECTIVE),
               True: "the homework's plain VAE (negative ELBO, transposed-convolution decoder)"}

# Axes and traversals.
SPREAD_MARGIN = 2.0  # lambda_1 >= 2: the poor codes' mean square spread is at least twice the clean codes'
RIDGE = 1e-3  # of the clean covariance's mean variance: keeps C invertible when a latent collapses
TRAVERSAL_GRID = np.linspace(-5.0, 5.0, 21)  # the homework's -5..5 by 0.5
FIGURE_ROWS = 3  # traversal rows per axis, each with its own N(0, 1) draw of the other latents
RECONSTRUCTIONS = 12  # test sevens drawn beside their reconstructions


# ---------------------------------------------------------------- data


def load_sevens(data_dir: Path):
    """tr7, te7 (N, 28, 28) in [0, 1], and the test truth when one te7_truth_<effect>.npy lies beside te7."""
    train, test = load_images(data_dir / "tr7.pkl"), load_images(data_dir / "te7.pkl")
    return train, test, load_truth(data_dir, len(test))


def load_reference(reference: str):
    """The clean sevens to compare with, (N, 28, 28) in [0, 1], and their data entry."""
    if reference == "mnist":  # MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), shipped in assets/
        images = load_mnist_sevens()["train"].astype(np.float32) / 255.0
        return images, {"path": "assets/mnist_sevens.npz (train)", "shape": list(images.shape)}
    images = load_images(Path(reference))
    return images, data_entry(Path(reference), images)


def split_validation(n_images: int, rng: np.random.Generator):
    """Disjoint sorted (train, validation) row indices of tr7."""
    order = rng.permutation(n_images)
    n_validation = max(1, round(VALIDATION_FRACTION * n_images))
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


# ---------------------------------------------------------------- model


class WarpedBroadcastDecoder(nn.Module):
    """p(x|z): a spatial broadcast decoder (Watters et al., 2019) that reads its grid through a warp.

    Every cell of a 14x14 grid runs the same small network on (z, x', y'), where
        (x', y') = (I + A(z)) (x, y) + b(z),    [vec A(z), b(z)] = W_warp z    (W_warp: 6 x K, starts at 0)
    and one transposed convolution turns the 14x14 map into 28x28 logits. A seven turned, slanted,
    stretched or moved is the same seven read at moved coordinates, a straight line in z; changes
    that are not warps (contrast, stroke width) go through the network.
    The first layer, linear in [z, x', y'], is computed as W_z z + W_xy (x', y') without copying z.
    """

    def __init__(self, latent_dims: int):
        super().__init__()
        axis = torch.linspace(-1.0, 1.0, GRID_SIDE)
        rows, columns = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("coordinates", torch.stack([columns.flatten(), rows.flatten()], dim=1))  # (196, 2)
        self.from_latent = nn.Linear(latent_dims, GRID_UNITS)
        self.from_position = nn.Linear(2, GRID_UNITS, bias=False)
        self.per_cell = nn.Sequential(nn.ReLU(), nn.Linear(GRID_UNITS, GRID_UNITS),
                                      nn.ReLU(), nn.Linear(GRID_UNITS, GRID_UNITS), nn.ReLU())
        self.to_logits = nn.ConvTranspose2d(GRID_UNITS, 1, 4, stride=2, padding=1)  # 14 -> 28
        self.to_warp = nn.Linear(latent_dims, 6, bias=False)
        nn.init.zeros_(self.to_warp.weight)

    def grid_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 196, 2): every cell's (x, y) mapped by the code's affine warp."""
        warp = self.to_warp(z)  # (B, 6)
        matrix = torch.eye(2, dtype=z.dtype, device=z.device) + warp[:, :4].reshape(-1, 2, 2)
        return torch.einsum("bij,nj->bni", matrix, self.coordinates) + warp[:, None, 4:]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        first = self.from_latent(z)[:, None, :] + self.from_position(self.grid_coordinates(z))  # (B, 196, H)
        hidden = self.per_cell(first).transpose(1, 2).reshape(len(z), GRID_UNITS, GRID_SIDE, GRID_SIDE)
        return self.to_logits(hidden)  # (B, 1, 28, 28)


def deconvolution_decoder(latent_dims: int) -> nn.Module:
    """The homework's p(x|z): a hidden layer to a 7x7 feature map, two transposed convolutions to 28x28."""
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Linear(latent_dims, HIDDEN_UNITS), nn.ReLU(),
        nn.Linear(HIDDEN_UNITS, c2 * FEATURE_SIDE * FEATURE_SIDE), nn.ReLU(),
        nn.Unflatten(1, (c2, FEATURE_SIDE, FEATURE_SIDE)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
    )


class ConvVAE(nn.Module):
    """q(z|x) = N(mu(x), diag sigma^2(x)) from two strided convolutions; p(x|z) Bernoulli per pixel."""

    def __init__(self, latent_dims: int, plain: bool = False):
        super().__init__()
        c1, c2 = CONV_CHANNELS
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * FEATURE_SIDE * FEATURE_SIDE, HIDDEN_UNITS), nn.ReLU(),
        )
        self.mean_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.log_variance_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.decoder = deconvolution_decoder(latent_dims) if plain else WarpedBroadcastDecoder(latent_dims)

    def encode(self, images: torch.Tensor):
        """(B, 28, 28) -> mu, log sigma^2, each (B, K)."""
        hidden = self.encoder(images.unsqueeze(1))
        return self.mean_head(hidden), self.log_variance_head(hidden)

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_variance: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z = mu + exp(1/2 log sigma^2) * eps, eps ~ N(0, I): a differentiable function of mu and sigma."""
        return mu + torch.exp(0.5 * log_variance) * noise

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, K) -> per-pixel logits (B, 28, 28)."""
        return self.decoder(z).squeeze(1)

    def forward(self, images: torch.Tensor, generator: torch.Generator):
        mu, log_variance = self.encode(images)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = self.reparameterize(mu, log_variance, noise)
        return self.decode(z), z, mu, log_variance


# ---------------------------------------------------------------- loss


def kl_to_standard_normal(mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per latent, (B, K) = -1/2 (1 + log sigma^2 - mu^2 - sigma^2).

    Kingma & Welling (2014), appendix B; summed over k it is the KL of the diagonal Gaussian.
    """
    return -0.5 * (1.0 + log_variance - mu.pow(2) - log_variance.exp())


def reconstruction_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-sum_i [x_i log l_i + (1 - x_i) log(1 - l_i)] per image, (B,): the homework's cross-entropy.

    For grey x in [0, 1] it is not a normalised density (the continuous Bernoulli's log C(l) is missing,
    Loaiza-Ganem & Cunningham, 2019), so its "nats" are a loss, as in the homework.
    """
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1)


def grey_level_distance(means: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """G = sum_i (sort(m)_i - sort(x)_i)^2 per image, (B,): 784 x the squared 2-Wasserstein distance between
    the grey levels of the decoded mean m and the image x, wherever the ink lies.

    A blurred reconstruction passes a thin dark stroke off as a thick faint one with the same per-pixel
    likelihood; sorted grey levels tell the two apart, so the code keeps ink darkness.
    """
    return (means.flatten(1).sort(1).values - images.flatten(1).sort(1).values).pow(2).sum(1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, sigma^2) elementwise."""
    return -0.5 * (math.log(2.0 * math.pi) + log_variance + (z - mu).pow(2) / log_variance.exp())


def total_correlation(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor, dataset_size: int):
    """Minibatch-weighted-sampling estimate of TC = E_q(z)[log q(z) - sum_k log q(z_k)] (Chen et al., 2018).

    With M samples z_i ~ q(z|x_i) of a minibatch drawn from N images:
        log q(z_i)  ~ logsumexp_j log q(z_i | x_j)  - log(N M)
        log q(z_ik) ~ logsumexp_j log q(z_ik | x_j) - log(N M)
    Returns the batch mean (a scalar).
    """
    pairwise = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), log_variance.unsqueeze(0))  # (M, M, K)
    log_normaliser = math.log(dataset_size * z.shape[0])
    log_joint = torch.logsumexp(pairwise.sum(2), dim=1) - log_normaliser  # (M,)
    log_marginals = (torch.logsumexp(pairwise, dim=1) - log_normaliser).sum(1)  # (M,)
    return (log_joint - log_marginals).mean()


def loss_terms(model, images, objective: dict, dataset_size: int, generator, guide=None) -> dict:
    """Batch means: the objective to minimise and the parts of the negative ELBO.

    objective = reconstruction + beta KL + (tc_weight - 1) TC + grey_level_weight G [+ GUIDE_WEIGHT (mu_u - s)^2
    with guide = (u, s), s the batch's targets]; the negative ELBO (reconstruction + KL) is what is reported.
    tc_weight 1 and G weight 0 leave beta-VAE's objective.
    """
    logits, z, mu, log_variance = model(images, generator)
    reconstruction = reconstruction_nll(logits, images).mean()
    kl = kl_to_standard_normal(mu, log_variance).sum(1).mean()
    total = reconstruction + objective["beta"] * kl
    if objective["tc_weight"] != 1.0:
        total = total + (objective["tc_weight"] - 1.0) * total_correlation(z, mu, log_variance, dataset_size)
    if objective["grey_level_weight"]:
        total = total + objective["grey_level_weight"] * grey_level_distance(torch.sigmoid(logits), images).mean()
    if guide is not None:
        total = total + GUIDE_WEIGHT * (mu[:, guide[0]] - guide[1]).pow(2).mean()
    return {"objective": total, "neg_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


# ---------------------------------------------------------------- training


def batches(n: int, size: int, generator: torch.Generator | None = None):
    """Index tensors of at most `size`: a random order with a generator, else in order."""
    order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator, device=generator.device)
    return [order[first : first + size] for first in range(0, n, size)]


def train_epoch(model, optimiser, images, objective, batch_size, generator, guide=None) -> dict:
    """One pass over the images in a random order; per-image means of the terms. guide: (latent, targets (N,))."""
    model.train()
    sums, count = {}, 0
    for index in batches(len(images), batch_size, generator):
        if len(index) < 2:
            continue  # the TC estimate compares each sample with the others of its batch
        batch_guide = None if guide is None else (guide[0], guide[1][index])
        terms = loss_terms(model, images[index], objective, len(images), generator, batch_guide)
        optimiser.zero_grad(set_to_none=True)
        terms["objective"].backward()
        optimiser.step()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + value.item() * len(index)
        count += len(index)
    return {name: value / count for name, value in sums.items()}


@torch.no_grad()
def evaluate(model, images, generator) -> dict:
    """Negative ELBO per image (one posterior sample each), its parts, KL per latent, and the posterior means."""
    model.eval()
    reconstruction, kl, mus = [], [], []
    for index in batches(len(images), EVAL_BATCH):
        logits, _, mu, log_variance = model(images[index], generator)
        reconstruction.append(reconstruction_nll(logits, images[index]))
        kl.append(kl_to_standard_normal(mu, log_variance))
        mus.append(mu)
    reconstruction, kl = torch.cat(reconstruction), torch.cat(kl)
    return {"neg_elbo": float((reconstruction + kl.sum(1)).mean()), "reconstruction": float(reconstruction.mean()),
            "kl": float(kl.sum(1).mean()), "kl_per_latent": kl.mean(0).tolist(),
            "mu": torch.cat(mus).cpu().numpy().astype(np.float64)}


def train(model, images: dict, objective: dict, args, device, guide=None):
    """Adam for args.epochs epochs (guide_epochs more, after them, with a guide): the history of the terms on
    every split, and the final model's evaluations."""
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch_generator(args.seed, TRAIN_STREAM if guide is None else GUIDE_STREAM, device)
    history = []
    epochs = range(1, args.epochs + 1) if guide is None else range(args.epochs + 1, args.epochs + 1 + args.guide_epochs)
    progress = tqdm(epochs, desc="vae" if guide is None else "guided", unit="epoch", disable=args.quiet)
    for epoch in progress:
        entry = {"epoch": epoch, "train": train_epoch(model, optimiser, images["train"], objective, args.batch_size,
                                                      generator, guide)}
        stop_if_diverged(epoch, args.lr, entry["train"]["neg_elbo"])
        final = {split: evaluate(model, images[split], torch_generator(args.seed, EVALUATION_STREAM, device))
                 for split in ("validation", "test")}
        entry.update({split: {term: final[split][term] for term in ("neg_elbo", "reconstruction", "kl")}
                      for split in final})
        history.append(entry)
        progress.set_postfix(train=f"{entry['train']['neg_elbo']:.1f}", test=f"{entry['test']['neg_elbo']:.1f}")
    return history, final


def guide_targets(critic_scores: np.ndarray, kl_per_latent, device):
    """Room for a change the code missed: the latent with the least KL (the least used) and, per poor training
    seven, its target s = the critic's logit standardised over them (how changed the seven looks)."""
    standardised = (critic_scores - critic_scores.mean()) / max(float(critic_scores.std()), EPS)
    return int(np.argmin(kl_per_latent)), torch.as_tensor(standardised, dtype=torch.float32, device=device)


# ---------------------------------------------------------------- axes


class Axes:
    """The axes the code is read on: z' = U (z - m) and back z = U^{-1} z' + m; axis 0 comes first."""

    def __init__(self, unmixing: np.ndarray, centre: np.ndarray, scores: np.ndarray):
        self.unmixing, self.centre, self.scores = unmixing, centre, scores
        self.mixing = np.linalg.inv(unmixing)

    def from_model(self, z: np.ndarray) -> np.ndarray:
        """(..., K) model codes -> codes on these axes."""
        return (z - self.centre) @ self.unmixing.T

    def to_model(self, z_axes: np.ndarray) -> np.ndarray:
        """(..., K) codes on these axes -> model codes."""
        return z_axes @ self.mixing.T + self.centre


def spread_axes(poor: np.ndarray, clean: np.ndarray) -> Axes:
    """Axes ordered by how far the poor codes (N, K) spread beyond the clean codes (M, K).

    Solve S v = lambda C v (the generalised symmetric eigenproblem) with
        S = E_poor[(z - m_clean)(z - m_clean)^T]  (spread about the clean mean: a constant shift counts too)
        C = Cov_clean(z) + ridge I;
    lambda_k = v_k^T S v_k / v_k^T C v_k is how many times the clean codes' variance the poor codes spread
    along v_k; the clean sevens are a distribution to compare with, never paired with the poor ones. Each axis
    is centred on the poor codes, scaled to unit std over them and points from the clean mean towards the poor
    one (where they coincide, where its largest component is positive), so that its high end is "more changed".
    """
    deviation = poor - clean.mean(0)
    spread = deviation.T @ deviation / len(poor)
    covariance = np.atleast_2d(np.cov(clean.T, ddof=0))
    covariance = covariance + RIDGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    ratios, vectors = scipy.linalg.eigh(spread, covariance)
    order = np.argsort(-ratios)
    directions = vectors[:, order]
    shift = (poor.mean(0) - clean.mean(0)) @ directions
    largest = directions[np.abs(directions).argmax(0), np.arange(directions.shape[1])]
    signs = np.where(np.abs(shift) > EPS, np.sign(shift), np.sign(largest))
    directions = directions * np.where(signs == 0, 1.0, signs)
    centre = poor.mean(0)
    scale = np.maximum(((poor - centre) @ directions).std(0), EPS)
    return Axes((directions / scale).T, centre, ratios[order])


@torch.no_grad()
def encode_means(model, images: np.ndarray, device) -> np.ndarray:
    """Posterior means (N, K) of images (N, 28, 28)."""
    model.eval()
    tensor = torch.as_tensor(images, dtype=torch.float32, device=device)
    means = [model.encode(tensor[index])[0].cpu().numpy() for index in batches(len(tensor), EVAL_BATCH)]
    return np.concatenate(means).astype(np.float64)


@torch.no_grad()
def decode_means(model, codes: np.ndarray, axes: Axes, device) -> np.ndarray:
    """(..., K) codes on `axes` -> (..., 28, 28) decoded mean images, sigmoid(logits)."""
    model.eval()
    flat = torch.as_tensor(axes.to_model(codes).reshape(-1, codes.shape[-1]), dtype=torch.float32, device=device)
    return torch.sigmoid(model.decode(flat)).cpu().numpy().reshape(*codes.shape[:-1], IMAGE_SIDE, IMAGE_SIDE)


# ---------------------------------------------------------------- traversals


def traversal_codes(fixed: np.ndarray) -> np.ndarray:
    """(K, rows, 21, K): for axis k, row r keeps fixed[r] (rows, K) and walks axis k over TRAVERSAL_GRID."""
    latent_dims, rows = fixed.shape[1], len(fixed)
    codes = np.broadcast_to(fixed[None, :, None, :], (latent_dims, rows, len(TRAVERSAL_GRID), latent_dims)).copy()
    for k in range(latent_dims):
        codes[k, :, :, k] = TRAVERSAL_GRID
    return codes


def figure_images(model, axes: Axes, test_images: torch.Tensor, args, device):
    """Traversals (K, rows, 21, 28, 28) and test sevens beside their reconstructions from mu (2, n, 28, 28)."""
    fixed = stream_rng(args.seed, FIGURE_STREAM).standard_normal((FIGURE_ROWS, args.k))
    traversals = decode_means(model, traversal_codes(fixed), axes, device)
    with torch.no_grad():
        originals = test_images[:RECONSTRUCTIONS]
        reconstructions = torch.sigmoid(model.decode(model.encode(originals)[0])).cpu().numpy()
    return traversals, np.stack([originals.cpu().numpy(), reconstructions])


# ---------------------------------------------------------------- what the effect is


def read_code(model, poor_images, reference, test_mu, evidence: dict, args, device):
    """The axes (the spread beyond the clean sevens), the codes on them (poor training, clean and test sevens)
    and the effect found along the axes, with the evidence of the images."""
    poor, clean = encode_means(model, poor_images, device), encode_means(model, reference, device)
    axes = spread_axes(poor, clean)
    codes = {"poor": axes.from_model(poor), "clean": axes.from_model(clean), "test": axes.from_model(test_mu)}
    decode = functools.partial(decode_means, model, axes=axes, device=device)
    effect = along_axis.describe_axis(decode, codes["poor"], axes.scores[0], SPREAD_MARGIN, evidence,
                                      stream_rng(args.seed, FIT_STREAM))
    result = {"axis_scores": axes.scores.tolist(), "spread_margin": SPREAD_MARGIN, **effect}
    images = {key: evidence[key] for key in image_checks.EVIDENCE_KEYS}
    return axes, codes, {**result, **images}


def truth_scores(test_mu: np.ndarray, truth, effect_dimension) -> dict:
    """|Spearman| of each axis's test codes with the true effect, when te7's truth lies beside it (scores only)."""
    if truth is None:
        return dict.fromkeys(("truth_file", "spearman_with_truth", "effect_dimension_abs_spearman",
                              "best_abs_spearman", "best_spearman_dimension"))
    name, values = truth
    correlations = [float(scipy.stats.spearmanr(values, test_mu[:, k]).statistic) if np.ptp(test_mu[:, k]) else 0.0
                    for k in range(test_mu.shape[1])]
    magnitudes = np.abs(correlations)
    return {"truth_file": name, "spearman_with_truth": correlations,
            "effect_dimension_abs_spearman": None if effect_dimension is None else float(magnitudes[effect_dimension]),
            "best_abs_spearman": float(magnitudes.max()), "best_spearman_dimension": int(magnitudes.argmax())}


# ---------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    """The options, each checked before any work (the run folder too); DataError otherwise."""
    args = parse_options(OPTIONS, argv, __doc__, quick_note=f"{QUICK_TRAIN_IMAGES} training images")
    if args.reference != "mnist" and not Path(args.reference).is_file():
        raise DataError(f"--reference {args.reference}: expected mnist or a pickle of (N, 28, 28) images")
    args.guide_epochs = max(1, round(args.epochs / 3))
    if args.out is None:
        args.out = REPO / "results" / f"vae_sevens_k{args.k}{'_plain' if args.plain else ''}"
    args.out = check_output_folder(args.out, data_dir=args.data_dir)
    args.device = pick_device(args.device)
    return args


def summary_line(metrics: dict, out: Path) -> str:
    text = f"K={metrics['k']} {metrics['model']}: test -ELBO {metrics['test_neg_elbo']:.1f}; "
    text += metrics["effect_sentence"]
    if metrics["guided_latent"] is not None:
        text += f" (after {metrics['guide_epochs']} epochs with latent {metrics['guided_latent']} tied to the critic)"
    if metrics["truth_file"] is not None and metrics["effect_dimension"] is not None:
        text += (f"; |Spearman| with {metrics['truth_file']}: z{metrics['effect_dimension']} "
                 f"{metrics['effect_dimension_abs_spearman']:.3f} (best z{metrics['best_spearman_dimension']} "
                 f"{metrics['best_abs_spearman']:.3f})")
    return text + f" [{metrics['seconds']:.0f} s, {out}]"


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.threads:  # 0: torch's default, all cores
        torch.set_num_threads(args.threads)
    train_all, test, truth = load_sevens(args.data_dir)
    reference, reference_entry = load_reference(args.reference)
    train_rows, validation_rows = split_validation(len(train_all), stream_rng(args.seed, SPLIT_STREAM))
    if args.quick:
        train_rows = train_rows[:QUICK_TRAIN_IMAGES]
    as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32, device=args.device)
    images = {"train": as_tensor(train_all[train_rows]), "validation": as_tensor(train_all[validation_rows]),
              "test": as_tensor(test)}

    poor = train_all[train_rows]
    evidence = image_checks.evidence_from_images(poor, reference, stream_rng(args.seed, CRITIC_STREAM))

    torch.manual_seed(args.seed)  # the initial weights
    model = ConvVAE(args.k, plain=args.plain).to(args.device)
    objective = PLAIN_OBJECTIVE if args.plain else DEFAULT_OBJECTIVE
    history, final = train(model, images, objective, args, args.device)
    axes, codes, result = read_code(model, poor, reference, final["test"]["mu"], evidence, args, args.device)
    guided = not args.plain and result["effect_dimension"] is None and evidence["images_differ"]
    if guided:  # the images differ, the code does not hold it: the model is at fault, so give the change room
        guide = guide_targets(evidence["critic_scores"], final["validation"]["kl_per_latent"], args.device)
        more, final = train(model, images, objective, args, args.device, guide)
        history += more
        axes, codes, result = read_code(model, poor, reference, final["test"]["mu"], evidence, args, args.device)
    metrics = {
        "script": "vae_sevens.py", "model": MODEL_NAMES[args.plain], "plain": args.plain, "k": args.k,
        "seed": args.seed, "quick": args.quick, "device": str(args.device), "threads": torch.get_num_threads(),
        "data": {"train": {**data_entry(args.data_dir / "tr7.pkl", train_all), "train_rows": len(train_rows),
                           "validation_rows": len(validation_rows)},
                 "test": data_entry(args.data_dir / "te7.pkl", test), "reference": reference_entry},
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "objective": objective, "traversal_limit": TRAVERSAL_GRID[-1],
        "figure_rows": FIGURE_ROWS, "fit_quantiles": list(along_axis.FIT_QUANTILES),
        "test_neg_elbo": final["test"]["neg_elbo"], "test_reconstruction": final["test"]["reconstruction"],
        "test_kl": final["test"]["kl"], "validation_neg_elbo": final["validation"]["neg_elbo"],
        "kl_per_latent": final["test"]["kl_per_latent"], "guided_latent": guide[0] if guided else None,
        "guide_epochs": args.guide_epochs, "guide_weight": GUIDE_WEIGHT, **result,
        **truth_scores(codes["test"], truth, result["effect_dimension"]),
        "history": history,
    }
    with run_folder(args.out) as folder:
        traversals, reconstructions = figure_images(model, axes, images["test"], args, args.device)
        write_figures(folder, traversals, TRAVERSAL_GRID, reconstructions, codes, metrics, evidence["mean_difference"],
                      history, f"{'plain VAE' if args.plain else 'beta-TC-VAE'}, K={args.k}")
        torch.save({"state_dict": model.state_dict(), "k": args.k, "plain": args.plain,
                    "axes_unmixing": torch.as_tensor(axes.unmixing), "axes_centre": torch.as_tensor(axes.centre)},
                   folder / "model.pt")
        np.savez(folder / "test_latents.npz", mu=codes["test"], model_mu=final["test"]["mu"],
                 axes_unmixing=axes.unmixing, axes_centre=axes.centre)
        metrics["seconds"] = time.perf_counter() - started
        write_json(folder / "metrics.json", metrics)
    print(summary_line(metrics, args.out))


if __name__ == "__main__":
    run_cli(main)
