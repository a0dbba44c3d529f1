"""Sevens carrying effects of our own making, for the Problem 2 benchmark (`bench/effect_benchmark.py`).

Each effect has one parameter, drawn uniformly per image from its range, and is applied to real MNIST
sevens (LeCun, Cortes, Burges; CC BY-SA 3.0) from `assets/mnist_sevens.npz`: the training sevens make
tr7.pkl, the test sevens te7.pkl, and the drawn parameters are written beside them as
`tr7_truth_<effect>.npy` / `te7_truth_<effect>.npy`, the same layout `make_data.py` writes.

    python bench/effects.py --effect blur --out /tmp/sevens_blur
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import run_cli  # noqa: E402
from make_data import affine_about_centre, changed_sevens, load_mnist_sevens, write_npy, write_pickle  # noqa: E402

EFFECT_STREAM = 11  # the benchmark's own random stream, apart from make_data's


def rotation(image, degrees):
    angle = np.deg2rad(degrees)
    return affine_about_centre(image, np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]))


def translation_x(image, pixels):
    return affine_about_centre(image, np.eye(2), offset_xy=(pixels, 0.0))


def translation_y(image, pixels):
    return affine_about_centre(image, np.eye(2), offset_xy=(0.0, pixels))


def shear(image, slant):
    return affine_about_centre(image, np.array([[1.0, -slant], [0.0, 1.0]]))


def scale(image, log_factor):
    return affine_about_centre(image, np.exp(log_factor) * np.eye(2))


def scale_x(image, log_factor):
    return affine_about_centre(image, np.diag([np.exp(log_factor), 1.0]))


def contrast(image, factor):
    return image * factor


def gamma(image, log_gamma):
    return image ** np.exp(log_gamma)


def blur(image, sigma):
    return scipy.ndimage.gaussian_filter(image, sigma) if sigma > 0 else image


def stroke_width(image, pixels):
    """Redraw the ink with its edge moved outwards by `pixels` (inwards when negative), anti-aliased:
    grey = clip(1/2 + pixels - d, 0, 1), d the signed distance to the ink's edge (ink: grey >= 1/2)."""
    ink = image >= 0.5
    signed_distance = scipy.ndimage.distance_transform_edt(~ink) - scipy.ndimage.distance_transform_edt(ink)
    return np.clip(0.5 + pixels - signed_distance, 0.0, 1.0)


# name: (function, low, high); the parameter is drawn uniformly in [low, high] per image.
EFFECTS = {
    "rotation": (rotation, -60.0, 60.0),  # degrees, counter-clockwise
    "translation-x": (translation_x, -6.0, 6.0),  # pixels to the right
    "translation-y": (translation_y, -5.0, 5.0),  # pixels down
    "shear": (shear, -0.6, 0.6),  # horizontal slant
    "scale": (scale, np.log(0.6), np.log(1.25)),  # log of the zoom factor
    "scale-x": (scale_x, np.log(0.5), np.log(1.3)),  # log of the horizontal stretch
    "contrast": (contrast, 0.15, 1.0),  # ink intensity multiplier
    "gamma": (gamma, np.log(0.3), np.log(3.0)),  # log of the exponent: grey -> grey ** gamma
    "blur": (blur, 0.0, 2.0),  # Gaussian sigma, pixels
    "stroke-width": (stroke_width, -0.7, 1.8),  # pixels added to the stroke's edge
}


def write_effect_data(effect: str, out: Path, seed: int) -> None:
    sevens = load_mnist_sevens()
    for split, prefix in ((0, "tr7"), (1, "te7")):
        rng = np.random.default_rng([seed, EFFECT_STREAM, split])
        images, values = changed_sevens(sevens["train" if split == 0 else "test"], *EFFECTS[effect], rng)
        write_pickle(out / f"{prefix}.pkl", images)
        write_npy(out / f"{prefix}_truth_{effect}.npy", values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--effect", choices=list(EFFECTS), required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder to write tr7.pkl, te7.pkl and the truth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_effect_data(args.effect, args.out, args.seed)


if __name__ == "__main__":
    run_cli(main)
