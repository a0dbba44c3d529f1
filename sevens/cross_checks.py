"""Does the named change look like the poor sevens? The cross-check on the images, without the
decoder.

The named change, applied to clean sevens, must make them look changed to the critic (critic.py):
the separation 2 AUC - 1 of the changed from the unchanged clean sevens must reach REPRODUCED_SHARE
times the poor sevens' separation from the clean ones; else `unknown` (cross_check). A run still
`unknown` is named from the images when they leave one answer (image_checks.py): only the fine
detail changed (a filter, filter_on_images), else the change lives in a few pixels (content,
content_on_images).
"""

from __future__ import annotations

import numpy as np
import torch

from common import EPS
from sevens.changes import SQUARE_MAPS, affine_grid, sample, smooth_field, stroke_width_change
from sevens.critic import DIFFER_Z, separation
from sevens.descriptors import curve_at, kernel_design
from sevens.image_checks import FINE_PERIOD, FINE_SIGMA, STROKE_MASS
from sevens.verdict import WORDS

# Set in advance; checked on synthetic traversals and bench/effect_benchmark.py.
REPRODUCED_SHARE = 0.25  # the named change separates clean sevens this share as well as the poor


# ---------------------------------------------------------------- the named change, on clean sevens


def reproduce(family: str, kind: str, found: dict, images: np.ndarray) -> np.ndarray:
    """The named family's fitted change from the middle of the axis to its high end, applied to
    images (N, 28, 28): the map of the square, the warp, the grey-level curve, the filter or the ink
    added."""
    x = torch.as_tensor(images, dtype=torch.float32)
    if family == "symmetry":
        changed = SQUARE_MAPS[kind](x) if kind in SQUARE_MAPS else x
    elif family == "geometry":
        warps = found["warps"]
        grid = affine_grid(warps["matrix"][1:].expand(len(x), 2, 2),
                           warps["offset"][1:].expand(len(x), 2))
        if kind == "non-rigid":
            grid = grid + smooth_field(warps["field_grid"][1:])
        changed = sample(x, grid)
    elif family == "tone":  # greys outside the fitted ones take the curve's nearest fitted value
        greys = np.clip(images, *found["tone"]["ranges"][1])
        changed = torch.as_tensor(curve_at(greys, found["tone"]["curves"][1]))
    elif family == "filter" and kind == "stroke-width":
        values = found["values"]["stroke-width"]
        pixels = float(np.median(values[len(values) // 2 :]))  # the high end's
        changed = stroke_width_change(x, torch.full((len(x),), pixels))
    elif family == "filter":
        kernel, offset, curve, span = found["filters"][1]
        filtered = kernel_design(x) @ torch.as_tensor(np.append(kernel.ravel(), offset))
        changed = torch.as_tensor(curve_at(filtered.numpy(), curve, span)).reshape(x.shape)
    else:  # content
        changed = x + torch.as_tensor(found["added"][1], dtype=torch.float32)
    return changed.clamp(0.0, 1.0).numpy().astype(np.float32)


@torch.no_grad()
def reproduced_share(family: str, kind: str, found: dict, evidence: dict) -> float:
    """How far the named change makes clean sevens look poor to the critic: the separation (2 AUC -
    1) of the held-out clean sevens so changed from the same sevens unchanged, over the poor sevens'
    separation."""
    changed = reproduce(family, kind, found, evidence["held_out_clean"])
    changed_scores = evidence["critic"](torch.as_tensor(changed)).numpy()
    reproduced = separation(changed_scores, evidence["held_out_clean_scores"])
    return reproduced / max(evidence["critic_separation"], EPS)


def cross_check(result: dict, found: dict | None, evidence: dict) -> dict:
    """A named family stands when its change, applied to clean sevens, reproduces at least
    REPRODUCED_SHARE of what the critic sees between poor and clean sevens; else `unknown`. Not
    checked when the critic sees no difference (nothing to reproduce) or for a change named from the
    images (noise, a map, only the greys or only the fine detail)."""
    if (result["effect_family"] not in WORDS or not evidence["images_differ"]
            or result["named_on"] == "images"):
        return {**result, "critic_reproduced": None}
    share = reproduced_share(result["effect_family"], result["effect_kind"], found, evidence)
    if share >= REPRODUCED_SHARE:
        return {**result, "critic_reproduced": share}
    sentence = (f"unknown: the best description along z0, {result['effect_sentence']}, applied "
                f"to clean sevens makes them look changed to the critic only {100 * share:.0f}% "
                f"as much as the poor sevens do (at least {100 * REPRODUCED_SHARE:.0f}% needed); "
                f"the change lives in {evidence['change_place']}")
    return {**result, "critic_reproduced": share, "effect_family": "unknown",
            "effect_kind": "unknown", "effect_sentence": sentence}


# ---------------------------------------------------------------- still unknown: the images name it


def image_filter_words(evidence: dict) -> tuple[str, str]:
    """A filter's kind from the images: strokes thicker or thinner when the ink mass moved by
    STROKE_MASS or more (a linear filter that keeps grey keeps the mass); else sharpening or blur by
    the fine detail's gain."""
    mass, gain = evidence["ink_mass_ratio"], evidence["fine_detail_gain"]
    detail = (f"detail finer than {FINE_PERIOD:g} pixels is {gain:.2f}x as strong and the ink mass "
              f"{mass:.2f}x the clean sevens'")
    if max(mass, 1.0 / max(mass, EPS)) >= STROKE_MASS:
        return "stroke-width", f"strokes {'thicker' if mass > 1 else 'thinner'}: {detail}"
    return ("sharpening" if gain > 1.0 else "blur"), detail


def filter_on_images(result: dict, evidence: dict) -> dict:
    """When the code names nothing (`unknown`) but only the fine detail changed on the images
    (filter_check), the images name a filter. Only then: a small move or turn drawn by interpolation
    also softens the detail, and its coarse change may escape a critic that its softening does not,
    so an axis that names a family keeps it."""
    if result["effect_family"] != "unknown" or not (evidence["filter_only"]
                                                    and evidence["images_differ"]):
        return result
    kind, words = image_filter_words(evidence)
    sentence = (f"filter ({kind}): only detail finer than {FINE_SIGMA:g} pixels changed: with each "
                f"image blurred by {FINE_SIGMA:g} pixels and its greys ranked, a critic tells poor "
                f"from clean sevens at {100 * evidence['coarse_critic_accuracy']:.1f}% (z "
                f"{evidence['coarse_critic_z']:.1f} < {DIFFER_Z:g}, the raw critic's z "
                f"{evidence['critic_z']:.1f}); in the sevens that look changed, {words}")
    return {**result, "effect_family": "filter", "effect_kind": kind, "effect_sentence": sentence,
            "named_on": "images"}


def content_on_images(result: dict, evidence: dict) -> dict:
    """When the code still names nothing (`unknown`) but the whole change lives in a few pixels on
    the images (content_check), the images name content: ink added or erased there, by the sign of
    the ink gained. Only then, as in filter_on_images: a change of a part of the seven may also be a
    local warp, which an axis tells."""
    if result["effect_family"] != "unknown" or not (evidence["content_only"]
                                                    and evidence["images_differ"]):
        return result
    kind = "ink-added" if evidence["content_ink"] > 0 else "ink-erased"
    more = "more" if kind == "ink-added" else "less"
    sentence = (f"content ({kind}): the change lives in {evidence['content_pixels']} pixels, "
                f"{evidence['content_place']} (mean difference beyond {DIFFER_Z:g} standard "
                f"errors): "
                f"with them blanked in every image, a critic tells poor from clean sevens at "
                f"{100 * evidence['masked_critic_accuracy']:.1f}% (z "
                f"{evidence['masked_critic_z']:.1f} < {DIFFER_Z:g}, the raw critic's z "
                f"{evidence['critic_z']:.1f}); there a poor seven has on average "
                f"{abs(evidence['content_ink']):.1f} {more} ink (grey summed over those pixels)")
    return {**result, "effect_family": "content", "effect_kind": kind, "effect_sentence": sentence,
            "named_on": "images"}
