"""Homework pickles are untrusted input: safe loading and one clear line for every kind of bad
file."""

import codecs
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import common
from common import load_images, load_speech, run_cli
from safety.errors import DataError
from safety.pickles import load_array

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


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("layout", ["fortran", "big-endian"])
def test_fortran_and_big_endian_arrays_load_with_their_values(tmp_path, protocol, layout):
    speech = np.random.default_rng(0).standard_normal((20, 300))
    stored = np.asfortranarray(speech) if layout == "fortran" else speech.astype(">f4")
    loaded = load_speech(pickle_to(tmp_path / "trs.pkl", stored, protocol))
    np.testing.assert_allclose(loaded, speech.astype(np.float32))
    assert loaded.flags["C_CONTIGUOUS"] and loaded.dtype == np.float32


def test_uint8_images_are_divided_by_255(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (common.MIN_IMAGES, 28, 28)).astype(np.uint8)
    np.save(tmp_path / "te7.npy", images)
    loaded = load_images(tmp_path / "te7.npy")
    assert loaded.dtype == np.float32 and loaded.shape == (common.MIN_IMAGES, 28, 28)
    np.testing.assert_allclose(loaded, images / 255.0, rtol=1e-6)


def test_int16_speech_is_divided_by_32768(tmp_path):
    pcm = np.random.default_rng(0).integers(-32768, 32768, (20, 300)).astype(np.int16)
    loaded = load_speech(pickle_to(tmp_path / "trs.pkl", pcm))
    assert loaded.dtype == np.float32 and np.abs(loaded).max() <= 1.0
    np.testing.assert_allclose(loaded, pcm / 32768.0)


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


class Calls:
    """Pickles as a call function(*arguments), then BUILD with `state` if given: what a hostile
    file can ask for."""

    def __init__(self, function, *arguments, state=None):
        self.reduced = (function, arguments) if state is None else (function, arguments, state)

    def __reduce__(self):
        return self.reduced


def reconstruct(shape, data=None):
    """numpy's own pickle of an array: _reconstruct(ndarray, (0,), b'b'), then the claimed state."""
    state = None if data is None else (1, shape, np.dtype("f4"), False, data)
    claimed = (0,) if state else shape
    return Calls(np._core.multiarray._reconstruct, np.ndarray, claimed, b"b", state=state)


def stack_global(module: str, name: str) -> bytes:
    """A protocol-4 pickle that only names the global module.name."""
    def text(value: str) -> bytes:  # SHORT_BINUNICODE
        return b"\x8c" + bytes([len(value.encode())]) + value.encode()

    return b"\x80\x04" + text(module) + text(name) + b"\x93."  # STACK_GLOBAL, STOP


def test_an_array_claimed_without_its_data_is_refused_not_allocated(tmp_path):
    path = pickle_to(tmp_path / "trs.pkl", reconstruct((20, 1000)), protocol=2)
    with pytest.raises(DataError, match="without its data"):
        load_speech(path)


def test_a_zero_stride_array_of_10_to_the_18_elements_is_refused(tmp_path):
    huge = Calls(np.ndarray, (10**18,), np.dtype("f4"), b"\0" * 4, 0, (0,))
    with pytest.raises(DataError, match=r"found ndarray\(\(1000000000000000000,\), dtype\(...\), "):
        load_speech(pickle_to(tmp_path / "trs.pkl", huge))


def test_a_claim_beyond_the_size_cap_is_refused_before_anything_is_allocated(tmp_path):
    path = pickle_to(tmp_path / "trs.pkl", reconstruct((10**9, 10**9), b"\0" * 4))
    with pytest.raises(DataError, match=r"needs 4,000,000,000,000,000,000 bytes, above the cap"):
        load_speech(path)


def test_data_shorter_than_the_claimed_shape_is_refused(tmp_path):
    path = pickle_to(tmp_path / "trs.pkl", reconstruct((20, 100), b"\0" * 7996))
    with pytest.raises(DataError, match="needs 8,000 bytes of data, found 7,996 bytes"):
        load_speech(path)


def test_an_array_in_neither_c_nor_fortran_order_is_refused_with_a_hint(tmp_path):
    # Protocol 5 stores order 'K'.
    permuted = np.zeros((20, 10, 30), dtype=np.float32).transpose(1, 0, 2)
    with pytest.raises(DataError, match=r"np.ascontiguousarray.*found _frombuffer\("):
        load_array(pickle_to(tmp_path / "x.pkl", permuted, protocol=5), 3, "a stack")


def test_an_unknown_codec_is_refused_in_one_line(tmp_path):
    path = pickle_to(tmp_path / "trs.pkl", Calls(codecs.encode, "abc", "no-such-codec"))
    with pytest.raises(DataError, match=r"found encode\('abc', 'no-such-codec'\)"):
        load_speech(path)


@pytest.mark.parametrize("name", ["system\nerror: all fine", "system\x1b[2J"])
def test_refused_global_names_are_printed_escaped_on_one_line(tmp_path, capsys, name):
    path = tmp_path / "trs.pkl"
    path.write_bytes(stack_global("os", name))
    with pytest.raises(SystemExit) as stopped:
        run_cli(lambda: load_speech(path))
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and error.count("\n") == 1 and "\x1b" not in error
    assert "refused to load global 'os.system\\" in error


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev-zero"])
def test_a_path_that_is_not_a_regular_file_says_so(tmp_path, kind):
    path = tmp_path / "trs.pkl"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    kinds = r"(a folder|a FIFO|a character device)"
    with pytest.raises(DataError, match=rf"not a regular file \({kinds}\)"):
        load_speech(path)


def test_huge_but_finite_float32_speech_is_refused_by_the_audio_bound(tmp_path):
    signs = np.random.default_rng(0).standard_normal((20, 300)) > 0
    speech = np.where(signs, 3e38, -3e38).astype(np.float32)
    with pytest.raises(DataError, match=r"found \|x\| up to 3e\+38"):
        load_speech(pickle_to(tmp_path / "trs.pkl", speech))


def test_float64_beyond_float32_range_is_named_as_such_not_as_nan(tmp_path):
    speech = np.full((20, 300), 1e300)
    message = "600[0] values beyond float32's range .largest .x. 1e\\+300"
    with pytest.raises(DataError, match=message):
        load_speech(pickle_to(tmp_path / "trs.pkl", speech))


def test_int16_scaled_float_speech_is_refused_with_a_hint(tmp_path):
    speech = np.random.default_rng(0).uniform(-20000, 20000, (20, 300)).astype(np.float32)
    with pytest.raises(DataError, match="divide them by 32768"):
        load_speech(pickle_to(tmp_path / "trs.pkl", speech))


def sevens(count, value=0.5):
    images = np.zeros((count, 28, 28), dtype=np.float32)
    images[:, 5:20, 12:15] = value
    return images


@pytest.mark.parametrize(
    "images, message",
    [
        (sevens(1), "at least 16 images, found 1"),
        (sevens(2), "at least 16 images, found 2"),
        (np.zeros((100, 28, 28), dtype=np.float32), "no ink"),
        (sevens(100, value=2.0), r"grey values in \[0, 1\], found \[0, 2\]"),
        (sevens(100, value=-0.5), r"grey values in \[0, 1\]"),
        (sevens(600, value=0.8), "all 600 images are identical"),
    ],
    ids=["one", "two", "blank", "above-one", "negative", "identical"],
)
def test_too_few_blank_or_out_of_range_images_are_refused(tmp_path, images, message):
    with pytest.raises(DataError, match=message):
        load_images(pickle_to(tmp_path / "tr7.pkl", images))


def test_a_pickled_dtype_other_than_the_accepted_numeric_ones_is_refused(tmp_path):
    with pytest.raises(DataError, match="'c8' is not one of the numeric dtypes"):
        load_speech(pickle_to(tmp_path / "trs.pkl", np.zeros((20, 100), dtype=np.complex64)))


def test_uint8_speech_is_refused(tmp_path):
    with pytest.raises(DataError, match="as float32 or float64, found uint8"):
        load_speech(pickle_to(tmp_path / "trs.pkl", np.zeros((20, 100), dtype=np.uint8)))


def good_speech():
    return np.random.default_rng(0).standard_normal((20, 100)).astype(np.float32)


BAD_FILES = {
    "truncated": (lambda path: path.write_bytes(pickle.dumps(good_speech())[:300]),
                  "truncated or not a pickle"),
    "not a pickle": (lambda path: path.write_text("speaker,utterance\n1,2\n"),
                     "truncated or not a pickle"),
    "empty file": (lambda path: path.write_bytes(b""), "truncated or not a pickle"),
    "a list": (lambda path: pickle_to(path, [1.0, 2.0]), "found a list"),
    "a number": (lambda path: pickle_to(path, 3.0), "found a float"),
    "wrong ndim": (lambda path: pickle_to(path, np.zeros((10, 5, 5))),
                   r"expected 2 dimensions .* shape \(10, 5, 5\)"),
    "rows not divisible by 10": (lambda path: pickle_to(path, np.zeros((25, 100))),
                                 "found 25 rows"),
    "one speaker only": (lambda path: pickle_to(path, np.zeros((10, 100))), "found 10 rows"),
    "NaN": (lambda path: pickle_to(path, np.full((20, 100), np.nan)), "2000 NaN/Inf"),
    "Inf": (lambda path: pickle_to(path, np.r_[good_speech()[:-1], np.full((1, 100), np.inf)]),
            "100 NaN/Inf"),
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
    message = r"expected \(N, 28, 28\) images, found shape \(5, 32, 32\)"
    with pytest.raises(DataError, match=message):
        load_images(pickle_to(tmp_path / "tr7.pkl", np.zeros((5, 32, 32))))


def test_run_cli_turns_data_error_into_one_line_and_exit_status_2(tmp_path):
    script = (
        "from common import load_images, run_cli\n"
        f"run_cli(lambda: load_images({str(tmp_path / 'missing.pkl')!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "missing.pkl" in result.stderr and "Traceback" not in result.stderr
