"""Problem 1's measures of a verifier (speaker/measures.py: ROC, AUC, EER, best-threshold accuracy,
minDCF, actDCF, Cllr, DET, AS-norm), the baseline's cosines and the embeddings' principal
components, each against brute force or its definition."""

import numpy as np
import pytest

import speaker.measures as vm
from speaker.baseline import cosine_baseline_scores
from speaker.figures import principal_components
from speaker.measures import best_threshold_accuracy, equal_error_rate, roc_auc, roc_curve
from speaker_verification import Pairs, spectrograms


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
    swapped = cosine_baseline_scores(spectra, right[:2], left[:2])
    np.testing.assert_allclose(scores[:2], swapped, rtol=1e-6)


# ---------------------------------------------------------------- the detection costs, Cllr, DET
def random_trials(rng, n=60, ties=False):
    same = (rng.uniform(size=n) < 0.3).astype(float)
    same[:2] = [1.0, 0.0]  # both classes present
    scores = rng.normal(2 * same, 1.0)
    return (scores.round(1) if ties else scores), same


def brute_force_costs(scores, same, p_target):
    """The normalised DCF at every threshold t ("same" when score >= t), one threshold at a time."""
    costs = []
    for threshold in np.r_[np.unique(scores), np.inf]:
        miss = np.mean(scores[same == 1] < threshold)
        false_alarm = np.mean(scores[same == 0] >= threshold)
        costs.append((p_target * miss + (1 - p_target) * false_alarm) / min(p_target, 1 - p_target))
    return costs


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("p_target", [0.01, 0.05, 0.5])
def test_minimum_detection_cost_is_the_best_threshold_of_a_loop_over_all(ties, p_target):
    rng = np.random.default_rng(7)
    for _ in range(10):
        scores, same = random_trials(rng, ties=ties)
        expected = min(brute_force_costs(scores, same, p_target))
        cost = vm.minimum_detection_cost(scores, same, p_target)
        assert cost == pytest.approx(expected, abs=1e-12)


def test_minimum_detection_cost_is_0_when_separable_and_at_most_1():
    same = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    assert vm.minimum_detection_cost(np.array([3.0, 2.0, 1.0, 0.0, -1.0]), same, 0.01) == 0.0
    reversed_scores = np.array([0.0, -1.0, 1.0, 2.0, 3.0])
    assert vm.minimum_detection_cost(reversed_scores, same, 0.01) == pytest.approx(1.0)


def test_actual_detection_cost_counts_the_decisions_made():
    rng = np.random.default_rng(8)
    scores, same = random_trials(rng)
    for p_target in (0.01, 0.05):
        misses = sum(1 for s, y in zip(scores, same) if y == 1 and s < 0)
        false_alarms = sum(1 for s, y in zip(scores, same) if y == 0 and s >= 0)
        cost = p_target * misses / same.sum() + (1 - p_target) * false_alarms / (1 - same).sum()
        actual = vm.actual_detection_cost(scores >= 0, same, p_target)
        assert actual == pytest.approx(cost / p_target)


def test_cllr_matches_its_definition_term_by_term():
    rng = np.random.default_rng(9)
    llr, same = random_trials(rng)
    target = [np.log2(1 + np.exp(-s)) for s, y in zip(llr, same) if y == 1]
    non_target = [np.log2(1 + np.exp(s)) for s, y in zip(llr, same) if y == 0]
    expected = (np.mean(target) + np.mean(non_target)) / 2
    assert vm.log_likelihood_ratio_cost(llr, same) == pytest.approx(expected)
    # no information
    assert vm.log_likelihood_ratio_cost(np.zeros(4), np.array([1, 0, 1, 0])) == pytest.approx(1.0)
    # no overflow
    assert np.isfinite(vm.log_likelihood_ratio_cost(np.array([800.0, -800.0]), np.array([0, 1])))


def test_det_curve_is_every_thresholds_false_alarm_and_miss_rate():
    rng = np.random.default_rng(10)
    scores, same = random_trials(rng, ties=True)
    false_alarm, miss = vm.det_curve(scores, same)
    points = {(np.mean(scores[same == 0] >= t), np.mean(scores[same == 1] < t))
              for t in np.r_[np.unique(scores), np.inf]}
    assert {(round(a, 12), round(b, 12)) for a, b in zip(false_alarm, miss)} == \
        {(round(a, 12), round(b, 12)) for a, b in points}
    assert np.all(np.diff(false_alarm) >= 0) and np.all(np.diff(miss) <= 0)


def test_accuracy_maximising_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        same = rng.integers(0, 2, 40).astype(float)
        scores = rng.normal(same, 1.0).round(1)  # ties included
        threshold = vm.accuracy_maximising_threshold(scores, same)
        accuracy = np.mean((scores >= threshold) == (same == 1))
        best = max(np.mean((scores >= t) == (same == 1)) for t in np.r_[scores, np.inf])
        assert accuracy == pytest.approx(best)


# ---------------------------------------------------------------- AS-norm, principal components
def test_adaptive_s_norm_matches_a_loop_over_the_pairs():
    rng = np.random.default_rng(11)
    embeddings = rng.standard_normal((12, 5))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    cohort = rng.standard_normal((30, 5))
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    pairs = Pairs(np.array([0, 1, 2, 3, 11]), np.array([4, 5, 6, 7, 10]), np.ones(5))
    top = 7
    expected = []
    for a, b in zip(pairs.left, pairs.right):
        score = float(np.dot(embeddings[a], embeddings[b]))
        normalised = 0.0
        for side in (a, b):
            highest = sorted(float(np.dot(embeddings[side], c)) for c in cohort)[-top:]
            normalised += (score - np.mean(highest)) / np.std(highest) / 2
        expected.append(normalised)
    np.testing.assert_allclose(vm.adaptive_s_norm(embeddings, cohort, pairs, top), expected,
                               rtol=1e-10)
    # top >= the cohort: plain s-norm over the whole cohort
    whole = vm.adaptive_s_norm(embeddings, cohort, pairs, 1000)
    np.testing.assert_allclose(whole, vm.adaptive_s_norm(embeddings, cohort, pairs, 30), rtol=1e-12)


def test_principal_components_match_the_covariance_eigenvectors():
    scales = np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    points = np.random.default_rng(0).standard_normal((50, 5)) * scales
    coordinates = principal_components(points)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(points, rowvar=False))
    expected = (points - points.mean(axis=0)) @ eigenvectors[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(coordinates), np.abs(expected), atol=1e-9)  # up to sign
