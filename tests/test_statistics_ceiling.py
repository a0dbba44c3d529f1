"""bench/statistics_ceiling.py: its LDA and its pair EER against cases whose answer is known."""

import numpy as np

import bench.statistics_ceiling as ceiling
from bench.statistics_ceiling import RIDGES, lda, more_speakers_eers, pair_eer


def test_lda_finds_the_one_axis_on_which_the_speakers_differ():
    rng = np.random.default_rng(0)
    speakers = np.repeat(np.arange(6), 50)
    features = rng.normal(size=(300, 5))
    features[:, 2] += 4.0 * speakers  # the speakers' means differ along axis 2 only
    centre, directions = lda(features, speakers, 1, ridge=0.0)
    np.testing.assert_allclose(centre, features.mean(0))
    leading = directions[:, 0] / np.linalg.norm(directions[:, 0])
    assert abs(leading[2]) > 0.99, leading


def test_lda_directions_solve_the_generalised_eigenproblem():
    rng = np.random.default_rng(1)
    speakers = np.repeat(np.arange(4), 30)
    features = rng.normal(size=(120, 6)) + rng.normal(size=(4, 6))[speakers]
    _, directions = lda(features, speakers, 3, ridge=0.0)
    means = np.stack([features[speakers == s].mean(0) for s in range(4)])
    deviations = [features[speakers == s] - means[s] for s in range(4)]
    within = sum(deviation.T @ deviation for deviation in deviations) / 120
    between = np.cov(means.T, bias=True)  # equal speaker sizes: the covariance of their means
    for v in directions.T:
        ratio = (v @ between @ v) / (v @ within @ v)
        np.testing.assert_allclose(between @ v, ratio * within @ v, rtol=1e-6, atol=1e-9)


def test_pair_eer_is_zero_when_speakers_point_apart_and_a_half_when_all_embeddings_coincide():
    speakers = np.repeat(np.arange(3), 4)
    apart = np.eye(3)[speakers] + 0.01 * np.random.default_rng(2).normal(size=(12, 3))
    assert pair_eer(apart, speakers) == 0.0
    assert pair_eer(np.ones((12, 3)), speakers) == 0.5


def test_more_speakers_eers_fit_the_first_count_speakers_with_at_most_count_minus_1_directions(
        monkeypatch):
    calls = []
    real_lda = ceiling.lda

    def recording_lda(features, speakers, dimension, ridge):
        calls.append((len(features), int(speakers.max()) + 1, dimension, ridge))
        return real_lda(features, speakers, dimension, ridge)

    monkeypatch.setattr(ceiling, "lda", recording_lda)
    rng = np.random.default_rng(3)
    features = rng.normal(size=(80, 6)) + 3 * rng.normal(size=(8, 6))[np.repeat(np.arange(8), 10)]
    eers = more_speakers_eers(features, [2, 8], features[:30], dimension=5)
    expected = [(20, 2, 1, ridge) for ridge in RIDGES] + [(80, 8, 5, ridge) for ridge in RIDGES]
    assert calls == expected
    assert set(eers) == {(count, ridge) for count in (2, 8) for ridge in RIDGES}


def test_more_speakers_eers_are_zero_for_test_speakers_the_fitted_axes_separate():
    rng = np.random.default_rng(4)
    centres = 5 * np.eye(3)
    fitted = centres[np.repeat(np.arange(3), 10)] + 0.01 * rng.normal(size=(30, 3))
    test = centres[np.repeat(np.arange(3), 10)] + 0.01 * rng.normal(size=(30, 3))
    eers = more_speakers_eers(fitted, [3], test, dimension=64)
    assert all(eers[3, ridge] == 0.0 for ridge in RIDGES)
