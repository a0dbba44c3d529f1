"""Pieces both homework problems share: `stft` (hand-written: padding, framing, Hann window, real
FFT); the data entry points `load_speech` and `load_images` (read through
`safety.pickles.load_array`, the homework's pickles being untrusted input); named random streams;
device choice; figure helpers; the scripts' options, each declared once as an `Option`
(`parse_options` builds the parser and --quick), and `run_cli`. Run folders and the pickle sandbox
live in safety/.
"""

import argparse
import hashlib
import math
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from safety import interrupts
from safety.errors import DataError, printable
from safety.pickles import load_array

EPS = 1e-12  # the one epsilon of the project: floors of divisions, norms and logs
UTTERANCES_PER_SPEAKER = 10  # the homework's layout: rows ordered by speaker, 10 each
IMAGE_SHAPE = (28, 28)
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TORCH_THREADS = 1  # one thread: the numbers do not depend on the core count


# ---------------------------------------------------------------- options
@dataclass(frozen=True)
class Option:
    """One command-line option, declared once: --name (underscores become dashes), its type,
    default and help.

    `bound` ("in [1, 5]", "in (0, 1]", ">= 0", "> 0") makes it a finite number within those limits,
    `choices` one of a few words; `quick` is its value under --quick. A bool option is a flag
    (default False)."""

    name: str
    kind: type
    default: object
    help: str
    bound: str | None = None
    choices: tuple | None = None
    quick: object = None


# ">= a", "> a", or "in [a, b]" with either bracket open: "in (0, 1]", "in [0, 2**64)".
BOUND_FORMS = re.compile(r"(?P<side>>=|>) (?P<low>\S+)"
                         r"|in (?P<open>[\[(])(?P<from>[^,]+), (?P<to>[^\])]+)(?P<close>[\])])")


def bound_number(text: str):
    """"2**64" -> 2**64 (an int: seeds are compared exactly), "0.5" -> 0.5, "1" -> 1."""
    base, _, power = text.partition("**")
    return int(base) ** int(power) if power else (int(text) if text.isdigit() else float(text))


def within(value, bound: str) -> bool:
    """Whether `value` lies within a bound written as `Option.bound` is: "in [a, b)", ">= a", ..."""
    form = BOUND_FORMS.fullmatch(bound)
    if form is None:
        raise ValueError("a bound is written '>= a', '> a' or 'in [a, b]' (brackets open or "
                         f"closed), not {bound!r}")
    if form["side"]:
        low = bound_number(form["low"])
        return value >= low if form["side"] == ">=" else value > low
    low, high = bound_number(form["from"]), bound_number(form["to"])
    above = value >= low if form["open"] == "[" else value > low
    below = value <= high if form["close"] == "]" else value < high
    return above and below


def bounded(kind, bound: str):
    """An argparse type: a finite `kind` within `bound` (so --lr nan and --seed 2**70 are
    refused)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        # An int of any size is finite.
        finite = not isinstance(value, float) or math.isfinite(value)
        if not (finite and within(value, bound)):
            raise argparse.ArgumentTypeError(f"expected a finite {kind.__name__} {bound}, "
                                             f"got {text!r}")
        return value
    return parse


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are DataErrors: one line and exit status 2, as any bad input."""

    def error(self, message):
        raise DataError(message)


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """--name with its type, bound or choices, and its default (and bound) in its help."""
    flag = "--" + option.name.replace("_", "-")
    if option.kind is bool:
        parser.add_argument(flag, action="store_true", help=option.help)
        return
    shown = f"default {option.default}"
    if option.bound:
        shown = f"{option.bound}, {shown}"
    kind = bounded(option.kind, option.bound) if option.bound else option.kind
    parser.add_argument(flag, type=kind, default=option.default, choices=option.choices,
                        help=f"{option.help} ({shown})")


def parse_options(options, argv, description: str, quick_note: str = "") -> argparse.Namespace:
    """Parse argv with the table of options; a bad value is a DataError. Options with a `quick`
    value give a --quick flag (a smoke test for CI and the tests) that sets them; `quick_note` says
    what else it does."""
    parser = OneLineParser(description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in options:
        add_option(parser, option)
    quick = {option.name: option.quick for option in options if option.quick is not None}
    if quick:
        settings = ", ".join([f"{name.replace('_', '-')} {value}" for name, value in quick.items()]
                             + ([quick_note] if quick_note else []))
        parser.add_argument("--quick", action="store_true",
                            help=f"a smoke test for CI and the tests: {settings}")
    args = parser.parse_args(argv)
    if getattr(args, "quick", False):
        vars(args).update(quick)
    return args


# torch.manual_seed takes 0 .. 2**64 - 1 (numpy's SeedSequence any size).
SEED_BOUND = "in [0, 2**64)"
THREADS_BOUND = "in [0, 256]"  # torch takes a million threads, then crashes


def stop_if_diverged(epoch: int, lr: float, *losses: float) -> None:
    """A training loss that is no longer a finite number ends the run in one line, before anything
    is written."""
    if not all(math.isfinite(loss) for loss in losses):
        shown = ", ".join(f"{loss:.4g}" for loss in losses)
        raise DataError(f"epoch {epoch}: the training loss became {shown}, not a finite number "
                        f"(training diverged); lower --lr (now {lr:g})")


def run_cli(main) -> None:
    """Call `main()`; a DataError becomes `error: <one line>` on stderr and exit status 2, Ctrl-C
    130."""
    # The imports are done: Ctrl-C is Python's KeyboardInterrupt again (safety/interrupts.py).
    if signal.getsignal(signal.SIGINT) is interrupts.exit_quietly:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except DataError as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(interrupts.INTERRUPTED_STATUS)


# ---------------------------------------------------------------- STFT
def hann_window(n: int, dtype=np.float32) -> np.ndarray:
    """Periodic Hann window w[n] = 1/2 - 1/2 cos(2 pi n / N), n < N (scipy's get_window('hann', N),
    torch's)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n, dtype=np.float64) / n)).astype(dtype)


def stft_frame_count(n_samples: int, n_fft: int = 1024, hop: int = 512,
                     convention: str = "librosa") -> int:
    """Number of frames T that `stft` returns for a signal of `n_samples` samples."""
    padded_length = n_samples + 2 * (n_fft // 2)
    if convention == "librosa":
        return 1 + (padded_length - n_fft) // hop
    # Ceil: the last frame is completed with zeros.
    return 1 + max(0, -(-(padded_length - n_fft) // hop))


def stft(x: np.ndarray, n_fft: int = 1024, hop: int = 512,
         convention: str = "librosa") -> np.ndarray:
    """Short-time Fourier transform of a signal (N,) or a batch (B, N) -> (..., n_fft//2 + 1, T),
    complex.

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
        raise ValueError("stft expects a non-empty signal (N,) or batch (B, N), "
                         f"got shape {x.shape}")
    if convention not in ("librosa", "scipy") or n_fft < 1 or hop < 1:
        raise ValueError("expected 'librosa' or 'scipy', n_fft >= 1, hop >= 1; "
                         f"got {convention!r}, {n_fft}, {hop}")
    if convention == "librosa" and n_samples <= half:
        raise ValueError(f"reflect padding needs more than n_fft//2 = {half} samples, "
                         f"got {n_samples}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    n_frames = stft_frame_count(n_samples, n_fft, hop, convention)
    window = hann_window(n_fft, x.dtype)
    before = [(0, 0)] * (x.ndim - 1)  # no padding along the batch axis
    if convention == "librosa":
        padded = np.pad(x, before + [(half, half)], mode="reflect")
    else:
        window /= window.sum()
        padded = np.pad(x, before + [(half, (n_frames - 1) * hop + n_fft - half - n_samples)])
    # (..., T, n_fft), a view
    frames = sliding_window_view(padded, n_fft, axis=-1)[..., : n_frames * hop : hop, :]
    spectrum = scipy.fft.rfft(frames * window, axis=-1, workers=-1)  # (..., T, n_fft//2 + 1)
    return np.swapaxes(spectrum, -1, -2)


# ---------------------------------------------------------------- data entry points
SPEECH_BOUND = 100.0  # float audio lies in about [-1, 1]; beyond 100 the samples are in other units
INT16_FULL_SCALE = 32768.0  # int16 speech is divided by this: PCM -> [-1, 1)
UINT8_WHITE = 255.0  # uint8 images are divided by this: 0..255 -> [0, 1]
MIN_IMAGES = 16  # fewer images cannot both train and evaluate a VAE


def load_speech(path, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Speech matrix (speakers * utterances, samples), rows ordered by speaker, float32:
    float32/float64 samples with |x| <= SPEECH_BOUND (louder is refused, with a hint), or int16 PCM
    divided by 32768."""
    what = f"a (speakers x {utterances_per_speaker}, samples) speech matrix"
    signals = load_array(path, 2, what, integer_scale={"int16": INT16_FULL_SCALE})
    rows, loudest = signals.shape[0], float(np.abs(signals).max())
    if rows % utterances_per_speaker or rows // utterances_per_speaker < 2:
        raise DataError(f"{path}: expected rows = speakers x {utterances_per_speaker} utterances "
                        "with at least 2 "
                        f"speakers, found {rows} rows")
    if loudest > SPEECH_BOUND:
        raise DataError(f"{path}: expected audio samples in about [-1, 1] "
                        f"(|x| <= {SPEECH_BOUND:g}), found |x| up to {loudest:.3g} "
                        f"(int16-scaled samples? divide them by {INT16_FULL_SCALE:g})")
    return signals


def load_images(path) -> np.ndarray:
    """Image stack (N, 28, 28) of grey values in [0, 1], float32, at least MIN_IMAGES, some ink, not
    all identical:
    float32/float64 values outside [0, 1] are refused, uint8 values are divided by 255."""
    images = load_array(path, 3, "an (N, 28, 28) image stack", integer_scale={"uint8": UINT8_WHITE})
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{path}: expected (N, 28, 28) images, found shape {images.shape}")
    if images.min() < 0.0 or images.max() > 1.0:
        raise DataError(f"{path}: expected grey values in [0, 1], "
                        f"found [{images.min():.3g}, {images.max():.3g}]")
    if len(images) < MIN_IMAGES:
        raise DataError(f"{path}: expected at least {MIN_IMAGES} images, found {len(images)}")
    if images.max() == 0.0:
        raise DataError(f"{path}: every pixel of all {len(images)} images is 0 (no ink)")
    if (images == images[0]).all():  # nothing varies: every spread and correlation would be 0 / 0
        raise DataError(f"{path}: all {len(images)} images are identical; "
                        "expected sevens that differ")
    return images


def load_truth(data_dir: Path, n_test: int):
    """(file name, values (n_test,)) of the one te7_truth_<effect>.npy beside te7.pkl, or None: it
    only scores."""
    truth_files = sorted(data_dir.glob("te7_truth_*.npy"))
    if len(truth_files) > 1:
        names = ", ".join(path.name for path in truth_files)
        raise DataError(f"{data_dir}: expected at most one te7_truth_<effect>.npy, found {names}")
    if not truth_files:
        return None
    values = load_array(truth_files[0], 1, "one ground-truth value per image of te7.pkl")
    if len(values) != n_test:
        raise DataError(f"{truth_files[0]}: expected {n_test} values (one per te7 image), "
                        f"found {len(values)}")
    if not np.ptp(values) > 0:  # a rank correlation with a constant is undefined
        raise DataError(f"{truth_files[0]}: expected values that vary, "
                        f"found {values[0]!r} for every image")
    return truth_files[0].name, values


def data_entry(path, array: np.ndarray | None = None) -> dict:
    """{"path", "shape", "sha256"} of an input file for metrics.json["data"][split]; `array`: as
    loaded from it."""
    shape = (load_array(path, None, "an array") if array is None else array).shape
    with open(path, "rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return {"path": str(path), "shape": list(shape), "sha256": digest}


# ---------------------------------------------------------------- random streams, device
def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """np.random.default_rng([seed, stream]): one named random stream per use."""
    return np.random.default_rng([seed, stream])


def torch_generator(seed: int, stream: int, device="cpu"):
    """A torch.Generator on `device` seeded with an integer drawn by
    np.random.SeedSequence([seed, stream])."""
    import torch
    state = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)
    seed_of_stream = int(state[0])
    return torch.Generator(device=device).manual_seed(seed_of_stream)


def use_threads(threads: int) -> None:
    """torch's CPU threads for the run: `threads`, or torch's default (all cores) for 0."""
    import torch
    if threads:
        torch.set_num_threads(threads)


def pick_device(name: str = "auto"):
    """"auto" takes CUDA when there is one, else the CPU."""
    import torch
    if name not in ("auto", "cpu", "cuda"):
        raise DataError(f"--device {name}: expected auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA device is available here "
                        "(use --device auto or cpu)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ---------------------------------------------------------------- figures

def new_figure(*args, **kwargs):
    """plt.subplots on the non-interactive Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def save_figure(figure, path, dpi: int = 150) -> None:
    """Save a matplotlib figure and close it (into a run folder, which is itself swapped in
    whole)."""
    import matplotlib.pyplot as plt
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
