"""Problem 1's baseline: how well do two utterances' long-term spectra tell speakers apart, without
any training?

Score of a pair: the cosine of the utterances' long-term log spectra (the mean over time of their
spectrograms) minus the mean of all of them (what all speech shares). The threshold is the one with
the best accuracy on the validation speakers' pairs; the test speakers choose nothing.
"""

import numpy as np

from common import EPS
from speaker.measures import accuracy_maximising_threshold, best_threshold_accuracy, ranking_report

# How the threshold was chosen, in metrics.json's words: the test speakers choose nothing.
THRESHOLD_CHOICE = "the cosine threshold with the best accuracy on the validation speakers' pairs"


def cosine_baseline_scores(spectra: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair: the cosine of long-term log spectra minus their mean; spectra: (B, 513, T) features
    of the utterances (spectrograms)."""
    spectra = spectra.mean(axis=-1)  # (B, 513): the long-term log spectra
    centred = spectra - spectra.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), EPS)
    return np.sum(unit[left] * unit[right], axis=-1)


def validation_scores(train_spectra: np.ndarray, validation_rows: np.ndarray, validation):
    """The baseline's scores of the validation pairs (rows of trs), centred on the validation
    speakers' own mean."""
    position = np.full(validation_rows.max() + 1, -1)  # rows of trs -> positions in validation_rows
    position[validation_rows] = np.arange(len(validation_rows))
    return cosine_baseline_scores(train_spectra[validation_rows], position[validation.left],
                                  position[validation.right])


def baseline_report(spectra: dict, validation_rows: np.ndarray, pairs: dict):
    """The baseline's measures (metrics.json entries) and its scores of the test pair sets
    {"test", "test_all"}; spectra: {"train", "test"} spectrograms, pairs: the run's fixed pairs."""
    validation = pairs["validation"]
    chosen_on = validation_scores(spectra["train"], validation_rows, validation)
    threshold = accuracy_maximising_threshold(chosen_on, validation.same)
    test, test_all = pairs["test"], pairs["test_all"]
    # One call for both sets: the mean over the test utterances is computed once.
    scores = cosine_baseline_scores(spectra["test"], np.concatenate([test.left, test_all.left]),
                                    np.concatenate([test.right, test_all.right]))
    test_scores, all_scores = scores[: len(test.left)], scores[len(test.left) :]
    return {
        "baseline_test_accuracy": float(np.mean((test_scores >= threshold) == (test.same > 0.5))),
        "baseline_threshold": threshold,
        "baseline_threshold_choice": THRESHOLD_CHOICE,
        "baseline_test_best_threshold_accuracy": best_threshold_accuracy(test_scores, test.same),
        **ranking_report(test_scores, test.same, "baseline_test_"),
        **ranking_report(all_scores, test_all.same, "baseline_all_pairs_"),
        "baseline_validation_accuracy": best_threshold_accuracy(chosen_on, validation.same),
    }, {"test": test_scores, "test_all": all_scores}
