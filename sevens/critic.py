"""Does anything differ between the poor sevens and the clean ones? A classifier two-sample test.

A small critic learns to tell the poor sevens from the clean ones on half of each and is scored on
the other half (Lopez-Paz & Oquab, 2017). Under the null (the same distribution) its held-out
accuracy a is Binomial(n, 1/2) / n, so

    z = (a - 1/2) / sqrt(1 / (4 n)),

and the sets differ when z >= DIFFER_Z. Its per-image score (the logit) says how changed each seven
looks, and the mean difference image says where. The checks on the images (image_checks.py) train
the same critic on transformed images: it falls to chance when the transform removes what changed
(fell_to_chance). The cross-check (cross_checks.py) scores changed clean sevens with it
(separation).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

from common import IMAGE_SHAPE

# Fixed on bench/image_evidence.py (24 effects and a null, MNIST's training sevens).
DIFFER_Z = 5.0  # held-out accuracy this many null standard deviations above 1/2
# At 4 epochs the critic missed gamma at one seed of three (52.7%, z 4.1; docs/experiments.md).
CRITIC_EPOCHS = 8
CRITIC_BATCH = 128  # sevens per Adam step
CRITIC_LR = 1e-3  # Adam's default step
CHANGED_QUANTILE = 0.95  # a poor seven looks changed beyond this quantile of the clean ones' scores
GREY_BINS = 16  # the critic also sees each image's histogram of grey levels in (0, 1]
IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels


class Critic(nn.Module):
    """Logit of "poor" for a (B, 28, 28) image: two strided convolutions (where ink lies) plus a
    linear read of a small network of the image's grey-level histogram (how dark it is, wherever it
    lies), summed."""

    def __init__(self):
        super().__init__()
        self.convolutions = critic_convolutions(1)
        self.histogram = nn.Sequential(nn.Linear(GREY_BINS, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        ink = self.convolutions(images.unsqueeze(1))
        return (ink + self.histogram(grey_histogram(images))).squeeze(1)


def critic_convolutions(outputs: int) -> nn.Module:
    """(B, 1, 28, 28) -> (B, outputs): two strided convolutions and a linear read."""
    return nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, outputs))


def grey_histogram(images: torch.Tensor) -> torch.Tensor:
    """(B, GREY_BINS): the share of each image's pixels in each of GREY_BINS equal bins of (0, 1]
    (zeros left out: the blank background dominates every image)."""
    flat = images.flatten(1)
    bins = (flat * GREY_BINS).ceil().clamp(0, GREY_BINS).long()  # 0: blank, 1..16: the bins
    counts = torch.zeros(len(images), GREY_BINS + 1).scatter_add_(1, bins, torch.ones_like(flat))
    return counts[:, 1:] / IMAGE_SIDE**2 * 10.0  # about unit scale


def two_sample_test(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """Held-out accuracy of a critic telling poor (N, 28, 28) from clean (M, 28, 28), its z against
    chance, the share of held-out poor sevens that look changed, the mean difference image poor -
    clean (28, 28), and the critic's logit for every poor seven, in their order (N,): how changed
    each one looks."""
    n = min(len(poor), len(clean))
    every_poor, drawn = poor, rng.permutation(len(poor))[:n]
    poor, clean = poor[drawn], clean[rng.permutation(len(clean))[:n]]
    half = n // 2
    images = torch.as_tensor(np.concatenate([poor[:half], clean[:half]]), dtype=torch.float32)
    labels = torch.cat([torch.ones(half), torch.zeros(half)])

    def loss_of(model, index, generator):
        return F.binary_cross_entropy_with_logits(model(images[index]), labels[index])

    model = fit_network(Critic, len(images), CRITIC_EPOCHS, rng, loss_of)
    with torch.no_grad():  # once per poor seven
        every_score = model(torch.as_tensor(every_poor, dtype=torch.float32)).numpy()
        clean_scores = model(torch.as_tensor(clean[half:], dtype=torch.float32)).numpy()
    poor_scores = every_score[drawn[half:]]  # the held-out poor sevens
    held_out = len(poor_scores) + len(clean_scores)
    accuracy = (np.sum(poor_scores > 0) + np.sum(clean_scores <= 0)) / held_out
    z = (accuracy - 0.5) / math.sqrt(0.25 / held_out)
    # Share changed: poor sevens beyond the clean scores' 95% quantile, less the 5% of clean ones
    # that are too.
    looks_changed = poor_scores > np.quantile(clean_scores, CHANGED_QUANTILE)
    changed = max(0.0, (np.mean(looks_changed) - (1 - CHANGED_QUANTILE)) / CHANGED_QUANTILE)
    return {"critic_accuracy": float(accuracy), "critic_z": float(z),
            "images_differ": bool(z >= DIFFER_Z), "share_changed": float(changed),
            "mean_difference": poor.mean(0) - clean.mean(0), "critic_scores": every_score,
            "critic": model, "held_out_clean": clean[half:], "fitting_clean": clean[:half],
            "held_out_changed": poor[half:][looks_changed], "held_out_clean_scores": clean_scores,
            "critic_separation": separation(poor_scores, clean_scores)}


def fit_network(make_network, n: int, epochs: int, rng: np.random.Generator, loss_of) -> nn.Module:
    """A network from make_network() trained by Adam (CRITIC_LR) for `epochs` passes over rows
    0..n-1 in shuffled minibatches of CRITIC_BATCH, loss_of(network, rows, generator) each; returned
    frozen. Its initial weights and its shuffles come from rng, without touching torch's own
    stream."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**62)))
        network = make_network()
    optimiser = torch.optim.Adam(network.parameters(), lr=CRITIC_LR)
    for _ in range(epochs):
        for index in torch.randperm(n, generator=generator).split(CRITIC_BATCH):
            loss = loss_of(network, index, generator)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return network.requires_grad_(False)


def separation(scores: np.ndarray, clean_scores: np.ndarray) -> float:
    """2 AUC - 1 of scores against clean scores (0: no separation, 1: every score above every clean
    one), with AUC = P(score > clean score) from ranks (Mann-Whitney U / (n m))."""
    ranks = scipy.stats.rankdata(np.concatenate([scores, clean_scores]))[: len(scores)]
    pairs = len(scores) * len(clean_scores)
    auc = (ranks.sum() - len(scores) * (len(scores) + 1) / 2) / pairs
    return float(2.0 * auc - 1.0)


def fell_to_chance(critic_z: float, raw_critic_z: float) -> bool:
    """A critic on transformed images is at chance (z < DIFFER_Z) and DIFFER_Z or more below the raw
    critic's z: the drop itself clear of chance, so that a weak change the second critic merely
    misses does not count."""
    return critic_z < DIFFER_Z and raw_critic_z - critic_z >= DIFFER_Z
