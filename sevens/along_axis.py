"""What changes along the effect axis of a VAE's code? The descriptors on decoded sevens, and the
verdict.

When the code's axis z0 spreads beyond the clean sevens' codes, decoded sevens at the middle and at
the two ends of the poor codes' range along it (FIT_QUANTILES), the other axes from poor sevens, are
the pairs of the descriptors (descriptors.py), against the same descriptors on unrelated pairs (the
null). The verdict (verdict.py) names a family, the cross-check (cross_checks.py) keeps it only when
the change looks like the poor sevens to the critic, and the images name what the code still leaves
unknown.
"""

from __future__ import annotations

import numpy as np

from sevens.cross_checks import REPRODUCED_SHARE, content_on_images, cross_check, filter_on_images
from sevens.descriptors import descriptors, unrelated_pairs
from sevens.verdict import verdict

FIT_QUANTILES = (0.1, 0.5, 0.9)  # decoded sevens at these quantiles of the poor codes on the axis
FIT_ROWS = 32  # starting sevens, each giving one pair per end (64 pairs)


def describe_axis(decode, poor_codes: np.ndarray, spread_ratio: float, margin: float,
                  evidence: dict, rng: np.random.Generator) -> dict:
    """Whether z0 carries the effect (its spread ratio beyond the clean codes >= margin) and what
    the effect is: the descriptors on decoded sevens along z0 against the same descriptors on
    unrelated pairs (the null), with the evidence of the images. poor_codes (N, K) are on the code's
    axes, z0 first."""
    carries = spread_ratio >= margin
    found, nulls, span = None, [], 0.0
    if carries:
        rows = min(FIT_ROWS, len(poor_codes))
        starts = poor_codes[rng.choice(len(poor_codes), size=rows, replace=False)]
        positions = np.quantile(poor_codes[:, 0], FIT_QUANTILES)
        pairs = axis_pairs(decode, starts, 0, positions)
        found, span = descriptors(*pairs), positions[2] - positions[0]
        nulls = [descriptors(*unrelated_pairs(*pairs))]
    if carries:
        spread = f"z0 spreads {spread_ratio:.2f}x beyond the clean sevens"
    else:
        spread = (f"no latent spreads beyond the clean sevens (largest spread ratio "
                  f"{spread_ratio:.2f} < {margin:g})")
    result = cross_check(verdict(found, nulls, evidence, 0, span, spread), found, evidence)
    result = content_on_images(filter_on_images(result, evidence), evidence)
    dimension = 0 if carries and result["effect_family"] != "none" else None
    return {"effect_dimension": dimension, "reproduced_floor": REPRODUCED_SHARE, **result}


def axis_pairs(decode, starts: np.ndarray, axis: int, positions: np.ndarray):
    """Decoded sevens with `axis` at the middle of `positions` (sources) and at its two ends
    (targets), the other axes of each row from `starts` (R, K); decode: codes (..., K) -> images
    (..., 28, 28). Returns sources, targets (2R, 28, 28) and which end (2R,)."""
    codes = np.repeat(starts[:, None, :], len(positions), 1)  # (R, 3, K)
    codes[:, :, axis] = positions
    decoded = decode(codes)  # (R, 3, 28, 28)
    sources = np.concatenate([decoded[:, 1], decoded[:, 1]])
    return sources, np.concatenate([decoded[:, 0], decoded[:, 2]]), np.repeat([0, 1], len(starts))
