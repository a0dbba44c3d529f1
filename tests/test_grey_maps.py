"""sevens/grey_maps.py: the map's fit is a minimum of its objective for every move it tries, and
finds a fold; a known grey-level change per strength, fitted without pairs and replayed on clean
sevens, is complete against itself and not against another."""

import numpy as np
import pytest
import torch

from bench import effects
from sevens import grey_maps
from sevens.critic import DIFFER_Z
from sevens.mnist import load_mnist_sevens
from sevens.replay import baseline_test, confidence, judge

torch.set_num_threads(1)
SEVENS = 1536  # of each set: the judge's critic at a test's cost


@pytest.fixture(scope="module")
def sevens():
    train = load_mnist_sevens()["train"]
    return (train[np.random.default_rng(0).permutation(len(train))] / 255.0).astype(np.float32)


def test_a_fitted_map_is_a_minimum_of_its_objective_for_every_move_it_tries(sevens):
    # The fit works on the normal terms (G, C) and updates its error knot by knot; evaluated
    # directly on the pixels, its objective is the same and no move it tries does better.
    clean_hats = grey_maps.hat_means(sevens[:512])
    folded = np.where(sevens[512:1024] <= 0.6, sevens[512:1024], 1.2 - sevens[512:1024])
    poor_hats = grey_maps.hat_means(folded)
    smooth = grey_maps.SMOOTH * float(np.sum(clean_hats**2)) / grey_maps.TONE_KNOTS
    terms = grey_maps.normal_terms(clean_hats, poor_hats)
    curve, value = grey_maps.map_fit(terms, smooth, grey_maps.KNOTS.copy())

    def objective(maps):  # directly, on every pixel
        return (np.sum((clean_hats @ grey_maps.hats(maps) - poor_hats) ** 2, (-2, -1))
                + smooth * grey_maps.roughness(maps))

    assert value == pytest.approx(float(objective(curve)))
    trials = []
    for k in range(grey_maps.TONE_KNOTS):
        for grey in grey_maps.MOVES:
            trial = curve.copy()
            trial[k] = grey
            trials.append(trial)
        for slope in grey_maps.SLOPES:
            trial = curve.copy()
            trial[k:] = np.clip(curve[k] + slope * (grey_maps.KNOTS[k:] - grey_maps.KNOTS[k]), 0, 1)
            trials.append(trial)
    assert objective(np.array(trials)).min() >= value - 1e-9
    # From both its starts, the fit finds a fold, which no map keeping the order of greys has:
    # full ink ends near 1.2 - 1 = 0.2, lighter than the greys near 0.6, which stay.
    curve = grey_maps.fitted_maps(sevens[:512], [folded])[0]
    near_fold = grey_maps.KNOTS.searchsorted(0.6) - 1  # the knot at 0.5625
    assert curve[-1] == pytest.approx(0.2, abs=0.1)
    assert curve[near_fold] > curve[-1] + 0.2


def maps_replay(poor, readings, clean, fitting):
    """The maps fitted on poor sevens binned by their readings, replayed on clean sevens with the
    bins' strengths, each bin as often as it holds poor sevens (equal shares)."""
    path = grey_maps.grey_maps_path(poor, fitting, readings)
    bins = np.random.default_rng(4).integers(1, grey_maps.MAP_BINS + 1, len(clean))
    return path(clean, bins)


def test_a_grey_level_map_per_strength_replayed_is_complete_against_itself_and_not_another(sevens):
    as_bytes = (sevens * 255).round()
    poor, steepness = effects.effect_sevens("threshold", as_bytes[:SEVENS], 0, 0)
    clean, fitting = sevens[SEVENS : 2 * SEVENS], sevens[2 * SEVENS : 4 * SEVENS]
    baseline = baseline_test(poor, clean, seed=3)
    assert baseline["critic_z"] >= DIFFER_Z  # there is a change to replay
    itself = judge(poor, maps_replay(poor, steepness, clean, fitting), baseline, seed=3)
    assert confidence(itself) == "complete", itself
    # Another change of the family (a gamma, another map per strength), fitted the same way.
    other, exponents = effects.effect_sevens("gamma", as_bytes[:SEVENS], 0, 0)
    another = judge(poor, maps_replay(other, exponents, clean, fitting), baseline, seed=3)
    assert confidence(another) != "complete", another


def test_maps_fitted_without_pairs_undo_the_order_of_greys_a_fold_changes(sevens):
    # Greys above t fold back about t (solarize): the maps keep the fold, whose greys above t
    # come out lighter than t, where a map keeping the order of greys could not.
    poor, folds = effects.effect_sevens("solarize", (sevens[:SEVENS] * 255).round(), 0, 0)
    path = grey_maps.grey_maps_path(poor, sevens[SEVENS : 3 * SEVENS], folds)
    darkest_bin = path(np.ones((1, 28, 28), np.float32), np.array([1.0]))[0, 0, 0]
    lightest_bin = path(np.ones((1, 28, 28), np.float32),
                        np.array([float(grey_maps.MAP_BINS)]))[0, 0, 0]
    # Full ink under a fold at t becomes 2t - 1: about -0.2 (clipped to 0) at t = 0.4, 0.8 at 0.9.
    assert darkest_bin < 0.3 < 0.6 < lightest_bin
