"""The candidate changes of a seven, as differentiable code: what could have been done to the poor
sevens?

Warps (an affine map about the centre, a smooth field of displacements on top), the maps of the
square (mirrors, quarter and half turns), a Gaussian blur and its rough inverse, a grey dilation or
erosion of the strokes, and two grey-level curves. The one-parameter kinds (KINDS) are fitted pair
by pair (fit_kind, kind_fits): they give a family's finer word and its size. descriptors.py fits the
families.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from common import EPS, IMAGE_SHAPE

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
BLUR_REACH = 6  # pixels each side: a 13 x 13 kernel, 2.4 sigma of the widest blur fitted
FIT_GRID = 33  # coarse grid per kind, then as many points within one coarse step of the best
SQUARE_MAPS = {  # the dihedral group of the square, less the identity: (N, 28, 28) -> (N, 28, 28)
    "mirror-left-right": lambda x: x.flip(-1), "mirror-up-down": lambda x: x.flip(-2),
    "half-turn": lambda x: x.rot90(2, (-2, -1)),
    "quarter-turn-left": lambda x: x.rot90(1, (-2, -1)),
    "quarter-turn-right": lambda x: x.rot90(3, (-2, -1)),
    "transpose": lambda x: x.transpose(-2, -1),
    "anti-transpose": lambda x: x.rot90(2, (-2, -1)).transpose(-2, -1),
}


# ---------------------------------------------------------------- warps


def affine_warp(images: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Images (B, 28, 28) warped by (x, y) -> matrix (x, y) + offset about the centre, pixels, y
    down; bilinear.

    grid_sample reads the input at normalised coordinates n = (pixel - 13.5) / 14
    (align_corners=False), so output n reads input A^{-1} (n - b / 14).
    """
    return sample(images, affine_grid(matrix, offset))


def affine_grid(matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(B, 28, 28, 2) normalised input coordinates read by the warp (x, y) -> matrix (x, y) +
    offset."""
    inverse = torch.linalg.inv(matrix)  # (B, 2, 2)
    shift = -(inverse @ offset.unsqueeze(-1)) / (IMAGE_SIDE / 2.0)
    theta = torch.cat([inverse, shift], dim=2)  # (B, 2, 3)
    return F.affine_grid(theta, (len(matrix), 1, IMAGE_SIDE, IMAGE_SIDE), align_corners=False)


def sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Images (B, 28, 28) read at the normalised coordinates grid (B, 28, 28, 2), bilinear, zero
    outside."""
    return F.grid_sample(images.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).squeeze(1)


def smooth_field(field: torch.Tensor) -> torch.Tensor:
    """(E, 2, S, S) control points -> (E, 28, 28, 2) displacements, bilinear between them."""
    size = (IMAGE_SIDE, IMAGE_SIDE)
    return F.interpolate(field, size=size, mode="bilinear", align_corners=True).permute(0, 2, 3, 1)


# ---------------------------------------------------------------- filters


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Images (B, 28, 28) blurred by a Gaussian of std sigma (B,) pixels, a 13x13 kernel."""
    offsets = torch.arange(-BLUR_REACH, BLUR_REACH + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma.clamp_min(EPS)[:, None]) ** 2)  # (B, 13)
    kernel = kernel / kernel.sum(1, keepdim=True)
    padded = F.pad(images.unsqueeze(0), (BLUR_REACH,) * 4)  # (1, B, 40, 40): one channel per image
    rows = F.conv2d(padded, kernel[:, None, :, None], groups=len(images))
    return F.conv2d(rows, kernel[:, None, None, :], groups=len(images)).squeeze(0)


def sharpen_or_blur(images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """amount > 0: Gaussian blur of that sigma; < 0: unsharp masking x + (x - blur(x)), its rough
    inverse."""
    blurred = gaussian_blur(images, amount.abs())
    sharpened = (2.0 * images - blurred).clamp(0.0, 1.0)
    return torch.where((amount >= 0)[:, None, None], blurred, sharpened)


def stroke_width_change(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Grey dilation (pixels > 0) or erosion (< 0) by a disc of radius |pixels|: the max (min) over
    the image shifted to 16 points on the circles of radius |pixels| and |pixels| / 2, bilinear."""
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


# ---------------------------------------------------------------- the one-parameter kinds


def geometric(entries):
    """A kind from entries(value (B,)) -> (a, b, c, d, x, y): the warp [[a, b], [c, d]] (x, y) + (x,
    y) offset, each a tensor (B,) or a number."""

    def transform(images: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        a, b, c, d, x, y = (entry if torch.is_tensor(entry) else torch.full_like(value, entry)
                            for entry in entries(value))
        matrix = torch.stack([a, b, c, d], 1).reshape(-1, 2, 2)
        return affine_warp(images, matrix, torch.stack([x, y], 1))

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
    """t = clip(e^v s, 0, 1): ink darker (v > 0) or fainter."""
    return (images * value.exp()[:, None, None]).clamp(0.0, 1.0)


def gamma_change(images, value):
    """t = s^(e^v): the greys raised to a power."""
    return images.clamp_min(EPS) ** value.exp()[:, None, None]


# The affine kinds, one shear: the warp fit's starting points (descriptors.warp_fits).
GEOMETRY_ENTRIES = {"translation-x": translation_x_entries, "translation-y": translation_y_entries,
                    "rotation": rotation_entries, "shear": shear_x_entries, "scale": scale_entries,
                    "scale-x": scale_x_entries, "scale-y": scale_y_entries}
# The one-parameter kinds within a family: kind -> (family, [(transform(images, value (B,)), (low,
# high))]), fitted per pair; they give the finer word and its size. Two shears, one kind.
KINDS = {
    "translation-x": ("geometry", [(geometric(translation_x_entries), (-10, 10))]),
    "translation-y": ("geometry", [(geometric(translation_y_entries), (-10, 10))]),
    "rotation": ("geometry", [(geometric(rotation_entries), (-90, 90))]),
    "shear": ("geometry", [(geometric(shear_x_entries), (-1.2, 1.2)),
                           (geometric(shear_y_entries), (-1.2, 1.2))]),
    "scale": ("geometry", [(geometric(scale_entries), (-0.8, 0.8))]),
    "scale-x": ("geometry", [(geometric(scale_x_entries), (-0.8, 0.8))]),
    "scale-y": ("geometry", [(geometric(scale_y_entries), (-0.8, 0.8))]),
    "contrast": ("tone", [(contrast_change, (-2.0, 2.0))]),
    "gamma": ("tone", [(gamma_change, (-2.0, 2.0))]),
    "blur": ("filter", [(sharpen_or_blur, (-2.5, 2.5))]),
    "stroke-width": ("filter", [(stroke_width_change, (-2.5, 2.5))]),
}


@torch.no_grad()
def fit_kind(transform, bounds, sources: torch.Tensor, targets: torch.Tensor):
    """Per pair, the value v in bounds minimising ||transform(source, v) - target||^2: a coarse grid
    of FIT_GRID values, then a fine one within a coarse step of the best. Returns (values (B,),
    squared errors (B,))."""
    low, high = bounds
    centres = torch.full((len(sources),), (low + high) / 2.0, dtype=sources.dtype)
    half_width = torch.full_like(centres, (high - low) / 2.0)
    for _ in range(2):
        steps = torch.linspace(-1.0, 1.0, FIT_GRID, dtype=sources.dtype)
        candidates = centres[None, :] + steps[:, None] * half_width[None, :]  # (G, B)
        errors = torch.stack([(transform(sources, value) - targets).pow(2).flatten(1).sum(1)
                              for value in candidates])
        best = errors.argmin(0)
        centres = candidates[best, torch.arange(len(sources))]
        half_width = half_width * 2.0 / (FIT_GRID - 1)
    return centres, errors[best, torch.arange(len(sources))]


def kind_fits(sources: torch.Tensor, targets: torch.Tensor) -> dict:
    """kind -> (values (B,), squared errors (B,)) of its best member."""
    fits = {}
    for kind, (_, members) in KINDS.items():
        candidates = [fit_kind(transform, bounds, sources, targets)
                      for transform, bounds in members]
        fits[kind] = min(candidates, key=lambda fit: float(fit[1].sum()))
    return fits
