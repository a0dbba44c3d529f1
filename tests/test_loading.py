"""Homework pickles are untrusted input: safe loading and one clear line for every kind of bad file."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common import DataError, load_array, load_images, load_speech

REPO = Path(__file__).resolve().parents[1]


def pickle_to(path, payload, protocol=4):
    with open(path, "wb") as stream:
        pickle.dump(payload, stream, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_numpy_pickles_load_in_every_protocol(tmp_path, protocol):
    speech = np.random.default_rng(0).standard_normal((20, 300))
    loaded = load_speech(pickle_to(tmp_path / "trs.pkl", speech, protocol))
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, speech.astype(np.float32))


def test_npy_and_integer_images_load_as_float32(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (4, 28, 28)).astype(np.uint8)
    np.save(tmp_path / "te7.npy", images)
    loaded = load_images(tmp_path / "te7.npy")
    assert loaded.dtype == np.float32 and loaded.shape == (4, 28, 28)


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = pickle_to(tmp_path / "trs.pkl", RunsAShellCommand(marker))
    with pytest.raises(DataError, match=r"refused to load global '(posix|os)\.system'"):
        load_speech(path)
    assert not marker.exists()


def test_payload_hidden_inside_an_array_container_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    path = pickle_to(tmp_path / "trs.pkl", [np.zeros((10, 5)), RunsAShellCommand(marker)])
    with pytest.raises(DataError, match="refused to load global"):
        load_speech(path)
    assert not marker.exists()


def test_object_array_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "payload-ran"
    array = np.empty(10, dtype=object)
    array[0] = RunsAShellCommand(marker)
    with pytest.raises(DataError):
        load_array(pickle_to(tmp_path / "x.pkl", array), 1, "a vector")
    assert not marker.exists()


def good_speech():
    return np.random.default_rng(0).standard_normal((20, 100)).astype(np.float32)


BAD_FILES = {
    "truncated": (lambda path: path.write_bytes(pickle.dumps(good_speech())[:300]), "truncated or not a pickle"),
    "not a pickle": (lambda path: path.write_text("speaker,utterance\n1,2\n"), "truncated or not a pickle"),
    "empty file": (lambda path: path.write_bytes(b""), "truncated or not a pickle"),
    "a list": (lambda path: pickle_to(path, [1.0, 2.0]), "found a list"),
    "wrong ndim": (lambda path: pickle_to(path, np.zeros((10, 5, 5))), r"expected 2 dimensions .* found shape \(10, 5, 5\)"),
    "rows not divisible by 10": (lambda path: pickle_to(path, np.zeros((25, 100))), "found 25 rows"),
    "one speaker only": (lambda path: pickle_to(path, np.zeros((10, 100))), "found 10 rows"),
    "NaN": (lambda path: pickle_to(path, np.full((20, 100), np.nan)), "2000 NaN/Inf"),
    "Inf": (lambda path: pickle_to(path, np.r_[good_speech()[:-1], np.full((1, 100), np.inf)]), "100 NaN/Inf"),
    "empty array": (lambda path: pickle_to(path, np.zeros((0, 100))), "empty array"),
    "strings": (lambda path: pickle_to(path, np.array([["a"] * 3] * 20)), "numeric"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_speech_files_raise_one_line_naming_the_file(tmp_path, case):
    make, message = BAD_FILES[case]
    path = tmp_path / "trs.pkl"
    make(path)
    with pytest.raises(DataError, match=message) as error:
        load_speech(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_missing_file_says_how_to_make_the_default_data(tmp_path):
    with pytest.raises(DataError, match="file not found.*make data"):
        load_speech(tmp_path / "trs.pkl")


def test_images_must_be_28_by_28(tmp_path):
    with pytest.raises(DataError, match=r"expected \(N, 28, 28\) images, found shape \(5, 32, 32\)"):
        load_images(pickle_to(tmp_path / "tr7.pkl", np.zeros((5, 32, 32))))


def test_run_cli_turns_data_error_into_one_line_and_exit_status_2(tmp_path):
    script = (
        "from common import load_images, run_cli\n"
        f"run_cli(lambda: load_images({str(tmp_path / 'missing.pkl')!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "missing.pkl" in result.stderr and "Traceback" not in result.stderr
