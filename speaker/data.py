"""Problem 1's data: which speech matrices does a run read, and which training speakers validate?

trs.pkl and tes.pkl each hold one (speakers x 10 utterances, samples) matrix, rows by speaker
(common.load_speech checks what a pickle claims before it builds the array). A run holds out a share
of the training speakers (--validation-fraction) to choose the number of epochs; the others train.
"""

from pathlib import Path

import numpy as np

from common import UTTERANCES_PER_SPEAKER, data_entry, load_speech
from safety.errors import DataError

SPLIT_FILES = {"train": "trs.pkl", "test": "tes.pkl"}  # the homework's file names
MIN_SPEAKERS = 2  # negative pairs need another speaker, among the fitting and the validation ones


def load_data(data_dir: Path, shortest: int):
    """The speech matrices {"train": (500, N), "test": (200, N')} and their metrics.json entries;
    DataError unless every utterance is longer than `shortest` samples."""
    signals, entries = {}, {}
    for split, name in SPLIT_FILES.items():
        path = Path(data_dir) / name
        signals[split] = load_speech(path)
        if signals[split].shape[1] <= shortest:
            raise DataError(f"{path}: expected utterances longer than {shortest} samples "
                            f"(n_fft/2), found {signals[split].shape[1]}")
        entries[split] = data_entry(path, signals[split])
    return signals, entries


def speaker_rows(speakers: np.ndarray, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER):
    """Row indices of the given speakers' utterances, speaker by speaker: (len(speakers) * u,)."""
    first_rows = np.asarray(speakers)[:, None] * utterances_per_speaker
    return (first_rows + np.arange(utterances_per_speaker)).ravel()


def split_speakers(n_speakers: int, validation_fraction: float, rng: np.random.Generator,
                   source: str = "trs.pkl"):
    """(fitting speakers, validation speakers), both sorted: round(fraction * n) held out, at
    least 2, drawn by rng."""
    n_validation = max(MIN_SPEAKERS, round(validation_fraction * n_speakers))
    if n_speakers - n_validation < MIN_SPEAKERS:
        raise DataError(f"{source}: expected at least {n_validation + MIN_SPEAKERS} training "
                        f"speakers ({n_validation} held out for validation, {MIN_SPEAKERS} to "
                        f"train), found {n_speakers}")
    permutation = rng.permutation(n_speakers)
    return np.sort(permutation[n_validation:]), np.sort(permutation[:n_validation])
