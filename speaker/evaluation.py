"""How does Problem 1 score its fixed pair sets, and what does metrics.json report of them?

A trained SiameseVerifier (speaker_verification.py) embeds every utterance of a speech matrix once;
a pair's logit is then z = w <e_a, e_b> + c, p(same) = sigmoid(z). Each pair set is reported by the
homework's accuracy at p >= 0.5 (z >= 0) beside the field's measures (speaker/measures.py) and, for
the sets that decide nothing, the same cosines after AS-norm against a cohort of training speakers.
"""

import numpy as np
import torch

from common import UTTERANCES_PER_SPEAKER
from speaker.measures import (P_TARGETS, actual_detection_cost, adaptive_s_norm, cost_name,
                              log_likelihood_ratio_cost, ranking_report)

EMBED_BATCH = 256  # utterances per forward pass when embedding a whole set: bounded memory
COHORT_TOP = 100  # AS-norm: cohort cosines kept per utterance (of the 500 training utterances)
# The pair sets drawn once per run: the speech matrix whose rows each indexes, its name in
# metrics.json.
PAIRS_MATRIX = {"train": "train", "validation": "train", "test": "test", "test_all": "test"}
REPORTED_PAIRS = {"train": "train", "validation": "validation", "test": "test",
                  "test_all": "test_all_pairs"}


def all_pairs(n_utterances: int):
    """Every unordered pair of utterances (C(n, 2) of them, the field's all-pairs trial list):
    (left, right, same), same 1.0 where they share a speaker."""
    left, right = np.triu_indices(n_utterances, k=1)
    same = left // UTTERANCES_PER_SPEAKER == right // UTTERANCES_PER_SPEAKER
    return left, right, same.astype(np.float32)


@torch.no_grad()
def embed_all(model, features: torch.Tensor) -> torch.Tensor:
    """(U, 513, T) spectrograms -> (U, E) embeddings, EMBED_BATCH utterances at a time."""
    model.eval()
    starts = range(0, len(features), EMBED_BATCH)
    return torch.cat([model.embed(features[start : start + EMBED_BATCH]) for start in starts])


@torch.no_grad()
def pair_scores(model, embeddings: torch.Tensor, pairs) -> np.ndarray:
    """Logits z = logit p(same) of the pairs, rows of (U, E) embeddings: (K,) float64 (p saturates,
    z does not)."""
    left, right = (torch.as_tensor(part, device=embeddings.device) for part in pairs[:2])
    return model.pair_logits(embeddings, left, right).cpu().numpy().astype(np.float64)


def fixed_pair_logits(model, features: dict, pairs: dict, names):
    """The embeddings of both speech matrices, (U, E) each, and the logits of the named pair
    sets."""
    embeddings = {split: embed_all(model, features[split]) for split in ("train", "test")}
    logits = {name: pair_scores(model, embeddings[PAIRS_MATRIX[name]], pairs[name])
              for name in names}
    return embeddings, logits


def pair_report(logits: np.ndarray, same: np.ndarray) -> dict:
    """One set of pairs scored by logit z = w <e_a, e_b> + c (p = sigmoid(z)): accuracy at the
    homework's p >= 0.5 (z >= 0), mean log loss, ROC AUC, EER, minDCF and actDCF at each P_target,
    and Cllr."""
    logits, labels = np.ravel(logits).astype(np.float64), np.ravel(same) > 0.5
    accepted = logits >= 0  # p >= 0.5
    # -log p = log(1 + e^-z) for a target pair, -log(1 - p) = log(1 + e^z) for a non-target
    losses = np.where(labels, np.logaddexp(0.0, -logits), np.logaddexp(0.0, logits))
    costs = {f"act_dcf_{cost_name(p)}": actual_detection_cost(accepted, labels, p)
             for p in P_TARGETS}
    return {
        "accuracy": float(np.mean(accepted == labels)),
        "loss": float(np.mean(losses)),
        **ranking_report(logits, labels),
        "cllr": log_likelihood_ratio_cost(logits, labels),
        **costs,
    }


def model_report(model, features: dict, pairs: dict, names, cohort_rows: np.ndarray):
    """The model's measures on the named pair sets, raw and after AS-norm against the cohort (rows
    of trs); the logits and the AS-norm scores per set; the test embeddings (U, E)."""
    embeddings, logits = fixed_pair_logits(model, features, pairs, names)
    metrics = {f"{REPORTED_PAIRS[name]}_{key}": value for name in names
               for key, value in pair_report(logits[name], pairs[name].same).items()}
    vectors = {split: embeddings[split].cpu().numpy() for split in embeddings}
    cohort = vectors["train"][cohort_rows]
    # AS-norm is reported beside the raw scores; it decides nothing.
    normalised = {name: adaptive_s_norm(vectors[PAIRS_MATRIX[name]], cohort, pairs[name],
                                        COHORT_TOP) for name in names if name != "train"}
    for name in normalised:
        prefix = f"snorm_{REPORTED_PAIRS[name]}_"
        metrics.update(ranking_report(normalised[name], pairs[name].same, prefix))
    return metrics, logits, normalised, vectors["test"]
