"""Along which axes of the VAE's code do the poor sevens spread beyond the clean ones?

vae_sevens.py encodes the poor and the clean sevens (their posterior means) and reads the code on
the axes of the generalised eigenproblem S v = lambda C v: S the poor codes' spread about the clean
mean, C the clean codes' covariance. Axis 0, the largest lambda, is where an effect done to the poor
sevens shows; codes given on these axes are decoded for the traversals.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from common import EPS, IMAGE_SHAPE

IMAGE_SIDE = IMAGE_SHAPE[0]
RIDGE = 1e-3  # of the clean covariance's mean variance: keeps C invertible when a latent collapses
ENCODE_BATCH = 512  # images per encoder pass: memory stays bounded for any number of sevens


class Axes:
    """The axes the code is read on: z' = U (z - m), back z = U^{-1} z' + m; axis 0 comes first."""

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
        S = E_poor[(z - m_clean)(z - m_clean)^T]  (about the clean mean: a constant shift counts)
        C = Cov_clean(z) + ridge I;
    lambda_k = v_k^T S v_k / v_k^T C v_k is how many times the clean codes' variance the poor codes
    spread along v_k; the clean sevens are a distribution to compare with, never paired with the
    poor ones. Each axis is centred on the poor codes, scaled to unit std over them and points from
    the clean mean towards the poor one (where they coincide, where its largest component is
    positive), so that its high end is "more changed".
    """
    deviation = poor - clean.mean(0)
    spread = deviation.T @ deviation / len(poor)
    covariance = np.atleast_2d(np.cov(clean.T, ddof=0))
    ridge = RIDGE * np.trace(covariance) / len(covariance)
    covariance = covariance + ridge * np.eye(len(covariance))
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
    means = [model.encode(chunk)[0].cpu().numpy() for chunk in tensor.split(ENCODE_BATCH)]
    return np.concatenate(means).astype(np.float64)


def codes_on_axes(model, images: np.ndarray, axes: Axes, device) -> np.ndarray:
    """(N, 28, 28) images -> (N, K) their posterior means on `axes`."""
    return axes.from_model(encode_means(model, images, device))


@torch.no_grad()
def decode_means(model, codes: np.ndarray, axes: Axes, device) -> np.ndarray:
    """(..., K) codes on `axes` -> (..., 28, 28) decoded mean images, sigmoid(logits)."""
    model.eval()
    flat = axes.to_model(codes).reshape(-1, codes.shape[-1])
    logits = model.decode(torch.as_tensor(flat, dtype=torch.float32, device=device))
    return torch.sigmoid(logits).cpu().numpy().reshape(*codes.shape[:-1], IMAGE_SIDE, IMAGE_SIDE)
