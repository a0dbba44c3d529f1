"""Sevens carrying effects of our own making, for the Problem 2 benchmark
(`bench/effect_benchmark.py`).

Each effect has one parameter, drawn uniformly per image from its range, and is applied to real
MNIST sevens (LeCun, Cortes, Burges; CC BY-SA 3.0) from `assets/mnist_sevens.npz`: the training
sevens make tr7.pkl, the test sevens te7.pkl, and the drawn parameters are written beside them as
`tr7_truth_<effect>.npy` / `te7_truth_<effect>.npy`, the same layout `make_data.py` writes.
Two effects are combined (COMBINED): a drawn change followed by a fixed one, so that either
family is a right answer.

    python -m bench.effects --effect blur --out /tmp/sevens_blur
"""

from __future__ import annotations

import argparse
import functools
import inspect
from pathlib import Path

import numpy as np
import scipy.ndimage

from common import run_cli
from default_data.homework_files import write_npy, write_pickle
from default_data.sevens import affine_about_centre, changed_sevens
from sevens.mnist import load_mnist_sevens

EFFECT_STREAM = 11  # the benchmark's own random stream, apart from make_data's


def rotation(image, degrees):
    angle = np.deg2rad(degrees)
    matrix = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    return affine_about_centre(image, matrix)


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


def swirl(image, strength):
    """A non-affine warp: each pixel turned about the centre by strength * exp(-r / 8) radians."""
    rows, columns = np.mgrid[0:28, 0:28].astype(float) - 13.5
    radius = np.hypot(rows, columns)
    angle = strength * np.exp(-radius / 8.0)
    source_rows = np.cos(angle) * rows - np.sin(angle) * columns + 13.5
    source_columns = np.sin(angle) * rows + np.cos(angle) * columns + 13.5
    return scipy.ndimage.map_coordinates(image, [source_rows, source_columns], order=1, cval=0.0)


def keystone(image, tilt):
    """A perspective-like warp: rows near the top squeezed (tilt > 0) or widened, the bottom
    kept."""
    rows, columns = np.mgrid[0:28, 0:28].astype(float)
    width = 1.0 + tilt * (27.0 - rows) / 27.0
    coordinates = [rows, (columns - 13.5) * width + 13.5]
    return scipy.ndimage.map_coordinates(image, coordinates, order=1, cval=0.0)


def contrast(image, factor):
    return image * factor


def gamma(image, log_gamma):
    return image ** np.exp(log_gamma)


def fog(image, level):
    """Grey added where there is no ink: x -> level + (1 - level) x."""
    return level + (1.0 - level) * image


def threshold(image, steepness):
    """A soft threshold at 0.5 whose steepness varies: grey strokes go black or white."""
    squashed = 1.0 / (1.0 + np.exp(-steepness * (image - 0.5)))
    low, high = 1.0 / (1.0 + np.exp(steepness * 0.5)), 1.0 / (1.0 + np.exp(-steepness * 0.5))
    return (squashed - low) / (high - low)


def blur(image, sigma):
    return scipy.ndimage.gaussian_filter(image, sigma) if sigma > 0 else image


def motion_blur(image, length):
    """Horizontal box blur over `length` pixels (a camera moving sideways)."""
    return scipy.ndimage.uniform_filter1d(image, max(1, int(round(length))), axis=1)


def sharpen(image, amount):
    """Unsharp masking: x + amount (x - blur_1px(x))."""
    return image + amount * (image - scipy.ndimage.gaussian_filter(image, 1.0))


def stroke_width(image, pixels):
    """Redraw the ink with its edge moved outwards by `pixels` (inwards when negative),
    anti-aliased: grey = clip(1/2 + pixels - d, 0, 1), d the signed distance to the ink's edge (ink:
    grey >= 1/2)."""
    ink = image >= 0.5
    outside = scipy.ndimage.distance_transform_edt(~ink)
    signed_distance = outside - scipy.ndimage.distance_transform_edt(ink)
    return np.clip(0.5 + pixels - signed_distance, 0.0, 1.0)


def gaussian_noise(image, sigma, rng):
    return image + sigma * rng.standard_normal(image.shape)


def salt_and_pepper(image, density, rng):
    flips = rng.random(image.shape) < density
    return np.where(flips, rng.integers(0, 2, image.shape).astype(float), image)


def dropout(image, rate, rng):
    """Ink erased at random pixels."""
    return image * (rng.random(image.shape) >= rate)


def crossbar(image, ink):
    """A horizontal bar drawn across the middle (the continental seven's stroke), of varying
    darkness."""
    bar = np.zeros_like(image)
    bar[14:16, 8:21] = ink
    return np.maximum(image, bar)


def erased_rows(image, rows):
    """The lowest `rows` rows of the digit's box erased (a torn-off foot)."""
    erased = image.copy()
    if rows >= 1:
        erased[28 - 4 - int(round(rows)) : 24] = 0.0
    return erased


def corner_blob(image, radius):
    """An ink blob of varying radius in the top-left corner."""
    rows, columns = np.mgrid[0:28, 0:28]
    blob = (np.hypot(rows - 4.0, columns - 4.0) <= radius).astype(float)
    return np.maximum(image, blob)


def mirror(image, flipped):
    """Left and right swapped for about half of the sevens (value 1)."""
    return image[:, ::-1] if flipped >= 0.5 else image


def upside_down(image, turned):
    """Turned by 180 degrees for about half of the sevens (value 1)."""
    return image[::-1, ::-1] if turned >= 0.5 else image


WARP_CONTROL_GRID = 4  # control points per side of random_warp's displacement field


def smooth_displacement(amplitude, rng, shape=(28, 28)):
    """(2, rows, columns) displacement in pixels (rows first): a 4x4 grid of Gaussian control
    points per direction, cubic-spline interpolated to every pixel, then scaled so that its RMS
    length sqrt(mean(d_row^2 + d_column^2)) is exactly `amplitude`."""
    control = rng.standard_normal((2, WARP_CONTROL_GRID, WARP_CONTROL_GRID))
    # Pixel i of n sits at control coordinate i (grid - 1) / (n - 1): corners on corners.
    rows, columns = np.meshgrid(*(np.linspace(0.0, WARP_CONTROL_GRID - 1, n) for n in shape),
                                indexing="ij")
    field = np.stack([scipy.ndimage.map_coordinates(c, [rows, columns], order=3, mode="nearest")
                      for c in control])
    return amplitude * field / np.sqrt(np.mean(np.sum(field**2, axis=0)))


def random_warp(image, amplitude, rng):
    """Each image warped by its own smooth random displacement field of RMS `amplitude` pixels:
    output(p) = image(p + d(p)), bilinear, zero outside."""
    displacement = smooth_displacement(amplitude, rng, image.shape)
    grid = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(float)
    return scipy.ndimage.map_coordinates(image, grid + displacement, order=1, cval=0.0)


def posterize(image, levels):
    """Greys merged into L = round(levels) evenly spaced levels: x -> round(x (L - 1)) / (L - 1)."""
    steps = max(2, int(round(levels))) - 1
    return np.round(image * steps) / steps


def solarize(image, fold):
    """Greys above `fold` folded back about it, x -> x if x <= t else 2t - x (clipped to [0, 1]
    by changed_sevens): the darkest ink turns lighter than the greys just under t, so the map does
    not keep the order of greys."""
    return np.where(image <= fold, image, 2.0 * fold - image)


# A 1-pixel diagonal line running down to the right, rows 19-25 and columns 20-26: the bottom
# right, where MNIST's sevens have almost no ink (their stem runs down to the left; 0.4% of the
# training sevens' pixels there are inked >= 1/2).
MARK_PIXELS = (np.arange(19, 26), np.arange(20, 27))


def fixed_mark(image, ink=1.0):
    """The same mark (MARK_PIXELS at darkness `ink`) drawn into every image: max(image, mark).
    EFFECTS draws ink from [1, 1], so nothing about it varies between images."""
    marked = image.copy()
    marked[MARK_PIXELS] = np.maximum(marked[MARK_PIXELS], ink)
    return marked


GHOST_SHIFT = (3, 4)  # (rows down, columns right) of the ghost copy


def shifted(image, rows, columns):
    """The image moved down by `rows` and right by `columns` whole pixels, zeros shifted in."""
    moved = np.zeros_like(image)
    moved[rows:, columns:] = image[: image.shape[0] - rows, : image.shape[1] - columns]
    return moved


def ghost(image, share):
    """A double image: a faint copy moved by GHOST_SHIFT added, x + share * shift(x) (a kernel of
    two separate taps, 1 and share)."""
    return image + share * shifted(image, *GHOST_SHIFT)


def diagonal_smear(image, length):
    """A smear along the 45-degree diagonal (down-right): the mean over round(length) pixels on a
    diagonal line, kernel eye(L) / L; it keeps all ink lying over L / 2 pixels from the border
    (nearer, some is smeared off the image). Not motion-blur's row."""
    taps = max(1, int(round(length)))
    return scipy.ndimage.convolve(image, np.eye(taps) / taps, mode="constant", cval=0.0)


def low_resolution(image, factor):
    """Resolution lost: the mean of each f x f block (f = round(factor); the last row and column of
    blocks are cut short where f does not divide 28), every pixel set to its block's mean (nearest
    neighbour back up to 28x28): blocky."""
    block = max(1, int(round(factor)))
    row_blocks, column_blocks = np.indices(image.shape) // block
    sums, counts = (np.zeros((row_blocks.max() + 1, column_blocks.max() + 1)) for _ in range(2))
    np.add.at(sums, (row_blocks, column_blocks), image)
    np.add.at(counts, (row_blocks, column_blocks), 1.0)
    return (sums / counts)[row_blocks, column_blocks]


def turn_and_mark(image, degrees):
    """Two changes at once (see COMBINED): turned by `degrees`, then the fixed mark drawn."""
    return fixed_mark(rotation(image, degrees))


def contrast_and_blur(image, factor):
    """Two changes at once (see COMBINED): ink times `factor`, then a Gaussian blur of 1 pixel on
    every image (both linear, so their order does not matter)."""
    return blur(contrast(image, factor), 1.0)


# name: (category, function, low, high); the parameter is drawn uniformly in [low, high] per image.
# A function with a third argument also gets the random generator (noise drawn per pixel).
EFFECTS = {
    "rotation": ("geometry", rotation, -60.0, 60.0),  # degrees, counter-clockwise
    "translation-x": ("geometry", translation_x, -6.0, 6.0),  # pixels to the right
    "translation-y": ("geometry", translation_y, -5.0, 5.0),  # pixels down
    "shear": ("geometry", shear, -0.6, 0.6),  # horizontal slant
    "scale": ("geometry", scale, np.log(0.6), np.log(1.25)),  # log of the zoom factor
    "scale-x": ("geometry", scale_x, np.log(0.5), np.log(1.3)),  # log of the horizontal stretch
    "swirl": ("geometry", swirl, -1.5, 1.5),  # radians at the centre
    "keystone": ("geometry", keystone, -0.6, 0.6),  # relative width change of the top row
    "contrast": ("tone", contrast, 0.15, 1.0),  # ink intensity multiplier
    "gamma": ("tone", gamma, np.log(0.3), np.log(3.0)),  # log of the exponent of grey ** gamma
    "fog": ("tone", fog, 0.0, 0.5),  # grey level of the background
    "threshold": ("tone", threshold, 1.0, 20.0),  # steepness of a soft threshold at 0.5
    "blur": ("filter", blur, 0.0, 2.0),  # Gaussian sigma, pixels
    "motion-blur": ("filter", motion_blur, 1.0, 7.0),  # box length, pixels
    "sharpen": ("filter", sharpen, 0.0, 3.0),  # unsharp-mask amount
    "stroke-width": ("filter", stroke_width, -0.7, 1.8),  # pixels added to the stroke's edge
    "gaussian-noise": ("noise", gaussian_noise, 0.0, 0.3),  # std of the added noise
    "salt-and-pepper": ("noise", salt_and_pepper, 0.0, 0.15),  # share of pixels set to 0 or 1
    "dropout": ("noise", dropout, 0.0, 0.5),  # share of pixels erased
    "crossbar": ("content", crossbar, 0.0, 1.0),  # darkness of the added bar
    "erased-rows": ("content", erased_rows, 0.0, 8.0),  # rows erased above row 24
    "corner-blob": ("content", corner_blob, 0.0, 4.0),  # radius of the added blob, pixels
    "mirror": ("symmetry", mirror, 0.0, 1.0),  # > 0.5: mirrored (about half of the sevens)
    "upside-down": ("symmetry", upside_down, 0.0, 1.0),  # > 0.5: turned by 180 degrees
    # Ranges of rounded parameters run from k - 1/2 to m + 1/2: each of k..m at the same share.
    "random-warp": ("geometry", random_warp, 0.0, 2.5),  # RMS displacement, pixels
    "posterize": ("tone", posterize, 1.5, 5.5),  # grey levels kept, rounded: 2-5
    "solarize": ("tone", solarize, 0.4, 0.9),  # grey above which greys fold back
    "fixed-mark": ("content", fixed_mark, 1.0, 1.0),  # darkness of the mark: the same everywhere
    "ghost": ("filter", ghost, 0.0, 0.6),  # share of the shifted copy added
    "diagonal-smear": ("filter", diagonal_smear, 0.5, 7.5),  # smear length, pixels, rounded: 1-7
    "low-resolution": ("filter", low_resolution, 0.5, 4.5),  # block side, rounded: 1-4
    "turn-and-mark": ("geometry", turn_and_mark, -45.0, 45.0),  # degrees; the mark is fixed
    "contrast-and-blur": ("tone", contrast_and_blur, 0.2, 1.0),  # ink multiplier; blur fixed
}
# Effects made of two changes: both families are right. EFFECTS records the first, whose
# parameter is drawn; the second change is the same in every image.
COMBINED = {"turn-and-mark": ("geometry", "content"), "contrast-and-blur": ("tone", "filter")}


def true_families(effect: str) -> tuple[str, ...]:
    """The families a right answer may name for an effect of EFFECTS."""
    return COMBINED.get(effect, (EFFECTS[effect][0],))


def change_function(effect: str, rng: np.random.Generator):
    """image, value -> changed image for one effect; noise effects draw their pixels from rng."""
    function = EFFECTS[effect][1]
    takes_rng = "rng" in inspect.signature(function).parameters
    return functools.partial(function, rng=rng) if takes_rng else function


def effect_sevens(effect: str, sevens_uint8: np.ndarray, split: int, seed: int):
    """(N, 28, 28) in [0, 1] with the effect drawn per image, and the drawn values (N,): split 0 for
    tr7, 1 for te7, each from its own stream."""
    _, _, low, high = EFFECTS[effect]
    rng = np.random.default_rng([seed, EFFECT_STREAM, split])
    return changed_sevens(sevens_uint8, change_function(effect, rng), low, high, rng)


def write_effect_data(effect: str, out: Path, seed: int) -> None:
    sevens = load_mnist_sevens()
    for split, prefix in ((0, "tr7"), (1, "te7")):
        source = sevens["train" if split == 0 else "test"]
        images, values = effect_sevens(effect, source, split, seed)
        write_pickle(out / f"{prefix}.pkl", images)
        truth = out / f"{prefix}_truth_{effect}.npy"
        if np.ptp(values) > 0:  # a truth the same in every seven scores no axis (fixed-mark)
            write_npy(truth, values)
        else:
            truth.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--effect", choices=list(EFFECTS), required=True)
    parser.add_argument("--out", type=Path, required=True,
                        help="folder to write tr7.pkl, te7.pkl and the truth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_effect_data(args.effect, args.out, args.seed)


if __name__ == "__main__":
    run_cli(main)
