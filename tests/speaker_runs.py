"""What Problem 1's tests train on: clearly separable toy speakers, written as trs.pkl and tes.pkl,
and one --quick run of a tiny corpus shared by every test that only reads a run's outputs.

Not a test module: tests/test_speaker_training.py and tests/test_speaker_cli.py import it (pytest
puts tests/ on the path of the test modules it imports).
"""

import contextlib
import fcntl
import io
import os
import pickle

import numpy as np

import speaker_verification as sv
from common import run_cli

SAMPLE_RATE = 16000  # Hz, as make_data.py's speech: the pitches below are in Hz
# The tiny corpus of the shared run: other lengths and speaker counts than the default data's (50
# speakers of 16,180 samples, 20 of 22,631), and as small as a run allows (2 validation speakers,
# utterances of a few frames), so that a run takes about a second.
TINY = {"n_train": 6, "train_samples": 3000, "n_test": 3, "test_samples": 3500}
QUICK_OPTIONS = ("--quick", "--quiet")  # 2 epochs of 10 pairs per speaker, no progress bars


def separable_speech(rng, n_speakers, n_samples, utterances=10):
    """Clearly separable toy speakers: each hums its own pitch (with two harmonics) in a little
    noise.

    Pitches are spread evenly over two octaves in a random order, so that training, validation and
    test speakers cover the same range.
    """
    time = np.arange(n_samples) / SAMPLE_RATE
    pitches = 100.0 * 4.0 ** ((rng.permutation(n_speakers) + rng.uniform(0, 1)) / n_speakers)
    rows = []
    for pitch in pitches:
        for _ in range(utterances):
            wobble = pitch * rng.uniform(0.99, 1.01)
            voice = sum(np.sin(2 * np.pi * k * wobble * time + rng.uniform(0, 2 * np.pi)) / k
                        for k in (1, 2, 3))
            rows.append(voice + 0.1 * rng.standard_normal(n_samples))
    return np.asarray(rows, dtype=np.float32)


def write_corpus(folder, n_train, train_samples, n_test, test_samples, seed=0):
    """trs.pkl and tes.pkl of separable speakers in `folder`; returns the folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, speakers, samples in (("trs", n_train, train_samples), ("tes", n_test, test_samples)):
        with open(folder / f"{name}.pkl", "wb") as stream:
            pickle.dump(separable_speech(rng, speakers, samples), stream, protocol=4)
    return folder


def skip_figures(*arguments) -> None:
    """Stands in for speaker_verification.write_figures in runs whose test reads only numbers: the
    figures change none (the shared run draws them, and its test checks they are there)."""


def shared_quick_run(tmp_path_factory):
    """(data folder, run folder, what the run printed) of one --quick run of the TINY corpus through
    the command line's entry point (common.run_cli), made once per test session: with
    pytest-xdist, the first worker to get here runs it and the other waits, then reads it.
    Readers must not change it (copy it first)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, shared by its workers
    folder = root / "speaker_quick_run"
    with open(root / "speaker_quick_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / "stdout.txt").is_file():
            data = write_corpus(folder / "data", **TINY)
            argv = [*QUICK_OPTIONS, "--data-dir", str(data), "--out", str(folder / "out")]
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                run_cli(lambda: sv.main(argv))
            (folder / "stdout.txt").write_text(printed.getvalue())
    return folder / "data", folder / "out", (folder / "stdout.txt").read_text()
