"""How far can a linear map of the statistics go? An oracle for issue 21's EER target.

The model of speaker_verification.py is a learned linear map of the mean and standard deviation over
time of the normalised log-spectrogram. Here that map is fitted by linear discriminant analysis on
the test speakers' own utterances 0-4 (an oracle: it has seen the very speakers it is scored on),
and the EER is measured on all pairs of their utterances 5-9; beside it, the same LDA fitted on the
training speakers, and a trained run's model on the same pairs. If even the oracle stays above a
target EER, no linear map of these statistics meets it. With --more-speakers, the LDA is also
fitted on that many new speakers of make_data's generator (another seed, the training utterances'
length) and scored on all pairs of the test utterances: how the error falls as the training
speakers grow, for a corpus made by that generator (the default data and bench/second_corpus.py's).

LDA: with S_w the within-speaker and S_b the between-speaker covariance of the statistics, the
directions v of S_b v = lambda (S_w + r tr(S_w) / D I) v with the largest lambda (r: a ridge, D: the
dimension); embeddings are the statistics less their mean, projected on them and scaled to unit
length, scored by cosine.

    python -m bench.statistics_ceiling --model results/speaker_verification/model.pt    # seconds
    python -m bench.statistics_ceiling --more-speakers 50 100 200 400           # about 2 minutes
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

import speaker_verification as S
from common import DEFAULT_DATA_DIR, UTTERANCES_PER_SPEAKER
from default_data.speech import speech_corpus
from speaker.data import load_data
from speaker.measures import equal_error_rate

RIDGES = (0.01, 0.1, 1.0)  # r: 1% to 100% of S_w's mean variance added to its diagonal
FITTED = 5  # of each test speaker's utterances, the oracle is fitted on the first FITTED
MORE_SPEAKERS_SEED = 5  # make_data's seed for the new speakers: the default data is 0, the second 1


def statistics(spectra: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(B, 513, T) -> (B, 1026): the model's input statistics, its statistics_pooling of the
    normalised frames."""
    normalised = (spectra - mean[None, :, None]) / std[None, :, None]
    return S.statistics_pooling(torch.as_tensor(normalised)).numpy()


def lda(features: np.ndarray, speakers: np.ndarray, dimension: int, ridge: float):
    """The centre and the `dimension` leading discriminant directions (D, dimension) of features
    (N, D)."""
    centre = features.mean(0)
    within, between = np.zeros((features.shape[1],) * 2), np.zeros((features.shape[1],) * 2)
    for speaker in np.unique(speakers):
        own = features[speakers == speaker]
        within += (own - own.mean(0)).T @ (own - own.mean(0))
        between += len(own) * np.outer(own.mean(0) - centre, own.mean(0) - centre)
    within, between = within / len(features), between / len(features)
    within += ridge * np.trace(within) / len(within) * np.eye(len(within))
    values, vectors = scipy.linalg.eigh(between, within)
    return centre, vectors[:, np.argsort(-values)[:dimension]]


def pair_eer(embeddings: np.ndarray, speakers: np.ndarray) -> float:
    """EER of the cosine over all pairs of rows of embeddings (N, E)."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    left, right = np.triu_indices(len(unit), 1)
    cosines = np.sum(unit[left] * unit[right], 1)
    return float(equal_error_rate(cosines, speakers[left] == speakers[right])[0])


def speakers_of(rows: np.ndarray) -> np.ndarray:
    """The speaker of each row of a speech matrix, rows by speaker."""
    return np.repeat(np.arange(len(rows) // UTTERANCES_PER_SPEAKER), UTTERANCES_PER_SPEAKER)


def more_speakers_eers(features: np.ndarray, counts, test_features: np.ndarray,
                       dimension: int) -> dict:
    """{(count, ridge): EER on all pairs of test_features} of the LDA fitted on the first `count`
    speakers of features (rows by speaker, UTTERANCES_PER_SPEAKER each), min(dimension, count - 1)
    directions."""
    test_speakers = speakers_of(test_features)
    eers = {}
    for count in counts:
        rows = count * UTTERANCES_PER_SPEAKER
        speakers = np.repeat(np.arange(count), UTTERANCES_PER_SPEAKER)
        for ridge in RIDGES:
            centre, directions = lda(features[:rows], speakers, min(dimension, count - 1), ridge)
            eers[count, ridge] = pair_eer((test_features - centre) @ directions, test_speakers)
    return eers


def print_oracle_and_fair_eers(features: dict, fitted: np.ndarray) -> None:
    """Per ridge, the EER on the scored test utterances of the LDA fitted on the test speakers'
    fitted utterances (the oracle) and of the LDA fitted on the training speakers."""
    speakers = {split: speakers_of(rows) for split, rows in features.items()}
    scored, scored_speakers = features["test"][~fitted], speakers["test"][~fitted]
    dimension = len(np.unique(speakers["test"])) - 1
    print(f"EER on all pairs of the test speakers' utterances {FITTED}-"
          f"{UTTERANCES_PER_SPEAKER - 1}")
    for ridge in RIDGES:
        centre, directions = lda(features["test"][fitted], speakers["test"][fitted], dimension,
                                 ridge)
        oracle = pair_eer((scored - centre) @ directions, scored_speakers)
        centre, directions = lda(features["train"], speakers["train"], dimension, ridge)
        fair = pair_eer((scored - centre) @ directions, scored_speakers)
        print(f"ridge {ridge:g}: LDA fitted on the test speakers (oracle) {100 * oracle:.1f}%, "
              f"on the training speakers {100 * fair:.1f}%")


def print_model_eer(path: Path, test_spectra: np.ndarray, fitted: np.ndarray) -> None:
    """The EER of a run's model.pt on the same pairs as the oracle's."""
    saved = torch.load(path, weights_only=True)
    model = S.SiameseVerifier(saved["settings"]["n_bins"], saved["settings"]["embedding_dim"])
    model.load_state_dict(saved["state_dict"])
    with torch.no_grad():
        embeddings = model.embed(torch.as_tensor(test_spectra[~fitted])).numpy()
    print(f"{path}: {100 * pair_eer(embeddings, speakers_of(test_spectra)[~fitted]):.1f}%")


def print_more_speakers_eers(counts, n_samples: int, reference: float, moments,
                             test_features: np.ndarray) -> None:
    """The EERs of the LDA fitted on new speakers of make_data's generator, per count and ridge."""
    counts = sorted(counts)
    new, _ = speech_corpus(counts[-1], UTTERANCES_PER_SPEAKER, n_samples, MORE_SPEAKERS_SEED)
    new_features = statistics(S.spectrograms(new, reference), *moments)
    eers = more_speakers_eers(new_features, counts, test_features, S.EMBEDDING_DIM)
    print(f"EER on all pairs of the test utterances, LDA fitted on new speakers of make_data's "
          f"generator (at most {S.EMBEDDING_DIM} directions), ridge "
          f"{' / '.join(f'{r:g}' for r in RIDGES)}")
    for count in counts:
        print(f"{count} speakers: " + " / ".join(f"{100 * eers[count, r]:.1f}%" for r in RIDGES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--model", type=Path, help="a run's model.pt, scored on the same pairs")
    parser.add_argument("--more-speakers", type=int, nargs="+", metavar="N",
                        help="also fit the LDA on N new speakers of make_data's generator, "
                        "for each N")
    args = parser.parse_args()
    signals, _ = load_data(args.data_dir, shortest=S.N_FFT // 2)
    reference = S.magnitude_reference(signals["train"])
    spectra = {split: S.spectrograms(signals[split], reference) for split in signals}
    moments = S.normalisation_statistics(spectra["train"])  # (mean, std) per bin
    features = {split: statistics(spectra[split], *moments) for split in spectra}
    n_test_speakers = len(features["test"]) // UTTERANCES_PER_SPEAKER
    fitted = np.tile(np.arange(UTTERANCES_PER_SPEAKER) < FITTED, n_test_speakers)
    print_oracle_and_fair_eers(features, fitted)
    if args.model:
        print_model_eer(args.model, spectra["test"], fitted)
    if args.more_speakers:
        print_more_speakers_eers(args.more_speakers, signals["train"].shape[1], reference, moments,
                                 features["test"])


if __name__ == "__main__":
    main()
