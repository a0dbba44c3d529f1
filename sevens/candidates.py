"""Which changes could it have been? The candidate answers, from the axis' descriptors and from the
images.

Along the axis, every family whose descriptor explains CANDIDATE_FLOOR of the change gives its fits
as paths (paths.py): its best one-parameter kind, and its full fit (an affine warp and its smooth
field, a grey-level curve, a filter, the ink added). On the images (image_changes.py), changes a
decoder's mean cannot show or that no descriptor along an axis fits: the one-parameter kinds read
without the axis, noise of three kinds, the map of the square the maps' classifier found, the
grey-level map from quantiles, greys merged into evenly spaced levels (where the poor sevens keep
few distinct greys), smears in eight directions, a shifted copy at the shift the mean images point
to, a loss of resolution, a random warp per seven, a fixed mark and the ink of the content check's
pixels. A descriptor beating its null decides which are made first; the replay (replay.py) decides
which is named.
"""

from __future__ import annotations

import numpy as np
import torch

from common import EPS
from sevens import grey_maps, image_changes, paths
from sevens.changes import GEOMETRY_ENTRIES
from sevens.critic import DIFFER_Z
from sevens.replay import visible

CANDIDATE_FLOOR = 0.3  # a family explaining this share along the axis gives candidates
MARK_QUANTILE = 0.05  # a fixed mark: ink that even the faintest 5% of the poor sevens have there
MARK_LEVEL = 0.1  # grey, beyond the clean sevens' same quantile: a pixel of a mark
DARKEST_QUANTILE = 0.95  # a mark of varying darkness at its darkest: the poor sevens' 95th centile
ERASED_SHARE = 0.2  # a pixel inked in a fifth of the clean sevens and in almost no poor one
# A grey-level map keeps each image's grey ranks: tone is read on the images only when a critic on
# the ranks (image_checks.tone_check) sees at most a quarter of what the raw critic sees (z).
RANKS_KEEP = 0.25
# Greys merged into few: the poor sevens' median count of distinct greys (8 bits, ink only) at most
# a quarter of the clean sevens'. Set from the benchmark's effects that merge none: the lowest,
# low-resolution's blocks, keep 0.42 of them; posterized sevens keep 0.03.
MERGED_SHARE = 0.25
GHOST_REACH = 6  # pixels: the shifts tried for a shifted copy, each way
FAMILY_KINDS = {  # the one-parameter kinds of each family (changes.KINDS), the shear's two members
    "geometry": [(kind, 0) for kind in GEOMETRY_ENTRIES] + [("shear", 1)],
    "tone": [("contrast", 0), ("gamma", 0)], "filter": [("blur", 0), ("stroke-width", 0)]}


# ---------------------------------------------------------------- along the axis


def axis_paths(found: dict, named: tuple[str, str]) -> list:
    """The paths of every family that explains CANDIDATE_FLOOR along the axis, the descriptors'
    named (family, kind) first when it is one of them."""
    made = []
    for family, fraction in sorted(found["fractions"].items(), key=lambda item: -item[1]):
        if fraction >= CANDIDATE_FLOOR:
            made += family_paths(family, found)
    first = [path for path in made if (path.family, path.kind) == named][:1]
    return first + [path for path in made if path not in first]


def family_paths(family: str, found: dict) -> list:
    kinds = [paths.kind_path(kind, member) for kind, member in FAMILY_KINDS.get(family, [])]
    if family == "geometry":
        warps = found["warps"]
        full = [paths.affine_path(warps["matrix"], warps["offset"])]
        if warps["field"] > warps["affine"]:  # the judge says whether the field is needed
            full.append(paths.affine_path(warps["matrix"], warps["offset"], warps["field_grid"]))
        return best_kind_first(kinds, found) + full
    if family == "tone":
        return kinds + [paths.curve_path("tone", "grey-level-curve", found["tone"]["curves"])]
    if family == "filter":
        kernels, offsets, curves, spans = zip(*found["filters"])
        return kinds + [paths.curve_path("filter", "kernel", np.stack(curves), spans,
                                         (np.stack(kernels), np.array(offsets)))]
    if family == "content":
        return [paths.content_path(found["added"])]
    return [image_changes.square_map_path(name)
            for name in set(found["square_maps"]) - {"identity"}]


def best_kind_first(kinds: list, found: dict) -> list:
    """The geometry kinds, the one explaining most along the axis first (the rest are read on the
    images anyway)."""
    return sorted(kinds, key=lambda path: -found["kinds"][path.kind])[:2]


# ---------------------------------------------------------------- on the images


def image_paths(evidence: dict, poor: np.ndarray, clean: np.ndarray, seed: int) -> list:
    """The candidates read on the images; clean: clean sevens apart from those to be replayed. A
    grey-level change only where the ranks hide most of the change (RANKS_KEEP)."""
    greys_only = only_greys(evidence)
    made = [paths.kind_path(kind, member) for family, members in FAMILY_KINDS.items()
            for kind, member in members if family != "tone" or greys_only]
    made += [image_changes.noise_path(kind, seed + k)
             for k, kind in enumerate(image_changes.NOISE_REACH)]
    made += [image_changes.square_map_path(evidence["square_map"])]
    made += [quantile_map_path(poor, clean)] if greys_only else []
    made += [image_changes.posterize_path()] if merged_greys(poor, clean) else []
    made += [image_changes.smear_path(degrees) for degrees in image_changes.SMEAR_DIRECTIONS]
    made += [image_changes.ghost_path(ghost_shift(poor, clean))]
    made += [image_changes.resolution_path(mode) for mode in ("blocks", "smooth")]
    made += [image_changes.random_warp_path(seed + 3)]
    mark, erased = fixed_mark(poor, clean)
    if mark.any() or erased.any():
        made.append(image_changes.mark_path(mark, erased))
    made += changed_regions(poor, clean)
    ink = content_ink(poor, clean)
    if ink.any():
        made.append(paths.content_path(ink[None], one_sided=True))
    return made


def only_greys(evidence: dict) -> bool:
    """A critic on the images' grey ranks sees at most RANKS_KEEP of what the raw critic sees (z):
    the change lives in the greys, not in where the ink is."""
    return evidence["ranked_critic_z"] <= RANKS_KEEP * evidence["critic_z"]


def quantile_map_path(poor: np.ndarray, clean: np.ndarray):
    """The grey-level map f(x) = Q_poor(F_clean(x)) at TONE_KNOTS greys (grey_maps.quantile_map): it
    merges greys where the poor sevens have few."""
    return paths.curve_path("tone", "grey-level-map", grey_maps.quantile_map(clean, poor)[None])


def merged_greys(poor: np.ndarray, clean: np.ndarray) -> bool:
    """Do the poor sevens keep at most MERGED_SHARE of the clean sevens' distinct greys (median
    over sevens, ink only, 8 bits)? A grey-level map that merges greys, whatever their order."""
    def distinct(images):
        greys = visible(np.clip(images, 0, 1))  # the greys a screen shows, as the judge sees them
        return np.median([len(np.unique(image[image > 0])) for image in greys])

    return distinct(poor) <= MERGED_SHARE * distinct(clean)


def ghost_shift(poor: np.ndarray, clean: np.ndarray) -> tuple[int, int]:
    """The shift d (at least 2 pixels) whose shifted clean mean best matches mean(poor) -
    mean(clean) (cosine): a copy x(p - d) added to every seven adds exactly that to the mean."""
    difference = torch.as_tensor(poor.mean(0) - clean.mean(0))
    mean = torch.as_tensor(clean.mean(0))[None]
    best, shift = -np.inf, (GHOST_REACH, 0)
    for dx in range(-GHOST_REACH, GHOST_REACH + 1):
        for dy in range(-GHOST_REACH, GHOST_REACH + 1):
            if max(abs(dx), abs(dy)) < 2:
                continue
            copy = image_changes.shifted_copy(mean, dx, dy)[0]
            cosine = float((copy * difference).sum() / max(float(copy.norm() *
                                                                 difference.norm()), EPS))
            if cosine > best:
                best, shift = cosine, (dx, dy)
    return shift


def fixed_mark(poor: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mark in every seven: the ink of the faintest MARK_QUANTILE of the poor sevens at a pixel
    beyond the clean sevens' (at least MARK_LEVEL); and the pixels erased in every seven, inked
    (grey > MARK_LEVEL) in at least ERASED_SHARE of the clean sevens and in almost no poor one
    (MARK_QUANTILE / 5): (28, 28) each."""
    mark = np.quantile(poor, MARK_QUANTILE, axis=0) - np.quantile(clean, MARK_QUANTILE, axis=0)
    mark = np.where(mark >= MARK_LEVEL, mark, 0.0)
    inked = (np.mean(clean > MARK_LEVEL, axis=0) >= ERASED_SHARE)
    erased = inked & (np.mean(poor > MARK_LEVEL, axis=0) <= MARK_QUANTILE / 5)
    return mark.astype(np.float32), erased.astype(np.float32)


def changed_regions(poor: np.ndarray, clean: np.ndarray) -> list:
    """Content that varies between sevens, at the pixels content_ink keeps: ink added (a mark of
    varying darkness, at its darkest, mark_path; a growing region, region_path) and ink erased (a
    growing region). A pixel's share: how much more often the poor sevens have ink there (grey >
    1/2) than the clean ones; its ink, the median grey of the poor sevens that have it. Erased:
    the share 1 - mean(poor) / mean(clean)."""
    kept = content_ink(poor, clean)
    made = []
    added = np.clip(np.mean(poor > 0.5, 0) - np.mean(clean > 0.5, 0), 0, 1) * (kept > 0)
    if added.any():
        order = np.sort(poor, axis=0)  # each pixel's greys, lightest first
        rows = np.clip(((1 - added / 2) * len(poor)).astype(int), 0, len(poor) - 1)
        ink = np.take_along_axis(order, rows[None], 0)[0] * (added > 0)
        darkest = np.where(kept > 0, np.quantile(poor, DARKEST_QUANTILE, axis=0), 0.0)
        made += [image_changes.mark_path(darkest.astype(np.float32), np.zeros_like(darkest)),
                 image_changes.region_path(added.astype(np.float32), ink.astype(np.float32))]
    clean_ink = clean.mean(0)
    erased = np.where(kept < 0,
                      1 - poor.mean(0) / np.maximum(clean_ink, EPS), 0.0).clip(0, 1)
    if erased.any():
        made.append(image_changes.region_path(erased.astype(np.float32), None))
    return made


def content_ink(poor: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The mean difference at the pixels beyond DIFFER_Z standard errors (image_checks'
    content_check), 0 elsewhere (28, 28)."""
    difference = poor.mean(0) - clean.mean(0)
    error = np.sqrt(poor.var(0) / len(poor) + clean.var(0) / len(clean))
    kept = np.abs(difference) >= DIFFER_Z * np.maximum(error, EPS)
    return np.where(kept, difference, 0.0).astype(np.float32)


def own_answers(made: list, named: tuple[str, str], found) -> list:
    """The descriptors' own answers among the candidates (made, axis_paths' first): the path they
    name and, when it is a full fit (more than one parameter: an affine warp, a curve, a kernel),
    the one-parameter kind of its family that explains most along the axis, the simplest answer
    they found; none without an axis."""
    if found is None or not made or made[0].family != named[0]:
        return []
    kinds = [path for path in made if path.family == named[0] and path.parameters == 1]
    if made[0].parameters == 1 or not kinds:
        return made[:1]
    return made[:1] + [max(kinds, key=lambda path: found["kinds"].get(path.kind, 0.0))]


def candidate_paths(found, named, evidence: dict, poor: np.ndarray, clean: np.ndarray,
                    seed: int) -> list:
    """The axis' candidates (found: the descriptors along it, or None; named: the (family, kind) the
    descriptors name, first) and the images'."""
    along = [] if found is None else axis_paths(found, named)
    made = {id(path) for path in along}  # a kind is one path (paths.kind_path), made once
    return along + [path for path in image_paths(evidence, poor, clean, seed)
                    if id(path) not in made]

