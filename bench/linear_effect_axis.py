"""How far a linear code of the images gets on each effect of bench/effects.py (a yardstick for the
VAE's axis).

The poor sevens (the effect applied to MNIST's training sevens) and the clean ones are projected on
the 30 leading principal components of both; the direction along which the poor ones spread furthest
beyond the clean ones solves S v = lambda C v, as sevens.axes.spread_axes does on the code. Prints
lambda_1 and the |Spearman| of the poor sevens' coordinate along it with the effect's drawn value.

    python -m bench.linear_effect_axis               # every effect, about a minute
    python -m bench.linear_effect_axis crossbar gamma
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg
import scipy.stats

from bench.effects import EFFECTS, effect_sevens
from sevens.mnist import load_mnist_sevens

COMPONENTS = 30


def linear_axis(poor: np.ndarray, clean: np.ndarray) -> tuple[float, np.ndarray]:
    """lambda_1 and the poor images' coordinates (N,) along the leading direction, poor and clean
    (N, 784)."""
    both = np.concatenate([poor, clean])
    _, _, rows = np.linalg.svd(both - both.mean(0), full_matrices=False)
    basis = rows[:COMPONENTS]
    clean_mean = clean.mean(0)
    poor_coordinates = (poor - clean_mean) @ basis.T
    clean_coordinates = (clean - clean_mean) @ basis.T
    spread = poor_coordinates.T @ poor_coordinates / len(poor)
    covariance = np.cov(clean_coordinates.T) + 1e-6 * np.eye(COMPONENTS)
    ratios, vectors = scipy.linalg.eigh(spread, covariance)
    return float(ratios[-1]), poor_coordinates @ vectors[:, -1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("effects", nargs="*", metavar="EFFECT",
                        help="effects of bench/effects.py (default: every one)")
    args = parser.parse_args()
    unknown = sorted(set(args.effects) - set(EFFECTS))
    if unknown:
        parser.error(f"unknown effects {', '.join(unknown)}; expected some of {', '.join(EFFECTS)}")
    sevens = load_mnist_sevens()
    clean = sevens["train"].reshape(len(sevens["train"]), -1) / 255.0
    for effect in args.effects or EFFECTS:
        images, values = effect_sevens(effect, sevens["train"], 0, 0)
        ratio, coordinates = linear_axis(images.reshape(len(images), -1).astype(np.float64), clean)
        correlation = abs(scipy.stats.spearmanr(coordinates, values).statistic)
        print(f"{effect:16} lambda_1 {ratio:8.1f}  |r| {correlation:.3f}")


if __name__ == "__main__":
    main()
