"""What was done to the sevens, in words: does anything differ, and what is the change?

Read top to bottom: first a model-free check on the images, then one descriptor per class of change, then the
decision that names a family only when its descriptor clearly beats its null.

1. Does anything differ? A classifier two-sample test (Lopez-Paz & Oquab, 2017): a small critic learns to tell
   the poor sevens from the clean ones on half of each and is scored on the other half. Under the null (the
   same distribution) its held-out accuracy a is Binomial(n, 1/2) / n, so z = (a - 1/2) / sqrt(1/(4n)); the
   sets differ when z >= DIFFER_Z. Its per-image score (the logit) says how many sevens look changed, and the
   mean difference image says where. A map of the square is found on the images as well (map_check): a
   classifier of the 8 maps, trained on jittered clean sevens, says which map made the sevens that look
   changed, beyond its rate on clean sevens. And whether only the greys changed (tone_check): with each
   image's greys replaced by their ranks (which any increasing grey-level curve keeps), a second critic must
   be at chance. And whether only the fine detail changed (filter_check): a third critic, on each image
   blurred by 2 pixels and then ranked, must be at chance. And whether the change lives in a few pixels
   (content_check): with the pixels whose mean difference is beyond 5 standard errors blanked, a fourth
   critic must be at chance.
2. Descriptors of a change from sources s to targets t (pairs of images; vae_sevens.py gives decoded sevens at
   the middle and at the two ends of an axis; `side` says which end, parameters shared per end), each with its
   explained fraction EF = 1 - sum ||t - fit(s)||^2 / sum ||t - s||^2:
       symmetry   t = M(s), M one of the 7 other maps of the square (mirrors, quarter and half turns); or
                  high end = M(low end), when the middle of the axis is a blend
       geometry   t(p) = s(A_e p + b_e), one affine warp per end, then s(A_e p + b_e + u_e(p)), u_e smooth
       tone       t = f(s), one grey-level curve f per end (piecewise linear, any shape)
       filter     t = f(k * s + c), one 5x5 kernel and grey-level curve per end; or a grey dilation /
                  erosion by a disc per pair
       content    t = clip(s + D, 0, 1), one image D per end added to every seven (ink added or erased)
       noise      on the images, not on decoded means (a decoder's mean cannot show it): the roughness
                  R(x) = sum (x - median3x3(x))^2 / sum x^2, poor against clean
3. Nulls. A flexible descriptor explains part of any change (a smooth field warps one seven a fair way
   towards another), so its EF on the effect's pairs is compared with its EF on unrelated pairs: the same
   sources, the low end's targets rolled by one row and the high end's by two, so that every source is
   paired with other sevens' targets. A family is named when EF >= EF_FLOOR and 1 - EF <= NULL_SHARE
   (1 - null): it leaves clearly less unexplained than on unrelated sevens. Of those, the simplest within
   PARSIMONY_MARGIN of the best (a kernel also scales ink: contrast stays tone). Nothing clears: `unknown`,
   with where the change lives.
4. Along a code's effect axis (describe_axis): the descriptors on decoded sevens at the middle and the two
   ends of the axis, against the same descriptors on unrelated pairs, and the verdict.
5. Cross-check, without the decoder: the named change, applied to clean sevens, must make them look changed
   to the critic: separation 2 AUC - 1 of the changed from the unchanged clean sevens >= REPRODUCED_SHARE times
   the poor sevens' separation from the clean ones; else `unknown`. A run still `unknown` is named from the
   images when they leave one answer: only the fine detail changed (a filter), else the change lives in a few
   pixels (content).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

from common import EPS, IMAGE_SHAPE

IMAGE_SIDE = IMAGE_SHAPE[0]
FAMILIES = ("geometry", "tone", "filter", "noise", "content", "symmetry", "none", "unknown")

# DIFFER_Z and NOISE_MARGIN fixed on bench/image_evidence.py (24 effects and a null, MNIST's training sevens);
# the others set in advance and checked on synthetic traversals and bench/effect_benchmark.py (te7 only scores).
DIFFER_Z = 5.0  # held-out accuracy this many null standard deviations above 1/2
EF_FLOOR = 0.5  # a family explains at least half of the change along the axis
NULL_SHARE = 0.75  # and leaves at most 3/4 of what it leaves unexplained of unrelated pairs
PARSIMONY_MARGIN = 0.05  # the simplest family within this of the best one is named
# Simplest first: a map has no parameter, an affine warp 6 (its smooth field 32 more), a curve 17, a kernel and
# its curve 43, the ink image D 784.
PARSIMONY = ("symmetry", "geometry", "tone", "filter", "content")
NOISE_MARGIN = 2.5  # roughness ratio poor / clean beyond this many times the null's
KIND_SHARE = 0.85  # a one-parameter kind is named when it explains this share of its family's EF
NON_RIGID_GAIN = 0.1  # the smooth field explains this much more than the affine map: a non-rigid warp
PLACE_LEVEL = 0.5  # of the peak |mean difference|: the pixels where a change lives

# The two-sample critic.
CRITIC_EPOCHS = 8  # at 4 the critic missed gamma at one seed of three (52.7%, z 4.1; docs/experiments.md)
CRITIC_BATCH = 128
CRITIC_LR = 1e-3
CHANGED_QUANTILE = 0.95  # a poor seven looks changed when its score beats this quantile of the clean ones'


# ---------------------------------------------------------------- 1. does anything differ?


GREY_BINS = 16  # the critic also sees each image's histogram of grey levels in (0, 1]


class Critic(nn.Module):
    """Logit of "poor" for a (B, 28, 28) image: two strided convolutions (where ink lies) plus a linear read of
    a small network of the image's grey-level histogram (how dark it is, wherever it lies), summed."""

    def __init__(self):
        super().__init__()
        self.convolutions = critic_convolutions(1)
        self.histogram = nn.Sequential(nn.Linear(GREY_BINS, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (self.convolutions(images.unsqueeze(1)) + self.histogram(grey_histogram(images))).squeeze(1)


def critic_convolutions(outputs: int) -> nn.Module:
    """(B, 1, 28, 28) -> (B, outputs): two strided convolutions and a linear read."""
    return nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, outputs))


def grey_histogram(images: torch.Tensor) -> torch.Tensor:
    """(B, GREY_BINS): the share of each image's pixels in each of GREY_BINS equal bins of (0, 1] (zeros left
    out: the blank background dominates every image)."""
    bins = (images.flatten(1) * GREY_BINS).ceil().clamp(0, GREY_BINS).long()  # 0: blank, 1..16: the bins
    counts = torch.zeros(len(images), GREY_BINS + 1).scatter_add_(1, bins, torch.ones_like(images.flatten(1)))
    return counts[:, 1:] / IMAGE_SIDE**2 * 10.0  # about unit scale


def two_sample_test(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """Held-out accuracy of a critic telling poor (N, 28, 28) from clean (M, 28, 28), its z against chance, the
    share of held-out poor sevens that look changed, the mean difference image poor - clean (28, 28), and the
    critic's logit for every poor seven, in their order (N,): how changed each one looks."""
    n = min(len(poor), len(clean))
    every_poor, drawn = poor, rng.permutation(len(poor))[:n]
    poor, clean = poor[drawn], clean[rng.permutation(len(clean))[:n]]
    half = n // 2
    images = torch.as_tensor(np.concatenate([poor[:half], clean[:half]]), dtype=torch.float32)
    labels = torch.cat([torch.ones(half), torch.zeros(half)])
    model = fit_network(Critic, len(images), CRITIC_EPOCHS, rng, lambda model, index, generator:
                        F.binary_cross_entropy_with_logits(model(images[index]), labels[index]))
    with torch.no_grad():
        every_score = model(torch.as_tensor(every_poor, dtype=torch.float32)).numpy()  # once per poor seven
        clean_scores = model(torch.as_tensor(clean[half:], dtype=torch.float32)).numpy()
    poor_scores = every_score[drawn[half:]]  # the held-out poor sevens
    held_out = len(poor_scores) + len(clean_scores)
    accuracy = (np.sum(poor_scores > 0) + np.sum(clean_scores <= 0)) / held_out
    z = (accuracy - 0.5) / math.sqrt(0.25 / held_out)
    # Share changed: poor sevens beyond the clean scores' 95% quantile, less the 5% of clean ones that are too.
    beyond = np.mean(poor_scores > np.quantile(clean_scores, CHANGED_QUANTILE))
    changed = max(0.0, (beyond - (1 - CHANGED_QUANTILE)) / CHANGED_QUANTILE)
    return {"critic_accuracy": float(accuracy), "critic_z": float(z), "images_differ": bool(z >= DIFFER_Z),
            "share_changed": float(changed), "mean_difference": poor.mean(0) - clean.mean(0),
            "critic_scores": every_score, "critic": model, "held_out_clean": clean[half:],
            "fitting_clean": clean[:half],
            "held_out_changed": poor[half:][poor_scores > np.quantile(clean_scores, CHANGED_QUANTILE)],
            "held_out_clean_scores": clean_scores, "critic_separation": separation(poor_scores, clean_scores)}


def fit_network(make_network, n: int, epochs: int, rng: np.random.Generator, loss_of) -> nn.Module:
    """A network from make_network() trained by Adam (CRITIC_LR) for `epochs` passes over rows 0..n-1 in shuffled
    minibatches of CRITIC_BATCH, loss_of(network, rows, generator) each; returned frozen. Its initial weights and
    its shuffles come from rng, without touching torch's own stream."""
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
    """2 AUC - 1 of scores against clean scores (0: no separation, 1: every score above every clean one), with
    AUC = P(score > clean score) from ranks (Mann-Whitney U / (n m))."""
    ranks = scipy.stats.rankdata(np.concatenate([scores, clean_scores]))[: len(scores)]
    auc = (ranks.sum() - len(scores) * (len(scores) + 1) / 2) / (len(scores) * len(clean_scores))
    return float(2.0 * auc - 1.0)


def fell_to_chance(critic_z: float, raw_critic_z: float) -> bool:
    """A critic on transformed images is at chance (z < DIFFER_Z) and DIFFER_Z or more below the raw critic's z:
    the drop itself clear of chance, so that a weak change the second critic merely misses does not count."""
    return critic_z < DIFFER_Z and raw_critic_z - critic_z >= DIFFER_Z


def place(difference: np.ndarray) -> str:
    """Where a (28, 28) difference lives: the rows and columns of its pixels beyond PLACE_LEVEL of its peak."""
    if not np.abs(difference).max() > 0:
        return "no pixel (the mean images are equal)"
    rows, columns = np.nonzero(np.abs(difference) >= PLACE_LEVEL * np.abs(difference).max())
    return f"rows {rows.min()}-{rows.max()}, columns {columns.min()}-{columns.max()}"


def roughness(images: np.ndarray) -> np.ndarray:
    """R(x) = sum (x - median3x3(x))^2 / sum x^2 per image (N,): near 0 for smooth strokes, large for noise."""
    smooth = scipy.ndimage.median_filter(images, size=(1, 3, 3), mode="constant")
    return ((images - smooth) ** 2).sum((1, 2)) / np.maximum((images**2).sum((1, 2)), EPS)


def noise_check(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """Median roughness of the poor sevens over the clean ones', and the same ratio between two halves of the
    clean sevens (the null); noise when the first beats NOISE_MARGIN times the second."""
    order = rng.permutation(len(clean))
    halves = clean[order[: len(clean) // 2]], clean[order[len(clean) // 2 :]]
    clean_median = np.median(roughness(clean))
    ratio = float(np.median(roughness(poor)) / max(clean_median, EPS))
    null = np.median(roughness(halves[0])) / max(np.median(roughness(halves[1])), EPS)
    null = float(max(null, 1.0 / null))
    return {"roughness_ratio": ratio, "roughness_null": null, "noise": ratio >= NOISE_MARGIN * null}


TONE_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the greys at which the curve is reported


def grey_ranks(images: np.ndarray) -> np.ndarray:
    """Each image's greys replaced by their ranks within it, over its pixel count (ties share their mean
    rank): what any increasing grey-level curve leaves as it was."""
    flat = images.reshape(len(images), -1)
    return (scipy.stats.rankdata(flat, axis=1) / flat.shape[1]).reshape(images.shape).astype(np.float32)


def tone_check(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator) -> dict:
    """Whether only the greys changed, on the images. An increasing curve f keeps every image's ranks, so when
    the change is such an f, a critic trained as in two_sample_test on grey_ranks of both sets is at chance:
    tone when it fell_to_chance. The curve, on the
    sevens that look changed against the held-out clean ones: f(x) = Q_changed(F_clean(x)), F the mid-rank
    share of clean pixels at or below x and Q the quantile of the changed sevens' pixels."""
    ranked = two_sample_test(grey_ranks(poor), grey_ranks(clean), rng)
    clean_greys, changed_greys = test["held_out_clean"].ravel(), test["held_out_changed"].ravel()
    below = [np.mean(clean_greys < x) + np.mean(clean_greys == x) / 2 for x in TONE_POINTS]
    curve = np.quantile(changed_greys, below).tolist() if len(changed_greys) else None
    return {"ranked_critic_accuracy": ranked["critic_accuracy"], "ranked_critic_z": ranked["critic_z"],
            "image_tone_curve": curve,
            "tone_only": bool(curve is not None and fell_to_chance(ranked["critic_z"], test["critic_z"]))}


FINE_SIGMA = 2.0  # pixels: the filter check's blur
FINE_PERIOD = 4.0  # pixels: detail finer than this is the fine detail of the words
STROKE_MASS = 1.25  # ink mass this many times the clean sevens' (or 1 / this): strokes thicker or thinner


def coarse_ranks(images: np.ndarray) -> np.ndarray:
    """Each image blurred by a Gaussian of FINE_SIGMA pixels, then its greys ranked: what a grey-level curve and
    a change of the detail finer than the blur (a sharpening, a finer blur, a thicker stroke) leave nearly as
    they were, while a move, a turn or an added mark of ink stays."""
    return grey_ranks(scipy.ndimage.gaussian_filter(images, (0, FINE_SIGMA, FINE_SIGMA), mode="constant"))


def fine_detail_gain(changed: np.ndarray, clean: np.ndarray) -> float:
    """|H| at fine detail: sqrt of the mean power of the changed sevens' spectrum at frequencies above
    1 / FINE_PERIOD cycles per pixel over the clean sevens' (each image zero padded to twice its side, so
    that the transform's wrap-around does not join opposite edges)."""
    frequencies = np.fft.fftfreq(2 * IMAGE_SIDE)
    fine = np.hypot(*np.meshgrid(frequencies, frequencies, indexing="ij")) > 1.0 / FINE_PERIOD

    def power(images):
        padded = np.pad(images, ((0, 0), (0, IMAGE_SIDE), (0, IMAGE_SIDE)))
        return np.mean(np.abs(np.fft.fft2(padded)[:, fine]) ** 2)

    return float(np.sqrt(power(changed) / max(power(clean), EPS)))


def filter_check(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator) -> dict:
    """Whether only the fine detail changed, on the images: a critic trained as in two_sample_test on
    coarse_ranks of both sets fell_to_chance, so what the raw critic sees is finer than FINE_SIGMA pixels or
    in the greys (tone_check, first, tells the greys). In the sevens that look changed against the held-out
    clean ones: the fine detail's gain (fine_detail_gain) and the ink mass ratio sum(x) / sum(x_clean) per seven."""
    coarse = two_sample_test(coarse_ranks(poor), coarse_ranks(clean), rng)
    changed, unchanged = test["held_out_changed"], test["held_out_clean"]
    seen = len(changed) > 0
    return {"coarse_critic_accuracy": coarse["critic_accuracy"], "coarse_critic_z": coarse["critic_z"],
            "fine_detail_gain": fine_detail_gain(changed, unchanged) if seen else None,
            "ink_mass_ratio": float(changed.sum((1, 2)).mean() / max(unchanged.sum((1, 2)).mean(), EPS)) if seen
            else None,
            "filter_only": bool(seen and fell_to_chance(coarse["critic_z"], test["critic_z"]))}


CONTENT_SHARE = 0.25  # a change confined to at most this share of the image is a mark, not a change of the seven


def content_check(poor: np.ndarray, clean: np.ndarray, test: dict, rng: np.random.Generator) -> dict:
    """Whether the change lives in a few pixels only, on the images. Its pixels: those whose mean difference
    d = mean(poor) - mean(clean) is beyond DIFFER_Z standard errors, se = sqrt(var_poor / n + var_clean / m)
    (Welch), at most CONTENT_SHARE of the image. With them blanked in every image of both sets, a fourth critic
    trained as in two_sample_test must fall to chance (fell_to_chance): nothing changed elsewhere. The ink
    gained (> 0) or lost there: the sum of d over them."""
    difference = poor.mean(0) - clean.mean(0)
    error = np.sqrt(poor.var(0) / len(poor) + clean.var(0) / len(clean))
    pixels = np.abs(difference) >= DIFFER_Z * np.maximum(error, EPS)
    masked = two_sample_test(np.where(pixels, 0.0, poor).astype(np.float32),
                             np.where(pixels, 0.0, clean).astype(np.float32), rng)
    small = 0 < pixels.sum() <= CONTENT_SHARE * pixels.size
    return {"content_pixels": int(pixels.sum()), "content_place": place(pixels.astype(float)),
            "content_ink": float(difference[pixels].sum()), "masked_critic_accuracy": masked["critic_accuracy"],
            "masked_critic_z": masked["critic_z"],
            "content_only": bool(small and fell_to_chance(masked["critic_z"], test["critic_z"]))}


MAP_EPOCHS = 4
MAP_JITTER = (5.0, 20.0, 1.25)  # random shift (pixels), turn (degrees) and zoom of the training sevens
MAPPED_SHARE = 0.5  # a map of the square is named when it gives this share of the sevens that look changed


def map_check(evidence: dict, rng: np.random.Generator) -> dict:
    """Which map of the square (mirror, quarter or half turn) made the sevens that look changed, on the images.

    A classifier learns which of the 8 maps (identity included) was applied to a clean seven, each seven
    jittered by a random shift, turn and zoom so that a moved or turned seven is not taken for a mirror. For
    every map M: the share of the held-out poor sevens that look changed (critic score beyond the clean ones'
    CHANGED_QUANTILE) classified as M, less the share of the held-out clean sevens classified as M (the null).
    The best map is named when that difference reaches MAPPED_SHARE."""
    maps = {"identity": lambda x: x, **SQUARE_MAPS}
    functions = list(maps.values())
    clean = torch.as_tensor(evidence["fitting_clean"], dtype=torch.float32)

    def loss_of(classifier, index, generator):  # each seven under a random map of the square, then jittered
        labels = torch.randint(len(maps), (len(index),), generator=generator)
        mapped = torch.stack([functions[label](image) for image, label in zip(clean[index], labels)])
        return F.cross_entropy(classifier(jittered(mapped, generator).unsqueeze(1)), labels)

    classifier = fit_network(lambda: critic_convolutions(len(maps)), len(clean), MAP_EPOCHS, rng, loss_of)
    with torch.no_grad():
        changed = classifier(torch.as_tensor(evidence["held_out_changed"]).unsqueeze(1)).argmax(1).numpy()
        unchanged = classifier(torch.as_tensor(evidence["held_out_clean"]).unsqueeze(1)).argmax(1).numpy()
    shares = {name: float(np.mean(changed == k) - np.mean(unchanged == k)) if len(changed) else 0.0
              for k, name in enumerate(maps) if name != "identity"}
    best = max(shares, key=shares.get)
    return {"square_map": best, "mapped_share": shares[best], "mapped": shares[best] >= MAPPED_SHARE}


def jittered(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted, turned and zoomed at random within MAP_JITTER."""
    shift, degrees, zoom = MAP_JITTER
    n = len(images)
    angle = torch.deg2rad((2 * torch.rand(n, generator=generator) - 1) * degrees)
    factor = torch.exp((2 * torch.rand(n, generator=generator) - 1) * math.log(zoom))
    matrix = torch.stack([angle.cos(), -angle.sin(), angle.sin(), angle.cos()], 1).reshape(n, 2, 2)
    return affine_warp(images, matrix * factor[:, None, None], (2 * torch.rand(n, 2, generator=generator) - 1) * shift)


# ---------------------------------------------------------------- 2. descriptors: warps and kernels


def affine_warp(images: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Images (B, 28, 28) warped by (x, y) -> matrix (x, y) + offset about the centre, pixels, y down; bilinear.

    grid_sample reads the input at normalised coordinates n = (pixel - 13.5) / 14 (align_corners=False),
    so output n reads input A^{-1} (n - b / 14).
    """
    return sample(images, affine_grid(matrix, offset))


def affine_grid(matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(B, 28, 28, 2) normalised input coordinates read by the warp (x, y) -> matrix (x, y) + offset."""
    inverse = torch.linalg.inv(matrix)  # (B, 2, 2)
    theta = torch.cat([inverse, -(inverse @ offset.unsqueeze(-1)) / (IMAGE_SIDE / 2.0)], dim=2)  # (B, 2, 3)
    return F.affine_grid(theta, (len(matrix), 1, IMAGE_SIDE, IMAGE_SIDE), align_corners=False)


def sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(images.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).squeeze(1)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Images (B, 28, 28) blurred by a Gaussian of std sigma (B,) pixels, a 13x13 kernel."""
    offsets = torch.arange(-6, 7, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma.clamp_min(EPS)[:, None]) ** 2)  # (B, 13)
    kernel = kernel / kernel.sum(1, keepdim=True)
    padded = F.pad(images.unsqueeze(0), (6, 6, 6, 6))  # (1, B, 40, 40): one channel per image
    rows = F.conv2d(padded, kernel[:, None, :, None], groups=len(images))
    return F.conv2d(rows, kernel[:, None, None, :], groups=len(images)).squeeze(0)


def sharpen_or_blur(images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """amount > 0: Gaussian blur of that sigma; < 0: unsharp masking x + (x - blur(x)), its rough inverse."""
    blurred = gaussian_blur(images, amount.abs())
    sharpened = (2.0 * images - blurred).clamp(0.0, 1.0)
    return torch.where((amount >= 0)[:, None, None], blurred, sharpened)


def stroke_width_change(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Grey dilation (pixels > 0) or erosion (< 0) by a disc of radius |pixels|: the max (min) over the image
    shifted to 16 points on the circles of radius |pixels| and |pixels| / 2, bilinear."""
    angles = torch.arange(8, dtype=images.dtype, device=images.device) * (math.pi / 4)
    directions = torch.stack([torch.cos(angles), torch.sin(angles)], 1)  # (8, 2)
    identity = torch.eye(2, dtype=images.dtype, device=images.device).expand(len(images), 2, 2)
    shifted = [images]
    for fraction in (1.0, 0.5):
        for direction in directions:
            offset = fraction * pixels.abs()[:, None] * direction
            shifted.append(affine_warp(images, identity, offset))
    stack = torch.stack(shifted)  # (17, B, 28, 28)
    return torch.where((pixels >= 0)[:, None, None], stack.max(0).values, stack.min(0).values)


def geometric(entries):
    """A kind from entries(value (B,)) -> (a, b, c, d, x, y): the warp [[a, b], [c, d]] (x, y) + (x, y) offset,
    each a tensor (B,) or a number."""

    def transform(images: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        a, b, c, d, x, y = (entry if torch.is_tensor(entry) else torch.full_like(value, entry)
                            for entry in entries(value))
        return affine_warp(images, torch.stack([a, b, c, d], 1).reshape(-1, 2, 2), torch.stack([x, y], 1))

    return transform


def rotation_entries(degrees: torch.Tensor):
    """Counter-clockwise on screen (y points down)."""
    cos, sin = torch.cos(torch.deg2rad(degrees)), torch.sin(torch.deg2rad(degrees))
    return cos, sin, -sin, cos, 0.0, 0.0


def translation_x_entries(v):
    return 1.0, 0.0, 0.0, 1.0, v, 0.0


def translation_y_entries(v):
    return 1.0, 0.0, 0.0, 1.0, 0.0, v


def shear_x_entries(v):
    return 1.0, -v, 0.0, 1.0, 0.0, 0.0


def shear_y_entries(v):
    return 1.0, 0.0, -v, 1.0, 0.0, 0.0


def scale_entries(v):
    return v.exp(), 0.0, 0.0, v.exp(), 0.0, 0.0


def scale_x_entries(v):
    return v.exp(), 0.0, 0.0, 1.0, 0.0, 0.0


def scale_y_entries(v):
    return 1.0, 0.0, 0.0, v.exp(), 0.0, 0.0


def contrast_change(images, value):
    return (images * value.exp()[:, None, None]).clamp(0.0, 1.0)


def gamma_change(images, value):
    return images.clamp_min(EPS) ** value.exp()[:, None, None]


# The one-parameter kinds within a family: kind -> (family, [(transform(images, value (B,)), (low, high))]),
# fitted per pair; they give the finer word and its size. Two shears, one kind.
KINDS = {
    "translation-x": ("geometry", [(geometric(translation_x_entries), (-10, 10))]),
    "translation-y": ("geometry", [(geometric(translation_y_entries), (-10, 10))]),
    "rotation": ("geometry", [(geometric(rotation_entries), (-90, 90))]),
    "shear": ("geometry", [(geometric(shear_x_entries), (-1.2, 1.2)), (geometric(shear_y_entries), (-1.2, 1.2))]),
    "scale": ("geometry", [(geometric(scale_entries), (-0.8, 0.8))]),
    "scale-x": ("geometry", [(geometric(scale_x_entries), (-0.8, 0.8))]),
    "scale-y": ("geometry", [(geometric(scale_y_entries), (-0.8, 0.8))]),
    "contrast": ("tone", [(contrast_change, (-2.0, 2.0))]),
    "gamma": ("tone", [(gamma_change, (-2.0, 2.0))]),
    "blur": ("filter", [(sharpen_or_blur, (-2.5, 2.5))]),
    "stroke-width": ("filter", [(stroke_width_change, (-2.5, 2.5))]),
}
# How each kind's value reads per unit of the effect axis (slope s of the value along the axis).
SIZE_WORDS = {
    "translation-x": lambda s: f"{abs(s):.1f} pixels to the {'right' if s > 0 else 'left'}",
    "translation-y": lambda s: f"{abs(s):.1f} pixels {'down' if s > 0 else 'up'}",
    "rotation": lambda s: f"{abs(s):.0f} degrees {'counter-clockwise' if s > 0 else 'clockwise'}",
    "shear": lambda s: f"a slant of {abs(s):.2f}",
    "scale": lambda s: f"a zoom by {math.exp(abs(s)):.2f}x",
    "scale-x": lambda s: f"a horizontal stretch by {math.exp(abs(s)):.2f}x",
    "scale-y": lambda s: f"a vertical stretch by {math.exp(abs(s)):.2f}x",
    "contrast": lambda s: f"ink {math.exp(abs(s)):.2f}x darker or fainter",
    "gamma": lambda s: f"grey levels raised to a power {math.exp(abs(s)):.2f}x larger or smaller",
    "blur": lambda s: f"a blur of {abs(s):.1f} pixels (Gaussian sigma)",
    "stroke-width": lambda s: f"a grey dilation (or erosion) of the strokes by a disc of radius {abs(s):.1f} pixels",
}
FIT_GRID = 33  # coarse grid per kind, then as many points within one coarse step of the best


@torch.no_grad()
def fit_kind(transform, bounds, sources: torch.Tensor, targets: torch.Tensor):
    """Per pair, the value v in bounds minimising ||transform(source, v) - target||^2: a coarse grid of FIT_GRID
    values, then a fine one within a coarse step of the best. Returns (values (B,), squared errors (B,))."""
    low, high = bounds
    centres = torch.full((len(sources),), (low + high) / 2.0, dtype=sources.dtype)
    half_width = torch.full_like(centres, (high - low) / 2.0)
    for _ in range(2):
        steps = torch.linspace(-1.0, 1.0, FIT_GRID, dtype=sources.dtype)
        candidates = centres[None, :] + steps[:, None] * half_width[None, :]  # (G, B)
        errors = torch.stack([(transform(sources, value) - targets).pow(2).flatten(1).sum(1) for value in candidates])
        best = errors.argmin(0)
        centres = candidates[best, torch.arange(len(sources))]
        half_width = half_width * 2.0 / (FIT_GRID - 1)
    return centres, errors[best, torch.arange(len(sources))]


def kind_fits(sources: torch.Tensor, targets: torch.Tensor) -> dict:
    """kind -> (values (B,), squared errors (B,)) of its best member."""
    fits = {}
    for kind, (_, members) in KINDS.items():
        candidates = [fit_kind(transform, bounds, sources, targets) for transform, bounds in members]
        fits[kind] = min(candidates, key=lambda fit: float(fit[1].sum()))
    return fits


# ---------------------------------------------------------------- 2. descriptors, one per family


def explained(errors: float, change: float) -> float:
    """EF = 1 - sum of a fit's squared errors / sum ||t - s||^2."""
    return 1.0 - errors / max(change, EPS)


SQUARE_MAPS = {  # the dihedral group of the square, less the identity: (N, 28, 28) -> (N, 28, 28)
    "mirror-left-right": lambda x: x.flip(-1), "mirror-up-down": lambda x: x.flip(-2),
    "half-turn": lambda x: x.rot90(2, (-2, -1)), "quarter-turn-left": lambda x: x.rot90(1, (-2, -1)),
    "quarter-turn-right": lambda x: x.rot90(3, (-2, -1)), "transpose": lambda x: x.transpose(-2, -1),
    "anti-transpose": lambda x: x.rot90(2, (-2, -1)).transpose(-2, -1),
}


def symmetry_fit(sources, targets, side, change) -> tuple[float, list[str]]:
    """t = M_e(s) per end e, M_e the identity or one of the 7 other maps of the square; or, when the middle is
    a blend of the two (a change of some sevens only), the high end's seven = M(the low end's). EF and the
    maps (per end; or ["identity", M] for the ends)."""
    errors, names = 0.0, []
    for end in (0, 1):
        s, t = sources[side == end], targets[side == end]
        end_errors = {name: float((M(s) - t).pow(2).sum()) for name, M in SQUARE_MAPS.items()}
        end_errors["identity"] = float((s - t).pow(2).sum())
        names.append(min(end_errors, key=end_errors.get))
        errors += end_errors[names[-1]]
    low, high = targets[side == 0], targets[side == 1]  # row r of each end: the same starting seven
    between = float((high - low).pow(2).sum())
    ends = {name: explained(float((M(low) - high).pow(2).sum()), between) for name, M in SQUARE_MAPS.items()}
    best = max(ends, key=ends.get)
    if ends[best] > explained(errors, change):
        return ends[best], ["identity", best]
    return explained(errors, change), names


GEOMETRY_ENTRIES = {"translation-x": translation_x_entries, "translation-y": translation_y_entries,
                    "rotation": rotation_entries, "shear": shear_x_entries, "scale": scale_entries,
                    "scale-x": scale_x_entries, "scale-y": scale_y_entries}
WARP_STEPS = 100  # Adam steps of the affine and then the smooth field fit
FIELD_SIDE = 4  # the smooth field's control grid: one point every 9 pixels


def warp_fits(sources, targets, side, fits, change) -> dict:
    """One affine warp per end, shared by its pairs (the effect moves every seven alike), from the median of
    the best one-parameter warp; then a smooth field per end on top. EF of each and the field's mean
    displacement (pixels). Shared, so a warp cannot carry one seven into an unrelated one."""
    matrix = torch.empty(2, 2, 2)
    offset = torch.empty(2, 2)
    for end in (0, 1):
        rows = side == end
        kind = min(GEOMETRY_ENTRIES, key=lambda name: float(fits[name][1][rows].sum()))
        value = fits[kind][0][rows].median().reshape(1)
        entries = [e if torch.is_tensor(e) else torch.full_like(value, e) for e in GEOMETRY_ENTRIES[kind](value)]
        matrix[end] = torch.stack(entries[:4], 1).reshape(2, 2)
        offset[end] = torch.stack(entries[4:], 1)[0]
    matrix, offset = matrix.requires_grad_(), offset.requires_grad_()
    affine_error = minimise(lambda: affine_warp(sources, matrix[side], offset[side]), targets, [matrix, offset], 0.01)
    field = torch.zeros(2, 2, FIELD_SIDE, FIELD_SIDE, requires_grad=True)
    base = affine_grid(matrix.detach()[side], offset.detach()[side])

    field_error = minimise(lambda: sample(sources, base + smooth_field(field)[side]), targets, [field], 0.005)
    displacement = float(field.detach().norm(dim=1).mean() * IMAGE_SIDE / 2.0)
    return {"affine": explained(affine_error, change), "field": explained(min(field_error, affine_error), change),
            "field_pixels": displacement, "matrix": matrix.detach(), "offset": offset.detach(),
            "field_grid": field.detach() if field_error < affine_error else torch.zeros_like(field)}


def smooth_field(field: torch.Tensor) -> torch.Tensor:
    """(E, 2, FIELD_SIDE, FIELD_SIDE) control points -> (E, 28, 28, 2) displacements, bilinear between them."""
    return F.interpolate(field, size=(IMAGE_SIDE, IMAGE_SIDE), mode="bilinear", align_corners=True).permute(0, 2, 3, 1)


def minimise(prediction, targets, parameters, lr: float) -> float:
    """Adam on sum ||prediction() - targets||^2 over `parameters`; the final sum of squared errors."""
    optimiser = torch.optim.Adam(parameters, lr=lr)
    for _ in range(WARP_STEPS):
        loss = (prediction() - targets).pow(2).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float((prediction() - targets).pow(2).sum())


TONE_KNOTS = 17  # a grey-level curve: piecewise linear between 17 evenly spaced knots


def curve_fit(values: torch.Tensor, targets: torch.Tensor, span=None) -> tuple[float, np.ndarray]:
    """t = f(v), f piecewise linear between TONE_KNOTS knots spanning `span` (default [min v, max v]; least
    squares on hat functions): the sum of squared errors and f at the knots."""
    low, high = span or (float(values.min()), float(values.max()))
    knots = torch.linspace(low, high, TONE_KNOTS, dtype=torch.float64)
    spacing = max(high - low, EPS) / (TONE_KNOTS - 1)
    hats = (1.0 - (values[:, None] - knots[None, :]).abs() / spacing).clamp_min(0.0)  # (P, knots)
    curve = torch.linalg.lstsq(hats, targets[:, None], driver="gelsd").solution[:, 0]
    return float((hats @ curve - targets).pow(2).sum()), curve.numpy()


def tone_fit(sources, targets, side, change) -> tuple[float, dict]:
    """t = f_e(s) per end e, any grey-level curve f_e: EF, the curves (2, TONE_KNOTS) at the knots, and the
    straight line t = a_e s + b_e per end with its EF (a gain, an added grey, an inversion)."""
    errors, line_errors, curves, lines, ranges = 0.0, 0.0, [], [], []
    for end in (0, 1):
        s, t = sources[side == end].flatten().double(), targets[side == end].flatten().double()
        ranges.append((float(s.min()), float(s.max())))  # the greys the curve was fitted on
        end_errors, curve = curve_fit(s, t, span=(0.0, 1.0))
        errors += end_errors
        curves.append(curve)
        design = torch.stack([s, torch.ones_like(s)], 1)
        line = torch.linalg.lstsq(design, t[:, None], driver="gelsd").solution[:, 0]
        line_errors += float((design @ line - t).pow(2).sum())
        lines.append(line.numpy())
    return explained(errors, change), {"curves": np.stack(curves), "lines": np.stack(lines), "ranges": ranges,
                                       "line_fraction": explained(line_errors, change)}


KERNEL_SIDE = 5


def kernel_fit(sources, targets, side, change) -> tuple[float, list]:
    """t = f_e(k_e * s + c_e) per end e, k_e a 5x5 kernel and f_e a grey-level curve: a linear filter, then any
    tone (blur; sharpening with its clipping; a directional smear). Least squares for k_e, then for f_e.
    EF and per end the filter (kernel (5, 5), offset c, curve f at its knots, the knots' span)."""
    errors, filters = 0.0, []
    for end in (0, 1):
        design = kernel_design(sources[side == end])
        t = targets[side == end].flatten().double()
        weights = torch.linalg.lstsq(design, t[:, None], driver="gelsd").solution[:, 0]
        filtered = design @ weights
        span = (float(filtered.min()), float(filtered.max()))
        end_errors, curve = curve_fit(filtered, t, span)
        errors += end_errors
        filters.append((weights[:-1].reshape(KERNEL_SIDE, KERNEL_SIDE).numpy(), float(weights[-1]), curve, span))
    return explained(errors, change), filters


def kernel_design(images: torch.Tensor) -> torch.Tensor:
    """(n 784, 26) float64: each pixel's 5x5 neighbourhood (zero padded) and a 1, rows in the images' order."""
    patches = F.unfold(images.unsqueeze(1), KERNEL_SIDE, padding=KERNEL_SIDE // 2)  # (n, 25, 784)
    design = patches.transpose(1, 2).reshape(-1, KERNEL_SIDE**2).double()
    return torch.cat([design, torch.ones(len(design), 1, dtype=design.dtype)], 1)


CONTENT_LEVELS = np.linspace(-1.0, 1.0, 41)  # the ink a pixel may gain (> 0) or lose (< 0)
TIE_BREAK = 1e-6


def content_fit(sources, targets, side, change) -> tuple[float, np.ndarray]:
    """t = clip(s + D_e, 0, 1) per end e, one image D_e of ink added (> 0) or erased (< 0) at every pixel,
    wherever it lies (per pixel, the best level of CONTENT_LEVELS): EF and D (2, 28, 28)."""
    errors, added = 0.0, []
    levels = torch.as_tensor(CONTENT_LEVELS, dtype=torch.float32)[:, None, None, None]  # (L, 1, 1, 1)
    for end in (0, 1):
        s, t = sources[side == end], targets[side == end]  # (n, 28, 28)
        pixel_errors = ((s[None] + levels).clamp(0.0, 1.0) - t[None]).pow(2).sum(1)  # (L, 28, 28)
        pixel_errors = pixel_errors + TIE_BREAK * levels.abs()[:, 0]  # of equal fits, the smallest change
        best = pixel_errors.min(0)
        errors += float(best.values.sum())
        added.append(CONTENT_LEVELS[best.indices.numpy()])
    return explained(errors, change), np.stack(added)


def descriptors(sources: np.ndarray, targets: np.ndarray, side: np.ndarray) -> dict:
    """Every family's EF on pairs (B, 28, 28) -> (B, 28, 28), side (B,) in {0: low end, 1: high end}, and what
    each fit found (kind fits, curves, kernels, added images)."""
    s = torch.as_tensor(sources, dtype=torch.float32)
    t = torch.as_tensor(targets, dtype=torch.float32)
    side = torch.as_tensor(side, dtype=torch.long)
    change = float((t - s).pow(2).sum())
    fits = kind_fits(s, t)
    warps = warp_fits(s, t, side, fits, change)
    symmetry, square_maps = symmetry_fit(s, t, side, change)
    tone, tone_shape = tone_fit(s, t, side, change)
    kernel, filters = kernel_fit(s, t, side, change)
    content, added = content_fit(s, t, side, change)
    kinds = {kind: explained(float(errors.sum()), change) for kind, (_, errors) in fits.items()}
    fractions = {"symmetry": symmetry, "geometry": max(warps["affine"], warps["field"]),
                 "tone": max(tone, kinds["contrast"], kinds["gamma"]),
                 "content": content, "filter": max(kernel, kinds["blur"], kinds["stroke-width"])}
    return {"fractions": fractions, "kinds": kinds, "values": {kind: fit[0].numpy() for kind, fit in fits.items()},
            "warps": warps, "square_maps": square_maps, "tone": tone_shape, "added": added, "filters": filters,
            "change": change}


# ---------------------------------------------------------------- 3. the verdict: a family beyond its null


def family_beyond_null(fractions: dict, nulls: dict) -> str:
    """The simplest family whose EF clears EF_FLOOR and its null (1 - EF <= NULL_SHARE (1 - null)), within
    PARSIMONY_MARGIN of the best such family; 'unknown' when none does."""
    cleared = {family: value for family, value in fractions.items()
               if value >= EF_FLOOR and 1.0 - value <= NULL_SHARE * (1.0 - nulls.get(family, 0.0))}
    if not cleared:
        return "unknown"
    best = max(cleared.values())
    return next(family for family in PARSIMONY if cleared.get(family, -1.0) >= best - PARSIMONY_MARGIN)


def slope(values: np.ndarray, span: float) -> float:
    """Median change of a fitted value (2R,) from the low end's rows to the high end's, per unit of the axis."""
    rows = len(values) // 2
    return float(np.median(values[rows:] - values[:rows]) / max(span, EPS))


def geometry_words(found: dict, span: float) -> tuple[str, str]:
    kinds, warps = found["kinds"], found["warps"]
    best = max(GEOMETRY_ENTRIES, key=kinds.get)
    if warps["field"] - warps["affine"] >= NON_RIGID_GAIN:
        return "non-rigid", f"a smooth non-affine warp moving ink by {warps['field_pixels']:.1f} pixels on average"
    if kinds[best] >= KIND_SHARE * found["fractions"]["geometry"]:
        return best, SIZE_WORDS[best](slope(found["values"][best], span))
    return "affine", f"a combined affine warp (its best single part, {best}, explains {100 * kinds[best]:.0f}%)"


def tone_words(found: dict, span: float) -> tuple[str, str]:
    kinds, shape = found["kinds"], found["tone"]
    tone = found["fractions"]["tone"]
    (gain_low, grey_low), (gain_high, grey_high) = shape["lines"]
    line = shape["line_fraction"] >= KIND_SHARE * tone
    if line and min(gain_low, gain_high) < 0:
        return "inversion", "grey levels inverted (a falling grey-level map)"
    if line and max(abs(grey_low), abs(grey_high)) >= BACKGROUND_GREY:
        return "background-grey", (f"grey added everywhere: t = a s + b with b from {grey_low:+.2f} "
                                   f"to {grey_high:+.2f} between the ends")
    for kind in ("contrast", "gamma"):
        if kinds[kind] >= KIND_SHARE * tone:
            return kind, SIZE_WORDS[kind](slope(found["values"][kind], span))
    middle = shape["curves"][:, [4, 8, 12]]  # f at grey 0.25, 0.5, 0.75 at each end
    return "grey-level-curve", ("a grey-level curve: 0.25, 0.5, 0.75 -> " + " / ".join(
        ", ".join(f"{value:.2f}" for value in end) for end in middle) + " at the low / high end")


BACKGROUND_GREY = 0.05  # an offset b of the grey-level line this large: grey added to the background


def kernel_spread(kernel: np.ndarray) -> tuple[float, float]:
    """Second moments of |k| about the kernel's centre: (spread in pixels, ratio of the principal moments)."""
    offsets = np.arange(KERNEL_SIDE) - KERNEL_SIDE // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    weights = np.abs(kernel) / max(np.abs(kernel).sum(), EPS)
    moments = np.array([[np.sum(weights * dx * dx), np.sum(weights * dx * dy)],
                        [np.sum(weights * dx * dy), np.sum(weights * dy * dy)]])
    eigenvalues = np.linalg.eigvalsh(moments)
    return float(np.sqrt(eigenvalues.sum())), float(eigenvalues[1] / max(eigenvalues[0], EPS))


DIRECTIONAL_RATIO = 2.5  # a kernel this many times wider one way than the other smears in one direction


def filter_words(found: dict, span: float) -> tuple[str, str]:
    kinds = found["kinds"]
    if kinds["stroke-width"] >= KIND_SHARE * found["fractions"]["filter"]:
        return "stroke-width", SIZE_WORDS["stroke-width"](slope(found["values"]["stroke-width"], span))
    spreads = [kernel_spread(kernel) for kernel, *_ in found["filters"]]
    widest = max(spreads)
    if widest[1] >= DIRECTIONAL_RATIO:
        return "directional-blur", f"a smear in one direction (a kernel {widest[1]:.1f}x longer one way)"
    return "blur", (f"a blur or sharpening (kernel spreads {spreads[0][0]:.1f} / {spreads[1][0]:.1f} pixels "
                    f"at the low / high end)")


def content_words(found: dict, span: float) -> tuple[str, str]:
    """The kind is the change toward the axis' high end, the more changed one (the axis points from the clean
    codes to the poor): ink the middle seven has and the low end's lacks was added, whichever end shows more."""
    added = found["added"]  # (ends, 28, 28): ink gained (> 0) or lost (< 0) from the middle to each end
    end, row, column = np.unravel_index(np.abs(added).argmax(), added.shape)
    toward_high = added[end, row, column] if end == 1 else -added[end, row, column]
    kind = "ink-added" if toward_high > 0 else "ink-erased"
    return kind, (f"ink {kind.split('-')[1]} in {place(added[end])} toward the high end (up to "
                  f"{abs(toward_high):.2f} grey, between the middle and the {('low', 'high')[end]} end)")


def symmetry_words(found: dict, span: float) -> tuple[str, str]:
    ends = [(end, name) for end, name in enumerate(found["square_maps"]) if name != "identity"]
    end, name = ends[0] if ends else (1, "identity")
    return name, f"sevens mapped by a {name} toward the {('low', 'high')[end]} end"


def image_filter_words(evidence: dict) -> tuple[str, str]:
    """A filter's kind from the images: strokes thicker or thinner when the ink mass moved by STROKE_MASS or
    more (a linear filter that keeps grey keeps the mass); else sharpening or blur by the fine detail's gain."""
    mass, gain = evidence["ink_mass_ratio"], evidence["fine_detail_gain"]
    detail = (f"detail finer than {FINE_PERIOD:g} pixels is {gain:.2f}x as strong and the ink mass {mass:.2f}x "
              f"the clean sevens'")
    if max(mass, 1.0 / max(mass, EPS)) >= STROKE_MASS:
        return "stroke-width", f"strokes {'thicker' if mass > 1 else 'thinner'}: {detail}"
    return ("sharpening" if gain > 1.0 else "blur"), detail


WORDS = {"geometry": geometry_words, "tone": tone_words, "filter": filter_words, "content": content_words,
         "symmetry": symmetry_words}


def unrelated_pairs(sources: np.ndarray, targets: np.ndarray, side: np.ndarray):
    """The null's pairs: the low end's targets rolled by one row and the high end's by two, so that every
    source meets another seven's targets, and the two ends of a row come from different sevens."""
    rolled = targets.copy()
    for end in (0, 1):
        rows = np.flatnonzero(side == end)
        rolled[rows] = targets[np.roll(rows, end + 1)]
    return sources, rolled, side


def null_fractions(nulls: list[dict]) -> dict:
    """Per family, the largest EF on the null's pairs."""
    return {family: max((null["fractions"][family] for null in nulls), default=0.0) for family in PARSIMONY}


def verdict(found: dict | None, nulls: list[dict], evidence: dict, dimension, span: float, spread: str) -> dict:
    """effect_family, effect_kind and effect_sentence from the descriptors along the effect axis (`found`, None
    when no axis spreads), their nulls (unrelated pairs) and the model-free evidence of the images.
    `spread` words the axis test, for the sentence. named_on: "images" when the images alone name it (none,
    noise, a map of the square, only the greys, only the fine detail, a few pixels), else "axis"."""
    null = null_fractions(nulls)
    result = {"explained_fraction": None if found is None else found["fractions"],
              "explained_null": null if nulls else None,
              "kind_fraction": None if found is None else found["kinds"], "named_on": "axis"}
    accuracy = f"{100 * evidence['critic_accuracy']:.1f}% held out"
    z = f"z {evidence['critic_z']:.1f}"
    seen = f"a critic tells the poor sevens from the clean ones at {accuracy} ({z})"
    if found is None and not evidence["images_differ"]:
        sentence = f"no effect: a critic cannot tell the poor sevens from the clean ones ({accuracy}, {z} < " \
                   f"{DIFFER_Z:g}) and {spread}"
        return {**result, "effect_family": "none", "effect_kind": "none", "effect_sentence": sentence,
                "named_on": "images"}
    if evidence["noise"]:
        sentence = (f"noise: random per-pixel changes, median roughness {evidence['roughness_ratio']:.1f}x the "
                    f"clean sevens' (null {evidence['roughness_null']:.2f}x); {seen}")
        return {**result, "effect_family": "noise", "effect_kind": "pixel-noise", "effect_sentence": sentence,
                "named_on": "images"}
    if evidence["mapped"] and evidence["images_differ"]:
        name = evidence["square_map"]
        sentence = (f"symmetry ({name}): {100 * evidence['mapped_share']:.0f}% of the sevens that look changed are a "
                    f"clean seven's {name} to a classifier of the square's maps trained on clean sevens (beyond its "
                    f"rate on clean sevens); {seen}")
        return {**result, "effect_family": "symmetry", "effect_kind": name, "effect_sentence": sentence,
                "named_on": "images"}
    if evidence["tone_only"] and evidence["images_differ"] and (
            found is None or family_beyond_null(found["fractions"], null) != "tone"):  # the axis' words are finer
        greys = ", ".join(f"{x:g}" for x in TONE_POINTS)
        becomes = ", ".join(f"{y:.2f}" for y in evidence["image_tone_curve"])
        sentence = (f"tone (grey-level-curve): only the greys changed: with each image's greys replaced by their "
                    f"ranks, a critic tells poor from clean sevens at {100 * evidence['ranked_critic_accuracy']:.1f}% "
                    f"(z {evidence['ranked_critic_z']:.1f} < {DIFFER_Z:g}); in the sevens that look changed, greys "
                    f"{greys} become {becomes}; {seen}")
        return {**result, "effect_family": "tone", "effect_kind": "grey-level-curve", "effect_sentence": sentence,
                "named_on": "images"}
    if found is None:
        sentence = (f"unknown: {seen}, but {spread}: this model's code does not hold the change; it lives in "
                    f"{evidence['change_place']} (mean difference in effect.png)")
        return {**result, "effect_family": "unknown", "effect_kind": "unknown", "effect_sentence": sentence}
    family = family_beyond_null(found["fractions"], null)
    if family == "unknown":
        best = max(found["fractions"], key=found["fractions"].get)
        sentence = (f"unknown: no description of the change along z{dimension} clearly beats its fit to unrelated "
                    f"sevens (best {best} {found['fractions'][best]:.2f}, null {null[best]:.2f}); the change lives "
                    f"in {evidence['change_place']}")
        return {**result, "effect_family": "unknown", "effect_kind": "unknown", "effect_sentence": sentence}
    kind, words = WORDS[family](found, span)
    along = "along" if family in ("content", "symmetry") else "per unit of"  # a place or a map has no rate
    sentence = (f"{family} ({kind}): {words} {along} z{dimension}; explains "
                f"{100 * found['fractions'][family]:.0f}% of the change along it (null {100 * null[family]:.0f}%)")
    return {**result, "effect_family": family, "effect_kind": kind, "effect_sentence": sentence}


EVIDENCE_KEYS = ("critic_accuracy", "critic_z", "critic_separation", "images_differ", "share_changed",
                 "roughness_ratio", "roughness_null", "square_map", "mapped_share", "ranked_critic_accuracy",
                 "ranked_critic_z", "image_tone_curve", "coarse_critic_accuracy", "coarse_critic_z",
                 "fine_detail_gain", "ink_mass_ratio", "content_pixels", "content_place", "content_ink",
                 "masked_critic_accuracy", "masked_critic_z",
                 "change_place")  # what the images say, as metrics.json records it


def evidence_from_images(poor: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> dict:
    """The model-free check and the noise measure, poor vs clean sevens (N, 28, 28), and where they differ."""
    test = two_sample_test(poor, clean, rng)
    return {**test, **noise_check(poor, clean, rng), **map_check(test, rng), **tone_check(poor, clean, test, rng),
            **filter_check(poor, clean, test, rng), **content_check(poor, clean, test, rng),
            "change_place": place(test["mean_difference"])}


# ---------------------------------------------------------------- 4. along the effect axis of a code


FIT_QUANTILES = (0.1, 0.5, 0.9)  # decoded sevens at these quantiles of the poor codes along the effect axis
FIT_ROWS = 32  # starting sevens


def axis_pairs(decode, starts: np.ndarray, axis: int, positions: np.ndarray):
    """Decoded sevens with `axis` at the middle of `positions` (sources) and at its two ends (targets), the other
    axes of each row from `starts` (R, K); decode: codes (..., K) -> images (..., 28, 28).
    Returns sources, targets (2R, 28, 28) and which end (2R,)."""
    codes = np.repeat(starts[:, None, :], len(positions), 1)  # (R, 3, K)
    codes[:, :, axis] = positions
    decoded = decode(codes)  # (R, 3, 28, 28)
    sources = np.concatenate([decoded[:, 1], decoded[:, 1]])
    return sources, np.concatenate([decoded[:, 0], decoded[:, 2]]), np.repeat([0, 1], len(starts))


def describe_axis(decode, poor_codes: np.ndarray, spread_ratio: float, margin: float, evidence: dict,
                  rng: np.random.Generator) -> dict:
    """Whether z0 carries the effect (its spread ratio beyond the clean codes >= margin) and what the effect is:
    the descriptors on decoded sevens along z0 against the same descriptors on unrelated pairs (the null),
    with the evidence of the images. poor_codes (N, K) are on the code's axes, z0 first."""
    carries = spread_ratio >= margin
    found, nulls, span = None, [], 0.0
    if carries:
        starts = poor_codes[rng.choice(len(poor_codes), size=min(FIT_ROWS, len(poor_codes)), replace=False)]
        positions = np.quantile(poor_codes[:, 0], FIT_QUANTILES)
        pairs = axis_pairs(decode, starts, 0, positions)
        found, span = descriptors(*pairs), positions[2] - positions[0]
        nulls = [descriptors(*unrelated_pairs(*pairs))]
    spread = (f"z0 spreads {spread_ratio:.2f}x beyond the clean sevens" if carries else
              f"no latent spreads beyond the clean sevens (largest spread ratio {spread_ratio:.2f} < {margin:g})")
    result = cross_check(verdict(found, nulls, evidence, 0, span, spread), found, evidence)
    result = content_on_images(filter_on_images(result, evidence), evidence)
    dimension = 0 if carries and result["effect_family"] != "none" else None
    return {"effect_dimension": dimension, "reproduced_floor": REPRODUCED_SHARE, **result}


# ---------------------------------------------------------------- 5. does the named change look like the poor sevens?


REPRODUCED_SHARE = 0.25  # the named change, applied to clean sevens, separates them this share as well as the poor


def reproduce(family: str, kind: str, found: dict, images: np.ndarray) -> np.ndarray:
    """The named family's fitted change from the middle of the axis to its high end, applied to images
    (N, 28, 28): the map of the square, the warp, the grey-level curve, the filter or the ink added."""
    x = torch.as_tensor(images, dtype=torch.float32)
    if family == "symmetry":
        changed = SQUARE_MAPS[kind](x) if kind in SQUARE_MAPS else x
    elif family == "geometry":
        warps = found["warps"]
        grid = affine_grid(warps["matrix"][1:].expand(len(x), 2, 2), warps["offset"][1:].expand(len(x), 2))
        changed = sample(x, grid + smooth_field(warps["field_grid"][1:]) if kind == "non-rigid" else grid)
    elif family == "tone":  # greys outside those the curve was fitted on take its nearest fitted value
        changed = torch.as_tensor(curve_at(np.clip(images, *found["tone"]["ranges"][1]), found["tone"]["curves"][1]))
    elif family == "filter" and kind == "stroke-width":
        values = found["values"]["stroke-width"]
        changed = stroke_width_change(x, torch.full((len(x),), float(np.median(values[len(values) // 2 :]))))
    elif family == "filter":
        kernel, offset, curve, span = found["filters"][1]
        filtered = kernel_design(x) @ torch.as_tensor(np.append(kernel.ravel(), offset))
        changed = torch.as_tensor(curve_at(filtered.numpy(), curve, span)).reshape(x.shape)
    else:  # content
        changed = x + torch.as_tensor(found["added"][1], dtype=torch.float32)
    return changed.clamp(0.0, 1.0).numpy().astype(np.float32)


def curve_at(values: np.ndarray, curve: np.ndarray, span=(0.0, 1.0)) -> np.ndarray:
    """A curve of curve_fit (its values at TONE_KNOTS knots spanning `span`) read at `values`, linear between."""
    return np.interp(values, np.linspace(*span, TONE_KNOTS), curve)


@torch.no_grad()
def reproduced_share(family: str, kind: str, found: dict, evidence: dict) -> float:
    """How far the named change makes clean sevens look poor to the critic: the separation (2 AUC - 1) of the
    held-out clean sevens so changed from the same sevens unchanged, over the poor sevens' separation."""
    changed = reproduce(family, kind, found, evidence["held_out_clean"])
    changed_scores = evidence["critic"](torch.as_tensor(changed)).numpy()
    return separation(changed_scores, evidence["held_out_clean_scores"]) / max(evidence["critic_separation"], EPS)


def cross_check(result: dict, found: dict | None, evidence: dict) -> dict:
    """A named family stands when its change, applied to clean sevens, reproduces at least REPRODUCED_SHARE of
    what the critic sees between poor and clean sevens; else `unknown`. Not checked when the critic sees no
    difference (nothing to reproduce) or for a change named from the images (noise, a map, only the greys or
    only the fine detail)."""
    if result["effect_family"] not in WORDS or not evidence["images_differ"] or result["named_on"] == "images":
        return {**result, "critic_reproduced": None}
    share = reproduced_share(result["effect_family"], result["effect_kind"], found, evidence)
    if share >= REPRODUCED_SHARE:
        return {**result, "critic_reproduced": share}
    sentence = (f"unknown: the best description along z0, {result['effect_sentence']}, applied to clean sevens "
                f"makes them look changed to the critic only {100 * share:.0f}% as much as the poor sevens do "
                f"(at least {100 * REPRODUCED_SHARE:.0f}% needed); the change lives in {evidence['change_place']}")
    return {**result, "critic_reproduced": share, "effect_family": "unknown", "effect_kind": "unknown",
            "effect_sentence": sentence}


def filter_on_images(result: dict, evidence: dict) -> dict:
    """When the code names nothing (`unknown`) but only the fine detail changed on the images (filter_check),
    the images name a filter. Only then: a small move or turn drawn by interpolation also softens the detail, and
    its coarse change may escape a critic that its softening does not, so an axis that names a family keeps it."""
    if result["effect_family"] != "unknown" or not (evidence["filter_only"] and evidence["images_differ"]):
        return result
    kind, words = image_filter_words(evidence)
    sentence = (f"filter ({kind}): only detail finer than {FINE_SIGMA:g} pixels changed: with each image blurred by "
                f"{FINE_SIGMA:g} pixels and its greys ranked, a critic tells poor from clean sevens at "
                f"{100 * evidence['coarse_critic_accuracy']:.1f}% (z {evidence['coarse_critic_z']:.1f} < {DIFFER_Z:g}, "
                f"the raw critic's z {evidence['critic_z']:.1f}); in the sevens that look changed, {words}")
    return {**result, "effect_family": "filter", "effect_kind": kind, "effect_sentence": sentence,
            "named_on": "images"}


def content_on_images(result: dict, evidence: dict) -> dict:
    """When the code still names nothing (`unknown`) but the whole change lives in a few pixels on the images
    (content_check), the images name content: ink added or erased there, by the sign of the ink gained. Only
    then, as in filter_on_images: a change of a part of the seven may also be a local warp, which an axis tells."""
    if result["effect_family"] != "unknown" or not (evidence["content_only"] and evidence["images_differ"]):
        return result
    kind = "ink-added" if evidence["content_ink"] > 0 else "ink-erased"
    sentence = (f"content ({kind}): the change lives in {evidence['content_pixels']} pixels, "
                f"{evidence['content_place']} (mean difference beyond {DIFFER_Z:g} standard errors): with them blanked "
                f"in every image, a critic tells poor from clean sevens at "
                f"{100 * evidence['masked_critic_accuracy']:.1f}% (z {evidence['masked_critic_z']:.1f} < {DIFFER_Z:g}, "
                f"the raw critic's z {evidence['critic_z']:.1f}); there a poor seven has on average "
                f"{abs(evidence['content_ink']):.1f} {'more' if kind == 'ink-added' else 'less'} ink (grey summed over "
                f"those pixels)")
    return {**result, "effect_family": "content", "effect_kind": kind, "effect_sentence": sentence,
            "named_on": "images"}
