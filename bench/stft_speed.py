"""Benchmark: our batched STFT against scipy.signal.stft and torch.stft on the homework's matrix.

Input: a (500, 16180) float32 matrix (the shape of trs.pkl), n_fft 1024, hop 512. Each
implementation runs side by side in one process, in turns, several times; we report the median.
Targets (issue 2): ours <= 1/4 of SciPy's time and <= 1/2 of torch.stft's.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: common.py is one level up
from common import stft  # noqa: E402

N_FFT, HOP = 1024, 512


def median_seconds(candidates: dict, repeats: int) -> dict:
    """Median wall time of each candidate, measured round-robin so that a drift in the machine's
    speed (this is a shared virtual machine) hits every candidate alike."""
    for function in candidates.values():
        function()  # warm-up: allocations, thread pools, FFT plans
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    signals = np.random.default_rng(0).standard_normal((500, 16180)).astype(np.float32)
    signals_torch = torch.from_numpy(signals)
    window_torch = torch.hann_window(N_FFT)
    candidates = {
        "ours (librosa convention)": lambda: stft(signals, N_FFT, HOP, convention="librosa"),
        "ours (scipy convention)": lambda: stft(signals, N_FFT, HOP, convention="scipy"),
        "scipy.signal.stft": lambda: scipy.signal.stft(
            signals, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP, boundary="zeros", padded=True
        ),
        "torch.stft (center, reflect)": lambda: torch.stft(
            signals_torch, N_FFT, HOP, window=window_torch, center=True, pad_mode="reflect", return_complex=True
        ),
    }
    seconds = median_seconds(candidates, args.repeats)
    for name, value in seconds.items():
        print(f"{name:30s} {1000 * value:8.1f} ms  (median of {args.repeats})")

    # Compare like with like: the scipy convention against SciPy, the centred one against torch.
    scipy_ratio = seconds["scipy.signal.stft"] / seconds["ours (scipy convention)"]
    torch_ratio = seconds["torch.stft (center, reflect)"] / seconds["ours (librosa convention)"]
    print(f"speed-up over scipy.signal.stft: {scipy_ratio:.2f}x (target >= 4)")
    print(f"speed-up over torch.stft:        {torch_ratio:.2f}x (target >= 2)")
    print(f"torch threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
