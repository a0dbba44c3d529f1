"""Problem 2's model-free check on every effect of bench/effects.py: no VAE, seconds per effect.

For each effect (seed 0 of its data), the poor training sevens against MNIST's clean training
sevens, and a null: two disjoint halves of MNIST's training sevens. Prints the critic's held-out
accuracy and z, the share of poor sevens that look changed, the roughness ratio (and its null), the
map of the square that claims most of the changed sevens (and its share), the ranked critic's z
(only the greys changed when it is at chance), the coarse critic's z (only the fine detail changed
when it is at chance), the fine detail's gain and the ink mass ratio, the content check's pixels and
its masked critic's z (the change lives in those pixels when it is at chance), and where the mean
difference lives: the figures that fixed DIFFER_Z, NOISE_MARGIN, MAPPED_SHARE and CONTENT_SHARE in
sevens/critic.py and sevens/image_checks.py.

    python -m bench.image_evidence                 # about 5 minutes on one core
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from sevens.image_checks import evidence_from_images
from bench.effects import EFFECT_STREAM, EFFECTS, effect_sevens
from sevens.mnist import load_mnist_sevens

EVIDENCE_STREAM = 13
HEADER = (f"{'effect':16} {'family':9} {'critic':>7} {'z':>6} {'changed':>8} {'rough':>6} "
          f"{'null':>6} noise  {'map (share)':>26} {'ranked z':>8} greys  {'coarse z':>8} fine   "
          f"gain  mass  pixels masked z content place")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--effects", nargs="*", default=["null", *EFFECTS],
                        choices=["null", *EFFECTS])
    args = parser.parse_args()
    torch.set_num_threads(1)
    sevens = load_mnist_sevens()
    clean = (sevens["train"] / 255.0).astype(np.float32)
    print(HEADER)
    for effect in args.effects:
        if effect == "null":
            order = np.random.default_rng([0, EFFECT_STREAM, 0]).permutation(len(clean))
            half = len(order) // 2
            poor, reference, family = clean[order[:half]], clean[order[half:]], "none"
        else:
            poor, _ = effect_sevens(effect, sevens["train"], split=0, seed=0)  # the benchmark's tr7
            reference, family = clean, EFFECTS[effect][0]
        evidence = evidence_from_images(poor, reference, np.random.default_rng(EVIDENCE_STREAM))
        print(evidence_row(effect, family, evidence), flush=True)


def evidence_row(effect: str, family: str, evidence: dict) -> str:
    """One line of the table, under HEADER."""
    return (f"{effect:16} {family:9} {100 * evidence['critic_accuracy']:6.1f}% "
            f"{evidence['critic_z']:6.1f} {100 * evidence['share_changed']:7.0f}% "
            f"{evidence['roughness_ratio']:6.2f} {evidence['roughness_null']:6.3f} "
            f"{str(evidence['noise']):6} {evidence['square_map']:>18} "
            f"({evidence['mapped_share']:5.2f}) {evidence['ranked_critic_z']:8.1f} "
            f"{str(evidence['tone_only']):6} {evidence['coarse_critic_z']:8.1f} "
            f"{str(evidence['filter_only']):6} {evidence['fine_detail_gain'] or 0:5.2f} "
            f"{evidence['ink_mass_ratio'] or 0:5.2f} {evidence['content_pixels']:6d} "
            f"{evidence['masked_critic_z']:8.1f} {str(evidence['content_only']):7} "
            f"{evidence['change_place']}")

if __name__ == "__main__":
    main()
