"""What would it take to do the change again? Every candidate answer as a one-parameter path.

A path is a change C(x, v) of a seven x by a strength v per image, with C(x, 0) = x: the clean
seven itself. Each family's fit becomes one (replay.py reads each poor seven's strength and replays
it on clean sevens):

    a kind (rotation, shear, blur, ...)   C(x, v) = the kind's transform at value v (changes.KINDS)
    an affine warp T_1 (3 x 3)            C(x, v) = x read through T(v) = exp(v log T_1)
        and a smooth field u_1            ... with v u_1 added to the grid it reads
    a grey-level curve f                  C(x, v) = x + v (f(x) - x)
    a filter f(k * x + c)                 C(x, v) = x + v (f(k * x + c) - x)
    ink D added or erased                 C(x, v) = clip(x + v D, 0, 1)
    a mark M, erasing E                   C(x, v) = max(x (1 - v E), v M): fixed where v = 1 always
    a growing region R_v (share s)        C(x, v) = max(x, ink [s > 1 - v]) or x [s <= 1 - v]
    a map of the square M                 C(x, v) = M(x) where v >= 1/2, else x
    a directional smear of 1 + v taps     C(x, v) = mean of x shifted by k d, k = 0 .. v (centred)
    a shifted copy (taps at 0 and d)      C(x, v) = clip(x + v x(p - d), 0, 1)
    a loss of resolution by a factor v    C(x, v) = x averaged over v x v blocks (or smoothly)
    noise (Gaussian, impulse, dropout)    C(x, v) = x with random pixels changed at level v
    a random smooth warp                  C(x, v) = x warped by its own field of RMS v pixels

Negative strengths walk the low end's fit where a family has two ends (its axis' two sides).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from common import IMAGE_SHAPE
from sevens.changes import KINDS, SQUARE_MAPS, affine_grid, sample, smooth_field
from sevens.descriptors import FIELD_SIDE, KERNEL_SIDE, TONE_KNOTS
from sevens.image_checks import place

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
# Set in advance: the strengths at which a path is read (replay.read_strengths), both ends included.
GRID_POINTS = 41  # a strength grid of 41 values: a rotation's 180 degrees in steps of 4.5
AXIS_REACH = 3.0  # an end's fit walked up to 3 times: clean sevens may lie beyond the poor's ends
SMEAR_REACH = 9.0  # a smear's longest line: 10 pixels
# Degrees from the x axis, counter-clockwise on screen; both ways along each line, since an even
# box's centre lies half a pixel to one side of it.
SMEAR_DIRECTIONS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)
RESOLUTION_SIDES = (28, 24, 20, 16, 14, 12, 10, 9, 8, 7)  # a blurry seven drawn from this many rows
MAX_BLOCK = 7  # pixels: the largest block of a pixelated seven
NOISE_REACH = {"gaussian": 0.5, "impulse": 0.3, "dropout": 0.6}  # the largest level of each noise
WARP_REACH = 4.0  # pixels: the largest RMS displacement of a random warp


@dataclasses.dataclass
class Path:
    """A candidate answer: its family and kind, C(x, v) on (n, 28, 28) images and strengths (n,)
    (torch, float32), the grid of strengths it is read at, its parameter count (the simplest
    complete answer is named) and its words for strengths at given percentiles."""
    family: str
    kind: str
    apply: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    grid: np.ndarray
    parameters: int
    words: Callable[[np.ndarray], str]
    continuous: bool = True  # any strength between the grid's values means something

    def __call__(self, images: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(images, dtype=torch.float32)
        v = torch.as_tensor(strengths, dtype=torch.float32)
        with torch.no_grad():
            return self.apply(x, v).clamp(0.0, 1.0).numpy().astype(np.float32)


def symmetric_grid(reach: float) -> np.ndarray:
    return np.linspace(-reach, reach, GRID_POINTS)


def one_sided_grid(reach: float) -> np.ndarray:
    return np.linspace(0.0, reach, GRID_POINTS)


def either_end(v: torch.Tensor, low, high):
    """The low end's value where v < 0, the high end's elsewhere, (n, ...) for any tensor ends."""
    return torch.where((v < 0).reshape(-1, *[1] * (low.dim())), low, high)


# ---------------------------------------------------------------- the fits along the axis


KIND_UNITS = {  # how a kind's value reads: (words, value -> the number quoted)
    "translation-x": ("a move of {} pixels to the right", float),
    "translation-y": ("a move of {} pixels down", float),
    "rotation": ("a turn by {} degrees counter-clockwise", float),
    "shear": ("a slant of {}", float), "scale": ("a zoom by {}x", math.exp),
    "scale-x": ("a horizontal stretch by {}x", math.exp),
    "scale-y": ("a vertical stretch by {}x", math.exp),
    "contrast": ("ink {}x as dark", math.exp), "gamma": ("greys raised to the power {}", math.exp),
    "blur": ("a Gaussian blur of {} pixels (negative: sharpening)", float),
    "stroke-width": ("strokes {} pixels wider (negative: thinner)", float),
}


@functools.lru_cache(maxsize=None)  # one path per kind: the axis' and the images' are the same
def kind_path(kind: str, member: int = 0) -> Path:
    """A one-parameter kind of changes.KINDS (one member of the shear's two) at its value v."""
    family, members = KINDS[kind]
    transform, (low, high) = members[member]
    grid = np.union1d(np.linspace(low, high, GRID_POINTS), [0.0])
    words, number = KIND_UNITS[kind]

    def apply(x, v):  # blank stays blank: changes.gamma_change lifts 0 to EPS^(e^v)
        changed = transform(x, v)
        return torch.where(x > 0, changed, x) if family == "tone" else changed

    return Path(family, kind, apply, grid, 1,
                lambda values: words.format(" to ".join(f"{number(v):.2f}" for v in values)))


def affine_path(matrices: torch.Tensor, offsets: torch.Tensor, fields=None) -> Path:
    """The axis' affine warps (2, 2, 2) and offsets (2, 2) of the low and the high end, walked from
    the identity: T(v) = exp(|v| log T_end), T = [[A, b], [0, 1]]; a smooth field (2, 2, S, S) on
    top, v times the end's."""
    logs = torch.stack([torch.as_tensor(np.real(scipy.linalg.logm(homogeneous(m, b))))
                        for m, b in zip(matrices, offsets)]).float()  # (2, 3, 3)

    def apply(x, v):
        transform = torch.linalg.matrix_exp(v.abs()[:, None, None] * either_end(v, logs[0],
                                                                                  logs[1]))
        grid = affine_grid(transform[:, :2, :2], transform[:, :2, 2])
        if fields is not None:
            grid = grid + v.abs()[:, None, None, None] * either_end(v, *smooth_field(fields))
        return sample(x, grid)

    kind = "affine" if fields is None else "non-rigid"
    return Path("geometry", kind, apply, symmetric_grid(AXIS_REACH),
                6 if fields is None else 6 + 2 * FIELD_SIDE**2, warp_words(apply, kind))


def homogeneous(matrix: torch.Tensor, offset: torch.Tensor) -> np.ndarray:
    return np.block([[matrix.numpy(), offset.numpy()[:, None]], [np.zeros((1, 2)), np.ones(1)]])


def warp_words(apply, kind: str):
    """A warp's size: how far it moves the centre and a point 10 pixels out, at the strengths."""
    def words(values):
        probe = torch.zeros(len(values), IMAGE_SIDE, IMAGE_SIDE)
        probe[:, 13:15, 23:25] = 1.0  # a dot 10 pixels right of the centre
        moved = apply(probe, torch.as_tensor(values, dtype=torch.float32))
        rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        mass = moved.sum((1, 2)).clamp_min(1e-6)
        dx = (moved * columns).sum((1, 2)) / mass - 23.5
        dy = (moved * rows).sum((1, 2)) / mass - 13.5
        shifts = ", ".join(f"({x:+.1f}, {y:+.1f})" for x, y in zip(dx.tolist(), dy.tolist()))
        return f"a {kind} warp moving a point 10 pixels right of the centre by {shifts} pixels"
    return words


def curve_path(family: str, kind: str, curves: np.ndarray, spans=((0.0, 1.0),) * 2,
               kernels=None):
    """A grey-level curve per end (2, TONE_KNOTS) over its span, after a filter per end when kernels
    = (kernels (2, 5, 5), offsets (2,)): C(x, v) = x + |v| (f(k * x + c) - x), the end by v's
    sign. One curve (1, TONE_KNOTS): one end, v >= 0."""
    curves = torch.as_tensor(np.asarray(curves), dtype=torch.float32)
    spans = torch.as_tensor(np.asarray(spans), dtype=torch.float32)

    def apply(x, v):
        filtered = x if kernels is None else filter_with(x, v, *kernels)
        low, high = either_end(v, spans[0], spans[-1]).T[:, :, None, None]  # (n, 1, 1) each
        position = (filtered - low) / (high - low).clamp_min(1e-6) * (TONE_KNOTS - 1)
        position = position.clamp(0, TONE_KNOTS - 1)
        left = position.floor().long().clamp(max=TONE_KNOTS - 2)
        end_curves = either_end(v, curves[0], curves[-1])  # (n, knots)
        rows = torch.arange(len(x))[:, None, None]
        at_left, at_right = end_curves[rows, left], end_curves[rows, left + 1]
        mapped = at_left + (position - left) * (at_right - at_left)
        return x + v.abs()[:, None, None] * (mapped - x)

    parameters = TONE_KNOTS + (0 if kernels is None else KERNEL_SIDE**2 + 1)
    grid = symmetric_grid(AXIS_REACH) if curves.shape[0] == 2 else one_sided_grid(AXIS_REACH)
    return Path(family, kind, apply, grid, parameters, curve_words(apply))


def filter_with(x, v, kernels, offsets):
    """k * x + c with each image's end's kernel (2, 5, 5) and offset (2,)."""
    kernels = torch.as_tensor(np.asarray(kernels), dtype=torch.float32)
    offsets = torch.as_tensor(np.asarray(offsets), dtype=torch.float32)
    out = torch.empty_like(x)
    for end, rows in enumerate((v < 0, v >= 0)):
        if rows.any():
            out[rows] = F.conv2d(x[rows].unsqueeze(1), kernels[end][None, None],
                                 padding=KERNEL_SIDE // 2).squeeze(1) + offsets[end]
    return out


def curve_words(apply):
    def words(values):
        greys = torch.tensor([0.25, 0.5, 0.75]).reshape(1, 1, 3).expand(len(values), 1, 3)
        mapped = apply(greys, torch.as_tensor(values, dtype=torch.float32)).clamp(0, 1)
        ends = " / ".join(", ".join(f"{g:.2f}" for g in row[0]) for row in mapped.tolist())
        return f"greys 0.25, 0.5, 0.75 become {ends}"
    return words


def content_path(added: np.ndarray, one_sided: bool = False) -> Path:
    """Ink D added (> 0) or erased per end (2, 28, 28), or one D (1, 28, 28) with v >= 0."""
    ink = torch.as_tensor(np.asarray(added), dtype=torch.float32)

    def apply(x, v):
        image = ink[0].expand_as(x) if one_sided else either_end(v, ink[0], ink[1])
        return x + v.abs()[:, None, None] * image

    grid = one_sided_grid(AXIS_REACH) if one_sided else symmetric_grid(AXIS_REACH)
    pixels = int((np.abs(added) > 0.05).sum())
    return Path("content", "ink-added" if ink.sum() >= 0 else "ink-erased", apply, grid, pixels,
                lambda values: ink_words(ink, values))


def ink_words(ink: torch.Tensor, values: np.ndarray) -> str:
    strongest = float(np.max(np.abs(values)))
    summed = float(ink.abs().sum(dim=(-2, -1)).max()) * strongest
    return f"ink changed in {place(ink.abs().amax(0).numpy())} (up to {summed:.1f} grey summed)"


# ---------------------------------------------------------------- the candidates on the images


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
