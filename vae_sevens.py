"""Problem 2: what was done to the "poor sevens"? A convolutional VAE finds the effect and names it.

    python vae_sevens.py --k 3           # data/tr7.pkl, te7.pkl -> results/vae_sevens_k3/
    python vae_sevens.py --k 3 --plain   # the homework's plain VAE -> results/vae_sevens_k3_plain/

1. Model: a VAE (Kingma & Welling, 2014) with K latents learns tr7 (a tenth held out). Default:
   beta-TC-VAE (Chen et al., 2018), warped broadcast decoder, grey-level term; --plain: homework's.
2. Axes: the poor and clean sevens (--reference) are encoded; the effect axis is the one along which
   the poor codes spread SPREAD_MARGIN times beyond the clean ones (S v = lambda C v; sevens/axes).
   When the images differ (sevens/critic.py) and none does, a latent is tied to the critic's score.
3. Traversals: K-1 latents fixed, one from -5 to 5, on those axes (traversal.png).
4. What it is: sevens/along_axis.py names it, done again on clean sevens (replay.png).
"""

from __future__ import annotations

from safety import interrupts  # noqa: F401  first: Ctrl-C during the imports is one line too
import argparse
import functools
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from common import (DEFAULT_DATA_DIR, EPS, IMAGE_SHAPE, SEED_BOUND, THREADS_BOUND, Option,
                    data_entry, parse_options, pick_device, run_cli, stop_if_diverged, stream_rng,
                    torch_generator, use_threads)
from safety.errors import DataError
from safety.json_files import write_json
from safety.output_folders import check_output_folder
from safety.run_folders import run_folder
from sevens import along_axis, image_checks
from sevens.axes import codes_on_axes, decode_means, encode_means, spread_axes
from sevens.data import load_reference, load_sevens, split_validation
from sevens.figures import write_figures
from sevens.run_record import run_metrics, save_model_and_codes, summary_line
from sevens.warped_decoder import WarpedBroadcastDecoder

REPO = Path(__file__).resolve().parent

OPTIONS = (  # every option, once: name, type, default, help, bound; `quick`: its --quick value
    Option("k", int, 3, "latent dimensions K", "in [1, 5]"),  # the homework asks for 1 <= K <= 5
    Option("plain", bool, False, "the homework's plain VAE instead of the beta-TC-VAE"),
    Option("reference", str, "mnist", "clean sevens to compare with: mnist (MNIST's training "
                                      "sevens, shipped) or a pickle of (N, 28, 28) images"),
    Option("epochs", int, 30, "training epochs", ">= 1", quick=2),
    Option("batch_size", int, 128, "images per minibatch", ">= 2"),  # TC compares within a batch
    Option("lr", float, 1e-3, "Adam's step size", "in (0, 1]"),
    Option("seed", int, 0, "seed of the split, weights, minibatches and figures", SEED_BOUND),
    Option("device", str, "auto", "auto, cpu or cuda (auto: CUDA when present)"),
    Option("threads", int, 2, "CPU threads for torch (0: all)", THREADS_BOUND),  # a run alone
    Option("data_dir", Path, DEFAULT_DATA_DIR, "folder with tr7.pkl and te7.pkl"),
    Option("out", Path, None, "run folder, replaced whole when the run succeeds; None: "
                              "results/vae_sevens_k{K}[_plain]"),
    Option("quiet", bool, False, "no progress bar"),
)
QUICK_TRAIN_IMAGES = 512  # --quick trains on this many sevens: seconds, for CI and the tests
EVAL_BATCH = 512  # images per evaluation pass: memory stays bounded for any split
REPORTED_TERMS = ("neg_elbo", "reconstruction", "kl")  # per split and epoch, in metrics.json

(SPLIT_STREAM, TRAIN_STREAM, EVALUATION_STREAM, FIGURE_STREAM, FIT_STREAM,  # random streams,
 CRITIC_STREAM, GUIDE_STREAM) = range(7)  # one per use

# Architecture.
CONV_CHANNELS = (32, 64)  # 28 -> 14 -> 7 with 4x4 kernels, stride 2, padding 1
HIDDEN_UNITS = 256
FEATURE_SIDE = IMAGE_SHAPE[0] // 4  # 7: the encoder's last feature map, the plain decoder's first

# The objective: reconstruction + beta KL + (tc_weight - 1) TC + grey_level_weight G (loss_terms).
DEFAULT_OBJECTIVE = dict(beta=2.0, tc_weight=6.0, grey_level_weight=1.0)
PLAIN_OBJECTIVE = dict(beta=1.0, tc_weight=1.0, grey_level_weight=0.0)  # the negative ELBO itself
# When the images differ and no latent holds the change: args.guide_epochs more, the least used
# latent's mean tied to the critic's standardised score s by + GUIDE_WEIGHT (mu_u - s)^2. At 20 the
# mean followed the score at r 0.4 only (docs/experiments.md); at 200, 0.96-0.97.
GUIDE_WEIGHT = 200.0

# Axes and traversals.
SPREAD_MARGIN = 2.0  # lambda_1 >= 2: the poor codes' mean square spread is at least twice the clean
TRAVERSAL_GRID = np.linspace(-5.0, 5.0, 21)  # the homework's -5..5 by 0.5
FIGURE_ROWS = 3  # traversal rows per axis, each with its own N(0, 1) draw of the other latents
RECONSTRUCTIONS = 12  # test sevens drawn beside their reconstructions


# ---------------------------------------------------------------- data
def load_data(args):
    """The splits as tensors on the device, the poor training sevens and the clean ones (arrays, for
    the critic and the axes), te7's truth and metrics.json's "data" entry."""
    train_all, test, truth = load_sevens(args.data_dir)
    reference, reference_entry = load_reference(args.reference)
    split_rng = stream_rng(args.seed, SPLIT_STREAM)
    train_rows, validation_rows = split_validation(len(train_all), split_rng)
    if args.quick:
        train_rows = train_rows[:QUICK_TRAIN_IMAGES]
    as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32, device=args.device)
    images = {"train": as_tensor(train_all[train_rows]),
              "validation": as_tensor(train_all[validation_rows]), "test": as_tensor(test)}
    train_entry = {**data_entry(args.data_dir / "tr7.pkl", train_all),
                   "train_rows": len(train_rows), "validation_rows": len(validation_rows)}
    record = {"train": train_entry, "test": data_entry(args.data_dir / "te7.pkl", test),
              "reference": reference_entry}
    return images, train_all[train_rows], reference, truth, record


# ---------------------------------------------------------------- model
def deconvolution_decoder(latent_dims: int) -> nn.Module:
    """The homework's p(x|z): a hidden layer, a 7x7 feature map, two transposed convolutions."""
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Linear(latent_dims, HIDDEN_UNITS), nn.ReLU(),
        nn.Linear(HIDDEN_UNITS, c2 * FEATURE_SIDE * FEATURE_SIDE), nn.ReLU(),
        nn.Unflatten(1, (c2, FEATURE_SIDE, FEATURE_SIDE)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
    )


class ConvVAE(nn.Module):
    """q(z|x) = N(mu(x), diag sigma^2(x)) from two strided convolutions; p(x|z) Bernoulli per pixel,
    decoded by the warped broadcast decoder (sevens/warped_decoder.py) or, plain, the homework's."""

    def __init__(self, latent_dims: int, plain: bool = False):
        super().__init__()
        c1, c2 = CONV_CHANNELS
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * FEATURE_SIDE * FEATURE_SIDE, HIDDEN_UNITS), nn.ReLU())
        self.mean_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.log_variance_head = nn.Linear(HIDDEN_UNITS, latent_dims)
        self.decoder = (deconvolution_decoder(latent_dims) if plain
                        else WarpedBroadcastDecoder(latent_dims))

    def encode(self, images: torch.Tensor):
        """(B, 28, 28) -> mu, log sigma^2, each (B, K)."""
        hidden = self.encoder(images.unsqueeze(1))
        return self.mean_head(hidden), self.log_variance_head(hidden)

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_variance: torch.Tensor, noise: torch.Tensor):
        """z = mu + exp(1/2 log sigma^2) * eps, eps ~ N(0, I): differentiable in mu and sigma."""
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
    """KL(N(mu, sigma^2) || N(0, 1)) per latent, (B, K) = -1/2 (1 + log sigma^2 - mu^2 - sigma^2)
    (Kingma & Welling, 2014, appendix B); summed over k it is the KL of the diagonal Gaussian."""
    return -0.5 * (1.0 + log_variance - mu.pow(2) - log_variance.exp())


def reconstruction_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-sum_i [x_i log l_i + (1 - x_i) log(1 - l_i)] per image, (B,): the homework's cross-entropy.
    For grey x in [0, 1] it is not a normalised density (the continuous Bernoulli's log C(l) is
    missing, Loaiza-Ganem & Cunningham, 2019), so its "nats" are a loss, as in the homework."""
    nll = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    return nll.flatten(1).sum(1)


def grey_level_distance(means: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """G = sum_i (sort(m)_i - sort(x)_i)^2 per image, (B,): 784 x the squared 2-Wasserstein distance
    between the grey levels of the decoded mean m and the image x, wherever the ink lies.
    A blurred reconstruction passes a thin dark stroke off as a thick faint one with the same
    per-pixel likelihood; sorted grey levels tell the two apart, so the code keeps ink darkness."""
    sorted_means, sorted_images = means.flatten(1).sort(1).values, images.flatten(1).sort(1).values
    return (sorted_means - sorted_images).pow(2).sum(1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor):
    """log N(z; mu, sigma^2) elementwise."""
    return -0.5 * (math.log(2.0 * math.pi) + log_variance + (z - mu).pow(2) / log_variance.exp())


def total_correlation(z: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor, dataset_size):
    """TC = E_q(z)[log q(z) - sum_k log q(z_k)], minibatch-weighted sampling (Chen et al., 2018),
    the batch mean. With M samples z_i ~ q(z|x_i) of a minibatch drawn from N images:
        log q(z_i)  ~ logsumexp_j log q(z_i | x_j)  - log(N M)
        log q(z_ik) ~ logsumexp_j log q(z_ik | x_j) - log(N M)
    """
    pairwise = gaussian_log_density(z[:, None], mu[None], log_variance[None])  # (M, M, K)
    log_normaliser = math.log(dataset_size * z.shape[0])
    log_joint = torch.logsumexp(pairwise.sum(2), dim=1) - log_normaliser  # (M,)
    log_marginals = (torch.logsumexp(pairwise, dim=1) - log_normaliser).sum(1)  # (M,)
    return (log_joint - log_marginals).mean()


def loss_terms(model, images, objective: dict, dataset_size: int, generator, guide=None) -> dict:
    """Batch means: the objective to minimise and the parts of the negative ELBO, which is reported.
        objective = reconstruction + beta KL + (tc_weight - 1) TC + grey_level_weight G
                    [+ GUIDE_WEIGHT (mu_u - s)^2 with guide = (u, s), s the batch's targets]
    tc_weight 1 and G weight 0 leave beta-VAE's objective."""
    logits, z, mu, log_variance = model(images, generator)
    reconstruction = reconstruction_nll(logits, images).mean()
    kl = kl_to_standard_normal(mu, log_variance).sum(1).mean()
    total = reconstruction + objective["beta"] * kl
    if objective["tc_weight"] != 1.0:
        tc = total_correlation(z, mu, log_variance, dataset_size)
        total = total + (objective["tc_weight"] - 1.0) * tc
    if objective["grey_level_weight"]:
        grey_level = grey_level_distance(torch.sigmoid(logits), images).mean()
        total = total + objective["grey_level_weight"] * grey_level
    if guide is not None:
        total = total + GUIDE_WEIGHT * (mu[:, guide[0]] - guide[1]).pow(2).mean()
    return {"objective": total, "neg_elbo": reconstruction + kl, "reconstruction": reconstruction,
            "kl": kl}


# ---------------------------------------------------------------- training
def batches(n: int, size: int, generator: torch.Generator | None = None):
    """Index tensors of at most `size`: a random order with a generator, else in order."""
    order = (torch.arange(n) if generator is None
             else torch.randperm(n, generator=generator, device=generator.device))
    return [order[first : first + size] for first in range(0, n, size)]


def train_epoch(model, optimiser, images, objective, batch_size, generator, guide=None) -> dict:
    """One pass over the images in a random order; per-image means of the terms.
    guide: (latent, targets (N,))."""
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
    """Negative ELBO per image (one posterior sample each), its parts, KL per latent, the means."""
    model.eval()
    reconstruction, kl, mus = [], [], []
    for index in batches(len(images), EVAL_BATCH):
        logits, _, mu, log_variance = model(images[index], generator)
        reconstruction.append(reconstruction_nll(logits, images[index]))
        kl.append(kl_to_standard_normal(mu, log_variance))
        mus.append(mu)
    reconstruction, kl, means = torch.cat(reconstruction), torch.cat(kl), torch.cat(mus)
    return {"neg_elbo": float((reconstruction + kl.sum(1)).mean()),
            "reconstruction": float(reconstruction.mean()), "kl": float(kl.sum(1).mean()),
            "kl_per_latent": kl.mean(0).tolist(), "mu": means.cpu().numpy().astype(np.float64)}


def train(model, images: dict, objective: dict, args, device, guide=None):
    """Adam for args.epochs epochs (guide_epochs more, after them, with a guide): the history of the
    terms on every split, and the final model's evaluations."""
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch_generator(args.seed, TRAIN_STREAM if guide is None else GUIDE_STREAM, device)
    history = []
    first = 1 if guide is None else args.epochs + 1
    epochs = range(first, first + (args.epochs if guide is None else args.guide_epochs))
    progress = tqdm(epochs, desc="vae" if guide is None else "guided", unit="epoch",
                    disable=args.quiet)
    for epoch in progress:
        terms = train_epoch(model, optimiser, images["train"], objective, args.batch_size,
                            generator, guide)
        stop_if_diverged(epoch, args.lr, terms["neg_elbo"])
        final = {split: evaluate(model, images[split],
                                 torch_generator(args.seed, EVALUATION_STREAM, device))
                 for split in ("validation", "test")}
        reported = {split: {term: final[split][term] for term in REPORTED_TERMS}
                    for split in final}
        history.append({"epoch": epoch, "train": terms, **reported})
        progress.set_postfix(train=f"{terms['neg_elbo']:.1f}",
                             test=f"{final['test']['neg_elbo']:.1f}")
    return history, final


# ---------------------------------------------------------------- the axes and what the effect is
def read_code(model, poor_images, reference, test_mu, evidence: dict, args, device):
    """The axes (sevens/axes.py), the codes on them (poor training, clean, test sevens; and
    codes["replay"], replay.png's images) and the effect found along them, with the evidence."""
    poor, clean = encode_means(model, poor_images, device), encode_means(model, reference, device)
    axes = spread_axes(poor, clean)
    codes = {"poor": axes.from_model(poor), "clean": axes.from_model(clean),
             "test": axes.from_model(test_mu)}
    decode = functools.partial(decode_means, model, axes=axes, device=device)
    encode = functools.partial(codes_on_axes, model, axes=axes, device=device)
    effect, codes["replay"] = along_axis.describe_axis(
        decode, encode, poor_images, codes["poor"], axes.scores[0], SPREAD_MARGIN, evidence,
        args.seed, stream_rng(args.seed, FIT_STREAM))
    result = {"axis_scores": axes.scores.tolist(), "spread_margin": SPREAD_MARGIN, **effect}
    images = {key: evidence[key] for key in image_checks.EVIDENCE_KEYS}
    return axes, codes, {**result, **images}


# ---------------------------------------------------------------- room for a change the code missed
def guide_targets(critic_scores: np.ndarray, kl_per_latent, device):
    """The latent with the least KL (the least used) and, per poor training seven, its target s =
    the critic's logit standardised over them (how changed the seven looks)."""
    spread = max(float(critic_scores.std()), EPS)
    standardised = (critic_scores - critic_scores.mean()) / spread
    targets = torch.as_tensor(standardised, dtype=torch.float32, device=device)
    return int(np.argmin(kl_per_latent)), targets


def train_and_read(model, images: dict, poor, reference, evidence: dict, args):
    """Train, then read the code. When the images differ and no axis holds the change, the model is
    at fault: train on with the change given room (guide_targets) and read it again.
    Returns the history, the final evaluations, the reading and the guided latent (or None)."""
    objective = PLAIN_OBJECTIVE if args.plain else DEFAULT_OBJECTIVE
    history, final = train(model, images, objective, args, args.device)
    test_mu = final["test"]["mu"]
    axes, codes, result = read_code(model, poor, reference, test_mu, evidence, args, args.device)
    guided = not args.plain and result["effect_dimension"] is None and evidence["images_differ"]
    if not guided:
        return history, final, (axes, codes, result), None
    kl_per_latent = final["validation"]["kl_per_latent"]
    guide = guide_targets(evidence["critic_scores"], kl_per_latent, args.device)
    more, final = train(model, images, objective, args, args.device, guide)
    reading = read_code(model, poor, reference, final["test"]["mu"], evidence, args, args.device)
    return history + more, final, reading, guide[0]


# ---------------------------------------------------------------- traversals
def traversal_codes(fixed: np.ndarray) -> np.ndarray:
    """(K, rows, 21, K): for axis k, row r keeps fixed[r] (rows, K), axis k walks TRAVERSAL_GRID."""
    latent_dims, rows = fixed.shape[1], len(fixed)
    shape = (latent_dims, rows, len(TRAVERSAL_GRID), latent_dims)
    codes = np.broadcast_to(fixed[None, :, None, :], shape).copy()
    for k in range(latent_dims):
        codes[k, :, :, k] = TRAVERSAL_GRID
    return codes


def figure_images(model, axes, test_images: torch.Tensor, args, device):
    """(K, rows, 21, 28, 28) traversals; (2, n, 28, 28) test sevens and reconstructions from mu."""
    fixed = stream_rng(args.seed, FIGURE_STREAM).standard_normal((FIGURE_ROWS, args.k))
    traversals = decode_means(model, traversal_codes(fixed), axes, device)
    with torch.no_grad():
        originals = test_images[:RECONSTRUCTIONS]
        reconstructions = torch.sigmoid(model.decode(model.encode(originals)[0])).cpu().numpy()
    return traversals, np.stack([originals.cpu().numpy(), reconstructions])


# ---------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    """The options, each checked before any work (the run folder too); DataError otherwise."""
    args = parse_options(OPTIONS, argv, __doc__,
                         quick_note=f"{QUICK_TRAIN_IMAGES} training images")
    if args.reference != "mnist" and not Path(args.reference).is_file():
        raise DataError(f"--reference {args.reference}: expected mnist or a pickle of "
                        "(N, 28, 28) images")
    args.guide_epochs = max(1, round(args.epochs / 3))
    if args.out is None:
        args.out = REPO / "results" / f"vae_sevens_k{args.k}{'_plain' if args.plain else ''}"
    args.out = check_output_folder(args.out, data_dir=args.data_dir)
    args.device = pick_device(args.device)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    use_threads(args.threads)
    images, poor, reference, truth, data_record = load_data(args)
    evidence = image_checks.evidence_from_images(poor, reference,
                                                 stream_rng(args.seed, CRITIC_STREAM))
    torch.manual_seed(args.seed)  # the initial weights
    model = ConvVAE(args.k, plain=args.plain).to(args.device)
    history, final, (axes, codes, result), guided_latent = train_and_read(
        model, images, poor, reference, evidence, args)
    settings = {"objective": PLAIN_OBJECTIVE if args.plain else DEFAULT_OBJECTIVE,
                "traversal_limit": TRAVERSAL_GRID[-1], "figure_rows": FIGURE_ROWS,
                "fit_quantiles": list(along_axis.FIT_QUANTILES), "guide_weight": GUIDE_WEIGHT}
    metrics = run_metrics(args, settings, data_record, history, final, result, codes["test"],
                          truth, guided_latent)
    traversals, reconstructions = figure_images(model, axes, images["test"], args, args.device)
    with run_folder(args.out) as folder:
        write_figures(folder, traversals, TRAVERSAL_GRID, reconstructions, codes, metrics,
                      evidence["mean_difference"])
        save_model_and_codes(folder, model, args, axes, codes["test"], final["test"]["mu"])
        metrics["seconds"] = time.perf_counter() - started
        write_json(folder / "metrics.json", metrics)
    print(summary_line(metrics, args.out))


if __name__ == "__main__":
    run_cli(main)
