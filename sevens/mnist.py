"""MNIST's sevens, shipped in assets/mnist_sevens.npz: the clean sevens that both the default data
and the VAE's reference come from. MNIST: LeCun, Cortes and Burges; CC BY-SA 3.0 (see assets/)."""

from pathlib import Path

import numpy as np

SEVENS_ASSET = Path(__file__).resolve().parents[1] / "assets" / "mnist_sevens.npz"


def load_mnist_sevens() -> dict[str, np.ndarray]:
    """{"train": (6265, 28, 28), "test": (1028, 28, 28)} uint8 sevens of MNIST's two splits."""
    with np.load(SEVENS_ASSET, allow_pickle=False) as archive:
        return {"train": archive["train"], "test": archive["test"]}
