"""The training augmentations of Problem 1: which new voices and windows does a minibatch see?

Each minibatch trains on one random window of the spectrograms (`random_crop`: the speaker, not the
words) and, with --warp, gives each of its speakers a new voice by a random frequency warp
(`speaker_warp`, built on `frequency_warp`). Only training minibatches are augmented; the fixed
validation and test pairs are scored on the spectrograms as they are.
"""

import numpy as np
import torch

from common import UTTERANCES_PER_SPEAKER


def frequency_warp(spectrograms: torch.Tensor, factors: np.ndarray) -> torch.Tensor:
    """(B, F, T) -> (B, F, T): bin f of row b takes bin f / factors[b] (linear interpolation, edges
    held).

    A factor a scales every frequency by a, formants and harmonics alike: the voice of a shorter
    (a > 1) or longer vocal tract, a new speaker (vocal-tract length perturbation; Jaitly & Hinton,
    2013)."""
    n_bins = spectrograms.shape[1]
    bins = np.arange(n_bins)[None, :] / np.asarray(factors)[:, None]
    source = np.clip(bins, 0, n_bins - 1)  # (B, F)
    below = np.floor(source).astype(np.int64)
    above = np.minimum(below + 1, n_bins - 1)
    weight = torch.as_tensor(source - below, dtype=spectrograms.dtype, device=spectrograms.device)
    weight = weight[:, :, None]
    # (B, 1) row index, broadcast with the (B, F) bins: (B, F, T)
    rows = np.arange(len(spectrograms))[:, None]
    return (1 - weight) * spectrograms[rows, below] + weight * spectrograms[rows, above]


def speaker_warp(rows: np.ndarray, spectrograms: torch.Tensor, rng: np.random.Generator,
                 largest: float) -> torch.Tensor:
    """One frequency warp per speaker among the rows, shared by its utterances: positives stay one
    (new) voice, negatives two. Factors log-uniform in [1 - largest, 1 + largest]."""
    speakers, speaker_of_row = np.unique(rows // UTTERANCES_PER_SPEAKER, return_inverse=True)
    log_factors = rng.uniform(np.log(1 - largest), np.log(1 + largest), size=len(speakers))
    return frequency_warp(spectrograms, np.exp(log_factors)[speaker_of_row])


def random_crop(features: torch.Tensor, rng: np.random.Generator,
                shortest_fraction: float) -> torch.Tensor:
    """One random window of shortest_fraction * T to T frames of every spectrogram: the speaker, not
    the words."""
    frames = features.shape[-1]
    length = int(rng.integers(max(1, round(shortest_fraction * frames)), frames + 1))
    start = int(rng.integers(0, frames - length + 1))
    return features[..., start : start + length]
