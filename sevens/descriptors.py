"""How well does each family of change explain a change from sources to targets, and its null?

Pairs of images: vae_sevens.py gives decoded sevens at the middle (sources s) and at the two ends
(targets t) of an axis; `side` says which end, parameters are shared per end. Each descriptor gives
its explained fraction

    EF = 1 - sum ||t - fit(s)||^2 / sum ||t - s||^2:

    symmetry   t = M(s), M one of the 7 other maps of the square (mirrors, quarter and half
               turns); or high end = M(low end), when the middle of the axis is a blend
    geometry   t(p) = s(A_e p + b_e), one affine warp per end, then s(A_e p + b_e + u_e(p)),
               u_e smooth
    tone       t = f(s), one grey-level curve f per end (piecewise linear, any shape)
    filter     t = f(k * s + c), one 5x5 kernel and grey-level curve per end; or a grey dilation /
               erosion by a disc per pair
    content    t = clip(s + D, 0, 1), one image D per end added to every seven (ink added or erased)

The null: a flexible descriptor explains part of any change (a smooth field warps one seven a fair
way towards another), so verdict.py compares its EF on the effect's pairs with its EF on unrelated
pairs (unrelated_pairs): the same sources, each paired with other sevens' targets.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from common import EPS, IMAGE_SHAPE
from sevens.changes import (GEOMETRY_ENTRIES, SQUARE_MAPS, affine_grid, affine_warp, kind_fits,
                            sample, smooth_field)

IMAGE_SIDE = IMAGE_SHAPE[0]  # pixels
# The families, simplest first: a map has no parameter, an affine warp 6 (its smooth field 32 more),
# a curve 17, a kernel and its curve 43, the ink image D 784.
PARSIMONY = ("symmetry", "geometry", "tone", "filter", "content")
WARP_STEPS = 100  # Adam steps of the affine and then the smooth field fit
AFFINE_LR = 0.01  # Adam's step on the warp's matrix entries and offsets (pixels)
FIELD_LR = 0.005  # and on the field's control points (normalised: 1 is half the image)
FIELD_SIDE = 4  # the smooth field's control grid: one point every 9 pixels
TONE_KNOTS = 17  # a grey-level curve: piecewise linear between 17 evenly spaced knots
KERNEL_SIDE = 5  # a 5x5 kernel: a blur or a smear of up to 2 pixels each way
CONTENT_LEVELS = np.linspace(-1.0, 1.0, 41)  # the ink a pixel may gain (> 0) or lose (< 0)
TIE_BREAK = 1e-6  # per unit of ink: of equal fits, the smallest change


def explained(errors: float, change: float) -> float:
    """EF = 1 - sum of a fit's squared errors / sum ||t - s||^2."""
    return 1.0 - errors / max(change, EPS)


# ---------------------------------------------------------------- symmetry and geometry


def symmetry_fit(sources, targets, side, change) -> tuple[float, list[str]]:
    """t = M_e(s) per end e, M_e the identity or one of the 7 other maps of the square; or, when the
    middle is a blend of the two (a change of some sevens only), the high end's seven = M(the low
    end's). EF and the maps (per end; or ["identity", M] for the ends)."""
    errors, names = 0.0, []
    for end in (0, 1):
        s, t = sources[side == end], targets[side == end]
        end_errors = {name: float((M(s) - t).pow(2).sum()) for name, M in SQUARE_MAPS.items()}
        end_errors["identity"] = float((s - t).pow(2).sum())
        names.append(min(end_errors, key=end_errors.get))
        errors += end_errors[names[-1]]
    low, high = targets[side == 0], targets[side == 1]  # row r of each end: the same starting seven
    between = float((high - low).pow(2).sum())
    ends = {name: explained(float((M(low) - high).pow(2).sum()), between)
            for name, M in SQUARE_MAPS.items()}
    best = max(ends, key=ends.get)
    if ends[best] > explained(errors, change):
        return ends[best], ["identity", best]
    return explained(errors, change), names


def warp_fits(sources, targets, side, fits, change) -> dict:
    """One affine warp per end, shared by its pairs (the effect moves every seven alike), from the
    median of the best one-parameter warp; then a smooth field per end on top. EF of each and the
    field's mean displacement (pixels). Shared, so a warp cannot carry one seven into an unrelated
    one."""
    matrix = torch.empty(2, 2, 2)
    offset = torch.empty(2, 2)
    for end in (0, 1):
        rows = side == end
        kind = min(GEOMETRY_ENTRIES, key=lambda name: float(fits[name][1][rows].sum()))
        value = fits[kind][0][rows].median().reshape(1)
        entries = [e if torch.is_tensor(e) else torch.full_like(value, e)
                   for e in GEOMETRY_ENTRIES[kind](value)]
        matrix[end] = torch.stack(entries[:4], 1).reshape(2, 2)
        offset[end] = torch.stack(entries[4:], 1)[0]
    matrix, offset = matrix.requires_grad_(), offset.requires_grad_()
    affine_error = minimise(lambda: affine_warp(sources, matrix[side], offset[side]), targets,
                            [matrix, offset], AFFINE_LR)
    field = torch.zeros(2, 2, FIELD_SIDE, FIELD_SIDE, requires_grad=True)
    base = affine_grid(matrix.detach()[side], offset.detach()[side])
    field_error = minimise(lambda: sample(sources, base + smooth_field(field)[side]), targets,
                           [field], FIELD_LR)
    displacement = float(field.detach().norm(dim=1).mean() * IMAGE_SIDE / 2.0)
    kept_field = field.detach() if field_error < affine_error else torch.zeros_like(field)
    return {"affine": explained(affine_error, change),
            "field": explained(min(field_error, affine_error), change),
            "field_pixels": displacement,
            "matrix": matrix.detach(), "offset": offset.detach(), "field_grid": kept_field}


def minimise(prediction, targets, parameters, lr: float) -> float:
    """Adam on sum ||prediction() - targets||^2 over `parameters`; the final sum of squared
    errors."""
    optimiser = torch.optim.Adam(parameters, lr=lr)
    for _ in range(WARP_STEPS):
        loss = (prediction() - targets).pow(2).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float((prediction() - targets).pow(2).sum())


# ---------------------------------------------------------------- tone and filter


def curve_fit(values: torch.Tensor, targets: torch.Tensor, span=None) -> tuple[float, np.ndarray]:
    """t = f(v), f piecewise linear between TONE_KNOTS knots spanning `span` (default [min v, max
    v]; least squares on hat functions): the sum of squared errors and f at the knots."""
    low, high = span or (float(values.min()), float(values.max()))
    knots = torch.linspace(low, high, TONE_KNOTS, dtype=torch.float64)
    spacing = max(high - low, EPS) / (TONE_KNOTS - 1)
    hats = (1.0 - (values[:, None] - knots[None, :]).abs() / spacing).clamp_min(0.0)  # (P, knots)
    curve = torch.linalg.lstsq(hats, targets[:, None], driver="gelsd").solution[:, 0]
    return float((hats @ curve - targets).pow(2).sum()), curve.numpy()


def curve_at(values: np.ndarray, curve: np.ndarray, span=(0.0, 1.0)) -> np.ndarray:
    """A curve of curve_fit (its values at TONE_KNOTS knots spanning `span`) read at `values`,
    linear between."""
    return np.interp(values, np.linspace(*span, TONE_KNOTS), curve)


def tone_fit(sources, targets, side, change) -> tuple[float, dict]:
    """t = f_e(s) per end e, any grey-level curve f_e: EF, the curves (2, TONE_KNOTS) at the knots,
    and the straight line t = a_e s + b_e per end with its EF (a gain, an added grey, an
    inversion)."""
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
    shape = {"curves": np.stack(curves), "lines": np.stack(lines), "ranges": ranges,
             "line_fraction": explained(line_errors, change)}
    return explained(errors, change), shape


def kernel_fit(sources, targets, side, change) -> tuple[float, list]:
    """t = f_e(k_e * s + c_e) per end e, k_e a 5x5 kernel and f_e a grey-level curve: a linear
    filter, then any tone (blur; sharpening with its clipping; a directional smear). Least squares
    for k_e, then for f_e. EF and per end the filter (kernel (5, 5), offset c, curve f at its knots,
    the knots' span)."""
    errors, filters = 0.0, []
    for end in (0, 1):
        design = kernel_design(sources[side == end])
        t = targets[side == end].flatten().double()
        weights = torch.linalg.lstsq(design, t[:, None], driver="gelsd").solution[:, 0]
        filtered = design @ weights
        span = (float(filtered.min()), float(filtered.max()))
        end_errors, curve = curve_fit(filtered, t, span)
        errors += end_errors
        kernel = weights[:-1].reshape(KERNEL_SIDE, KERNEL_SIDE).numpy()
        filters.append((kernel, float(weights[-1]), curve, span))
    return explained(errors, change), filters


def kernel_design(images: torch.Tensor) -> torch.Tensor:
    """(n 784, 26) float64: each pixel's 5x5 neighbourhood (zero padded) and a 1, rows in the
    images' order."""
    patches = F.unfold(images.unsqueeze(1), KERNEL_SIDE, padding=KERNEL_SIDE // 2)  # (n, 25, 784)
    design = patches.transpose(1, 2).reshape(-1, KERNEL_SIDE**2).double()
    return torch.cat([design, torch.ones(len(design), 1, dtype=design.dtype)], 1)


# ---------------------------------------------------------------- content


def content_fit(sources, targets, side, change) -> tuple[float, np.ndarray]:
    """t = clip(s + D_e, 0, 1) per end e, one image D_e of ink added (> 0) or erased (< 0) at every
    pixel, wherever it lies (per pixel, the best level of CONTENT_LEVELS): EF and D (2, 28, 28)."""
    errors, added = 0.0, []
    levels = torch.as_tensor(CONTENT_LEVELS, dtype=torch.float32)
    levels = levels[:, None, None, None]  # (L, 1, 1, 1)
    for end in (0, 1):
        s, t = sources[side == end], targets[side == end]  # (n, 28, 28)
        pixel_errors = ((s[None] + levels).clamp(0.0, 1.0) - t[None]).pow(2).sum(1)  # (L, 28, 28)
        pixel_errors = pixel_errors + TIE_BREAK * levels.abs()[:, 0]
        best = pixel_errors.min(0)
        errors += float(best.values.sum())
        added.append(CONTENT_LEVELS[best.indices.numpy()])
    return explained(errors, change), np.stack(added)


# ---------------------------------------------------------------- every family, and the null


def descriptors(sources: np.ndarray, targets: np.ndarray, side: np.ndarray) -> dict:
    """Every family's EF on pairs (B, 28, 28) -> (B, 28, 28), side (B,) in {0: low end, 1: high
    end}, and what each fit found (kind fits, curves, kernels, added images)."""
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
                 "tone": max(tone, kinds["contrast"], kinds["gamma"]), "content": content,
                 "filter": max(kernel, kinds["blur"], kinds["stroke-width"])}
    return {"fractions": fractions, "kinds": kinds,
            "values": {kind: fit[0].numpy() for kind, fit in fits.items()}, "warps": warps,
            "square_maps": square_maps, "tone": tone_shape, "added": added, "filters": filters,
            "change": change}


def unrelated_pairs(sources: np.ndarray, targets: np.ndarray, side: np.ndarray):
    """The null's pairs: the low end's targets rolled by one row and the high end's by two, so that
    every source meets another seven's targets, and the two ends of a row come from different
    sevens."""
    rolled = targets.copy()
    for end in (0, 1):
        rows = np.flatnonzero(side == end)
        rolled[rows] = targets[np.roll(rows, end + 1)]
    return sources, rolled, side


def null_fractions(nulls: list[dict]) -> dict:
    """Per family, the largest EF on the null's pairs."""
    return {family: max((null["fractions"][family] for null in nulls), default=0.0)
            for family in PARSIMONY}
