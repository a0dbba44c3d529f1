"""Problem 1's command line: bad input and bad options end with one line and status 2 before any
work, --out is refused where it would destroy something, and an interrupted run (Ctrl-C, or an
interrupt while the run folder is written) leaves what was there as it was.

A subprocess runs the script only where the test is about the process (its status and stderr from
start to end); elsewhere common.run_cli calls main() in this process, as the command line does.
"""

import functools
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import speaker_verification as sv
from common import run_cli
from speaker_runs import separable_speech, shared_quick_run, write_corpus

REPO = Path(__file__).resolve().parents[1]  # the script runs from the checkout, as a user runs it


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return shared_quick_run(tmp_path_factory)


def run_script(*args):
    command = [sys.executable, str(REPO / "speaker_verification.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO)


def run_in_process(capsys, *args):
    """The script's entry point as the command line calls it: status and stderr lines."""
    with pytest.raises(SystemExit) as stopped:
        run_cli(lambda: sv.main(list(args)))
    return stopped.value.code, capsys.readouterr().err.strip().splitlines()


def bad_input_cases(tmp_path):
    good = separable_speech(np.random.default_rng(0), 6, 3000)
    huge = np.where(good > 0, 3e38, -3e38).astype(np.float32)
    cases = {
        "missing": (None, "file not found"),
        "three_dimensional": (good.reshape(60, 30, 100), "expected 2 dimensions"),
        "not_ten_per_speaker": (good[:55], "expected rows = speakers x 10"),
        "too_short": (good[:, :400], "longer than 512 samples"),
        "too_few_speakers": (good[:30], "training speakers"),
        "huge_but_finite": (huge, "found |x| up to 3e+38"),
    }
    for name, (trs, _) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        with open(folder / "tes.pkl", "wb") as stream:
            pickle.dump(good, stream)
        if trs is not None:
            with open(folder / "trs.pkl", "wb") as stream:
                pickle.dump(trs, stream)
    return {name: (tmp_path / name, message) for name, (_, message) in cases.items()}


def test_bad_input_ends_with_one_clear_line_and_status_2_and_writes_nothing(tmp_path, capsys):
    for name, (folder, message) in bad_input_cases(tmp_path).items():
        out = tmp_path / f"{name}-out"  # beside the data: an --out inside --data-dir is refused
        status, lines = run_in_process(capsys, "--quick", "--quiet", "--data-dir", str(folder),
                                       "--out", str(out))
        assert status == 2, (name, lines)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, lines)
        assert message in lines[0], (name, lines)
        assert "trs.pkl" in lines[0]
        assert not out.exists(), name


@pytest.mark.slow
def test_the_command_line_reports_a_missing_file_without_a_traceback(tmp_path):
    result = run_script("--quick", "--quiet", "--data-dir", str(tmp_path / "data"), "--out",
                        str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "trs.pkl: file not found" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--lr", "nan"], "argument --lr: expected a finite float in (0, 1], got 'nan'"),
        (["--lr=-1e-3"], "argument --lr: expected a finite float in (0, 1]"),
        (["--weight-decay", "inf"], "argument --weight-decay: expected a finite float >= 0"),
        (["--epochs", "0"], "argument --epochs: expected a finite int >= 1"),
        (["--validation-fraction", "1"], "expected a finite float in (0, 1)"),
        (["--shortest-crop", "1.5"], "expected a finite float in (0, 1]"),
        (["--warp", "1"], "argument --warp: expected a finite float in [0, 1), got '1'"),
        (["--warp", "-0.1"], "argument --warp: expected a finite float in [0, 1), got '-0.1'"),
        (["--device", "tpu"], "--device tpu: expected auto, cpu or cuda"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["--out", "/dev/null"], "exists and is not a folder (a character device)"),
        (["--lr", "1e308"], "argument --lr: expected a finite float in (0, 1]"),
        (["--seed", str(2**64)], "argument --seed: expected a finite int in [0, 2**64)"),
        (["--seed", "1" + "0" * 400], "argument --seed: expected a finite int in [0, 2**64)"),
        (["--embedding-dim", str(10**9)],
         "argument --embedding-dim: expected a finite int in [1, 4096]"),
        (["--pairs", str(10**6)], "argument --pairs: expected a finite int in [1, 1000]"),
        (["--threads", str(10**6)], "argument --threads: expected a finite int in [0, 256]"),
    ],
)
def test_a_bad_option_is_one_line_and_status_2_before_any_work(tmp_path, capsys, option, message):
    arguments = ["--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "out"), *option]
    status, lines = run_in_process(capsys, *arguments)
    assert status == 2 and len(lines) == 1 and message in lines[0], lines
    assert "file not found" not in lines[0] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["file", "users-folder"])
def test_an_out_that_is_a_file_or_a_users_folder_is_refused_and_left_alone(tmp_path, capsys, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("notes")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("notes")
    status, lines = run_in_process(capsys, "--data-dir", str(tmp_path / "no-data"), "--out",
                                   str(out))
    assert status == 2 and len(lines) == 1 and "--out" in lines[0]
    kept = out.read_text() if kind == "file" else (out / "thesis.tex").read_text()
    assert kept == "notes"


def test_an_interrupted_run_leaves_the_previous_run_folder_as_it_was(tmp_path, capsys,
                                                                      monkeypatch, quick_run):
    data, previous, _ = quick_run
    out = tmp_path / "runs" / "speaker"
    shutil.copytree(previous, out)  # a run folder of this project's, the shared one left alone
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def interrupted(folder, *arguments):
        (folder / "curves.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt  # what SIGINT, or SIGTERM inside run_folder, raises

    monkeypatch.setattr(sv, "write_figures", interrupted)
    status, _ = run_in_process(capsys, "--data-dir", str(data), "--out", str(out), "--quick",
                               "--seed", "1", "--quiet")
    assert status == 130
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert [path.name for path in out.parent.iterdir()] == ["speaker"]  # no temporary folder left


def test_the_data_folder_as_out_is_refused_before_any_work(tmp_path, capsys):
    data = write_corpus(tmp_path / "data", n_train=6, train_samples=3000, n_test=3,
                        test_samples=3500)
    (data / "metrics.json").write_text('{"accuracy": 0.9}\n')
    before = {path.name: path.read_bytes() for path in data.iterdir()}
    status, lines = run_in_process(capsys, "--quick", "--data-dir", str(data), "--out", str(data))
    assert status == 2 and len(lines) == 1 and "the data folder --data-dir" in lines[0], lines
    assert {path.name: path.read_bytes() for path in data.iterdir()} == before


# While torch is imported, reading the data, training.
@pytest.mark.parametrize("delay", [0.4, 1.0, 2.5])
def test_ctrl_c_at_any_moment_is_one_line_and_status_130(tmp_path, delay, quick_run):
    data, _, _ = quick_run
    command = [sys.executable, str(REPO / "speaker_verification.py"), "--data-dir", str(data),
               "--quiet", "--out", str(tmp_path / "run"), "--epochs", "1000"]
    restore_ctrl_c = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True,
                               preexec_fn=restore_ctrl_c)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (130, "interrupted\n")
    assert not (tmp_path / "run").exists()
