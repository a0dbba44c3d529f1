"""What do the images themselves say of the change, before any model of them?

evidence_from_images gathers, poor sevens against clean ones:
- the two-sample critic (critic.py): do they differ, how many look changed, and where (place);
- noise (noise_check): the roughness R(x) = sum (x - median3x3(x))^2 / sum x^2, poor against
  clean, beside the same ratio between two halves of the clean sevens (a decoder's mean cannot show
  noise);
- a map of the square (map_check): a classifier of the 8 maps, trained on jittered clean sevens,
  says which map made the sevens that look changed, beyond its rate on clean sevens;
- only the greys (tone_check): with each image's greys replaced by their ranks (which any increasing
  grey-level curve keeps), a second critic must fall to chance;
- only the fine detail (filter_check): a third critic, on each image blurred by FINE_SIGMA pixels
  and then ranked, must fall to chance;
- a few pixels (content_check): with the pixels whose mean difference is beyond DIFFER_Z standard
  errors blanked, a fourth critic must fall to chance.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F

from common import EPS, IMAGE_SHAPE
from sevens.changes import SQUARE_MAPS, affine_warp
from sevens.critic import (DIFFER_Z, critic_convolutions, fell_to_chance, fit_network,
                           two_sample_test)

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
# Fixed on bench/image_evidence.py (24 effects and a null, MNIST's training sevens).
NOISE_MARGIN = 2.5  # roughness ratio poor / clean beyond this many times the null's
MAPPED_SHARE = 0.5  # a map of the square is named when it gives this share of the changed sevens
CONTENT_SHARE = 0.25  # a change within at most this share of the image is a mark, not a new seven
# Set in advance.
PLACE_LEVEL = 0.5  # of the peak |mean difference|: the pixels where a change lives
TONE_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the greys at which the curve is reported
FINE_SIGMA = 2.0  # pixels: the filter check's blur
FINE_PERIOD = 4.0  # pixels: detail finer than this is the fine detail of the words
STROKE_MASS = 1.25  # ink mass this many times the clean's (or 1 / this): strokes thicker or thinner
MAP_EPOCHS = 4  # passes of the maps' classifier over the clean sevens, half the critic's
MAP_JITTER = (5.0, 20.0, 1.25)  # random shift (pixels), turn (degrees), zoom of the training sevens
EVIDENCE_KEYS = (  # what the images say, as metrics.json records it
    "critic_accuracy", "critic_z", "critic_separation", "images_differ", "share_changed",
    "roughness_ratio", "roughness_null", "square_map", "mapped_share", "ranked_critic_accuracy",
    "ranked_critic_z", "image_tone_curve", "coarse_critic_accuracy", "coarse_critic_z",
    "fine_detail_gain", "ink_mass_ratio", "content_pixels", "content_place", "content_ink",
    "masked_critic_accuracy", "masked_critic_z", "change_place")


def evidence_from_images(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """The model-free checks, poor vs clean sevens (N, 28, 28), and where they differ."""
    test = two_sample_test(poor, clean, rng)
    evidence = dict(test)
    for _, check in checks_in_order(poor, clean, test, rng):
        evidence.update(check())
    return {**evidence, "change_place": place(test["mean_difference"])}


def checks_in_order(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator):
    """(name, check) of the checks after the critic `test`, in the order they draw from `rng`:
    whoever runs some of them in this order gets the draws evidence_from_images gets."""
    return (("noise", functools.partial(noise_check, poor, clean, rng)),
            ("map", functools.partial(map_check, test, rng)),
            ("tone", functools.partial(tone_check, poor, clean, test, rng)),
            ("filter", functools.partial(filter_check, poor, clean, test, rng)),
            ("content", functools.partial(content_check, poor, clean, test, rng)))


def place(difference: np.ndarray) -> str:
    """Where a (28, 28) difference lives: the rows and columns of its pixels beyond PLACE_LEVEL of
    its peak."""
    if not np.abs(difference).max() > 0:
        return "no pixel (the mean images are equal)"
    rows, columns = np.nonzero(np.abs(difference) >= PLACE_LEVEL * np.abs(difference).max())
    return f"rows {rows.min()}-{rows.max()}, columns {columns.min()}-{columns.max()}"


# ---------------------------------------------------------------- noise


def roughness(images: np.ndarray) -> np.ndarray:
    """R(x) = sum (x - median3x3(x))^2 / sum x^2 per image (N,): near 0 for smooth strokes, large
    for noise."""
    smooth = scipy.ndimage.median_filter(images, size=(1, 3, 3), mode="constant")
    return ((images - smooth) ** 2).sum((1, 2)) / np.maximum((images**2).sum((1, 2)), EPS)


def noise_check(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """Median roughness of the poor sevens over the clean ones', and the same ratio between two
    halves of the clean sevens (the null); noise when the first beats NOISE_MARGIN times the
    second."""
    order = rng.permutation(len(clean))
    halves = clean[order[: len(clean) // 2]], clean[order[len(clean) // 2 :]]
    clean_median = np.median(roughness(clean))
    ratio = float(np.median(roughness(poor)) / max(clean_median, EPS))
    null = np.median(roughness(halves[0])) / max(np.median(roughness(halves[1])), EPS)
    null = float(max(null, 1.0 / null))
    return {"roughness_ratio": ratio, "roughness_null": null, "noise": ratio >= NOISE_MARGIN * null}


# ---------------------------------------------------------------- a map of the square


def map_check(evidence: dict, rng: np.random.Generator) -> dict:
    """Which map of the square (mirror, quarter or half turn) made the sevens that look changed, on
    the images.

    A classifier learns which of the 8 maps (identity included) was applied to a clean seven, each
    seven jittered by a random shift, turn and zoom so that a moved or turned seven is not taken for
    a mirror. For every map M: the share of the held-out poor sevens that look changed (critic score
    beyond the clean ones' CHANGED_QUANTILE) classified as M, less the share of the held-out clean
    sevens classified as M (the null). The best map is named when that difference reaches
    MAPPED_SHARE."""
    maps = {"identity": lambda x: x, **SQUARE_MAPS}
    functions = list(maps.values())
    clean = torch.as_tensor(evidence["fitting_clean"], dtype=torch.float32)

    def loss_of(classifier, index, generator):  # each seven under a random map, then jittered
        labels = torch.randint(len(maps), (len(index),), generator=generator)
        mapped = torch.stack([functions[label](image)
                              for image, label in zip(clean[index], labels)])
        return F.cross_entropy(classifier(jittered(mapped, generator).unsqueeze(1)), labels)

    classifier = fit_network(lambda: critic_convolutions(len(maps)), len(clean), MAP_EPOCHS, rng,
                             loss_of)
    with torch.no_grad():
        changed = classifier(torch.as_tensor(evidence["held_out_changed"]).unsqueeze(1))
        unchanged = classifier(torch.as_tensor(evidence["held_out_clean"]).unsqueeze(1))
    changed, unchanged = changed.argmax(1).numpy(), unchanged.argmax(1).numpy()
    shares = {name: float(np.mean(changed == k) - np.mean(unchanged == k)) if len(changed) else 0.0
              for k, name in enumerate(maps) if name != "identity"}
    best = max(shares, key=shares.get)
    return {"square_map": best, "mapped_share": shares[best],
            "mapped": shares[best] >= MAPPED_SHARE}


def jittered(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted, turned and zoomed at random within MAP_JITTER."""
    shift, degrees, zoom = MAP_JITTER
    n = len(images)
    angle = torch.deg2rad((2 * torch.rand(n, generator=generator) - 1) * degrees)
    factor = torch.exp((2 * torch.rand(n, generator=generator) - 1) * math.log(zoom))
    matrix = torch.stack([angle.cos(), -angle.sin(), angle.sin(), angle.cos()], 1).reshape(n, 2, 2)
    offset = (2 * torch.rand(n, 2, generator=generator) - 1) * shift
    return affine_warp(images, matrix * factor[:, None, None], offset)


# ---------------------------------------------------------------- only the greys


def grey_ranks(images: np.ndarray) -> np.ndarray:
    """Each image's greys replaced by their ranks within it, over its pixel count (ties share their
    mean rank): what any increasing grey-level curve leaves as it was."""
    flat = images.reshape(len(images), -1)
    ranks = scipy.stats.rankdata(flat, axis=1) / flat.shape[1]
    return ranks.reshape(images.shape).astype(np.float32)


def tone_check(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator) -> dict:
    """Whether only the greys changed, on the images. An increasing curve f keeps every image's
    ranks, so when the change is such an f, a critic trained as in two_sample_test on grey_ranks of
    both sets is at chance: tone when it fell_to_chance. The curve, on the sevens that look changed
    against the held-out clean ones: f(x) = Q_changed(F_clean(x)), F the mid-rank share of clean
    pixels at or below x and Q the quantile of the changed sevens' pixels."""
    ranked = two_sample_test(grey_ranks(poor), grey_ranks(clean), rng)
    clean_greys, changed_greys = test["held_out_clean"].ravel(), test["held_out_changed"].ravel()
    below = [np.mean(clean_greys < x) + np.mean(clean_greys == x) / 2 for x in TONE_POINTS]
    curve = np.quantile(changed_greys, below).tolist() if len(changed_greys) else None
    fell = curve is not None and fell_to_chance(ranked["critic_z"], test["critic_z"])
    return {"ranked_critic_accuracy": ranked["critic_accuracy"],
            "ranked_critic_z": ranked["critic_z"], "image_tone_curve": curve,
            "tone_only": bool(fell)}


# ---------------------------------------------------------------- only the fine detail


def coarse_ranks(images: np.ndarray) -> np.ndarray:
    """Each image blurred by a Gaussian of FINE_SIGMA pixels, then its greys ranked: what a
    grey-level curve and a change of the detail finer than the blur (a sharpening, a finer blur, a
    thicker stroke) leave nearly as they were, while a move, a turn or an added mark of ink
    stays."""
    sigma = (0, FINE_SIGMA, FINE_SIGMA)
    return grey_ranks(scipy.ndimage.gaussian_filter(images, sigma, mode="constant"))


def fine_detail_gain(changed: np.ndarray, clean: np.ndarray) -> float:
    """|H| at fine detail: sqrt of the mean power of the changed sevens' spectrum at frequencies
    above 1 / FINE_PERIOD cycles per pixel over the clean sevens' (each image zero padded to twice
    its side, so that the transform's wrap-around does not join opposite edges)."""
    frequencies = np.fft.fftfreq(2 * IMAGE_SIDE)
    fine = np.hypot(*np.meshgrid(frequencies, frequencies, indexing="ij")) > 1.0 / FINE_PERIOD

    def power(images):
        padded = np.pad(images, ((0, 0), (0, IMAGE_SIDE), (0, IMAGE_SIDE)))
        return np.mean(np.abs(np.fft.fft2(padded)[:, fine]) ** 2)

    return float(np.sqrt(power(changed) / max(power(clean), EPS)))


def filter_check(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator) -> dict:
    """Whether only the fine detail changed, on the images: a critic trained as in two_sample_test
    on coarse_ranks of both sets fell_to_chance, so what the raw critic sees is finer than
    FINE_SIGMA pixels or in the greys (tone_check, first, tells the greys). In the sevens that look
    changed against the held-out clean ones: the fine detail's gain (fine_detail_gain) and the ink
    mass ratio sum(x) / sum(x_clean) per seven."""
    coarse = two_sample_test(coarse_ranks(poor), coarse_ranks(clean), rng)
    changed, unchanged = test["held_out_changed"], test["held_out_clean"]
    seen = len(changed) > 0
    gain = fine_detail_gain(changed, unchanged) if seen else None
    mass = changed.sum((1, 2)).mean() / max(unchanged.sum((1, 2)).mean(), EPS) if seen else None
    return {"coarse_critic_accuracy": coarse["critic_accuracy"],
            "coarse_critic_z": coarse["critic_z"],
            "fine_detail_gain": gain, "ink_mass_ratio": None if mass is None else float(mass),
            "filter_only": bool(seen and fell_to_chance(coarse["critic_z"], test["critic_z"]))}


# ---------------------------------------------------------------- a few pixels


def content_check(poor: np.ndarray, clean: np.ndarray, test: dict,
                  rng: np.random.Generator) -> dict:
    """Whether the change lives in a few pixels only, on the images. Its pixels: those whose mean
    difference d = mean(poor) - mean(clean) is beyond DIFFER_Z standard errors, se = sqrt(var_poor /
    n + var_clean / m) (Welch), at most CONTENT_SHARE of the image. With them blanked in every image
    of both sets, a fourth critic trained as in two_sample_test must fall to chance
    (fell_to_chance): nothing changed elsewhere. The ink gained (> 0) or lost there: the sum of d
    over them."""
    difference = poor.mean(0) - clean.mean(0)
    error = np.sqrt(poor.var(0) / len(poor) + clean.var(0) / len(clean))
    pixels = np.abs(difference) >= DIFFER_Z * np.maximum(error, EPS)
    masked = two_sample_test(np.where(pixels, 0.0, poor).astype(np.float32),
                             np.where(pixels, 0.0, clean).astype(np.float32), rng)
    small = 0 < pixels.sum() <= CONTENT_SHARE * pixels.size
    fell = small and fell_to_chance(masked["critic_z"], test["critic_z"])
    return {"content_pixels": int(pixels.sum()), "content_place": place(pixels.astype(float)),
            "content_ink": float(difference[pixels].sum()),
            "masked_critic_accuracy": masked["critic_accuracy"],
            "masked_critic_z": masked["critic_z"],
            "content_only": bool(fell)}
