"""Problem 1's pairs: the homework's balanced minibatches (speaker_pairs), the pairs within a subset
of speakers, the validation split and the all-pairs trial list."""

from itertools import combinations

import numpy as np
import pytest

import speaker_verification as sv
from common import stream_rng
from speaker.data import speaker_rows, split_speakers
from speaker.evaluation import all_pairs
from speaker_verification import speaker_pairs


def pair_speakers(left, right):
    return left // 10, right // 10


@pytest.mark.parametrize("pairs_per_speaker", [1, 10, 11, 45, 46, 100])
def test_pairs_are_balanced_minibatches_one_per_speaker(pairs_per_speaker):
    left, right, same = speaker_pairs(np.random.default_rng(0), 7, 10, pairs_per_speaker)
    assert left.shape == right.shape == same.shape == (7, 2 * pairs_per_speaker)
    assert np.all(same[:, :pairs_per_speaker] == 1) and np.all(same[:, pairs_per_speaker:] == 0)
    left_speaker, right_speaker = pair_speakers(left, right)
    assert np.all(left_speaker == np.arange(7)[:, None])  # row s is speaker s's minibatch
    assert np.all((left_speaker == right_speaker) == (same == 1))  # positives share, negatives not
    assert np.all(left != right)  # no utterance paired with itself
    assert left.min() >= 0 and max(left.max(), right.max()) < 70


def test_positives_are_distinct_pairs_while_at_most_45():
    left, right, _ = speaker_pairs(np.random.default_rng(1), 5, 10, 45)
    for speaker in range(5):
        positives = {tuple(sorted(pair))
                     for pair in zip(left[speaker, :45] % 10, right[speaker, :45] % 10)}
        assert positives == set(combinations(range(10), 2))  # all C(10, 2) = 45, each once


def test_beyond_45_positives_repeat_whole_rounds_evenly():
    left, right, _ = speaker_pairs(np.random.default_rng(2), 3, 10, 100)
    for speaker in range(3):
        pairs = [tuple(sorted(pair))
                 for pair in zip(left[speaker, :100] % 10, right[speaker, :100] % 10)]
        counts = np.array([pairs.count(pair) for pair in combinations(range(10), 2)])
        assert counts.sum() == 100 and set(counts) <= {2, 3}  # 2 full rounds of 45, then 10 more


@pytest.mark.parametrize("pairs_per_speaker", [7, 10, 25, 45])
def test_negatives_cycle_through_the_speakers_own_utterances(pairs_per_speaker):
    left, _, _ = speaker_pairs(np.random.default_rng(3), 4, 10, pairs_per_speaker)
    for speaker in range(4):
        uses = np.bincount(left[speaker, pairs_per_speaker:] % 10, minlength=10)
        assert uses.max() - uses.min() <= 1  # with replacement only once L > 10, evenly
        assert uses.sum() == pairs_per_speaker


def test_negatives_reach_every_other_speaker():
    _, right, _ = speaker_pairs(np.random.default_rng(4), 5, 10, 400)
    for speaker in range(5):
        partners = set(right[speaker, 400:] // 10)
        assert partners == set(range(5)) - {speaker}


def test_pairs_are_reproducible_with_a_seed_and_change_with_it():
    first = speaker_pairs(np.random.default_rng(5), 6, 10, 45)
    again = speaker_pairs(np.random.default_rng(5), 6, 10, 45)
    other = speaker_pairs(np.random.default_rng(6), 6, 10, 45)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_pairs_within_a_subset_of_speakers_stay_in_that_subset():
    rows = speaker_rows(np.array([1, 4, 6]))
    left, right, same = sv.pairs_within(rows, np.random.default_rng(0), 45)
    assert set(np.unique(np.concatenate([left.ravel(), right.ravel()]) // 10)) <= {1, 4, 6}
    assert np.all((left // 10 == right // 10) == (same == 1))
    assert np.all(left // 10 == np.array([1, 4, 6])[:, None])


def split_rng(seed):
    """The run's stream for the split, as main() draws it."""
    return stream_rng(seed, sv.SPLIT_STREAM)


def test_validation_speakers_are_disjoint_seeded_and_a_fifth_by_default():
    fitting, validation = split_speakers(50, 0.2, split_rng(0))
    assert len(validation) == 10 and len(fitting) == 40
    assert set(fitting) | set(validation) == set(range(50))
    assert not set(fitting) & set(validation)
    np.testing.assert_array_equal(validation, split_speakers(50, 0.2, split_rng(0))[1])
    assert not np.array_equal(validation, split_speakers(50, 0.2, split_rng(1))[1])
    # never fewer than 2 validation speakers
    assert len(split_speakers(5, 0.2, split_rng(0))[1]) == 2


def test_all_pairs_are_every_unordered_pair_labelled_by_speaker():
    left, right, same = all_pairs(30)
    assert len(left) == 30 * 29 // 2
    assert set(zip(left, right)) == set(combinations(range(30), 2))
    assert same.sum() == 3 * 45  # C(10, 2) same-speaker pairs per speaker
