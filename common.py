"""Pieces both homework problems share: `stft` (hand-written: padding, framing, Hann window, real FFT);
`load_speech`, `load_images`, `load_array` (homework pickles read as untrusted input); run folders
(`check_output_folder`, `run_folder`); named random streams; device choice; figure helpers; `run_cli`.
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import pickle
import reprlib
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

EPS = 1e-12  # the one epsilon of the project: floors of divisions, norms and logs
UTTERANCES_PER_SPEAKER = 10  # the homework's layout: rows ordered by speaker, 10 each
IMAGE_SHAPE = (28, 28)
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TORCH_THREADS = 1  # one thread: the numbers do not depend on the core count


# ---------------------------------------------------------------- errors
class DataError(Exception):
    """Bad input the user can fix: reported as one line and exit status 2."""


def printable(text: str) -> str:
    """`text` on one line: newlines, escape bytes and other unprintable characters shown escaped."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are DataErrors (one line, exit status 2, as any bad input), with `option`."""

    def error(self, message):
        raise DataError(message)

    def option(self, name: str, kind, text: str, bound: str | None = None, *, defaults: dict) -> None:
        """--name, its default from `defaults`; with a bound, a finite value within BOUNDS[bound]."""
        default = defaults[name.replace("-", "_")]
        self.add_argument(f"--{name}", type=bounded(kind, bound) if bound else kind, default=default,
                          help=f"{text} (default {default})")


BOUNDS = {">= 0": lambda v: v >= 0, ">= 1": lambda v: v >= 1, ">= 2": lambda v: v >= 2, "> 0": lambda v: v > 0,
          "in (0, 1)": lambda v: 0 < v < 1, "in (0, 1]": lambda v: 0 < v <= 1}  # the bounds options may have


def bounded(kind, bound: str):
    """An argparse type: a finite `kind` within BOUNDS[bound] (so --lr nan is refused)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and BOUNDS[bound](value)):
            raise argparse.ArgumentTypeError(f"expected a finite {kind.__name__} {bound}, got {text!r}")
        return value
    return parse


def run_cli(main) -> None:
    """Call `main()`; a DataError becomes `error: <one line>` on stderr and exit status 2, Ctrl-C 130."""
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
    """Periodic Hann window w[n] = 1/2 - 1/2 cos(2 pi n / N), n < N (scipy's get_window('hann', N), torch's)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n, dtype=np.float64) / n)).astype(dtype)


def stft_frame_count(n_samples: int, n_fft: int = 1024, hop: int = 512, convention: str = "librosa") -> int:
    """Number of frames T that `stft` returns for a signal of `n_samples` samples."""
    padded_length = n_samples + 2 * (n_fft // 2)
    if convention == "librosa":
        return 1 + (padded_length - n_fft) // hop
    return 1 + max(0, -(-(padded_length - n_fft) // hop))  # ceil: the last frame is completed with zeros


def stft(x: np.ndarray, n_fft: int = 1024, hop: int = 512, convention: str = "librosa") -> np.ndarray:
    """Short-time Fourier transform of a signal (N,) or a batch (B, N) -> (..., n_fft//2 + 1, T), complex.

    X[f, t] = scale * sum_n w[n] x_pad[t * hop + n] exp(-2 pi i f n / n_fft),  w = periodic Hann.
    Two conventions for x_pad (float32 in gives complex64 out, float64 gives complex128):
    - "librosa" (default; `torch.stft(center=True, pad_mode="reflect")`, `librosa.stft`): n_fft//2
      samples reflected about each end, so frame t is centred on sample t * hop; scale = 1.
    - "scipy" (`scipy.signal.stft(x, window='hann', nperseg=n_fft, noverlap=n_fft - hop,
      boundary='zeros', padded=True)`): n_fft//2 zeros at each end, then zeros until the last
      frame is complete; scale = 1 / sum(w).  T = `stft_frame_count(N, n_fft, hop, convention)`.
    """
    x = np.asarray(x)
    half, n_samples = n_fft // 2, x.shape[-1] if x.ndim else 0
    if x.ndim not in (1, 2) or n_samples == 0:
        raise ValueError(f"stft expects a non-empty signal (N,) or batch (B, N), got shape {x.shape}")
    if convention not in ("librosa", "scipy") or n_fft < 1 or hop < 1:
        raise ValueError(f"expected 'librosa' or 'scipy', n_fft >= 1, hop >= 1; got {convention!r}, {n_fft}, {hop}")
    if convention == "librosa" and n_samples <= half:
        raise ValueError(f"reflect padding needs more than n_fft//2 = {half} samples, got {n_samples}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    n_frames = stft_frame_count(n_samples, n_fft, hop, convention)
    window = hann_window(n_fft, x.dtype)
    before = [(0, 0)] * (x.ndim - 1)  # no padding along the batch axis
    if convention == "librosa":
        padded = np.pad(x, before + [(half, half)], mode="reflect")
    else:
        window /= window.sum()
        padded = np.pad(x, before + [(half, (n_frames - 1) * hop + n_fft - half - n_samples)])
    frames = sliding_window_view(padded, n_fft, axis=-1)[..., : n_frames * hop : hop, :]  # (..., T, n_fft), a view
    spectrum = scipy.fft.rfft(frames * window, axis=-1, workers=-1)  # (..., T, n_fft//2 + 1)
    return np.swapaxes(spectrum, -1, -2)


# ---------------------------------------------------------------- safe loading
# A pickle can call any importable callable while it loads, and numpy's own _reconstruct allocates whatever shape
# it is told. So the unpickler hands out stand-ins that record what the file claims; the array is built after checks.

MAX_ARRAY_BYTES = 1 << 30  # 1 GiB of array data; the homework's largest file holds 32 MB
ACCEPTED_DTYPES = {"f4": "float32", "f8": "float64", "i2": "int16", "u1": "uint8"}  # any byte order
_DTYPE_NAMES = ", ".join(ACCEPTED_DTYPES.values())
SPEECH_BOUND = 100.0  # float audio lies in about [-1, 1]; beyond 100 the samples are in other units
INT16_FULL_SCALE = 32768.0  # int16 speech is divided by this: PCM -> [-1, 1)
UINT8_WHITE = 255.0  # uint8 images are divided by this: 0..255 -> [0, 1]
MIN_IMAGES = 16  # fewer images cannot both train and evaluate a VAE


class _Refused(Exception):
    """A pickle that asks for more than a plain NumPy array."""


_SHORT = reprlib.Repr()  # how values from an untrusted file are shown: cut short, escaped by repr
_SHORT.repr_bytes = _SHORT.repr_bytearray = lambda value, level: repr(value[:20])


def _shown(value) -> str:
    return printable(_SHORT.repr(value))


class _Call:
    """Recorded instead of done: an allowed global `name` (args None) or a call name(*args), then BUILD's state."""

    def __init__(self, name: str, args: tuple | None = None):
        self.name, self.args, self.state = name, args, None

    def __call__(self, *args):
        return _Call(self.name, args)

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return self.name if self.args is None else f"{self.name}(...)"


def _is(value, name: str, *n_args: int) -> bool:
    """`value` is the recorded global `name` (no n_args) or a call of it with one of n_args arguments."""
    if not (isinstance(value, _Call) and value.name == name):
        return False
    return value.args is None if not n_args else value.args is not None and len(value.args) in n_args


_ALLOWED = {("numpy", "ndarray"): "ndarray", ("numpy", "dtype"): "dtype", ("_codecs", "encode"): "encode",
            **{(f"{core}.multiarray", "_reconstruct"): "_reconstruct" for core in ("numpy.core", "numpy._core")},
            **{(f"{core}.numeric", "_frombuffer"): "_frombuffer" for core in ("numpy.core", "numpy._core")}}


class _RecordingUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise _Refused(f"refused to load global {_shown(f'{module}.{name}')} (only NumPy arrays are allowed)")
        return _Call(_ALLOWED[(module, name)])  # a fresh record each time: nothing is shared between loads


def _array_from_calls(call) -> np.ndarray:
    """How NumPy pickles an array: _reconstruct(ndarray, (0,), b'b') then BUILD with (version, shape,
    dtype, fortran, bytes), or (protocol 5) _frombuffer(bytes, dtype, shape, order); the dtype as
    dtype(code, align, copy) then BUILD with (version, byte order, subarray, names, fields, ...);
    protocol 2 stores bytes as _codecs.encode(text, 'latin1')."""
    if _is(call, "_reconstruct", 3) and _is(call.args[0], "ndarray"):
        if not (isinstance(call.state, tuple) and len(call.state) == 5):
            raise _Refused("an array without its data")
        _, shape, dtype, fortran, data = call.state
    elif _is(call, "_frombuffer", 4, 5) and call.args[3] in ("C", "F"):
        data, dtype, shape, fortran = *call.args[:3], call.args[3] == "F"
    else:
        found = f"{call.name}{_shown(call.args or ())}" if isinstance(call, _Call) else f"a {type(call).__name__}"
        raise _Refused(f"expected a plain (C or Fortran ordered: np.ascontiguousarray) NumPy array, found {found}")
    if _is(data, "encode", 2) and isinstance(data.args[0], str) and data.args[1] in ("latin1", "latin-1"):
        data = data.args[0].encode("latin1")
    state = getattr(dtype, "state", None)
    if not (_is(dtype, "dtype", 3) and dtype.args[0] in ACCEPTED_DTYPES and isinstance(state, tuple) and len(state) > 4
            and state[1] in ("<", ">", "|", "=") and state[2:5] == (None,) * 3):
        code = dtype.args[0] if isinstance(dtype, _Call) and dtype.args else dtype
        raise _Refused(f"dtype {_shown(code)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    return _array_from_parts(shape, np.dtype(dtype.args[0]).newbyteorder(state[1]), fortran, data)


def _array_from_parts(shape, dtype: np.dtype, fortran, data) -> np.ndarray:
    """The array a file claims, built only if it is a plain numeric array with exactly its bytes."""
    if dtype.str[1:] not in ACCEPTED_DTYPES or dtype.fields is not None:
        raise _Refused(f"dtype {_shown(dtype.str)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    if not (isinstance(shape, tuple) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)):
        raise _Refused(f"shape {_shown(shape)} is not a tuple of sizes")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes, above the cap of {MAX_ARRAY_BYTES:,}")
    if not isinstance(data, (bytes, bytearray)) or len(data) != nbytes or fortran not in (True, False):
        found = f"{len(data):,} bytes" if isinstance(data, (bytes, bytearray)) else _shown(data)
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes of data, found {found}")
    flat = np.frombuffer(data, dtype) if nbytes else np.zeros(0, dtype)
    return flat.reshape(shape, order="F" if fortran else "C").astype(dtype.newbyteorder("="), order="C")


def _read_array(stream, suffix: str) -> np.ndarray:
    if suffix != ".npy":
        return _array_from_calls(_RecordingUnpickler(stream, encoding="latin1").load())
    np.lib.format.read_magic(stream)  # np.save writes format 1.0 for every plain numeric array
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)  # a literal dict, parsed by NumPy
    return _array_from_parts(shape, dtype, fortran, stream.read())


def load_array(path, ndim: int | None, what: str, integer_scale: dict | None = None) -> np.ndarray:
    """A finite float32 array of `ndim` dimensions (None: any) from a pickle or .npy file, else DataError.

    Stored dtypes (ACCEPTED_DTYPES): float32 as is; float64 once every value is finite and within
    float32's range; int16 and uint8 as values, or divided by integer_scale[dtype name] where one is
    given (a dtype missing from it is then refused)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found (expected {what}; `make data` writes the default data)")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file ({_file_kind(path)}); expected {what}")
    try:
        if path.stat().st_size > MAX_ARRAY_BYTES + (1 << 16):
            raise _Refused(f"{path.stat().st_size:,} bytes, above the cap of {MAX_ARRAY_BYTES:,} bytes of data")
        with open(path, "rb") as stream:
            array = _read_array(stream, path.suffix)
    except _Refused as error:
        raise DataError(f"{path}: not a plain NumPy array: {error}") from None
    except Exception as error:  # whatever a damaged or hostile file makes the unpickler raise
        message = f"{type(error).__name__}: {str(error)[:200]}"
        raise DataError(f"{path}: could not read a pickled array (truncated or not a pickle?): {message}") from None
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions ({what}), found shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{path}: expected {what}, found an empty array of shape {array.shape}")
    if array.dtype.kind in "iu":
        if integer_scale is not None and array.dtype.name not in integer_scale:
            raise DataError(f"{path}: expected {what} as float32 or float64, found {array.dtype.name}")
        return array.astype(np.float32) / np.float32((integer_scale or {}).get(array.dtype.name, 1.0))
    if not np.isfinite(array).all():
        infinite = np.count_nonzero(~np.isfinite(array))
        raise DataError(f"{path}: expected finite values, found {infinite} NaN/Inf entries")
    beyond = np.abs(array) > np.finfo(np.float32).max
    if beyond.any():
        raise DataError(f"{path}: found {np.count_nonzero(beyond)} values beyond float32's range "
                        f"(largest |x| {np.abs(array).max():.3g})")
    return array.astype(np.float32, copy=False)


def load_speech(path, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Speech matrix (speakers * utterances, samples), rows ordered by speaker, float32: float32/float64
    samples with |x| <= SPEECH_BOUND (louder is refused, with a hint), or int16 PCM divided by 32768."""
    what = f"a (speakers x {utterances_per_speaker}, samples) speech matrix"
    signals = load_array(path, 2, what, integer_scale={"int16": INT16_FULL_SCALE})
    rows, loudest = signals.shape[0], float(np.abs(signals).max())
    if rows % utterances_per_speaker or rows // utterances_per_speaker < 2:
        raise DataError(f"{path}: expected rows = speakers x {utterances_per_speaker} utterances with at least 2 "
                        f"speakers, found {rows} rows")
    if loudest > SPEECH_BOUND:
        raise DataError(f"{path}: expected audio samples in about [-1, 1] (|x| <= {SPEECH_BOUND:g}), found |x| up "
                        f"to {loudest:.3g} (int16-scaled samples? divide them by {INT16_FULL_SCALE:g})")
    return signals


def load_images(path) -> np.ndarray:
    """Image stack (N, 28, 28) of grey values in [0, 1], float32, at least MIN_IMAGES, some ink: float32/float64
    values outside [0, 1] are refused, uint8 values are divided by 255."""
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


def data_entry(path, array: np.ndarray | None = None) -> dict:
    """{"path", "shape", "sha256"} of an input file for metrics.json["data"][split]; `array`: as loaded from it."""
    shape = (load_array(path, None, "an array") if array is None else array).shape
    with open(path, "rb") as stream:
        return {"path": str(path), "shape": list(shape), "sha256": hashlib.file_digest(stream, "sha256").hexdigest()}


# ---------------------------------------------------------------- random streams, device
def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """np.random.default_rng([seed, stream]): one named random stream per use."""
    return np.random.default_rng([seed, stream])


def torch_generator(seed: int, stream: int, device="cpu"):
    """A torch.Generator on `device` seeded with an integer drawn by np.random.SeedSequence([seed, stream])."""
    import torch
    seed_of_stream = int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator(device=device).manual_seed(seed_of_stream)


def pick_device(name: str = "auto"):
    """"auto" takes CUDA when there is one, else the CPU."""
    import torch
    if name not in ("auto", "cpu", "cuda"):
        raise DataError(f"--device {name}: expected auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available here (use --device auto or cpu)")
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)


# ---------------------------------------------------------------- run folders, files and figures
_UMASK = os.umask(0)
os.umask(_UMASK)


def _file_kind(path: Path) -> str:
    kinds = {"a folder": path.is_dir(), "a regular file": path.is_file(), "a FIFO": path.is_fifo(),
             "a character device": path.is_char_device(), "a block device": path.is_block_device()}
    return next((name for name, is_kind in kinds.items() if is_kind), "a socket or other special file")


def check_output_folder(out, option: str = "--out") -> Path:
    """`out` resolved if it can become a run folder, else DataError (one line): refused are an existing
    non-folder (file, /dev/null, FIFO), a non-empty folder without metrics.json (a user's files are
    never replaced) and a path whose nearest existing parent is not a writable folder."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise DataError(f"{option} {out}: exists and is not a folder ({_file_kind(out)})")
    if out.is_dir() and any(out.iterdir()) and not (out / "metrics.json").is_file():
        raise DataError(f"{option} {out}: a non-empty folder that is not a run folder (no metrics.json inside)")
    parent = next(folder for folder in out.parents if folder.exists())
    if not parent.is_dir():
        raise DataError(f"{option} {out}: {parent} is not a folder ({_file_kind(parent)})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {out}: the folder {parent} is not writable")
    return out


@contextlib.contextmanager
def run_folder(out):
    """Yield a fresh temporary folder beside `out` (hidden name) that replaces `out` whole when the block ends
    normally (an old run folder is renamed aside, the new one in, the old one removed). On any exception,
    KeyboardInterrupt or SIGTERM the temporary folder is removed and `out` is left as it was."""
    out = check_output_folder(out)
    holding, held = True, []  # while holding, a signal is noted and raised once nothing is half-done

    def on_signal(number, frame):
        if not holding:
            raise KeyboardInterrupt
        held.append(number)

    main_thread = threading.current_thread() is threading.main_thread()  # no other may set handlers
    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM) if main_thread}
    try:
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
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if held:
        raise KeyboardInterrupt


def _swap_in(folder: Path, out: Path) -> None:
    """Rename `folder` onto `out`; an existing `out` is renamed aside first and removed after."""
    os.chmod(folder, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual permissions
    if not out.exists():
        os.rename(folder, out)
        return
    aside = out.with_name(f".{out.name}.{os.getpid()}.old")
    os.rename(out, aside)
    try:
        os.rename(folder, out)
    except BaseException:
        os.rename(aside, out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


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
        temporary.write_text(json.dumps(payload, indent=2) + "\n")


def new_figure(*args, **kwargs):
    """plt.subplots on the non-interactive Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def save_figure(figure, path, dpi: int = 150) -> None:
    """Save a matplotlib figure and close it (into a run folder, which is itself swapped in whole)."""
    import matplotlib.pyplot as plt
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
