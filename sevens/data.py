"""Which sevens does a run of vae_sevens.py read? tr7 and te7 with te7's truth (when one lies
beside), the clean sevens it compares them with, and the split of tr7 into training and validation
rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common import data_entry, load_images, load_truth
from sevens.mnist import load_mnist_sevens

VALIDATION_FRACTION = 0.1  # of tr7: enough sevens to watch the held-out ELBO, most left to train


def load_sevens(data_dir: Path):
    """tr7, te7 (N, 28, 28) in [0, 1], and te7's truth when a te7_truth_<effect>.npy lies beside."""
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
