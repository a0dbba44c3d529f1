"""bench/statistics_ceiling.py: its LDA and its pair EER against cases whose answer is known."""

import numpy as np

from bench.statistics_ceiling import lda, pair_eer


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
    within = sum((features[speakers == s] - means[s]).T @ (features[speakers == s] - means[s]) for s in range(4)) / 120
    between = np.cov(means.T, bias=True)  # equal speaker sizes: the covariance of their means
    for v in directions.T:
        ratio = (v @ between @ v) / (v @ within @ v)
        np.testing.assert_allclose(between @ v, ratio * within @ v, rtol=1e-6, atol=1e-9)


def test_pair_eer_is_zero_when_speakers_point_apart_and_a_half_when_all_embeddings_coincide():
    speakers = np.repeat(np.arange(3), 4)
    apart = np.eye(3)[speakers] + 0.01 * np.random.default_rng(2).normal(size=(12, 3))
    assert pair_eer(apart, speakers) == 0.0
    assert pair_eer(np.ones((12, 3)), speakers) == 0.5
