"""How good is a verifier that scores trials (pairs)? The field's measures: ROC and its area, EER,
accuracy at the best threshold, NIST SRE's detection costs (minDCF, actDCF), Cllr and DET curves;
and AS-norm, the score normalisation whose scores they measure beside the raw ones.

Conventions, the same in every function: `labels` are 1 for a target trial (same speaker), 0
otherwise; a trial is accepted ("same") when its score >= the threshold; tied scores are accepted or
rejected together. tests/test_metrics.py checks each against brute force or its definition.
"""

import numpy as np

from common import EPS

P_TARGETS = (0.01, 0.05)  # NIST SRE's priors of a target trial for the detection cost
# metrics.json's words for the costs, for the report.
DETECTION_COST = ("NIST SRE's normalised DCF, C_miss = C_fa = 1: (P_target P_miss + (1 - P_target) "
                  "P_fa) / min(P_target, 1 - P_target); minDCF at the best threshold, actDCF at "
                  "the decision p >= 0.5")


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """(fpr, tpr, thresholds): "same" when score >= threshold, from (0, 0) to (1, 1), tied scores
    together."""
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_positives = np.cumsum(labels)[last_of_tie]
    false_positives = (last_of_tie + 1) - true_positives
    tpr = np.r_[0.0, true_positives / max(labels.sum(), 1)]
    fpr = np.r_[0.0, false_positives / max((~labels).sum(), 1)]
    return fpr, tpr, np.r_[np.inf, scores[last_of_tie]]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; equals P(score_pos > score_neg) + 1/2 P(tie))."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def equal_error_rate(scores: np.ndarray, labels: np.ndarray):
    """(EER, threshold): where false acceptance fpr = false rejection 1 - tpr, linear between ROC
    points."""
    fpr, tpr, thresholds = roc_curve(scores, labels)
    gap = fpr - (1.0 - tpr)  # rises from -1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0:
        return float(fpr[0]), float(thresholds[0])
    weight = gap[k] / (gap[k] - gap[k - 1]) if gap[k] != gap[k - 1] else 0.0
    return float(fpr[k] - weight * (fpr[k] - fpr[k - 1])), float(thresholds[k])


def _accuracy_at_each_threshold(scores: np.ndarray, labels: np.ndarray):
    """(accuracy, threshold) for every ROC threshold:
    correct = tpr * positives + (1 - fpr) * negatives."""
    fpr, tpr, thresholds = roc_curve(scores, labels)
    labels = np.ravel(labels).astype(bool)
    return (tpr * labels.sum() + (1 - fpr) * (~labels).sum()) / labels.size, thresholds


def best_threshold_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy at the best threshold (an optimistic figure: the threshold sees the labels)."""
    return float(np.max(_accuracy_at_each_threshold(scores, labels)[0]))


def accuracy_maximising_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The most accurate threshold t ("same" when score >= t), midway between two distinct scores
    (no ties)."""
    accuracy, thresholds = _accuracy_at_each_threshold(scores, labels)
    k = int(np.argmax(accuracy))
    if k == 0:  # nothing accepted: any threshold above the top score
        return float(thresholds[1]) + 1.0
    lower = thresholds[k + 1] if k + 1 < len(thresholds) else thresholds[k] - 1.0
    return float((thresholds[k] + lower) / 2)


def detection_cost(miss_rate, false_alarm_rate, p_target: float):
    """NIST SRE's normalised detection cost with C_miss = C_fa = 1:
    C_norm = (P_target P_miss + (1 - P_target) P_fa) / min(P_target, 1 - P_target),
    so 1 is the cost of the better of "accept all" and "reject all"."""
    cost = p_target * np.asarray(miss_rate) + (1 - p_target) * np.asarray(false_alarm_rate)
    return cost / min(p_target, 1 - p_target)


def minimum_detection_cost(scores: np.ndarray, labels: np.ndarray, p_target: float) -> float:
    """minDCF: the lowest normalised cost over every threshold ("same" when score >= t),
    accept-all included."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.min(detection_cost(1 - tpr, fpr, p_target)))


def actual_detection_cost(accepted: np.ndarray, labels: np.ndarray, p_target: float) -> float:
    """actDCF: the normalised cost of the decisions made (here the homework's p >= 0.5, i.e.
    LLR >= 0)."""
    accepted, labels = np.ravel(accepted).astype(bool), np.ravel(labels).astype(bool)
    miss_rate = np.mean(~accepted[labels]) if labels.any() else 0.0
    false_alarm_rate = np.mean(accepted[~labels]) if (~labels).any() else 0.0
    return float(detection_cost(miss_rate, false_alarm_rate, p_target))


def log_likelihood_ratio_cost(llr: np.ndarray, labels: np.ndarray) -> float:
    """Cllr (Brümmer & du Preez, 2006) of scores read as natural-log likelihood ratios, in bits:
    Cllr = 1/2 [mean_target log2(1 + e^-llr) + mean_non-target log2(1 + e^llr)];
    0 is perfect, 1 is an uninformative llr = 0. Our logit of p is that llr: the training pairs are
    balanced."""
    llr, labels = np.ravel(llr).astype(np.float64), np.ravel(labels).astype(bool)
    target_cost = np.mean(np.logaddexp(0.0, -llr[labels]))
    non_target_cost = np.mean(np.logaddexp(0.0, llr[~labels]))
    return float((target_cost + non_target_cost) / (2 * np.log(2)))


def det_curve(scores: np.ndarray, labels: np.ndarray):
    """(false-alarm rate, miss rate) at every threshold: the ROC read as errors, for normal-deviate
    axes."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return fpr, 1 - tpr


def cost_name(p_target: float) -> str:
    """0.01 -> 'p01', 0.05 -> 'p05': metrics.json keys without a dot."""
    return f"p{round(100 * p_target):02d}"


def ranking_report(scores: np.ndarray, same: np.ndarray, prefix: str = "") -> dict:
    """What any score allows, whatever its scale: ROC AUC, EER and minDCF at each P_target."""
    costs = {f"{prefix}min_dcf_{cost_name(p)}": minimum_detection_cost(scores, same, p)
             for p in P_TARGETS}
    eer = equal_error_rate(scores, same)[0]
    return {f"{prefix}auc": roc_auc(scores, same), f"{prefix}eer": eer, **costs}


# ---------------------------------------------------------------- score normalisation
def adaptive_s_norm(embeddings: np.ndarray, cohort: np.ndarray, pairs, top: int) -> np.ndarray:
    """Adaptive symmetric score normalisation (AS-norm; Matejka et al., 2017) of the cosines
    s = <e_a, e_b>:
      s' = 1/2 [(s - mu_a) / sigma_a + (s - mu_b) / sigma_b],
    mu and sigma over each side's top-N cohort cosines (pairs.left, pairs.right: rows of the unit
    embeddings). The logit w s + c normalises to the same s' (w > 0), so s' ranks, it is not a
    probability."""
    embeddings, cohort = np.asarray(embeddings, np.float64), np.asarray(cohort, np.float64)
    cohort_scores = embeddings @ cohort.T  # (U, C); unit vectors: cosines
    highest = np.sort(cohort_scores, axis=1)[:, -min(top, len(cohort)):]  # each utterance's top N
    mean, std = highest.mean(axis=1), np.maximum(highest.std(axis=1), EPS)  # mu, sigma: (U,) each
    scores = np.sum(embeddings[pairs.left] * embeddings[pairs.right], axis=-1)
    left_side = (scores - mean[pairs.left]) / std[pairs.left]
    right_side = (scores - mean[pairs.right]) / std[pairs.right]
    return 0.5 * (left_side + right_side)
