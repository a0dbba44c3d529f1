"""Write the default data in the homework's exact format, when the user brings none.

    data/trs.pkl   (500, 16180) float32  speech, 50 speakers x 10 utterances, rows ordered by speaker
    data/tes.pkl   (200, 22631) float32  speech, 20 other speakers x 10 utterances
    data/tr7.pkl   (6265, 28, 28) float32  "poor sevens": MNIST training sevens with an effect added
    data/te7.pkl   (1028, 28, 28) float32  the same for MNIST's test sevens
    data/tr7_angles.npy, data/te7_angles.npy  the true rotation angles (degrees), to score the VAE
                   (another --sevens-effect writes tr7_effect.npy / te7_effect.npy instead)

Sevens: real MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), from assets/mnist_sevens.npz.
Speech: a procedural source-filter corpus (no multi-speaker corpus installs from a registry).
Existing files are never overwritten without --force. The same --seed writes the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.ndimage

from common import DEFAULT_DATA_DIR, DataError, run_cli, write_npy, write_pickle

SEVENS_ASSET = Path(__file__).resolve().parent / "assets" / "mnist_sevens.npz"
IMAGE_CENTRE = np.array([13.5, 13.5])  # the centre of a 28x28 grid, between the middle pixels

# Each effect: its parameter's range and what the parameter means. Drawn uniformly per image.
SEVENS_EFFECTS = {
    "rotation": (-60.0, 60.0),  # degrees, counter-clockwise about the image centre
    "shift": (-6.0, 6.0),  # pixels to the right
    "shear": (-0.6, 0.6),  # horizontal shear: x' = x + s * (centre_row - row)
    "contrast": (0.15, 1.0),  # ink intensity multiplier
}


# ---------------------------------------------------------------- poor sevens


def affine_about_centre(image: np.ndarray, matrix: np.ndarray, offset_xy=(0.0, 0.0)) -> np.ndarray:
    """Warp one image by `matrix` (acting on (x, y) = (column, row)) about the centre, bilinear.

    scipy maps output coordinates to input ones, so we give it the inverse transform, in
    (row, column) order.
    """
    inverse_xy = np.linalg.inv(matrix)
    inverse_rc = inverse_xy[::-1, ::-1]  # swap (x, y) <-> (row, column)
    shift_rc = np.array(offset_xy[::-1], dtype=float)
    offset = IMAGE_CENTRE - inverse_rc @ (IMAGE_CENTRE + shift_rc)
    return scipy.ndimage.affine_transform(image, inverse_rc, offset=offset, order=1, mode="constant", cval=0.0)


def add_effect(image: np.ndarray, effect: str, value: float) -> np.ndarray:
    """Apply one effect with parameter `value` to a [0, 1] image; the result stays in [0, 1]."""
    if effect == "rotation":
        angle = np.deg2rad(value)
        # Counter-clockwise on screen: y (rows) points down, hence the signs.
        matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        warped = affine_about_centre(image, matrix)
    elif effect == "shift":
        warped = affine_about_centre(image, np.eye(2), offset_xy=(value, 0.0))
    elif effect == "shear":
        warped = affine_about_centre(image, np.array([[1.0, -value], [0.0, 1.0]]))
    elif effect == "contrast":
        warped = image * value
    else:
        raise ValueError(f"unknown effect {effect!r}")
    return np.clip(warped, 0.0, 1.0).astype(np.float32)


def poor_sevens(sevens_uint8: np.ndarray, effect: str, rng: np.random.Generator):
    """(N, 28, 28) uint8 -> (N, 28, 28) float32 in [0, 1] with the effect added, and its values (N,)."""
    low, high = SEVENS_EFFECTS[effect]
    values = rng.uniform(low, high, size=len(sevens_uint8))
    images = np.stack([add_effect(seven / 255.0, effect, value) for seven, value in zip(sevens_uint8, values)])
    return images, values.astype(np.float32)


def load_mnist_sevens() -> dict[str, np.ndarray]:
    with np.load(SEVENS_ASSET, allow_pickle=False) as archive:
        return {"train": archive["train"], "test": archive["test"]}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_DATA_DIR, help="folder to write (default: data/)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.add_argument(
        "--sevens-effect", choices=sorted(SEVENS_EFFECTS), default="rotation", help="the nuisance effect (default rotation)"
    )
    parser.add_argument("--only", choices=["speech", "sevens"], help="write only one of the two data sets")
    args = parser.parse_args()

    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"{args.out}: expected a folder to write the data into, found a file")
    written: list[Path] = []
    if args.only != "speech":
        write_sevens(args, written)
    if args.only != "sevens":
        write_speech(args, written)
    for path in written:
        print(f"wrote {path}")


def write_sevens(args, written: list) -> None:
    sevens = load_mnist_sevens()
    truth_name = "angles" if args.sevens_effect == "rotation" else "effect"
    for split, prefix in (("train", "tr7"), ("test", "te7")):
        pickle_path = args.out / f"{prefix}.pkl"
        truth_path = args.out / f"{prefix}_{truth_name}.npy"
        if pickle_path.exists() and not args.force:
            print(f"kept {pickle_path} (exists; --force to rewrite)")
            continue
        # One generator per split, so train and test do not depend on each other's sizes.
        rng = np.random.default_rng([args.seed, 7, 0 if split == "train" else 1])
        images, values = poor_sevens(sevens[split], args.sevens_effect, rng)
        write_pickle(pickle_path, images)
        write_npy(truth_path, values)
        written.extend([pickle_path, truth_path])


def write_speech(args, written: list) -> None:
    raise NotImplementedError("speech synthesis: see issue 2")


if __name__ == "__main__":
    run_cli(main)
