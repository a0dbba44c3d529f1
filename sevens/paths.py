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

Negative strengths walk the low end's fit where a family has two ends (its axis' two sides). The
changes read on the images, not along an axis, are in image_changes.py.
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
from sevens.changes import KINDS, affine_grid, sample, smooth_field
from sevens.descriptors import FIELD_SIDE, KERNEL_SIDE, TONE_KNOTS
from sevens.image_checks import place

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
# Set in advance: the strengths at which a path is read (replay.read_strengths), both ends included.
GRID_POINTS = 41  # a strength grid of 41 values: a rotation's 180 degrees in steps of 4.5
AXIS_REACH = 3.0  # an end's fit walked up to 3 times: clean sevens may lie beyond the poor's ends


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
        mapped = read_curves(position.clamp(0, TONE_KNOTS - 1),
                             either_end(v, curves[0], curves[-1]))
        return x + v.abs()[:, None, None] * (mapped - x)

    parameters = TONE_KNOTS + (0 if kernels is None else KERNEL_SIDE**2 + 1)
    grid = symmetric_grid(AXIS_REACH) if curves.shape[0] == 2 else one_sided_grid(AXIS_REACH)
    return Path(family, kind, apply, grid, parameters, curve_words(apply))


def read_curves(position: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
    """Each image's piecewise-linear curve (n, TONE_KNOTS) at its pixels' positions (n, 28, 28),
    in knots from 0 to TONE_KNOTS - 1: linear between the two knots around each position."""
    left = position.floor().long().clamp(max=TONE_KNOTS - 2)
    rows = torch.arange(len(position))[:, None, None]
    at_left, at_right = curves[rows, left], curves[rows, left + 1]
    return at_left + (position - left) * (at_right - at_left)


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
