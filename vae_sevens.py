"""Problem 2: a convolutional VAE on the "poor sevens", and evidence of which latent carries the effect.

    python vae_sevens.py --k 3            # beta-TC-VAE, warped broadcast decoder, grey-level term W = 1:
                                          #   data/tr7.pkl, data/te7.pkl -> results/vae_sevens_k3/
    python vae_sevens.py --k 3 --plain    # the homework's plain VAE      -> results/vae_sevens_k3_plain/

Model (Kingma & Welling, 2014):
    encoder  q(z|x) = N(mu(x), diag sigma^2(x)): two strided convolutions, a hidden layer, two heads
    reparameterisation  z = mu + exp(1/2 log sigma^2) * eps,  eps ~ N(0, I)
    decoder  p(x|z), --decoder:
             warped-broadcast  (default) the broadcast decoder below, reading its grid through an
                               affine map linear in z: (x', y') = (I + A(z)) (x, y) + b(z)
             broadcast         a spatial broadcast decoder (Watters et al., 2019): the same small
                               network reads (z, x, y) at every cell of a 14x14 grid, then one
                               transposed convolution to 28x28 logits
             deconvolution     the homework's: a hidden layer to a 7x7 feature map, two transposed
                               convolutions to 28x28 logits
    negative ELBO per image = -E_q[log p(x|z)] + KL(q(z|x) || N(0, I)),
    KL = -1/2 sum_k (1 + log sigma_k^2 - mu_k^2 - sigma_k^2)

Likelihood (--likelihood): the pixels are grey values in [0, 1], not binary.
    bernoulli             -sum_i [x_i log l_i + (1 - x_i) log(1 - l_i)], the cross-entropy the homework
                          uses; for grey x it is not a normalised density, so its "nats" are a loss.
    continuous-bernoulli  the same minus log C(l) per pixel, C(l) = 2 artanh(1 - 2l) / (1 - 2l), which
                          makes it a density on [0, 1] (Loaiza-Ganem & Cunningham, 2019).

Objective (--objective):
    tc-vae   (default) beta-TC-VAE (Chen et al., 2018): reconstruction + beta * KL + (tc_weight - 1) * TC
             (defaults beta = 2, tc_weight = 6), where
             TC = KL(q(z) || prod_k q(z_k)) is the total correlation of the aggregate posterior,
             estimated on each minibatch by minibatch-weighted sampling. Penalising it pushes each
             factor of the data onto one axis; a plain VAE's isotropic prior has no preferred axes.
    vae      reconstruction + beta * KL; --plain is the homework's plain VAE (beta = 1, transposed-
             convolution decoder, no grey-level term, model axes). The default is NOT the plain VAE:
             run both and compare.
The defaults (decoder, beta, tc_weight, grey-level weight, epochs, axes) were chosen on the validation
tenth of tr7, never on te7.

Grey levels (--grey-level-weight W, default 1; 0 or --plain turns it off): adds
W * sum_i (sort(m)_i - sort(x)_i)^2 per image, m the decoded mean, to the objective (not to the
reported negative ELBO). It compares the images' grey levels wherever the ink lies, so a blurred
reconstruction cannot pass a thin dark stroke off as a thick faint one: without it the code barely
holds an effect that changes the ink rather than moves it (a contrast change).

Axes (--axes): the prior N(0, I) and the ELBO are unchanged by a rotation of z, so training does not
pick the latent axes. `independent` (default) reads the trained code on the axes found by independent
component analysis of the training sevens' codes, z' = U (z - m): whitened, then rotated to be as
non-Gaussian, hence as independent, as they can be. An effect added to the sevens independently of
their shape is such a factor. Every latent named below (traversals, evidence, correlations) is an
axis z'_k; `model` keeps the encoder's latent units (--plain does).

Evidence (no ground truth needed): traversals start from the codes of real training sevens and
move z_k across the middle 90% of the training codes; simple statistics of the decoded sevens
(orientation from second moments, centre of mass, ink mass, stroke width, ink intensity) are
measured along them. The effect is the (latent, statistic) pair where the statistic moves steadily
along the traversal and the latent orders the real sevens by that statistic (`traversal_evidence`).
The homework's traversals (other latents drawn from N(0, 1), z_k from -5 to 5 by 0.5) are drawn in
traversal.png and traversal_rows.png.
When te7_angles.npy or te7_effect.npy lies beside te7.pkl, the Spearman correlation of each latent's
test posterior mean with it is reported too (it is never used to choose anything).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from common import (
    DEFAULT_DATA_DIR,
    DEFAULT_TORCH_THREADS,
    DataError,
    atomic_path,
    load_array,
    load_images,
    new_figure,
    pick_device,
    run_cli,
    save_figure,
    save_torch,
    set_torch_threads,
    sha256_file,
    write_json,
)

REPO = Path(__file__).resolve().parent
IMAGE_SIDE = 28
LATENT_RANGE = (1, 5)  # the homework asks for 1 <= K <= 5

# Architecture (the decoder's grid and the defaults below were chosen on the validation tenth of tr7).
CONV_CHANNELS = (32, 64)  # 28 -> 14 -> 7 with 4x4 kernels, stride 2, padding 1
HIDDEN_UNITS = 256
BROADCAST_UNITS = 64  # hidden units per grid cell of the spatial broadcast decoder
BROADCAST_SIDE = IMAGE_SIDE // 2  # its grid, 14x14, upsampled once to 28x28
FEATURE_SIDE = IMAGE_SIDE // 4  # 7

# Optimisation defaults (see --help).
DEFAULT_EPOCHS = 30
DEFAULT_BATCH = 128
DEFAULT_LR = 1e-3
DEFAULT_TC_WEIGHT = 6.0
DEFAULT_BETA = 2.0
DEFAULT_DECODER = "warped-broadcast"
DEFAULT_AXES = "independent"
DEFAULT_GREY_LEVEL_WEIGHT = 1.0
VALIDATION_FRACTION = 0.1  # of tr7, held out for the validation curve

# Traversals, as the homework describes them.
TRAVERSAL_LIMIT = 5.0
TRAVERSAL_STEP = 0.5
FIGURE_ROWS = 4  # rows per latent drawn in traversal_rows.png, each with its own draw of the other latents
EVIDENCE_ROWS = 16  # evidence rows per latent, each starting from the code of one random training seven
EVIDENCE_QUANTILES = (0.05, 0.95)  # z_k crosses the middle 90% of the training sevens' posterior means
EVIDENCE_STEPS = 11

QUICK = dict(epochs=2, train_images=512, evidence_rows=4)


# ---------------------------------------------------------------- data


def load_sevens(data_dir: Path):
    """tr7 and te7 (N, 28, 28) in [0, 1], and the test ground truth when it lies beside them."""
    train = load_images(data_dir / "tr7.pkl")
    test = load_images(data_dir / "te7.pkl")
    for path, images in ((data_dir / "tr7.pkl", train), (data_dir / "te7.pkl", test)):
        if images.min() < 0.0 or images.max() > 1.0:
            raise DataError(
                f"{path}: expected grey values in [0, 1], found [{images.min():.3g}, {images.max():.3g}]"
            )
    truths = {}
    for prefix, count in (("tr7", len(train)), ("te7", len(test))):
        for name in ("angles", "effect"):
            path = data_dir / f"{prefix}_{name}.npy"
            if path.is_file():
                values = load_array(path, 1, f"one ground-truth value per image of {prefix}.pkl")
                if len(values) != count:
                    raise DataError(f"{path}: expected {count} values (one per image), found {len(values)}")
                truths[prefix] = (path.name, values)
                break
    return train, test, truths


def split_validation(n_images: int, rng: np.random.Generator, fraction: float = VALIDATION_FRACTION):
    """Random disjoint (train, validation) row indices of tr7; at least one validation image."""
    order = rng.permutation(n_images)
    n_validation = max(1, int(round(fraction * n_images))) if n_images > 1 else 0
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


# ---------------------------------------------------------------- model


class SpatialBroadcastDecoder(nn.Module):
    """p(x|z) as a function of (z, position) (Watters et al., 2019), on a 14x14 grid upsampled to 28x28.

    z (K,) is copied to every cell of a 14x14 grid and joined by the cell's coordinates (x, y) in
    [-1, 1]; the same small network then runs at every cell, and one stride-2 transposed
    convolution turns the 14x14 map of hidden units into 28x28 logits. A seven moved, turned or
    slanted is then a smooth function of one number (the network only has to move where it looks),
    where a deconvolution stack from a flat hidden layer finds it easier to mix two latents along a
    curve. The half-resolution grid costs a quarter of a network run at every pixel.
    The first layer, linear in the concatenation [z, x, y], is computed as W_z z + W_xy (x, y): the
    same numbers without materialising the copies.
    """

    def __init__(self, latent_dims: int):
        super().__init__()
        axis = torch.linspace(-1.0, 1.0, BROADCAST_SIDE)
        rows, columns = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("coordinates", torch.stack([columns.flatten(), rows.flatten()], dim=1))  # (196, 2)
        self.from_latent = nn.Linear(latent_dims, BROADCAST_UNITS)
        self.from_position = nn.Linear(2, BROADCAST_UNITS, bias=False)
        self.per_cell = nn.Sequential(
            nn.ReLU(),
            nn.Linear(BROADCAST_UNITS, BROADCAST_UNITS),
            nn.ReLU(),
            nn.Linear(BROADCAST_UNITS, BROADCAST_UNITS),
            nn.ReLU(),
        )
        self.to_logits = nn.ConvTranspose2d(BROADCAST_UNITS, 1, 4, stride=2, padding=1)  # 14 -> 28

    def grid_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """Where each cell reads from: the fixed grid, (196, 2), the same for every code."""
        return self.coordinates

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        first = self.from_latent(z)[:, None, :] + self.from_position(self.grid_coordinates(z))  # (B, 196, H)
        hidden = self.per_cell(first).transpose(1, 2)  # (B, H, 196)
        hidden = hidden.reshape(len(z), BROADCAST_UNITS, BROADCAST_SIDE, BROADCAST_SIDE)
        return self.to_logits(hidden)  # (B, 1, 28, 28)


class WarpedBroadcastDecoder(SpatialBroadcastDecoder):
    """The broadcast decoder reading its grid through an affine map that the code moves:

        (x', y') = (I + A(z)) (x, y) + b(z),    [vec A(z), b(z)] = W_warp z    (W_warp: 6 x K, no bias)

    A seven turned, slanted, stretched or moved is the same seven read at moved coordinates. With
    the map linear in z, one latent can make such a change alone, a straight line in z, where the
    plain broadcast decoder has to bend the network's response to (z, x, y) into it and, depending on
    the seed, spreads the change over two latents. W_warp starts at zero, so training starts from
    the plain broadcast decoder. Changes that are not warps (contrast, stroke width) go through the
    network as before.
    """

    def __init__(self, latent_dims: int):
        super().__init__(latent_dims)
        self.to_warp = nn.Linear(latent_dims, 6, bias=False)
        nn.init.zeros_(self.to_warp.weight)

    def grid_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 196, 2): every cell's (x, y) mapped by the code's affine warp."""
        warp = self.to_warp(z)  # (B, 6)
        matrix = torch.eye(2, dtype=z.dtype, device=z.device) + warp[:, :4].reshape(-1, 2, 2)  # (B, 2, 2)
        return torch.einsum("bij,nj->bni", matrix, self.coordinates) + warp[:, None, 4:]


def deconvolution_decoder(latent_dims: int) -> nn.Module:
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Linear(latent_dims, HIDDEN_UNITS),
        nn.ReLU(),
        nn.Linear(HIDDEN_UNITS, c2 * FEATURE_SIDE * FEATURE_SIDE),
        nn.ReLU(),
        nn.Unflatten(1, (c2, FEATURE_SIDE, FEATURE_SIDE)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
    )


DECODERS = {
    "warped-broadcast": WarpedBroadcastDecoder,
    "broadcast": SpatialBroadcastDecoder,
    "deconvolution": deconvolution_decoder,
}


class ConvVAE(nn.Module):
    """q(z|x) and p(x|z) as in the module docstring; `decode` returns per-pixel logits."""

    def __init__(self, latent_dims: int, decoder: str = "deconvolution"):
        super().__init__()
        c1, c2 = CONV_CHANNELS
        flat = c2 * FEATURE_SIDE * FEATURE_SIDE
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(flat, HIDDEN_UNITS),
            nn.ReLU(),
        )
        self.mean_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.log_variance_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.decoder = DECODERS[decoder](latent_dims)

    def encode(self, images: torch.Tensor):
        """(B, 28, 28) -> mu, log sigma^2, each (B, K)."""
        hidden = self.encoder(images.unsqueeze(1))
        return self.mean_head(hidden), self.log_variance_head(hidden)

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_variance: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z = mu + exp(1/2 log sigma^2) * eps: the sample is a differentiable function of mu, sigma."""
        return mu + torch.exp(0.5 * log_variance) * noise

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, K) -> logits (B, 28, 28)."""
        return self.decoder(z).squeeze(1)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None):
        mu, log_variance = self.encode(images)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = self.reparameterize(mu, log_variance, noise)
        return self.decode(z), z, mu, log_variance


# ---------------------------------------------------------------- loss


def kl_to_standard_normal(mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per latent, (B, K): -1/2 (1 + log sigma^2 - mu^2 - sigma^2).

    Kingma & Welling (2014), appendix B; summed over k it is the KL of the diagonal Gaussian.
    """
    return -0.5 * (1.0 + log_variance - mu.pow(2) - log_variance.exp())


def continuous_bernoulli_log_normaliser(logits: torch.Tensor) -> torch.Tensor:
    """log C(l), C(l) = 2 artanh(1 - 2l) / (1 - 2l), l = sigmoid(eta); in logits C = eta / tanh(eta / 2).

    Near eta = 0 the ratio is 0/0; its Taylor series 2 + eta^2 / 6 is exact there to float precision.
    """
    small = logits.abs() < 1e-2
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.log(safe / torch.tanh(safe / 2.0))
    taylor = torch.log(2.0 + logits.pow(2) / 6.0)
    return torch.where(small, taylor, exact)


def reconstruction_nll(logits: torch.Tensor, images: torch.Tensor, likelihood: str) -> torch.Tensor:
    """-log p(x|z) per image, (B,), in nats, summed over the 784 pixels."""
    cross_entropy = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    if likelihood == "continuous-bernoulli":
        cross_entropy = cross_entropy - continuous_bernoulli_log_normaliser(logits)
    return cross_entropy.flatten(1).sum(1)


def grey_level_distance(means: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """sum_i (sort(m)_i - sort(x)_i)^2 per image, (B,): 784 times the squared 2-Wasserstein distance
    between the grey levels of the decoded mean m and of the image x, wherever the ink lies.

    A decoder that is unsure of the stroke's exact path outputs a blurred seven, and a blur turns a
    thin dark stroke into a thick faint one with the same ink mass: the per-pixel likelihood then
    barely tells ink darkness from stroke width. Sorted grey levels do (a few dark pixels against
    many faint ones). Weighted by --grey-level-weight (0 leaves the objective without it).
    """
    return (means.flatten(1).sort(1).values - images.flatten(1).sort(1).values).pow(2).sum(1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, sigma^2) elementwise."""
    return -0.5 * (math.log(2.0 * math.pi) + log_variance + (z - mu).pow(2) / log_variance.exp())


def total_correlation(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor, dataset_size: int):
    """Minibatch-weighted-sampling estimate of TC = E_q(z)[log q(z) - sum_k log q(z_k)] (Chen et al., 2018).

    With M samples z_i ~ q(z|x_i) of a minibatch drawn from N training images:
        log q(z_i)    ~ logsumexp_j log q(z_i | x_j)    - log(N M)
        log q(z_ik)   ~ logsumexp_j log q(z_ik | x_j)   - log(N M)
    Returns the batch mean (a scalar).
    """
    batch = z.shape[0]
    pairwise = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), log_variance.unsqueeze(0))  # (M, M, K)
    log_normaliser = math.log(dataset_size * batch)
    log_joint = torch.logsumexp(pairwise.sum(2), dim=1) - log_normaliser  # (M,)
    log_marginals = (torch.logsumexp(pairwise, dim=1) - log_normaliser).sum(1)  # (M,)
    return (log_joint - log_marginals).mean()


def loss_terms(model, images, likelihood, objective, beta, tc_weight, dataset_size, generator=None,
               grey_level_weight=0.0):
    """Per-batch means: the objective to minimise and the parts of the negative ELBO."""
    logits, z, mu, log_variance = model(images, generator)
    reconstruction = reconstruction_nll(logits, images, likelihood).mean()
    kl_per_dimension = kl_to_standard_normal(mu, log_variance).mean(0)  # (K,)
    kl = kl_per_dimension.sum()
    terms = {"reconstruction": reconstruction, "kl": kl, "neg_elbo": reconstruction + kl}
    if objective == "vae":
        terms["objective"] = reconstruction + beta * kl
    else:
        tc = total_correlation(z, mu, log_variance, dataset_size)
        terms["tc"] = tc
        terms["objective"] = reconstruction + beta * kl + (tc_weight - 1.0) * tc
    if grey_level_weight:
        terms["grey_level"] = grey_level_distance(pixel_means(logits, likelihood), images).mean()
        terms["objective"] = terms["objective"] + grey_level_weight * terms["grey_level"]
    terms["kl_per_dimension"] = kl_per_dimension
    return terms


# ---------------------------------------------------------------- train and evaluate


def batches(n: int, size: int, generator: torch.Generator | None):
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for first in range(0, n, size):
        yield order[first : first + size]


def train_epoch(model, optimiser, images, config, generator) -> dict:
    """One pass over the training images in a random order; returns the per-image means of the terms."""
    model.train()
    sums, count = {}, 0
    for index in batches(len(images), config.batch_size, generator):
        if len(index) < 2 and config.objective == "tc-vae":
            continue  # the TC estimate needs other samples of the batch
        terms = loss_terms(
            model, images[index], config.likelihood, config.objective, config.beta, config.tc_weight, len(images),
            generator, config.grey_level_weight,
        )
        optimiser.zero_grad(set_to_none=True)
        terms["objective"].backward()
        optimiser.step()
        for name in ("objective", "neg_elbo", "reconstruction", "kl"):
            sums[name] = sums.get(name, 0.0) + terms[name].item() * len(index)
        count += len(index)
    return {name: value / max(count, 1) for name, value in sums.items()}


@torch.no_grad()
def evaluate(model, images, likelihood, batch_size, seed) -> dict:
    """Negative ELBO per image (one posterior sample each, fixed noise), its parts, and the posterior."""
    model.eval()
    generator = torch.Generator(device=images.device).manual_seed(seed)
    recon, kl, mus, log_variances = [], [], [], []
    for index in batches(len(images), batch_size, None):
        logits, _, mu, log_variance = model(images[index], generator)
        recon.append(reconstruction_nll(logits, images[index], likelihood))
        kl.append(kl_to_standard_normal(mu, log_variance))
        mus.append(mu)
        log_variances.append(log_variance)
    recon, kl = torch.cat(recon), torch.cat(kl)
    return {
        "neg_elbo": float((recon + kl.sum(1)).mean()),
        "reconstruction": float(recon.mean()),
        "kl": float(kl.sum(1).mean()),
        "kl_per_dimension": kl.mean(0).tolist(),
        "mu": torch.cat(mus).cpu().numpy(),
        "log_variance": torch.cat(log_variances).cpu().numpy(),
    }


# ---------------------------------------------------------------- the latent axes


# E[log cosh(u)] for u ~ N(0, 1), by quadrature (a test checks it): the Gaussian's value in `negentropy`.
GAUSSIAN_LOG_COSH = 0.3745672075
AXIS_ANGLES = 180  # rotation angles tried per pair of axes: a grid over [0, 90) degrees, 0.5 degree apart
AXIS_SWEEPS = 6  # passes over all pairs at most; they stop as soon as no pair moves


def negentropy(codes: np.ndarray) -> np.ndarray:
    """Per column of codes (N, ...): J(y) = (E[log cosh y] - E[log cosh u])^2, y the column standardised,
    u ~ N(0, 1): zero for a Gaussian, larger the less Gaussian the column (Hyvarinen & Oja, 2000)."""
    centred = codes - codes.mean(0)
    standardised = centred / np.maximum(centred.std(0), 1e-12)
    log_cosh = np.logaddexp(standardised, -standardised) - np.log(2.0)  # no overflow for large |y|
    return (log_cosh.mean(0) - GAUSSIAN_LOG_COSH) ** 2


def plane_rotation(k: int, i: int, j: int, angle: float) -> np.ndarray:
    """(K, K) rotation by `angle` in the plane of axes i and j."""
    rotation = np.eye(k)
    rotation[[i, i, j, j], [i, j, i, j]] = np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)
    return rotation


def independent_rotation(codes: np.ndarray) -> np.ndarray:
    """The rotation R (K, K) whose axes make the white codes (N, K) least Gaussian, by Jacobi sweeps.

    The sum of the axes' negentropies is maximised over rotations one pair of axes at a time: each
    pair is turned by the best angle of a fixed grid (a 90-degree turn only swaps the pair), and the
    sweeps repeat until no pair moves. It starts from the identity: deterministic.
    """
    k = codes.shape[1]
    centred = codes - codes.mean(0)
    rotation = np.eye(k)
    angles = np.arange(AXIS_ANGLES) * (0.5 * np.pi / AXIS_ANGLES)
    cos, sin = np.cos(angles), np.sin(angles)
    for _ in range(AXIS_SWEEPS):
        moved = False
        for i in range(k):
            for j in range(i + 1, k):
                current = centred @ rotation.T
                a, b = current[:, i : i + 1], current[:, j : j + 1]  # (N, 1) each; every angle at once:
                scores = negentropy(a * cos - b * sin) + negentropy(a * sin + b * cos)  # (angles,)
                best = int(np.argmax(scores))
                if best:
                    rotation = plane_rotation(k, i, j, angles[best]) @ rotation
                    moved = True
        if not moved:
            break
    return rotation


class LatentAxes:
    """The axes on which the code is read: z' = U (z - m), and back z = U^{-1} z' + m.

    `independent` takes them from the training sevens' posterior means by independent component
    analysis (ICA): whiten, U = R C^{-1/2} with C their covariance and m their mean, then the rotation
    R that makes the axes least Gaussian (`independent_rotation`). Why: the prior N(0, I) and the
    ELBO are unchanged by a rotation of z, so nothing in training picks the axes, and a factor can
    end up spread over two latents. An effect added to the sevens independently of their shape (a
    uniform angle, shift or contrast) is an independent, non-Gaussian factor of the codes, which is
    what ICA finds. On the new axes the training codes have mean 0 and covariance I, so the
    traversals' N(0, 1) draws and -5..5 range are in units of the data's own spread.
    `model` keeps the encoder's latent units (U = I, m = 0).
    """

    def __init__(self, unmixing: np.ndarray, centre: np.ndarray):
        self.unmixing, self.centre = unmixing, centre
        self.mixing = np.linalg.inv(unmixing)

    @classmethod
    def model(cls, k: int) -> "LatentAxes":
        return cls(np.eye(k), np.zeros(k))

    @classmethod
    def independent(cls, codes: np.ndarray) -> "LatentAxes":
        centre = codes.mean(0)
        covariance = np.atleast_2d(np.cov(codes.T, ddof=0))  # (K, K); np.cov gives a scalar when K = 1
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        eigenvalues = np.maximum(eigenvalues, 1e-12 * eigenvalues.max())  # a collapsed latent stays finite
        whitening = eigenvectors @ np.diag(eigenvalues**-0.5) @ eigenvectors.T  # C^{-1/2}
        rotation = independent_rotation((codes - centre) @ whitening.T)
        return cls(rotation @ whitening, centre)

    def from_model(self, z: np.ndarray) -> np.ndarray:
        """(..., K) model codes z -> z' = U (z - m), as row vectors."""
        return (z - self.centre) @ self.unmixing.T

    def to_model(self, z_axes: np.ndarray) -> np.ndarray:
        """(..., K) codes z' on these axes -> model codes z = U^{-1} z' + m."""
        return z_axes @ self.mixing.T + self.centre

    def log_variance(self, model_log_variance: np.ndarray) -> np.ndarray:
        """Posterior log variance along each new axis: log diag(U diag(sigma^2) U^T) = log (U^2 sigma^2)."""
        return np.log(np.exp(model_log_variance) @ (self.unmixing**2).T)


def pixel_means(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """E[x|z] per pixel: sigmoid for the Bernoulli; the continuous Bernoulli's mean otherwise."""
    if likelihood == "continuous-bernoulli":
        return torch.distributions.ContinuousBernoulli(logits=logits).mean
    return torch.sigmoid(logits)


@torch.no_grad()
def decode_means(model, codes: np.ndarray, likelihood: str, device, axes: LatentAxes | None = None) -> np.ndarray:
    """(..., K) codes -> (..., 28, 28) decoded mean images; codes on `axes` (see LatentAxes) are first
    taken back to the model's latents, None: they are the model's latents."""
    model.eval()
    if axes is not None:
        codes = axes.to_model(codes)
    flat = torch.as_tensor(codes.reshape(-1, codes.shape[-1]), dtype=torch.float32, device=device)
    images = pixel_means(model.decode(flat), likelihood).cpu().numpy()
    return images.reshape(*codes.shape[:-1], IMAGE_SIDE, IMAGE_SIDE)


# ---------------------------------------------------------------- traversals and their statistics


def traversal_grid(limit: float = TRAVERSAL_LIMIT, step: float = TRAVERSAL_STEP) -> np.ndarray:
    """-limit .. +limit in `step`s: 21 values for the homework's -5..5 by 0.5."""
    count = int(round(2 * limit / step)) + 1
    return np.linspace(-limit, limit, count)


def traversal_codes(dimension: int, fixed: np.ndarray, limit: float = TRAVERSAL_LIMIT, step: float = TRAVERSAL_STEP):
    """(21, K) codes: every row is `fixed` (K,) except column `dimension`, which walks the grid."""
    grid = traversal_grid(limit, step)
    codes = np.tile(np.asarray(fixed, dtype=np.float64), (len(grid), 1))
    codes[:, dimension] = grid
    return codes


def traversal_images(model, latent_dims, rows, likelihood, device, rng, axes=None):
    """Decoded traversals (K, rows, 21, 28, 28) and their codes (K, rows, 21, K).

    Row r of every latent shares the same draw of the other latents, so latents are compared on
    the same sevens.
    """
    fixed = rng.standard_normal((rows, latent_dims))
    codes = np.stack([[traversal_codes(k, fixed[r]) for r in range(rows)] for k in range(latent_dims)])
    return decode_means(model, codes, likelihood, device, axes), codes


STATISTICS = {
    "orientation": "degrees, counter-clockwise, of the principal axis (second moments)",
    "centre_x": "pixels, column of the centre of mass",
    "centre_y": "pixels, row of the centre of mass",
    "ink_mass": "sum of grey values",
    "stroke_width": "pixels, the short side of the rectangle with the ink's area and perimeter",
    "ink_intensity": "ink-weighted mean grey value, sum(x^2) / sum(x)",
}


def ink_moments(images: np.ndarray) -> dict[str, np.ndarray]:
    """Ink mass, centre of mass (x = column, y = row) and central second moments mu20 (x), mu02 (y),
    mu11 of each image (..., 28, 28) -> dict of (...) arrays; the moments are per unit of ink."""
    images = np.asarray(images, dtype=np.float64)
    rows, columns = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE].astype(np.float64)
    mass = images.sum(axis=(-2, -1))
    safe_mass = np.maximum(mass, 1e-12)
    centre_x = (images * columns).sum(axis=(-2, -1)) / safe_mass
    centre_y = (images * rows).sum(axis=(-2, -1)) / safe_mass
    dx = columns - centre_x[..., None, None]
    dy = rows - centre_y[..., None, None]
    return {
        "mass": mass,
        "centre_x": centre_x,
        "centre_y": centre_y,
        "mu20": (images * dx * dx).sum(axis=(-2, -1)) / safe_mass,
        "mu02": (images * dy * dy).sum(axis=(-2, -1)) / safe_mass,
        "mu11": (images * dx * dy).sum(axis=(-2, -1)) / safe_mass,
    }


def image_statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Simple, label-free statistics of each image (..., 28, 28) -> dict of (...) arrays.

    Orientation: with central second moments mu20 (x), mu02 (y), mu11, the principal axis makes
    theta = 1/2 atan2(2 mu11, mu20 - mu02) with the x axis; rows grow downwards, so the sign is
    flipped to read counter-clockwise on screen. It is an axis (defined modulo 180 degrees).
    Stroke width: a stroke of width w and length L is a bent rectangle with area A = w L and
    perimeter P = 2 (w + L), so w is the smaller root of t^2 - (P/2) t + A = 0:
    w = P/4 - sqrt((P/4)^2 - A). A is the ink divided by the ink intensity and P the image's
    isotropic total variation sum |grad x| divided by it too, so a contrast change leaves w alone.
    """
    images = np.asarray(images, dtype=np.float64)
    moments = ink_moments(images)
    mass = moments["mass"]
    safe_mass = np.maximum(mass, 1e-12)
    orientation = -0.5 * np.degrees(np.arctan2(2.0 * moments["mu11"], moments["mu20"] - moments["mu02"]))
    intensity = (images**2).sum(axis=(-2, -1)) / safe_mass
    safe_intensity = np.maximum(intensity, 1e-12)
    gradient_x = np.diff(images, axis=-1)[..., :-1, :]  # forward differences on the common (27, 27) grid
    gradient_y = np.diff(images, axis=-2)[..., :, :-1]
    perimeter = np.sqrt(gradient_x**2 + gradient_y**2).sum(axis=(-2, -1)) / safe_intensity
    area = mass / safe_intensity
    quarter_perimeter = perimeter / 4.0
    width = quarter_perimeter - np.sqrt(np.maximum(quarter_perimeter**2 - area, 0.0))
    return {
        "orientation": orientation,
        "centre_x": moments["centre_x"],
        "centre_y": moments["centre_y"],
        "ink_mass": mass,
        "stroke_width": width,
        "ink_intensity": intensity,
    }


def unwrap_orientation(orientation: np.ndarray, reference: float) -> np.ndarray:
    """Orientation is an axis: bring it into reference +- 90 degrees so it moves continuously."""
    return reference + (orientation - reference + 90.0) % 180.0 - 90.0


def circular_axis_mean(orientation: np.ndarray) -> float:
    """Mean direction of axes (angles modulo 180): average the doubled angles on the circle."""
    doubled = np.radians(2.0 * orientation)
    return float(np.degrees(np.arctan2(np.sin(doubled).mean(), np.cos(doubled).mean())) / 2.0)


def evidence_traversals(model, train_mu, rows, likelihood, device, rng, axes=None):
    """Traversals for the evidence, kept where the data live: (K, rows, steps, 28, 28) and positions (K, steps).

    Row r starts from the posterior mean of a random training seven, and z_k crosses the middle
    90% of the training sevens' posterior means of latent k. (The homework's -5..5 traversals with
    N(0, 1) draws are drawn as figures; far outside the data they decode to blanks and blobs
    whose statistics say nothing about the sevens.)
    """
    starts = train_mu[rng.choice(len(train_mu), size=min(rows, len(train_mu)), replace=False)]  # (rows, K)
    low, high = np.quantile(train_mu, EVIDENCE_QUANTILES, axis=0)  # (K,) each
    positions = np.linspace(low, high, EVIDENCE_STEPS).T  # (K, steps)
    latent_dims = train_mu.shape[1]
    codes = np.repeat(np.repeat(starts[None, :, None, :], latent_dims, 0), EVIDENCE_STEPS, 2)  # (K, rows, steps, K)
    for k in range(latent_dims):
        codes[k, :, :, k] = positions[k]
    return decode_means(model, codes, likelihood, device, axes), positions


def traversal_evidence(images: np.ndarray, positions: np.ndarray, data_stats: dict, train_mu: np.ndarray,
                       orientation_reference: float):
    """Which latent carries the effect, and which statistic it moves; no ground truth used.

    images (K, rows, steps, 28, 28) from `evidence_traversals`; data_stats: each statistic of the
    training sevens (N,), in the order of their posterior means train_mu (N, K).
    For every latent k and statistic s, score = monotonicity x agreement, with
    monotonicity = mean over rows of |Spearman(z_k, s)| along the decoded traversal (s moves
    steadily when z_k moves), and agreement = |Spearman(mu_k, s)| over the training sevens (the
    latent orders the real sevens by s). Both are free of units, so a statistic that barely varies
    (the centre of mass of centred digits) cannot win by a tiny movement. The effect is the
    (latent, statistic) pair with the highest score: an effect added to every seven independently
    of its shape is the factor one latent can capture most cleanly.
    Also reported, not used to choose: movement = s(end) - s(start), averaged over rows, in units
    of the std of s over the training sevens, and each latent's pixel path length
    sum_i ||x_{i+1} - x_i|| (how much its traversal changes the sevens).
    """
    stats = image_statistics(images)  # each (K, rows, steps)
    stats["orientation"] = unwrap_orientation(stats["orientation"], orientation_reference)
    steps = np.diff(images, axis=2).reshape(*images.shape[:2], images.shape[2] - 1, -1)  # (K, rows, steps-1, 784)
    pixel_movement = np.linalg.norm(steps, axis=-1).sum(axis=2).mean(axis=1)  # (K,)
    latent_dims = len(positions)
    movements, monotonicity, agreement, scores = {}, {}, {}, {}
    for name, values in stats.items():
        spread = float(np.std(data_stats[name])) or 1.0
        movements[name] = (values[..., -1] - values[..., 0]).mean(axis=1) / spread  # (K,)
        monotonicity[name] = np.array(
            [np.mean([abs(_spearman_or_zero(positions[k], row)) for row in values[k]]) for k in range(latent_dims)]
        )
        agreement[name] = np.array([abs(_spearman_or_zero(train_mu[:, k], data_stats[name])) for k in range(latent_dims)])
        scores[name] = monotonicity[name] * agreement[name]
    table = np.stack([scores[name] for name in scores])  # (statistics, K)
    statistic_index, dimension = (int(i) for i in np.unravel_index(int(np.argmax(table)), table.shape))
    statistic = list(scores)[statistic_index]
    as_lists = lambda table: {name: values.tolist() for name, values in table.items()}  # noqa: E731
    return {
        "effect_dimension": dimension,
        "effect_statistic": statistic,
        "effect_score": float(scores[statistic][dimension]),
        "pixel_movement": pixel_movement.tolist(),
        "scores": as_lists(scores),
        "monotonicity": as_lists(monotonicity),
        "agreement_with_data": as_lists(agreement),
        "movement_in_data_std": as_lists(movements),
        "positions": positions.tolist(),
    }, stats


def _spearman_or_zero(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(b) == 0:
        return 0.0
    return float(scipy.stats.spearmanr(a, b).statistic)


def correlations_with_truth(mu: np.ndarray, truth: np.ndarray) -> list[float]:
    """Spearman correlation of each latent's posterior mean with the true effect, (K,)."""
    return [_spearman_or_zero(truth, mu[:, k]) for k in range(mu.shape[1])]


# ---------------------------------------------------------------- figures


def image_grid(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(R, C, 28, 28) -> one (R*29-1, C*29-1) mosaic with thin white separators."""
    n_rows, n_columns = images.shape[:2]
    cell = IMAGE_SIDE + pad
    mosaic = np.ones((n_rows * cell - pad, n_columns * cell - pad))
    for r in range(n_rows):
        for c in range(n_columns):
            mosaic[r * cell : r * cell + IMAGE_SIDE, c * cell : c * cell + IMAGE_SIDE] = images[r, c]
    return mosaic


def plot_mosaic(images, path, title, row_labels=None, column_labels=None):
    n_rows, n_columns = images.shape[:2]
    figure, axis = new_figure(figsize=(0.45 * n_columns + 1.2, 0.45 * n_rows + 0.8))
    axis.imshow(1.0 - image_grid(images), cmap="gray", vmin=0, vmax=1)
    cell = IMAGE_SIDE + 1
    axis.set_xticks([c * cell + IMAGE_SIDE / 2 for c in range(n_columns)] if column_labels else [])
    axis.set_xticklabels(column_labels or [], fontsize=6)
    axis.set_yticks([r * cell + IMAGE_SIDE / 2 for r in range(n_rows)] if row_labels else [])
    axis.set_yticklabels(row_labels or [], fontsize=7)
    axis.set_title(title, fontsize=9)
    save_figure(figure, path)


def plot_traversal_stats(stats, positions, evidence, path):
    """Every statistic against z_k for every latent k (thin: one row each, thick: the mean of the rows)."""
    names = list(stats)
    latent_dims = positions.shape[0]
    columns = 3  # a grid, not one long row: legible at the width of a page
    grid_rows = -(-len(names) // columns)
    figure, axes = new_figure(grid_rows, columns, figsize=(9.5, 3.0 * grid_rows + 0.6), squeeze=False)
    for axis in axes.ravel()[len(names) :]:
        axis.set_visible(False)
    for axis, name in zip(axes.ravel(), names):
        for k in range(latent_dims):
            rows = stats[name][k]  # (rows, steps)
            for row in rows:
                axis.plot(positions[k], row, color=f"C{k}", alpha=0.15, linewidth=0.7)
            axis.plot(positions[k], rows.mean(0), color=f"C{k}", linewidth=2, label=f"z{k}")
        marked = name == evidence["effect_statistic"]
        axis.set_title(f"{name}{'  <- effect' if marked else ''}", fontsize=9, fontweight="bold" if marked else None)
        axis.set_xlabel("z_k (middle 90% of training codes)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    movement = ", ".join(f"z{k} {value:.1f}" for k, value in enumerate(evidence["pixel_movement"]))
    figure.suptitle(
        f"decoded traversals from real sevens' codes; pixel path length: {movement}\n"
        f"effect: z{evidence['effect_dimension']} moves {evidence['effect_statistic']}",
        fontsize=10,
    )
    figure.tight_layout()
    save_figure(figure, path)


def plot_curves(history, path):
    figure, axes = new_figure(1, 3, figsize=(12, 3.2))
    epochs = [entry["epoch"] for entry in history]
    for axis, term in zip(axes, ("neg_elbo", "reconstruction", "kl")):
        for split in ("train", "validation", "test"):
            axis.plot(epochs, [entry[split][term] for entry in history], label=split, marker=".")
        axis.set_title(f"{term} (nats per image)")
        axis.set_xlabel("epoch")
    axes[0].legend()
    save_figure(figure, path)


# ---------------------------------------------------------------- one experiment


def run_experiment(config, train_images, validation_images, test_images, data_stats, truths, device) -> dict:
    """Train one model, evaluate it on te7, draw the figures into config.out and return its metrics."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)  # the initial weights (was common.seed_everything)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    model = ConvVAE(config.k, config.decoder).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history = []
    progress = tqdm(range(1, config.epochs + 1), desc=config.objective, disable=config.quiet, unit="epoch")
    latest = {}  # the last epoch's evaluations: the final model's, needed again below
    for epoch in progress:
        train_terms = train_epoch(model, optimiser, train_images, config, generator)
        entry = {"epoch": epoch, "train": train_terms}
        for split, images in (("validation", validation_images), ("test", test_images)):
            result = latest[split] = evaluate(model, images, config.likelihood, config.eval_batch, config.seed + 1)
            entry[split] = {term: result[term] for term in ("neg_elbo", "reconstruction", "kl")}
            if split == "validation" and "validation" in truths:  # recorded to see the dynamics, never to choose
                entry[split]["spearman_with_truth"] = correlations_with_truth(result["mu"], truths["validation"])
        history.append(entry)
        progress.set_postfix(train=f"{train_terms['neg_elbo']:.1f}", test=f"{entry['test']['neg_elbo']:.1f}")

    test, validation = latest["test"], latest["validation"]
    train_mu_model = evaluate(model, train_images, config.likelihood, config.eval_batch, config.seed + 1)["mu"]
    # Every latent below (traversals, evidence, correlations) is an axis of LatentAxes.
    axes = LatentAxes.independent(train_mu_model) if config.axes == "independent" else LatentAxes.model(config.k)
    train_mu, test_mu, validation_mu = (axes.from_model(mu) for mu in (train_mu_model, test["mu"], validation["mu"]))
    test_log_variance = axes.log_variance(test["log_variance"])
    # Per axis, the closed-form KL of the posterior's marginal on it from N(0, 1): on the model's own
    # latents, the KL per dimension.
    kl_per_axis = kl_to_standard_normal(torch.as_tensor(test_mu), torch.as_tensor(test_log_variance)).mean(0)
    rng = np.random.default_rng(config.seed)
    grid = traversal_grid()
    decoded, _ = traversal_images(model, config.k, FIGURE_ROWS, config.likelihood, device, rng, axes)
    evidence_images, positions = evidence_traversals(model, train_mu, config.evidence_rows, config.likelihood,
                                                     device, rng, axes)
    evidence, evidence_stats = traversal_evidence(evidence_images, positions, data_stats, train_mu,
                                                  circular_axis_mean(data_stats["orientation"]))

    metrics = {
        "model": None,
        "plain_vae": (config.objective == "vae" and config.beta == 1.0 and config.decoder == "deconvolution"
                      and not config.grey_level_weight and config.axes == "model"),
        "objective": config.objective,
        "beta": config.beta,
        "tc_weight": config.tc_weight if config.objective == "tc-vae" else None,
        "grey_level_weight": config.grey_level_weight,
        "likelihood": config.likelihood,
        "decoder": config.decoder,
        "axes": config.axes,
        "axes_unmixing": axes.unmixing.tolist(),
        "axes_centre": axes.centre.tolist(),
        "axes_negentropy": negentropy(train_mu).tolist(),  # of the training codes on each axis; chooses nothing
        "k": config.k,
        "test_neg_elbo": test["neg_elbo"],
        "test_reconstruction": test["reconstruction"],
        "test_kl": test["kl"],
        "kl_per_dimension": test["kl_per_dimension"],  # per latent unit of the model
        "kl_per_axis": kl_per_axis.tolist(),
        "validation_neg_elbo": validation["neg_elbo"],
        "effect_dimension": evidence["effect_dimension"],
        "effect_statistic": evidence["effect_statistic"],
        "effect_score": evidence["effect_score"],
        "traversal_evidence": {**evidence, "statistics": STATISTICS, "rows_per_dimension": config.evidence_rows,
                               "quantiles": list(EVIDENCE_QUANTILES)},
        "spearman_with_truth": None,
        "spearman_with_truth_model_latents": None,
        "best_abs_spearman": None,
        "best_spearman_dimension": None,
        "effect_dimension_abs_spearman": None,
        "truth_file": None,
        "validation_spearman_with_truth": None,
    }
    if "te7" in truths:
        name, values = truths["te7"]
        correlations = correlations_with_truth(test_mu, values)
        metrics.update(
            spearman_with_truth=correlations,
            spearman_with_truth_model_latents=correlations_with_truth(test["mu"], values),
            best_abs_spearman=float(np.max(np.abs(correlations))),
            best_spearman_dimension=int(np.argmax(np.abs(correlations))),
            effect_dimension_abs_spearman=float(abs(correlations[evidence["effect_dimension"]])),
            truth_file=name,
        )
    if "validation" in truths:
        metrics["validation_spearman_with_truth"] = correlations_with_truth(validation_mu, truths["validation"])
    metrics.update(seed=config.seed, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                   history=history)
    metrics["model"] = model_name(metrics)

    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    write_figures(model, config, decoded, evidence_stats, positions, grid, evidence, test_images, history, out,
                  device)
    save_torch(out / "model.pt", {"state_dict": model.state_dict(), "k": config.k, "likelihood": config.likelihood,
                                  "objective": config.objective, "beta": config.beta, "decoder": config.decoder,
                                  "axes": config.axes, "axes_unmixing": torch.as_tensor(axes.unmixing),
                                  "axes_centre": torch.as_tensor(axes.centre)})
    with atomic_path(out / "test_latents.npz") as temporary:
        np.savez(temporary, mu=test_mu, log_variance=test_log_variance,
                 axes_unmixing=axes.unmixing, axes_centre=axes.centre,
                 model_mu=test["mu"], model_log_variance=test["log_variance"])
    metrics["training_seconds"] = time.perf_counter() - started
    return metrics


def write_figures(model, config, decoded, evidence_stats, positions, grid, evidence, test_images, history, out,
                  device):
    grey = f", grey-level W={config.grey_level_weight:g}" if config.grey_level_weight else ""
    label = f"{config.objective}, beta={config.beta:g}, {config.decoder}{grey}, K={config.k}"
    column_labels = [f"{value:g}" for value in grid]
    effect = evidence["effect_dimension"]
    plot_mosaic(decoded[:, 0], out / "traversal.png", f"latent traversals ({label}); effect: z{effect}",
                [f"z{k}" for k in range(config.k)], column_labels)
    rows = decoded.shape[1]
    plot_mosaic(decoded.reshape(-1, len(grid), IMAGE_SIDE, IMAGE_SIDE), out / "traversal_rows.png",
                f"{rows} rows per latent, each with its own draw of the other latents ({label})",
                [f"z{k} row {r}" for k in range(config.k) for r in range(rows)], column_labels)
    plot_traversal_stats(evidence_stats, positions, evidence, out / "traversal_stats.png")
    rng = np.random.default_rng(config.seed + 2)
    samples = decode_means(model, rng.standard_normal((8, 12, config.k)), config.likelihood, device)
    plot_mosaic(samples, out / "samples.png", f"samples from the prior ({label})")
    with torch.no_grad():
        originals = test_images[:12]
        mu, _ = model.encode(originals)
        reconstructions = pixel_means(model.decode(mu), config.likelihood).cpu().numpy()
    pairs = np.stack([originals.cpu().numpy(), reconstructions])
    plot_mosaic(pairs, out / "reconstructions.png", f"test sevens (top) and reconstructions from mu ({label})",
                ["original", "reconstruction"])
    plot_curves(history, out / "curves.png")


# ---------------------------------------------------------------- main


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=3, help="latent dimensions, 1..5 (default 3)")
    parser.add_argument("--plain", action="store_true",
                        help="the homework's plain VAE: --objective vae --beta 1 --decoder deconvolution "
                             "--grey-level-weight 0 --axes model (default output results/vae_sevens_k{K}_plain/)")
    parser.add_argument("--objective", choices=["tc-vae", "vae"], default="tc-vae",
                        help="tc-vae (default: beta-TC-VAE) or vae (negative ELBO, KL scaled by --beta)")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA,
                        help=f"weight of the KL term (default {DEFAULT_BETA:g}; --plain uses 1)")
    parser.add_argument("--tc-weight", type=float, default=DEFAULT_TC_WEIGHT,
                        help=f"beta-TC-VAE's weight on the total correlation (default {DEFAULT_TC_WEIGHT:g})")
    parser.add_argument("--decoder", choices=list(DECODERS), default=DEFAULT_DECODER,
                        help="warped-broadcast (default): a spatial broadcast decoder (Watters et al., 2019) "
                             "whose grid the code moves by an affine map; broadcast: the same without the "
                             "map; deconvolution: the homework's transposed convolutions (--plain uses them)")
    parser.add_argument("--likelihood", choices=["bernoulli", "continuous-bernoulli"], default="bernoulli",
                        help="pixel likelihood of the reconstruction term (default bernoulli)")
    parser.add_argument("--grey-level-weight", type=float, default=DEFAULT_GREY_LEVEL_WEIGHT,
                        help="adds W * sum_i (sort(decoded mean)_i - sort(image)_i)^2 to the objective, a "
                             "position-free match of grey levels that tells ink darkness from stroke width "
                             f"(default {DEFAULT_GREY_LEVEL_WEIGHT:g}; 0: off, as --plain; not part of the "
                             "reported negative ELBO)")
    parser.add_argument("--axes", choices=["independent", "model"], default=DEFAULT_AXES,
                        help="independent (default): read the trained code on the axes of an independent "
                             "component analysis of the training codes (whitened, then turned to be as "
                             "non-Gaussian as they can be; the model and its ELBO are unchanged); model: the "
                             "encoder's own latent units (--plain uses them)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"(default {DEFAULT_EPOCHS})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"(default {DEFAULT_BATCH})")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"Adam learning rate (default {DEFAULT_LR:g})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--threads", type=int, default=DEFAULT_TORCH_THREADS,
                        help=f"CPU threads for torch (default {DEFAULT_TORCH_THREADS}, see common.py; "
                             "0: torch's default, all cores)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with tr7.pkl, te7.pkl")
    parser.add_argument("--out", type=Path, help="output folder (default results/vae_sevens_k{K}/)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny settings for a smoke test: {QUICK['epochs']} epochs on "
                             f"{QUICK['train_images']} training images")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not LATENT_RANGE[0] <= args.k <= LATENT_RANGE[1]:
        raise DataError(f"--k {args.k}: expected {LATENT_RANGE[0]} <= K <= {LATENT_RANGE[1]} latent dimensions")
    if (args.epochs < 1 or args.batch_size < 2 or args.lr <= 0 or args.beta < 0 or args.tc_weight < 0
            or args.grey_level_weight < 0 or args.threads < 0):
        raise DataError("expected --epochs >= 1, --batch-size >= 2, --lr > 0, --beta >= 0, --tc-weight >= 0, "
                        "--grey-level-weight >= 0 and --threads >= 0")
    args.evidence_rows = EVIDENCE_ROWS
    args.train_images = None
    if args.quick:
        args.epochs = QUICK["epochs"]
        args.train_images = QUICK["train_images"]
        args.evidence_rows = QUICK["evidence_rows"]
    if args.plain:
        args.objective, args.beta, args.decoder, args.axes = "vae", 1.0, "deconvolution", "model"
        args.grey_level_weight = 0.0
    args.eval_batch = 512
    if args.out is None:
        args.out = REPO / "results" / f"vae_sevens_k{args.k}{'_plain' if args.plain else ''}"
    return args


def main(argv=None) -> None:
    args = parse_arguments(argv)
    started = time.perf_counter()
    device = pick_device(args.device)
    set_torch_threads(args.threads)
    train_all, test, truths = load_sevens(args.data_dir)
    rng = np.random.default_rng(args.seed)
    train_rows, validation_rows = split_validation(len(train_all), rng)
    if args.train_images is not None:
        train_rows = train_rows[: args.train_images]
    if "tr7" in truths:
        truths["validation"] = truths["tr7"][1][validation_rows]
    data_stats = image_statistics(train_all[train_rows])
    data_stats["orientation"] = unwrap_orientation(data_stats["orientation"], circular_axis_mean(data_stats["orientation"]))
    as_tensor = lambda array: torch.as_tensor(array, dtype=torch.float32, device=device)  # noqa: E731
    train_images, validation_images, test_images = (
        as_tensor(train_all[train_rows]), as_tensor(train_all[validation_rows]), as_tensor(test))

    data = {
        "train": {"path": str(args.data_dir / "tr7.pkl"), "shape": list(train_all.shape),
                  "sha256": sha256_file(args.data_dir / "tr7.pkl"), "train_rows": len(train_rows),
                  "validation_rows": len(validation_rows)},
        "test": {"path": str(args.data_dir / "te7.pkl"), "shape": list(test.shape),
                 "sha256": sha256_file(args.data_dir / "te7.pkl")},
    }
    metrics = run_experiment(args, train_images, validation_images, test_images, data_stats, truths, device)
    metrics.update(data=data, quick=args.quick, device=str(device), torch_threads=torch.get_num_threads(),
                   seconds=time.perf_counter() - started)
    write_json(args.out / "metrics.json", metrics)
    print(summary_line(metrics, args.out))


def model_name(metrics) -> str:
    """The model in words, from the settings recorded in metrics (plain_vae decides the plain VAE)."""
    grey = metrics["grey_level_weight"]
    extra = f", grey-level weight {grey:g}" if grey else ""
    extra += ", independent axes" if metrics["axes"] == "independent" else ""
    if metrics["objective"] == "tc-vae":
        return (f"beta-TC-VAE (tc_weight={metrics['tc_weight']:g}, beta={metrics['beta']:g}, "
                f"{metrics['decoder']} decoder{extra})")
    if metrics["plain_vae"]:
        return "the homework's plain VAE (beta=1, deconvolution decoder)"
    return f"VAE (beta={metrics['beta']:g}, {metrics['decoder']} decoder{extra})"


def summary_line(metrics, out) -> str:
    text = (f"K={metrics['k']} {model_name(metrics)}: test -ELBO {metrics['test_neg_elbo']:.1f} nats/image "
            f"({metrics['likelihood']}); effect: z{metrics['effect_dimension']} moves {metrics['effect_statistic']}")
    if metrics["best_abs_spearman"] is not None:
        text += (f"; |Spearman| with {metrics['truth_file']}: z{metrics['effect_dimension']} "
                 f"{metrics['effect_dimension_abs_spearman']:.3f}, best z{metrics['best_spearman_dimension']} "
                 f"{metrics['best_abs_spearman']:.3f}")
    return text + f" [{metrics['seconds']:.0f} s, {out}]"


if __name__ == "__main__":
    run_cli(main)
