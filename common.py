"""Pieces both homework problems share.

- `stft`: a hand-written short-time Fourier transform (NumPy framing + a real FFT).
- `load_speech`, `load_images`: homework pickles loaded as untrusted input.
- `speaker_pairs`, `cosine_baseline_scores` and the verification metrics (ROC, AUC, EER).
- Seeding, device choice, atomic output files, figure helpers, the CLI error convention.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import random
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.fft

UTTERANCES_PER_SPEAKER = 10  # the homework's layout: rows ordered by speaker, 10 each
IMAGE_SHAPE = (28, 28)
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"


# ---------------------------------------------------------------- errors


class DataError(Exception):
    """Bad input the user can fix: reported as one line and exit status 2."""


def run_cli(main) -> None:
    """Call `main()`; turn a DataError into one line on stderr and exit status 2."""
    try:
        main()
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


# ---------------------------------------------------------------- STFT


def hann_window(n: int, dtype=np.float32) -> np.ndarray:
    """Periodic Hann window w[n] = 1/2 - 1/2 cos(2 pi n / N), n = 0..N-1.

    Periodic (not symmetric) because consecutive frames at hop N/2 then sum to exactly 1,
    and it is the window `scipy.signal.get_window('hann', N)` and `torch.hann_window(N)` use.
    """
    n_index = np.arange(n, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n_index / n)).astype(dtype)


def stft_frame_count(n_samples: int, n_fft: int = 1024, hop: int = 512, convention: str = "librosa") -> int:
    """Number of frames T that `stft` returns for a signal of `n_samples` samples."""
    half = n_fft // 2
    if convention == "librosa":
        return 1 + (n_samples + 2 * half - n_fft) // hop
    padded_length = n_samples + 2 * half
    if padded_length < n_fft:
        return 1
    return 1 + -(-(padded_length - n_fft) // hop)  # ceil: the last partial frame is zero-padded


@functools.lru_cache(maxsize=None)
def _thread_pool(n_threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: starting threads on every call costs more than small FFTs."""
    return ThreadPoolExecutor(n_threads)  # NumPy and scipy.fft release the GIL


def stft(x: np.ndarray, n_fft: int = 1024, hop: int = 512, convention: str = "librosa", workers: int = -1) -> np.ndarray:
    """Short-time Fourier transform of a signal (N,) or a batch (B, N) -> (..., n_fft//2 + 1, T), complex.

    X[f, t] = scale * sum_n w[n] x_pad[t * hop + n] exp(-2 pi i f n / n_fft),  w = periodic Hann.

    Two conventions, both with frame t starting at sample t * hop of the padded signal:
    - "librosa" (default; what `librosa.stft(pad_mode="reflect")` and
      `torch.stft(center=True, pad_mode="reflect")` do, and what students used): n_fft//2 samples of
      reflect padding on each side, so frame t is centred on sample t * hop; no trailing padding,
      T = 1 + N // hop for even n_fft; scale = 1.
    - "scipy": reproduces `scipy.signal.stft(x, window='hann', nperseg=n_fft, noverlap=n_fft-hop,
      boundary='zeros', padded=True)`: n_fft//2 zeros on each side, then zeros at the end so the
      last frame is complete, T = 1 + ceil(N // hop); scale = 1 / sum(w).

    float32 in gives complex64 out (float64 gives complex128). Rows are processed in small chunks
    on `workers` threads (-1: all cores): per chunk the frames are a strided view of the padded
    rows (no copy) and the windowed frames stay in cache for the FFT.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"stft expects a signal (N,) or a batch (B, N), got shape {x.shape}")
    if convention not in ("librosa", "scipy"):
        raise ValueError(f"unknown STFT convention {convention!r}: use 'librosa' or 'scipy'")
    real_dtype = np.float64 if x.dtype == np.float64 else np.float32
    complex_dtype = np.complex128 if real_dtype == np.float64 else np.complex64
    batch = x.reshape(-1, x.shape[-1])
    n_rows, n_samples = batch.shape
    half = n_fft // 2
    if convention == "librosa" and n_samples <= half:
        raise ValueError(f"reflect padding needs more than n_fft//2 = {half} samples, got {n_samples}")

    n_frames = stft_frame_count(n_samples, n_fft, hop, convention)
    padded_length = max((n_frames - 1) * hop + n_fft, n_samples + 2 * half)
    window = hann_window(n_fft, np.float64)
    if convention == "scipy":
        window = window / window.sum()
    window = window.astype(real_dtype)
    spectrum = np.empty((n_rows, n_frames, n_fft // 2 + 1), dtype=complex_dtype)  # (B, T, F)

    def transform_rows(first: int, last: int) -> None:
        rows = batch[first:last].astype(real_dtype, copy=False)
        padded = np.zeros((last - first, padded_length), dtype=real_dtype)
        padded[:, half : half + n_samples] = rows
        if convention == "librosa":  # reflect about the first and last samples (not repeating them)
            padded[:, :half] = rows[:, half:0:-1]
            padded[:, half + n_samples :] = rows[:, -2 : -half - 2 : -1]
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]  # view
        windowed = frames * window  # (rows, T, n_fft)
        spectrum[first:last] = scipy.fft.rfft(windowed, axis=-1, workers=1, overwrite_x=True)

    rows_per_chunk = max(1, (1 << 17) // (n_frames * n_fft))  # about 512 KB of float32 frames
    chunks = [(first, min(first + rows_per_chunk, n_rows)) for first in range(0, n_rows, rows_per_chunk)]
    n_threads = min(len(chunks), (os.cpu_count() or 1) if workers == -1 else max(1, workers))
    if n_threads == 1:
        for first, last in chunks:
            transform_rows(first, last)
    else:
        list(_thread_pool(n_threads).map(lambda chunk: transform_rows(*chunk), chunks))
    return np.swapaxes(spectrum, -1, -2).reshape(*x.shape[:-1], n_fft // 2 + 1, n_frames)


def log_magnitude(spectrum: np.ndarray) -> np.ndarray:
    """log(1 + |X|): compresses the dynamic range of speech; finite for silence (log 1 = 0)."""
    return np.log1p(np.abs(spectrum))


# ---------------------------------------------------------------- safe loading


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only the globals a pickled NumPy array needs; anything else is refused by name.

    A pickle can call any importable callable (os.system, eval, ...) while it loads, so an
    allow-list is the only safe way to read an untrusted one.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles store bytes (latin-1 text)
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise _RefusedGlobal(f"refused to load global '{module}.{name}' (only NumPy arrays are allowed)")


def _read_untrusted_array(path: Path) -> object:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with open(path, "rb") as stream:
        return _NumpyOnlyUnpickler(stream, encoding="latin1").load()


def load_array(path, ndim: int, what: str) -> np.ndarray:
    """Load a numeric array of `ndim` dimensions from a pickle or .npy file; float32, finite.

    Raises DataError with one line naming the file, what was expected and what was found.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {what}; run `make data` to write the default data)")
    try:
        array = _read_untrusted_array(path)
    except _RefusedGlobal as error:
        raise DataError(f"{path}: not a safe pickle of a NumPy array: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError, MemoryError) as error:
        raise DataError(f"{path}: could not read a pickled array (truncated or not a pickle?): {error}") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: expected a NumPy array ({what}), found a {type(array).__name__}")
    if array.dtype.kind not in "fiub":
        raise DataError(f"{path}: expected a numeric array ({what}), found dtype {array.dtype}")
    if array.ndim != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions ({what}), found shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{path}: expected {what}, found an empty array of shape {array.shape}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise DataError(f"{path}: expected finite values, found {bad} NaN/Inf entries")
    return array


def load_speech(path, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Speech matrix (speakers * utterances, samples), rows ordered by speaker."""
    signals = load_array(path, 2, f"a (speakers x {utterances_per_speaker}, samples) speech matrix")
    rows = signals.shape[0]
    if rows % utterances_per_speaker or rows // utterances_per_speaker < 2:
        raise DataError(
            f"{path}: expected rows = speakers x {utterances_per_speaker} utterances with at least 2 speakers, "
            f"found {rows} rows"
        )
    return signals


def load_images(path) -> np.ndarray:
    """Image stack (N, 28, 28), float32."""
    images = load_array(path, 3, "an (N, 28, 28) image stack")
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{path}: expected (N, 28, 28) images, found shape {images.shape}")
    return images


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- speaker pairs and metrics


def speaker_pairs(rng: np.random.Generator, n_speakers: int, utterances_per_speaker: int, pairs_per_speaker: int):
    """The homework's balanced pairs: for each speaker s, L positive and L negative pairs.

    Positives: L of the C(u, 2) pairs of s's utterances, without replacement while L <= C(u, 2)
    (beyond that, whole shuffled rounds of all pairs, then a partial one).
    Negatives: s's utterances in shuffled order (cycled once L > u), each with a random utterance
    of a random other speaker.
    Returns (left, right, same) of shape (n_speakers, 2L): global row indices and 1/0 labels;
    row s is speaker s's minibatch.
    """
    u, L = utterances_per_speaker, pairs_per_speaker
    within = np.array([(i, j) for i in range(u) for j in range(i + 1, u)])  # (C(u,2), 2)
    left = np.empty((n_speakers, 2 * L), dtype=np.int64)
    right = np.empty_like(left)
    for speaker in range(n_speakers):
        first_row = speaker * u
        rounds = [rng.permutation(len(within)) for _ in range(-(-L // len(within)))]
        chosen = within[np.concatenate(rounds)[:L]]
        left[speaker, :L] = first_row + chosen[:, 0]
        right[speaker, :L] = first_row + chosen[:, 1]

        own = np.concatenate([rng.permutation(u) for _ in range(-(-L // u))])[:L]
        others = rng.integers(0, n_speakers - 1, size=L)
        others += others >= speaker  # skip s itself: uniform over the other speakers
        left[speaker, L:] = first_row + own
        right[speaker, L:] = others * u + rng.integers(0, u, size=L)
    same = np.zeros((n_speakers, 2 * L), dtype=np.float32)
    same[:, :L] = 1.0
    return left, right, same


def mean_log_spectra(signals: np.ndarray, n_fft: int = 1024, hop: int = 512) -> np.ndarray:
    """Mean over time of log(1 + |STFT|): one (n_fft//2 + 1,) long-term spectrum per utterance."""
    return log_magnitude(stft(signals, n_fft, hop)).mean(axis=-1)


def cosine_baseline_scores(signals: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """No-training baseline: cosine similarity of mean-centred long-term log spectra.

    Centring removes what all utterances share (the average speech spectrum), so the cosine
    compares how each utterance departs from it.
    """
    spectra = mean_log_spectra(signals)
    centred = spectra - spectra.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return np.sum(unit[left] * unit[right], axis=-1)


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """False- and true-positive rates for every threshold (score >= threshold means "same").

    Returns (fpr, tpr, thresholds), starting at (0, 0) and ending at (1, 1); tied scores move
    together.
    """
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_positives = np.cumsum(labels)[last_of_tie]
    false_positives = (last_of_tie + 1) - true_positives
    tpr = np.r_[0.0, true_positives / max(labels.sum(), 1)]
    fpr = np.r_[0.0, false_positives / max((~labels).sum(), 1)]
    thresholds = np.r_[np.inf, scores[last_of_tie]]
    return fpr, tpr, thresholds


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; equals P(score_pos > score_neg) + 1/2 P(tie))."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def equal_error_rate(scores: np.ndarray, labels: np.ndarray):
    """EER: the error rate where false acceptance (fpr) equals false rejection (1 - tpr).

    Linear interpolation between the two ROC points that bracket fpr = 1 - tpr.
    Returns (eer, threshold at the bracketing point).
    """
    fpr, tpr, thresholds = roc_curve(scores, labels)
    miss = 1.0 - tpr
    gap = fpr - miss  # rises from -1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0:
        return float(fpr[0]), float(thresholds[0])
    weight = gap[k] / (gap[k] - gap[k - 1]) if gap[k] != gap[k - 1] else 0.0
    eer = fpr[k] - weight * (fpr[k] - fpr[k - 1])
    return float(eer), float(thresholds[k])


def _accuracy_at_each_threshold(scores: np.ndarray, labels: np.ndarray):
    """(accuracy, threshold) for every ROC threshold: correct = tpr * positives + (1 - fpr) * negatives."""
    fpr, tpr, thresholds = roc_curve(scores, labels)
    labels = np.ravel(labels).astype(bool)
    correct = tpr * labels.sum() + (1 - fpr) * (~labels).sum()
    return correct / labels.size, thresholds


def best_threshold_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy at the best threshold (an optimistic figure: the threshold sees the labels)."""
    accuracy, _ = _accuracy_at_each_threshold(scores, labels)
    return float(np.max(accuracy))


def accuracy_maximising_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold t (predict "same" when score >= t) with the highest accuracy on these pairs.

    Among the ROC's thresholds (the distinct scores), midway to the next lower score so that a
    new set of scores is not decided by exact ties.
    """
    accuracy, thresholds = _accuracy_at_each_threshold(scores, labels)
    k = int(np.argmax(accuracy))
    if k == 0:  # nothing accepted: any threshold above the top score
        return float(thresholds[1]) + 1.0
    lower = thresholds[k + 1] if k + 1 < len(thresholds) else thresholds[k] - 1.0
    return float((thresholds[k] + lower) / 2)


# ---------------------------------------------------------------- reproducibility, device


def seed_everything(seed: int) -> None:
    """Same seed, same numbers (on the same machine and thread count)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str = "auto"):
    """"auto" takes CUDA when there is one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available here (use --device auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise DataError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


# ---------------------------------------------------------------- atomic outputs and figures


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_json(path, payload: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def write_pickle(path, array: np.ndarray) -> None:
    """Pickle a plain ndarray (the homework's format), atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        pickle.dump(np.ascontiguousarray(array), stream, protocol=4)


def write_npy(path, array: np.ndarray) -> None:
    with atomic_path(path) as temporary:
        np.save(temporary, array, allow_pickle=False)


def save_figure(figure, path, dpi: int = 150) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip("."))
    plt.close(figure)


def new_figure(*args, **kwargs):
    """plt.subplots on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_torch(path, state) -> None:
    import torch

    with atomic_path(path) as temporary:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        temporary.write_bytes(buffer.getvalue())
