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
import torch

from sevens.cross_checks import REPRODUCED_SHARE, content_on_images, cross_check, filter_on_images
from sevens.descriptors import descriptors, unrelated_pairs
from sevens.replayed_answer import replayed_answer
from sevens.verdict import verdict

FIT_QUANTILES = (0.1, 0.5, 0.9)  # decoded sevens at these quantiles of the poor codes on the axis
FIT_ROWS = 32  # starting sevens, each giving one pair per end (64 pairs)


def describe_axis(decode, encode, poor: np.ndarray, poor_codes: np.ndarray, spread_ratio: float,
                  margin: float, evidence: dict, seed: int,
                  rng: np.random.Generator) -> tuple[dict, dict | None]:
    """Whether z0 carries the effect (its spread ratio beyond the clean codes >= margin) and what
    the effect is: the descriptors on decoded sevens along z0 against the same descriptors on
    unrelated pairs (the null), with the evidence of the images; then every candidate replayed on
    clean sevens (replayed_answer.py). poor (N, 28, 28) and their codes (N, K) on the code's axes,
    z0 first; encode: images -> codes on the axes. Returns the result and replay.png's images."""
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
    readers = {"critic": (critic_reader(evidence["critic"]), evidence["critic_scores"])}
    if carries:
        readers["axis"] = (lambda images: encode(images)[:, 0], poor_codes[:, 0])
    result, figure = replayed_answer(result, found, evidence, poor, readers, seed, rng)
    dimension = 0 if carries and result["effect_family"] != "none" else None
    return {"effect_dimension": dimension, "reproduced_floor": REPRODUCED_SHARE, **result}, figure


def critic_reader(critic):
    """images (n, 28, 28) -> the critic's logit (n,): how changed each looks."""
    def read(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return critic(torch.as_tensor(images, dtype=torch.float32)).numpy()
    return read


def axis_pairs(decode, starts: np.ndarray, axis: int, positions: np.ndarray):
    """Decoded sevens with `axis` at the middle of `positions` (sources) and at its two ends
    (targets), the other axes of each row from `starts` (R, K); decode: codes (..., K) -> images
    (..., 28, 28). Returns sources, targets (2R, 28, 28) and which end (2R,)."""
    codes = np.repeat(starts[:, None, :], len(positions), 1)  # (R, 3, K)
    codes[:, :, axis] = positions
    decoded = decode(codes)  # (R, 3, 28, 28)
    sources = np.concatenate([decoded[:, 1], decoded[:, 1]])
    return sources, np.concatenate([decoded[:, 0], decoded[:, 2]]), np.repeat([0, 1], len(starts))
