"""Which family of change was it, and in what words? The verdict on the descriptors and the images.

A family is named when its descriptor, along the effect axis, explains EF >= EF_FLOOR of the
change and

    1 - EF <= NULL_SHARE (1 - EF_null):

it leaves clearly less unexplained than on unrelated sevens (descriptors.unrelated_pairs). Of those,
the simplest within PARSIMONY_MARGIN of the best (descriptors.PARSIMONY: a kernel also scales ink,
so contrast stays tone). Before the axis, the images may name it alone (image_checks.py): nothing
differs, noise, a map of the square, or only the greys. Nothing clears: `unknown`, with where the
change lives. Each family's words (WORDS) give its kind (a one-parameter kind when it explains
KIND_SHARE of the family's EF) and its size per unit of the axis.
"""

from __future__ import annotations

import math

import numpy as np

from common import EPS
from sevens.changes import GEOMETRY_ENTRIES
from sevens.critic import DIFFER_Z
from sevens.descriptors import KERNEL_SIDE, PARSIMONY, null_fractions
from sevens.image_checks import TONE_POINTS, place

# Every answer: the five families of a descriptor, noise (on the images only), none, unknown.
FAMILIES = ("geometry", "tone", "filter", "noise", "content", "symmetry", "none", "unknown")
# Set in advance; checked on synthetic traversals and bench/effect_benchmark.py (te7 only scores).
EF_FLOOR = 0.5  # a family explains at least half of the change along the axis
NULL_SHARE = 0.75  # and leaves at most 3/4 of what it leaves unexplained of unrelated pairs
PARSIMONY_MARGIN = 0.05  # the simplest family within this of the best one is named
KIND_SHARE = 0.85  # a one-parameter kind is named when it explains this share of its family's EF
NON_RIGID_GAIN = 0.1  # the smooth field explains this much more than the affine map: non-rigid
BACKGROUND_GREY = 0.05  # an offset b of the grey-level line this large: grey added everywhere
DIRECTIONAL_RATIO = 2.5  # a kernel this many times wider one way than the other: a smear one way
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
    "stroke-width": lambda s: (f"a grey dilation (or erosion) of the strokes by a disc of radius "
                               f"{abs(s):.1f} pixels"),
}


# ---------------------------------------------------------------- choosing the family


def verdict(found: dict | None, nulls: list[dict], evidence: dict, dimension, span: float,
            spread: str) -> dict:
    """effect_family, effect_kind and effect_sentence from the descriptors along the effect axis
    (`found`, None when no axis spreads), their nulls (unrelated pairs) and the model-free evidence
    of the images. `spread` words the axis test, for the sentence. named_on: "images" when the
    images alone name it (none, noise, a map of the square, only the greys), else "axis"."""
    null = null_fractions(nulls)
    family = family_on_images(found, null, evidence)
    if family is not None:
        named_on = "images"
        kind, sentence = words_on_images(family, evidence, spread)
    else:
        named_on = "axis"
        family = "unknown" if found is None else family_beyond_null(found["fractions"], null)
        kind, sentence = words_on_axis(family, found, null, evidence, dimension, span, spread)
    return {"explained_fraction": None if found is None else found["fractions"],
            "explained_null": null if nulls else None,
            "kind_fraction": None if found is None else found["kinds"], "named_on": named_on,
            "effect_family": family, "effect_kind": kind, "effect_sentence": sentence}


def family_on_images(found: dict | None, null: dict, evidence: dict) -> str | None:
    """The family the images name before the axis: none (no axis spreads and the critic sees
    nothing), noise, symmetry (a map of the square) or tone (only the greys, unless the axis names
    tone too: its words are finer). None: the axis decides."""
    if found is None and not evidence["images_differ"]:
        return "none"
    if evidence["noise"]:
        return "noise"
    if evidence["mapped"] and evidence["images_differ"]:
        return "symmetry"
    if evidence["tone_only"] and evidence["images_differ"] and (
            found is None or family_beyond_null(found["fractions"], null) != "tone"):
        return "tone"
    return None


def family_beyond_null(fractions: dict, nulls: dict) -> str:
    """The simplest family whose EF clears EF_FLOOR and its null (1 - EF <= NULL_SHARE (1 - null)),
    within PARSIMONY_MARGIN of the best such family; 'unknown' when none does."""
    cleared = {family: value for family, value in fractions.items()
               if value >= EF_FLOOR and 1.0 - value <= NULL_SHARE * (1.0 - nulls.get(family, 0.0))}
    if not cleared:
        return "unknown"
    best = max(cleared.values())
    return next(family for family in PARSIMONY
                if cleared.get(family, -1.0) >= best - PARSIMONY_MARGIN)


# ---------------------------------------------------------------- wording it


def critic_sees(evidence: dict) -> tuple[str, str, str]:
    """The critic's held-out accuracy, its z, and the clause that quotes both."""
    accuracy = f"{100 * evidence['critic_accuracy']:.1f}% held out"
    z = f"z {evidence['critic_z']:.1f}"
    return accuracy, z, f"a critic tells the poor sevens from the clean ones at {accuracy} ({z})"


def words_on_images(family: str, evidence: dict, spread: str) -> tuple[str, str]:
    """The kind and the sentence of a family named on the images (family_on_images)."""
    accuracy, z, seen = critic_sees(evidence)
    if family == "none":
        return "none", (f"no effect: a critic cannot tell the poor sevens from the clean ones "
                        f"({accuracy}, {z} < {DIFFER_Z:g}) and {spread}")
    if family == "noise":
        return "pixel-noise", (f"noise: random per-pixel changes, median roughness "
                               f"{evidence['roughness_ratio']:.1f}x the clean sevens' (null "
                               f"{evidence['roughness_null']:.2f}x); {seen}")
    if family == "symmetry":
        name = evidence["square_map"]
        share = 100 * evidence["mapped_share"]
        return name, (f"symmetry ({name}): {share:.0f}% of the sevens that look changed are a "
                      f"clean seven's {name} to a classifier of the square's maps trained on clean "
                      f"sevens (beyond its rate on clean sevens); {seen}")
    greys = ", ".join(f"{x:g}" for x in TONE_POINTS)
    becomes = ", ".join(f"{y:.2f}" for y in evidence["image_tone_curve"])
    return "grey-level-curve", (
        f"tone (grey-level-curve): only the greys changed: with each image's greys replaced by "
        f"their ranks, a critic tells poor from clean sevens at "
        f"{100 * evidence['ranked_critic_accuracy']:.1f}% (z {evidence['ranked_critic_z']:.1f} < "
        f"{DIFFER_Z:g}); in the sevens that look changed, greys {greys} become {becomes}; {seen}")


def words_on_axis(family: str, found: dict | None, null: dict, evidence: dict, dimension,
                  span: float, spread: str) -> tuple[str, str]:
    """The kind and the sentence of the family named along the axis z{dimension}, or of
    `unknown`."""
    if found is None:
        return "unknown", (f"unknown: {critic_sees(evidence)[2]}, but {spread}: this model's "
                           f"code does not hold the change; it lives in "
                           f"{evidence['change_place']} (mean difference in effect.png)")
    if family == "unknown":
        best = max(found["fractions"], key=found["fractions"].get)
        return "unknown", (f"unknown: no description of the change along z{dimension} clearly "
                           f"beats its fit to unrelated sevens (best {best} "
                           f"{found['fractions'][best]:.2f}, null {null[best]:.2f}); the change "
                           f"lives in {evidence['change_place']}")
    kind, words = WORDS[family](found, span)
    # A place or a map has no rate.
    along = "along" if family in ("content", "symmetry") else "per unit of"
    return kind, (f"{family} ({kind}): {words} {along} z{dimension}; explains "
                  f"{100 * found['fractions'][family]:.0f}% of the change along it (null "
                  f"{100 * null[family]:.0f}%)")


def slope(values: np.ndarray, span: float) -> float:
    """Median change of a fitted value (2R,) from the low end's rows to the high end's, per unit of
    the axis."""
    rows = len(values) // 2
    return float(np.median(values[rows:] - values[:rows]) / max(span, EPS))


def geometry_words(found: dict, span: float) -> tuple[str, str]:
    kinds, warps = found["kinds"], found["warps"]
    best = max(GEOMETRY_ENTRIES, key=kinds.get)
    if warps["field"] - warps["affine"] >= NON_RIGID_GAIN:
        return "non-rigid", (f"a smooth non-affine warp moving ink by {warps['field_pixels']:.1f} "
                             f"pixels on average")
    if kinds[best] >= KIND_SHARE * found["fractions"]["geometry"]:
        return best, SIZE_WORDS[best](slope(found["values"][best], span))
    return "affine", (f"a combined affine warp (its best single part, {best}, explains "
                      f"{100 * kinds[best]:.0f}%)")


def tone_words(found: dict, span: float) -> tuple[str, str]:
    kinds, shape = found["kinds"], found["tone"]
    tone = found["fractions"]["tone"]
    (gain_low, grey_low), (gain_high, grey_high) = shape["lines"]
    line = shape["line_fraction"] >= KIND_SHARE * tone
    if line and min(gain_low, gain_high) < 0:
        return "inversion", "grey levels inverted (a falling grey-level map)"
    if line and max(abs(grey_low), abs(grey_high)) >= BACKGROUND_GREY:
        return "background-grey", (f"grey added everywhere: t = a s + b with b from "
                                   f"{grey_low:+.2f} to {grey_high:+.2f} between the ends")
    for kind in ("contrast", "gamma"):
        if kinds[kind] >= KIND_SHARE * tone:
            return kind, SIZE_WORDS[kind](slope(found["values"][kind], span))
    middle = shape["curves"][:, [4, 8, 12]]  # f at grey 0.25, 0.5, 0.75 at each end
    ends = " / ".join(", ".join(f"{value:.2f}" for value in end) for end in middle)
    return "grey-level-curve", (f"a grey-level curve: 0.25, 0.5, 0.75 -> {ends} at the low / high "
                                f"end")


def kernel_spread(kernel: np.ndarray) -> tuple[float, float]:
    """Second moments of |k| about the kernel's centre: (spread in pixels, ratio of the principal
    moments)."""
    offsets = np.arange(KERNEL_SIDE) - KERNEL_SIDE // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    weights = np.abs(kernel) / max(np.abs(kernel).sum(), EPS)
    moments = np.array([[np.sum(weights * dx * dx), np.sum(weights * dx * dy)],
                        [np.sum(weights * dx * dy), np.sum(weights * dy * dy)]])
    eigenvalues = np.linalg.eigvalsh(moments)
    return float(np.sqrt(eigenvalues.sum())), float(eigenvalues[1] / max(eigenvalues[0], EPS))


def filter_words(found: dict, span: float) -> tuple[str, str]:
    kinds = found["kinds"]
    if kinds["stroke-width"] >= KIND_SHARE * found["fractions"]["filter"]:
        size = slope(found["values"]["stroke-width"], span)
        return "stroke-width", SIZE_WORDS["stroke-width"](size)
    spreads = [kernel_spread(kernel) for kernel, *_ in found["filters"]]
    widest = max(spreads)
    if widest[1] >= DIRECTIONAL_RATIO:
        return "directional-blur", (f"a smear in one direction (a kernel {widest[1]:.1f}x longer "
                                    f"one way)")
    return "blur", (f"a blur or sharpening (kernel spreads {spreads[0][0]:.1f} / "
                    f"{spreads[1][0]:.1f} pixels at the low / high end)")


def content_words(found: dict, span: float) -> tuple[str, str]:
    """The kind is the change toward the axis' high end, the more changed one (the axis points from
    the clean codes to the poor): ink the middle seven has and the low end's lacks was added,
    whichever end shows more."""
    added = found["added"]  # (ends, 28, 28): ink gained (> 0) or lost (< 0), middle to each end
    end, row, column = np.unravel_index(np.abs(added).argmax(), added.shape)
    toward_high = added[end, row, column] if end == 1 else -added[end, row, column]
    kind = "ink-added" if toward_high > 0 else "ink-erased"
    return kind, (f"ink {kind.split('-')[1]} in {place(added[end])} toward the high end (up to "
                  f"{abs(toward_high):.2f} grey, between the middle and the "
                  f"{('low', 'high')[end]} end)")


def symmetry_words(found: dict, span: float) -> tuple[str, str]:
    ends = [(end, name) for end, name in enumerate(found["square_maps"]) if name != "identity"]
    end, name = ends[0] if ends else (1, "identity")
    return name, f"sevens mapped by a {name} toward the {('low', 'high')[end]} end"


WORDS = {"geometry": geometry_words, "tone": tone_words, "filter": filter_words,
         "content": content_words, "symmetry": symmetry_words}
