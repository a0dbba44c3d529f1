"""Benchmark: common.stft against scipy.signal.stft and torch.stft on the homework's speech matrix.

Input: one (500, 16180) float32 matrix (the shape of trs.pkl), n_fft 1024, hop 512. The three run
side by side in one process, in turns, several times; each time is the median. Like is compared
with like: our "scipy" convention against SciPy, our "librosa" convention against torch.stft
(centred, reflect padding). Targets: at least 3.3x SciPy's speed and no slower than torch.stft.
"""

import argparse
import time

import numpy as np
import scipy.signal
import torch

from common import stft

N_FFT, HOP = 1024, 512  # speaker_verification.py's STFT
SHAPE = (500, 16180)  # trs.pkl's: 50 speakers x 10 utterances of 16,180 samples
SCIPY_TARGET = 3.3  # at least this many times faster than scipy.signal.stft
TORCH_TARGET = 1.0  # no slower than torch.stft


def median_seconds(candidates: dict, repeats: int) -> dict:
    """Median wall time of each candidate, measured round-robin so that a drift in the machine's
    speed (a shared machine) hits every candidate alike."""
    for function in candidates.values():
        function()  # warm-up: allocations, FFT plans
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    signals = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    signals_torch = torch.from_numpy(signals)
    window_torch = torch.hann_window(N_FFT)
    candidates = {
        "ours (librosa convention)": lambda: stft(signals, N_FFT, HOP, convention="librosa"),
        "ours (scipy convention)": lambda: stft(signals, N_FFT, HOP, convention="scipy"),
        "scipy.signal.stft": lambda: scipy.signal.stft(
            signals, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP, boundary="zeros",
            padded=True
        ),
        "torch.stft (center, reflect)": lambda: torch.stft(
            signals_torch, N_FFT, HOP, window=window_torch, center=True, pad_mode="reflect",
            return_complex=True
        ),
    }
    seconds = median_seconds(candidates, args.repeats)
    print(f"input {SHAPE} float32, n_fft {N_FFT}, hop {HOP}; "
          f"torch threads {torch.get_num_threads()}")
    for name, value in seconds.items():
        print(f"{name:30s} {1000 * value:8.1f} ms  (median of {args.repeats})")

    scipy_ratio = seconds["scipy.signal.stft"] / seconds["ours (scipy convention)"]
    torch_ratio = seconds["torch.stft (center, reflect)"] / seconds["ours (librosa convention)"]
    checks = (("scipy.signal.stft", scipy_ratio, SCIPY_TARGET),
              ("torch.stft", torch_ratio, TORCH_TARGET))
    for reference, ratio, target in checks:
        verdict = "met" if ratio >= target else "MISSED"
        print(f"speed-up over {reference:18s} {ratio:5.2f}x (target >= {target}x): {verdict}")


if __name__ == "__main__":
    main()
