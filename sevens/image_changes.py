"""The candidate changes read on the images, not along an effect axis, each a one-parameter path
(paths.Path: C(x, v) of a seven x by a strength v per image, C(x, 0) = x):

    a mark M, erasing E                   C(x, v) = max(x (1 - v E), v M): fixed where v = 1 always
    a growing region R_v (share s)        C(x, v) = max(x, ink [s > 1 - v]) or x [s <= 1 - v]
    a map of the square M                 C(x, v) = M(x) where v >= 1/2, else x
    a directional smear of 1 + v taps     C(x, v) = mean of x shifted by k d, k = 0 .. v (centred)
    a shifted copy (taps at 0 and d)      C(x, v) = clip(x + v x(p - d), 0, 1)
    a loss of resolution by a factor v    C(x, v) = x averaged over v x v blocks (or smoothly)
    noise (Gaussian, impulse, dropout)    C(x, v) = x with random pixels changed at level v
    a random smooth warp                  C(x, v) = x warped by its own field of RMS v pixels
    greys merged into levels v apart      C(x, v) = v round(x / v) (posterized)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from common import IMAGE_SHAPE
from sevens.changes import SQUARE_MAPS, affine_grid, sample, smooth_field
from sevens.descriptors import FIELD_SIDE
from sevens.image_checks import place
from sevens.paths import Path, one_sided_grid

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
SMEAR_REACH = 9.0  # a smear's longest line: 10 pixels
# Degrees from the x axis, counter-clockwise on screen; both ways along each line, since an even
# box's centre lies half a pixel to one side of it.
SMEAR_DIRECTIONS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)
RESOLUTION_SIDES = (28, 24, 20, 16, 14, 12, 10, 9, 8, 7)  # a blurry seven drawn from this many rows
MAX_BLOCK = 7  # pixels: the largest block of a pixelated seven
NOISE_REACH = {"gaussian": 0.5, "impulse": 0.3, "dropout": 0.6}  # the largest level of each noise
WARP_REACH = 4.0  # pixels: the largest RMS displacement of a random warp
MOST_LEVELS = 16  # a posterized seven keeps 2 to 16 levels of grey, black and white included


def mark_path(mark: np.ndarray, erased: np.ndarray) -> Path:
    """A mark M (28, 28) drawn into every seven at v times its darkness, pixels E (28, 28) erased:
    a fixed mark reads v = 1 in every seven, a mark of varying darkness a spread of v."""
    mark_t, erased_t = (torch.as_tensor(a, dtype=torch.float32) for a in (mark, erased))

    def apply(x, v):
        strength = v[:, None, None]
        return torch.maximum(x * (1 - strength.clamp(max=1) * erased_t), strength * mark_t)

    where = place(np.maximum(mark, erased))
    kind = "ink-added" if mark.sum() >= erased.sum() else "ink-erased"

    def words(values):
        return (f"a mark of {int((mark > 0).sum())} pixels (up to {mark.max():.2f} grey) drawn at "
                f"{values[0]:.2f} to {values[-1]:.2f} of its darkness, "
                f"{int((erased > 0).sum())} pixels erased, in {where}")

    return Path("content", kind, apply, one_sided_grid(1.5), int((mark > 0).sum() +
                                                                 (erased > 0).sum()), words)


def region_path(shares: np.ndarray, ink: np.ndarray | None) -> Path:
    """A region that grows with v in [0, 1]: the pixels p with share s(p) > 1 - v (s: how often p
    is changed among the poor sevens), inked to ink(p) (max(x, ink)) or, when ink is None, erased.
    A blob of growing radius, a band of growing height: the most often changed pixels first."""
    shares_t = torch.as_tensor(shares, dtype=torch.float32)
    ink_t = None if ink is None else torch.as_tensor(ink, dtype=torch.float32)

    def apply(x, v):
        region = (shares_t[None] > (1 - v)[:, None, None]).float()
        if ink_t is None:
            return x * (1 - region)
        return torch.maximum(x, region * ink_t)

    where = place(shares)
    pixels = np.sort(shares.ravel())[::-1]

    def words(values):
        covered = [int((pixels > 1 - value).sum()) for value in values]
        done = "erased" if ink is None else "inked"
        return (f"a region in {where} {done}, growing from the pixels most often changed: "
                f"{covered[0]} to {covered[-1]} pixels")

    return Path("content", "ink-erased" if ink is None else "ink-added", apply,
                one_sided_grid(1.0), int((shares > 0).sum()), words)


def square_map_path(name: str) -> Path:
    """A map of the square applied to the sevens whose strength is at least 1/2."""
    mapping = SQUARE_MAPS[name]
    return Path("symmetry", name, lambda x, v: torch.where((v >= 0.5)[:, None, None],
                                                             mapping(x), x),
                np.array([0.0, 1.0]), 0, lambda values: f"a {name} of some sevens",
                continuous=False)


def smear_path(degrees: float) -> Path:
    """A smear along `degrees` (0, 45, ..., 315, counter-clockwise from the x axis on screen): the
    mean of L = 1 + v copies shifted by whole steps along the line (offsets -floor(L/2) ..
    L - 1 - floor(L/2)): a box kernel of L whole taps, as a camera's motion blur."""
    angle = math.radians(degrees)
    step = (round(math.cos(angle)), -round(math.sin(angle)))  # (dx, dy), y points down

    def apply(x, v):
        out = torch.empty_like(x)
        for taps in torch.unique(v).tolist():
            rows, length = v == taps, int(round(taps)) + 1
            offsets = range(-(length // 2), length - length // 2)
            out[rows] = sum(shifted_copy(x[rows], k * step[0], k * step[1])
                            for k in offsets) / length
        return out

    return Path("filter", "directional-blur", apply, np.arange(0.0, SMEAR_REACH + 1), 2,
                lambda values: (f"a smear along {degrees:g} degrees from the horizontal over "
                                f"{1 + values[0]:.0f} to {1 + values[-1]:.0f} pixels"),
                continuous=False)


def shifted_copy(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """x moved dx pixels right and dy down, blank shifted in."""
    return mask_wrapped(torch.roll(x, (dy, dx), (-2, -1)), dx, dy)


def ghost_path(shift: tuple[int, int]) -> Path:
    """A copy of the seven shifted by (dx, dy) pixels added at a share v: a kernel of two taps."""
    dx, dy = shift

    def apply(x, v):
        return x + v[:, None, None] * shifted_copy(x, dx, dy)

    return Path("filter", "shifted-copy", apply, one_sided_grid(1.0), 3,
                lambda values: (f"a copy of the seven shifted by {dx:+d}, {dy:+d} pixels (x right, "
                                f"y down) added at {values[0]:.2f} to {values[-1]:.2f} of its ink"))


def mask_wrapped(copy: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Blank the rows and columns torch.roll wrapped around."""
    copy = copy.clone()
    if dy > 0:
        copy[:, :dy] = 0
    elif dy < 0:
        copy[:, dy:] = 0
    if dx > 0:
        copy[:, :, :dx] = 0
    elif dx < 0:
        copy[:, :, dx:] = 0
    return copy


def resolution_path(mode: str) -> Path:
    """Each seven drawn at a resolution v times coarser. blocks: every pixel the mean of its v x v
    block (blocks from the top left, cut short at the far edges: pixelation, v whole); smooth:
    area averages at IMAGE_SIDE / v rows and columns, back to 28 by bilinear interpolation."""
    factors = (np.arange(1.0, MAX_BLOCK + 1) if mode == "blocks"
               else np.array([IMAGE_SIDE / side for side in RESOLUTION_SIDES]))

    def apply(x, v):
        out = x.clone()
        for factor in torch.unique(v).tolist():
            rows = v == factor
            images = x[rows].unsqueeze(1)
            if mode == "blocks" and round(factor) > 1:
                block = round(factor)
                means = F.avg_pool2d(images, block, block, ceil_mode=True)
                out[rows] = means.repeat_interleave(block, 2).repeat_interleave(
                    block, 3)[:, 0, :IMAGE_SIDE, :IMAGE_SIDE]
            elif mode == "smooth" and round(IMAGE_SIDE / max(factor, 1.0)) < IMAGE_SIDE:
                small = F.interpolate(images, size=round(IMAGE_SIDE / factor), mode="area")
                out[rows] = F.interpolate(small, size=IMAGE_SHAPE, mode="bilinear",
                                          align_corners=False).squeeze(1)
        return out

    return Path("filter", "resolution", apply, factors, 1,
                lambda values: (f"drawn at a resolution {values[0]:.1f} to {values[-1]:.1f}x "
                                f"coarser ({'blocks' if mode == 'blocks' else 'smoothly'})"),
                continuous=False)


def noise_path(kind: str, seed: int) -> Path:
    """Random per-pixel changes at level v: Gaussian (std v, clipped), impulse (a share v of the
    pixels set to 0 or 1) or dropout (a share v of the pixels set to 0). The pixels come from the
    path's own generator, so a replay is repeatable."""
    generator = torch.Generator().manual_seed(seed)

    def apply(x, v):
        level = v[:, None, None]
        draws = torch.rand(x.shape, generator=generator)
        if kind == "gaussian":
            return x + level * torch.randn(x.shape, generator=generator)
        if kind == "impulse":
            values = (torch.rand(x.shape, generator=generator) < 0.5).float()
            return torch.where(draws < level, values, x)
        return torch.where(draws < level, torch.zeros_like(x), x)

    words = {"gaussian": "Gaussian noise of std {0:.2f} to {1:.2f} grey added to every pixel",
             "impulse": "{0:.0%} to {1:.0%} of the pixels set to black or white at random",
             "dropout": "{0:.0%} to {1:.0%} of the pixels erased at random"}[kind]
    return Path("noise", f"{kind}-noise", apply, one_sided_grid(NOISE_REACH[kind]), 1,
                lambda values: words.format(values[0], values[-1]))


def random_warp_path(seed: int) -> Path:
    """Each seven warped by its own smooth random field (FIELD_SIDE control points a side, each
    displacement N(0, 1) scaled to an RMS of v pixels)."""
    generator = torch.Generator().manual_seed(seed)

    def apply(x, v):
        field = torch.randn(len(x), 2, FIELD_SIDE, FIELD_SIDE, generator=generator)
        field = field / field.pow(2).mean((1, 2, 3), keepdim=True).sqrt()
        field = field * (v / (IMAGE_SIDE / 2.0))[:, None, None, None]  # pixels -> normalised
        identity = torch.eye(2).expand(len(x), 2, 2)
        return sample(x, affine_grid(identity, torch.zeros(len(x), 2)) + smooth_field(field))

    return Path("geometry", "random-warp", apply, one_sided_grid(WARP_REACH), 1,
                lambda values: (f"each seven warped by its own random smooth field, RMS "
                                f"{values[0]:.1f} to {values[-1]:.1f} pixels"))


def posterize_path() -> Path:
    """Greys merged into evenly spaced levels v apart, v = 1 / (L - 1) for L levels (black and
    white among them): C(x, v) = v round(x / v), v = 1 a threshold at 1/2; v = 0 leaves x."""

    def apply(x, v):
        step = v[:, None, None]
        return torch.where(step > 0, torch.round(x / step.clamp_min(1e-6)) * step, x)

    steps = np.concatenate([[0.0], 1.0 / (np.arange(MOST_LEVELS, 1, -1) - 1.0)])
    return Path("tone", "posterize", apply, steps, 1,
                lambda values: ("greys merged into " + " to ".join(
                    f"{1 + round(1 / value)}" if value > 0 else "all" for value in values[::-1])
                                + " evenly spaced levels (black and white among them)"),
                continuous=False)
