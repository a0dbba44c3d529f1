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
import math
import os
import pickle
import random
import shutil
import signal
import stat
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import scipy.fft

EPS = 1e-12  # the one epsilon of the project: floors of divisions, norms and logs
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
        print(f"error: {printable(str(error))}", file=sys.stderr)
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


def _available_cores() -> int:
    """Cores this process may run on (a `taskset` pin counts), not all the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=None)
def _thread_pool(n_threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: starting threads on every call costs more than small FFTs."""
    return ThreadPoolExecutor(n_threads)  # NumPy and scipy.fft release the GIL


class _FramePiece(NamedTuple):
    """Frames first_frame..end_frame-1 of every row; frames_of(first_row, end_row, first, end)
    gives the piece's frames first..end-1 of those rows, (rows, end - first, n_fft)."""

    first_frame: int
    end_frame: int
    frames_of: Callable[[int, int, int, int], np.ndarray]


def _frame_pieces(rows: np.ndarray, n_fft: int, hop: int, n_frames: int, convention: str) -> list:
    """All frames of all rows (B, N) as up to three pieces: head, interior, tail.

    Frame t covers signal samples i = t * hop - n_fft//2 + n, n = 0..n_fft-1. The interior frames
    (every i inside the signal) are a strided view of the input itself: the bulk of the signal is
    never copied or padded. Only the few head and tail frames that reach into the padding are
    gathered, through a precomputed sample index: reflected about the first or last sample for
    librosa (one reflection suffices since N > n_fft//2), zero outside the signal for scipy.
    """
    half = n_fft // 2
    first_inner = min(n_frames, -(-half // hop))  # ceil(half / hop): the first frame with i >= 0
    end_inner = min(n_frames, max(first_inner, (rows.shape[-1] - n_fft + half) // hop + 1))
    pieces = [_FramePiece(0, first_inner, _edge_frames(rows, 0, first_inner, n_fft, hop, convention))]
    if end_inner > first_inner:
        inner_rows = rows[:, first_inner * hop - half :]
        inner = np.lib.stride_tricks.sliding_window_view(inner_rows, n_fft, axis=-1)[:, ::hop]  # (B, >= k, n_fft)

        def inner_frames(first_row: int, end_row: int, first: int, end: int) -> np.ndarray:
            return inner[first_row:end_row, first:end]

        pieces.append(_FramePiece(first_inner, end_inner, inner_frames))
    pieces.append(_FramePiece(end_inner, n_frames, _edge_frames(rows, end_inner, n_frames, n_fft, hop, convention)))
    return [piece for piece in pieces if piece.end_frame > piece.first_frame]


def _edge_frames(rows: np.ndarray, first_frame: int, end_frame: int, n_fft: int, hop: int, convention: str):
    """frames_of for frames that reach into the padding: a gather through a (k, n_fft) sample index."""
    n_samples = rows.shape[-1]
    index = np.arange(first_frame, end_frame)[:, None] * hop - n_fft // 2 + np.arange(n_fft)
    inside = (index >= 0) & (index < n_samples)
    if convention == "librosa":
        index = np.abs(index)
        index = np.where(index >= n_samples, 2 * (n_samples - 1) - index, index)
    else:
        index = np.clip(index, 0, n_samples - 1)  # any sample: `inside` zeroes these below

    def frames_of(first_row: int, end_row: int, first: int, end: int) -> np.ndarray:
        frames = np.take(rows[first_row:end_row], index[first:end], axis=1)
        return frames if convention == "librosa" else np.where(inside[first:end], frames, 0)

    return frames_of


def _tiles(pieces: list, n_rows: int, frames_per_tile: int) -> list:
    """(piece, first_row, end_row, first, end) tiles of at most `frames_per_tile` frames of one
    piece: several whole rows when the piece is short, runs of frames of one row when it is long."""
    tiles = []
    for piece in pieces:
        n_frames = piece.end_frame - piece.first_frame
        if n_frames <= frames_per_tile:
            rows_per_tile = frames_per_tile // n_frames
            tiles += [
                (piece, r, min(r + rows_per_tile, n_rows), 0, n_frames) for r in range(0, n_rows, rows_per_tile)
            ]
        else:
            tiles += [
                (piece, r, r + 1, t, min(t + frames_per_tile, n_frames))
                for r in range(n_rows)
                for t in range(0, n_frames, frames_per_tile)
            ]
    return tiles


def _transform_tiles(next_tile, window: np.ndarray, spectrum: np.ndarray, scratch: np.ndarray) -> None:
    """Until next_tile() gives None: window the tile's frames into `scratch` (a flat buffer that
    stays in cache) and write their FFT into `spectrum` (B, T, F)."""
    while (tile := next_tile()) is not None:
        piece, first_row, end_row, first, end = tile
        shape = (end_row - first_row, end - first, window.size)
        windowed = scratch[: math.prod(shape)].reshape(shape)
        np.multiply(piece.frames_of(first_row, end_row, first, end), window, out=windowed)
        frames = slice(piece.first_frame + first, piece.first_frame + end)
        spectrum[first_row:end_row, frames] = scipy.fft.rfft(windowed, axis=-1, workers=1)


_FRAME_SAMPLES_PER_TILE = 1 << 17  # 512 KB of float32 frames (+ ~0.5 MB of spectrum): fits in L2


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
      last frame is complete, T = 1 + ceil(N / hop) for even n_fft; scale = 1 / sum(w).

    float32 in gives complex64 out (float64 gives complex128). How: frames inside the signal are
    strided views of the input (only the few edge frames are gathered from a padded index); tiles
    of <= 512 KB of frames are windowed into a per-thread scratch buffer that stays in cache and go
    through scipy's real FFT; `workers` threads (-1: the cores this process may use) take tiles
    in turn. Each output value is computed the same way whatever the tiling or thread count.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"stft expects a signal (N,) or a batch (B, N), got shape {x.shape}")
    if convention not in ("librosa", "scipy"):
        raise ValueError(f"unknown STFT convention {convention!r}: use 'librosa' or 'scipy'")
    if n_fft < 1 or hop < 1:
        raise ValueError(f"n_fft and hop must be positive, got n_fft={n_fft}, hop={hop}")
    if x.shape[-1] == 0:
        raise ValueError("stft needs at least one sample per signal, got an empty signal")
    real_dtype = np.float64 if x.dtype == np.float64 else np.float32
    complex_dtype = np.complex128 if real_dtype == np.float64 else np.complex64
    rows = x.reshape(-1, x.shape[-1]).astype(real_dtype, copy=False)  # (B, N)
    n_rows, n_samples = rows.shape
    if convention == "librosa" and n_samples <= n_fft // 2:
        raise ValueError(f"reflect padding needs more than n_fft//2 = {n_fft // 2} samples, got {n_samples}")

    n_frames = stft_frame_count(n_samples, n_fft, hop, convention)
    window = hann_window(n_fft, np.float64)
    if convention == "scipy":
        window = window / window.sum()
    window = window.astype(real_dtype)
    pieces = _frame_pieces(rows, n_fft, hop, n_frames, convention)
    spectrum = np.empty((n_rows, n_frames, n_fft // 2 + 1), dtype=complex_dtype)  # (B, T, F)

    frames_per_tile = max(1, _FRAME_SAMPLES_PER_TILE // n_fft)
    tiles = _tiles(pieces, n_rows, frames_per_tile)
    tiles_of_work = n_rows * n_frames // frames_per_tile  # a thread pays off only with a tile or more to do
    n_threads = max(1, min(tiles_of_work, _available_cores() if workers == -1 else workers))
    # Threads take the next tile as they finish one, so a slower core (shared VM) does fewer.
    tile_iterator, tile_lock = iter(tiles), threading.Lock()

    def next_tile():
        with tile_lock:
            return next(tile_iterator, None)

    def transform() -> None:
        _transform_tiles(next_tile, window, spectrum, np.empty(frames_per_tile * n_fft, dtype=real_dtype))

    if n_threads == 1:
        transform()
    else:
        list(_thread_pool(n_threads).map(lambda _: transform(), range(n_threads)))
    return np.swapaxes(spectrum, -1, -2).reshape(*x.shape[:-1], n_fft // 2 + 1, n_frames)


def log_magnitude(spectrum: np.ndarray) -> np.ndarray:
    """log(1 + |X|): compresses the dynamic range of speech; finite for silence (log 1 = 0)."""
    return np.log1p(np.abs(spectrum))


# ---------------------------------------------------------------- safe loading

# What the loaders accept. A pickle is read by a restricted unpickler that only records what the
# file claims (shape, dtype, layout, bytes); an array is built only after those claims are checked.
MAX_ARRAY_BYTES = 1 << 30  # 1 GiB; the homework's largest file holds 32 MB
ACCEPTED_DTYPES = ("float32", "float64", "int16", "uint8")  # any byte order
SPEECH_BOUND = 100.0  # float audio lies in about [-1, 1]; beyond 100 the samples are in other units
INT16_FULL_SCALE = 32768.0  # int16 speech is divided by this: PCM samples -> [-1, 1)
UINT8_WHITE = 255.0  # uint8 images are divided by this: 0..255 -> [0, 1]
MIN_IMAGES = 16  # fewer images cannot train or evaluate a VAE
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def printable(text: str) -> str:
    """`text` on one line: newlines, escape bytes and other unprintable characters shown escaped."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class _Refused(Exception):
    """A pickle that asks for more than a plain NumPy array."""


class _Claim:
    """An array as a pickle describes it: numpy's state (version, shape, dtype, fortran, bytes)."""

    def __init__(self, state=None):
        self.state = state

    def __setstate__(self, state):
        self.state = state


class _DtypeClaim:
    """A dtype as a pickle describes it: numpy.dtype(code, align, copy) then (version, byte order, ...)."""

    def __init__(self, code, align=False, copy=True):
        if code not in ("f4", "f8", "i2", "u1"):
            raise _Refused(f"dtype {ascii(code)} is not one of the numeric dtypes {', '.join(ACCEPTED_DTYPES)}")
        self.code, self.order = code, "|"

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in "<>|=" and state[2:5] == (None,) * 3):
            raise _Refused(f"dtype {self.code} with structure or byte order {ascii(state)[:80]}")
        self.order = state[1]

    def dtype(self) -> np.dtype:
        return np.dtype(self.code).newbyteorder(self.order if self.order in "<>" else "=")


class _StandIn:
    """What the unpickler hands out for an allowed global: a callable that cannot be modified."""

    __slots__ = ("name", "function")

    def __init__(self, name: str, function):
        self.name, self.function = name, function

    def __call__(self, *args):
        return self.function(*args)

    def __setstate__(self, state):
        raise _Refused(f"the pickle tries to modify {self.name}")


def _refuse_ndarray(*args):
    raise _Refused("numpy.ndarray called directly (a buffer with strides is not a plain array pickle)")


def _reconstruct(cls, shape, typecode):  # numpy's first step; __setstate__ then brings the data
    if cls is not _NDARRAY:
        raise _Refused(f"_reconstruct of {ascii(cls)[:80]}, not of numpy.ndarray")
    return _Claim()


def _frombuffer(buffer, dtype, shape, order, axis_order=None):  # protocol 5, contiguous arrays
    if order not in ("C", "F"):
        raise _Refused(f"array layout {ascii(order)}: save np.ascontiguousarray(x) instead")
    return _Claim((1, shape, dtype, order == "F", buffer))


def _latin1(text, encoding):  # _codecs.encode: how protocol 2 stores bytes (latin-1 text)
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with encoding {ascii(encoding)[:80]} (only latin-1 text)")
    return text.encode("latin1")


_NDARRAY = _StandIn("numpy.ndarray", _refuse_ndarray)
_STAND_INS = {
    **{(module, "_reconstruct"): _StandIn("_reconstruct", _reconstruct) for module in
       ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): _StandIn("_frombuffer", _frombuffer) for module in
       ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _StandIn("numpy.dtype", _DtypeClaim),
    ("_codecs", "encode"): _StandIn("_codecs.encode", _latin1),
}


class _ArrayClaimUnpickler(pickle.Unpickler):
    """Resolves only the globals of a plain NumPy array pickle, each to a stand-in; refuses the rest.

    A pickle can call any importable callable (os.system, eval, ...) while it loads, and even
    numpy's own _reconstruct allocates whatever shape it is told: so nothing real is handed out.
    """

    def find_class(self, module: str, name: str):
        if (module, name) in _STAND_INS:
            return _STAND_INS[(module, name)]
        raise _Refused(f"refused to load global {ascii(f'{module}.{name}')} (only NumPy arrays are allowed)")


def _array_from_claim(shape, dtype, fortran, data) -> np.ndarray:
    """The array a file claims, built only if the claim is a plain numeric array of the right size."""
    if isinstance(dtype, _DtypeClaim):
        dtype = dtype.dtype()
    if not (isinstance(dtype, np.dtype) and dtype.newbyteorder("=").name in ACCEPTED_DTYPES and not dtype.fields):
        raise _Refused(f"dtype {ascii(str(dtype))[:80]} is not one of {', '.join(ACCEPTED_DTYPES)}")
    if not (isinstance(shape, tuple) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)):
        raise _Refused(f"shape {ascii(shape)[:80]} is not a tuple of sizes")
    if fortran not in (True, False):
        raise _Refused(f"layout flag {ascii(fortran)[:80]}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes, above the cap of {MAX_ARRAY_BYTES:,}")
    if not isinstance(data, (bytes, bytearray)) or len(data) != nbytes:
        found = f"{len(data):,} bytes" if isinstance(data, (bytes, bytearray)) else f"a {type(data).__name__}"
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes of data, found {found}")
    flat = np.frombuffer(data, dtype) if nbytes else np.zeros(0, dtype)
    return flat.reshape(shape, order="F" if fortran else "C").astype(dtype.newbyteorder("="), order="C")


def _read_untrusted_array(path: Path) -> np.ndarray:
    """The array in a pickle or .npy file, checked before it is built; DataError otherwise."""
    if not path.exists():
        raise DataError(f"{path}: file not found (run `make data` to write the default data)")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file ({_file_kind(path)})")
    if path.stat().st_size > MAX_ARRAY_BYTES + (1 << 16):
        raise DataError(f"{path}: {path.stat().st_size:,} bytes, above the cap of {MAX_ARRAY_BYTES:,} bytes of data")
    try:
        with open(path, "rb") as stream:
            if path.suffix == ".npy":
                version = np.lib.format.read_magic(stream)
                if version not in ((1, 0), (2, 0)):
                    raise _Refused(f".npy format version {version} (1.0 and 2.0 are read)")
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(stream)
                return _array_from_claim(shape, dtype, fortran, stream.read())
            claim = _ArrayClaimUnpickler(stream, encoding="latin1").load()
    except _Refused as error:
        raise DataError(f"{path}: not a plain pickle of a NumPy array: {error}") from None
    except Exception as error:  # anything a damaged or hostile file can make the unpickler raise
        raise DataError(f"{path}: could not read a pickled array (truncated or not a pickle?): "
                        f"{type(error).__name__}: {str(error)[:200]}") from None
    if not isinstance(claim, _Claim):
        raise DataError(f"{path}: expected a NumPy array, found a {type(claim).__name__.strip('_')}")
    state = claim.state
    if not (isinstance(state, tuple) and len(state) == 5):
        raise DataError(f"{path}: not a plain pickle of a NumPy array: an array without its data")
    try:
        return _array_from_claim(*state[1:])
    except _Refused as error:
        raise DataError(f"{path}: not a plain pickle of a NumPy array: {error}") from None


def load_array(path, ndim: int | None, what: str, integer_scale: dict | None = None) -> np.ndarray:
    """A finite float32 array of `ndim` dimensions (None: any) from a pickle or .npy file.

    Stored dtypes: float32 as is; float64 converted after checking every value is finite and within
    float32's range; integers converted as values, or divided by integer_scale[dtype name] where
    given (a dtype missing from a given integer_scale is refused). Anything else: DataError, one line.
    """
    path = Path(path)
    array = _read_untrusted_array(path)
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions ({what}), found shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{path}: expected {what}, found an empty array of shape {array.shape}")
    if array.dtype.kind in "iu":
        if integer_scale is not None and array.dtype.name not in integer_scale:
            raise DataError(f"{path}: expected {what} as float32 or float64, found {array.dtype.name}")
        return array.astype(np.float32) / np.float32((integer_scale or {}).get(array.dtype.name, 1))
    infinite = int(np.count_nonzero(~np.isfinite(array)))
    if infinite:
        raise DataError(f"{path}: expected finite values, found {infinite} NaN/Inf entries")
    beyond = int(np.count_nonzero(np.abs(array) > _FLOAT32_MAX))
    if beyond:
        raise DataError(f"{path}: found {beyond} values beyond float32's range (largest |x| {np.abs(array).max():.3g})")
    return array.astype(np.float32, copy=False)


def load_speech(path, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Speech matrix (speakers * utterances, samples), rows ordered by speaker; float32.

    Samples: float32/float64 with every |x| <= SPEECH_BOUND (louder is refused, with a hint), or
    int16 PCM divided by 32768. Other integer dtypes are refused.
    """
    what = f"a (speakers x {utterances_per_speaker}, samples) speech matrix"
    signals = load_array(path, 2, what, integer_scale={"int16": INT16_FULL_SCALE})
    rows = signals.shape[0]
    if rows % utterances_per_speaker or rows // utterances_per_speaker < 2:
        raise DataError(
            f"{path}: expected rows = speakers x {utterances_per_speaker} utterances with at least 2 speakers, "
            f"found {rows} rows"
        )
    loudest = float(np.abs(signals).max())
    if loudest > SPEECH_BOUND:
        raise DataError(f"{path}: expected audio samples in about [-1, 1] (|x| <= {SPEECH_BOUND:g}), found |x| up to "
                        f"{loudest:.3g} (int16-scaled samples? divide them by {INT16_FULL_SCALE:g})")
    return signals


def load_images(path) -> np.ndarray:
    """Image stack (N, 28, 28), float32 grey values in [0, 1], at least MIN_IMAGES, not all blank.

    Stored as float32/float64 in [0, 1] (values outside are refused), or uint8 divided by 255.
    """
    images = load_array(path, 3, "an (N, 28, 28) image stack", integer_scale={"uint8": UINT8_WHITE})
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{path}: expected (N, 28, 28) images, found shape {images.shape}")
    if images.min() < 0.0 or images.max() > 1.0:
        raise DataError(f"{path}: expected grey values in [0, 1], found [{images.min():.3g}, {images.max():.3g}]")
    if len(images) < MIN_IMAGES:
        raise DataError(f"{path}: expected at least {MIN_IMAGES} images, found {len(images)}")
    if images.max() == 0.0:
        raise DataError(f"{path}: every pixel of all {len(images)} images is 0 (no ink)")
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


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """np.random.default_rng([seed, stream]): one named random stream per use, independent of the others."""
    return np.random.default_rng([seed, stream])


def torch_generator(seed: int, stream: int, device="cpu"):
    """A torch.Generator on `device` seeded from (seed, stream) through np.random.SeedSequence."""
    import torch

    state = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state))


def seed_everything(seed: int) -> None:
    """Same seed, same numbers (on the same machine and thread count)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# Both scripts train on one torch thread by default. On an idle 2-core CPU a second thread saved a
# fifth (speaker) to a quarter (VAE) of the time, but when another process held a core it made
# epochs 15x (speaker) to 40x (VAE: 120 s instead of 3 s) slower: the threads wait for each other
# at every operation. One thread also makes the numbers independent of the core count.
DEFAULT_TORCH_THREADS = 1


def set_torch_threads(threads: int) -> None:
    """Use `threads` CPU threads for torch; 0 keeps torch's default (all cores)."""
    import torch

    if threads:
        torch.set_num_threads(threads)


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


def check_output_folder(out, option: str = "--out") -> Path:
    """Before any work: DataError (one line) unless `out` can become a run folder. Returns it resolved.

    Refused: an existing non-folder (file, /dev/null, FIFO), an existing non-empty folder that is
    not a run folder (no metrics.json inside: a user's files are never replaced), a path whose
    nearest existing parent is not a writable folder.
    """
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise DataError(f"{option} {out}: exists and is not a folder ({_file_kind(out)})")
    if out.is_dir() and any(out.iterdir()) and not (out / "metrics.json").is_file():
        raise DataError(f"{option} {out}: a non-empty folder that is not a run folder (no metrics.json); choose another")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"{option} {out}: {parent} is not a folder ({_file_kind(parent)})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {out}: the folder {parent} is not writable")
    return out


def _file_kind(path: Path) -> str:
    mode = path.stat().st_mode
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a regular file"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


@contextlib.contextmanager
def _signals_to(handler):
    """SIGINT and SIGTERM call `handler` inside the block (in the main thread: no other may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old_handler in previous.items():
            signal.signal(number, old_handler)


@contextlib.contextmanager
def run_folder(out):
    """Yield a fresh temporary folder beside `out`; it replaces `out` whole when the block succeeds.

    The temporary folder has a hidden name in the same parent. On success an old run folder is
    renamed aside, the new one renamed in, the old one removed; SIGINT/SIGTERM arriving during that
    swap are held until it is done. On any exception, KeyboardInterrupt or SIGTERM (raised as
    KeyboardInterrupt inside the block) the temporary folder is removed and `out` is left as it was.
    """
    out = check_output_folder(out)
    holding, held = True, []  # while holding, a signal is noted and raised once nothing is half-done

    def on_signal(number, frame):
        if not holding:
            raise KeyboardInterrupt
        held.append(number)

    with _signals_to(on_signal):
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            holding = False
            if held:
                raise KeyboardInterrupt
            yield temporary
            holding = True
            _swap_in(temporary, out)
        finally:
            holding = True
            shutil.rmtree(temporary, ignore_errors=True)
    if held:
        raise KeyboardInterrupt


def _swap_in(folder: Path, out: Path) -> None:
    """Rename `folder` onto `out`; an existing `out` is renamed aside first and removed after."""
    os.chmod(folder, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual permissions
    if not out.exists():
        os.rename(folder, out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, aside)  # onto the empty folder just made: the name is ours
    try:
        os.rename(folder, out)
    except BaseException:
        os.rename(aside, out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def data_entry(path, array=None) -> dict:
    """{"path", "shape", "sha256"} of an input file, for metrics.json["data"][split].

    `array`: the array loaded from it (else the file is loaded again for its shape).
    """
    shape = (load_array(path, None, "an array") if array is None else array).shape
    return {"path": str(path), "shape": list(shape), "sha256": sha256_file(path)}


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
