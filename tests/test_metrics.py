"""Verification metrics (ROC, AUC, EER, best-threshold accuracy) against brute-force NumPy."""

import numpy as np
import pytest

from speaker.baseline import cosine_baseline_scores
from speaker_verification import spectrograms
from speaker.measures import best_threshold_accuracy, equal_error_rate, roc_auc, roc_curve


def random_scores(seed, n=300, separation=1.0, ties=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = rng.standard_normal(n) + separation * labels
    if ties:
        scores = np.round(scores, 1)
    return scores, labels


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, True)])
def test_auc_equals_the_probability_a_positive_outscores_a_negative(seed, ties):
    scores, labels = random_scores(seed, ties=ties)
    positive, negative = scores[labels == 1], scores[labels == 0]
    difference = positive[:, None] - negative[None, :]
    mann_whitney = np.mean(difference > 0) + 0.5 * np.mean(difference == 0)
    assert roc_auc(scores, labels) == pytest.approx(mann_whitney, abs=1e-12)


def test_roc_curve_matches_thresholding_by_hand():
    scores, labels = random_scores(3, n=60, ties=True)
    fpr, tpr, thresholds = roc_curve(scores, labels)
    for rate_false, rate_true, threshold in zip(fpr, tpr, thresholds):
        accepted = scores >= threshold
        assert rate_true == pytest.approx(np.mean(accepted[labels == 1]))
        assert rate_false == pytest.approx(np.mean(accepted[labels == 0]))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_accuracy_equals_a_search_over_all_thresholds(seed):
    scores, labels = random_scores(seed, n=200, ties=seed == 2)
    candidates = np.r_[np.unique(scores), np.inf]
    brute_force = max(np.mean((scores >= threshold) == labels) for threshold in candidates)
    assert best_threshold_accuracy(scores, labels) == pytest.approx(brute_force)


def test_eer_on_a_hand_computed_example():
    # Positives 0.9, 0.8, 0.3; negatives 0.7, 0.2, 0.1: at threshold 0.7, fpr = miss = 1/3.
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
    labels = np.array([1, 1, 1, 0, 0, 0])
    eer, _ = equal_error_rate(scores, labels)
    assert eer == pytest.approx(1 / 3)


def test_eer_is_zero_for_separable_and_half_for_identical_scores():
    labels = np.array([1] * 50 + [0] * 50)
    assert equal_error_rate(np.r_[np.ones(50), np.zeros(50)], labels)[0] == pytest.approx(0.0)
    assert equal_error_rate(np.ones(100), labels)[0] == pytest.approx(0.5)


def test_eer_of_two_gaussians_matches_the_normal_quantile():
    """Scores N(+d/2, 1) vs N(-d/2, 1): EER = Phi(-d/2). For d = 2, Phi(-1) = 0.158655."""
    rng = np.random.default_rng(0)
    n = 200_000
    scores = np.r_[rng.standard_normal(n) + 1, rng.standard_normal(n) - 1]
    labels = np.r_[np.ones(n), np.zeros(n)]
    assert equal_error_rate(scores, labels)[0] == pytest.approx(0.158655, abs=3e-3)


def test_cosine_baseline_scores_are_cosines_in_minus_one_one_and_symmetric():
    signals = np.random.default_rng(0).standard_normal((6, 4000)).astype(np.float32)
    left, right = np.array([0, 1, 2]), np.array([3, 4, 2])
    spectra = spectrograms(signals, 1.0)
    scores = cosine_baseline_scores(spectra, left, right)
    assert np.all(np.abs(scores) <= 1 + 1e-6)
    assert scores[2] == pytest.approx(1.0, abs=1e-6)  # an utterance with itself
    np.testing.assert_allclose(scores[:2], cosine_baseline_scores(spectra, right[:2], left[:2]), rtol=1e-6)
