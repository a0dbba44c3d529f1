"""The default "poor sevens": real MNIST sevens with a known effect, in the homework's format."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common import load_images
from default_data.sevens import SEVENS_EFFECTS, add_effect, poor_sevens
from sevens.mnist import load_mnist_sevens
REPO = Path(__file__).resolve().parents[1]


def a_seven():
    return load_mnist_sevens()["test"][0] / 255.0


def test_asset_holds_every_mnist_seven():
    sevens = load_mnist_sevens()
    assert sevens["train"].shape == (6265, 28, 28) and sevens["test"].shape == (1028, 28, 28)
    assert sevens["train"].dtype == np.uint8 and sevens["train"].max() == 255


def test_rotation_by_90_degrees_is_a_counter_clockwise_quarter_turn():
    image = a_seven()
    np.testing.assert_allclose(add_effect(image, "rotation", 90.0), np.rot90(image, k=1), atol=1e-6)


@pytest.mark.parametrize("side", [27, 56, 112])
def test_warps_turn_about_the_centre_of_an_image_of_any_size(side):
    # bench/shear_analysis.py shears sevens at 4x resolution with the same add_effect.
    image = np.random.default_rng(side).random((side, side))
    np.testing.assert_allclose(add_effect(image, "rotation", 90.0), np.rot90(image, k=1), atol=1e-6)


def test_rotation_by_zero_and_by_360_degrees_changes_nothing():
    image = a_seven()
    np.testing.assert_allclose(add_effect(image, "rotation", 0.0), image, atol=1e-6)
    np.testing.assert_allclose(add_effect(image, "rotation", 360.0), image, atol=1e-5)


def test_shift_by_whole_pixels_moves_the_image_right():
    image = a_seven()
    shifted = add_effect(image, "shift", 3.0)
    expected = np.zeros_like(image)
    expected[:, 3:] = image[:, :-3]
    np.testing.assert_allclose(shifted, expected, atol=1e-6)


def test_shear_keeps_the_centre_rows_and_slants_the_rest():
    image = np.zeros((28, 28))
    image[:, 10] = 1.0  # a vertical bar
    sheared = add_effect(image, "shear", 0.5)
    top_column, bottom_column = np.argmax(sheared[2]), np.argmax(sheared[25])
    assert top_column > 10 > bottom_column  # positive shear leans the bar to the right


def test_contrast_scales_the_ink():
    image = a_seven()
    np.testing.assert_allclose(add_effect(image, "contrast", 0.4), 0.4 * image, atol=1e-6)


@pytest.mark.parametrize("effect", sorted(SEVENS_EFFECTS))
def test_poor_sevens_stay_in_unit_range_and_values_in_their_range(effect):
    images, values = poor_sevens(load_mnist_sevens()["test"][:50], effect, np.random.default_rng(0))
    low, high = SEVENS_EFFECTS[effect]
    assert images.shape == (50, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert values.min() >= low and values.max() <= high


def run_make_data(*arguments):
    return subprocess.run(
        [sys.executable, "make_data.py", "--only", "sevens", *arguments], cwd=REPO, capture_output=True, text=True
    )


def test_make_data_writes_homework_format_deterministically_and_never_overwrites(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_make_data("--out", str(first), "--seed", "3").returncode == 0
    assert run_make_data("--out", str(second), "--seed", "3").returncode == 0
    train, test = load_images(first / "tr7.pkl"), load_images(first / "te7.pkl")
    assert train.shape == (6265, 28, 28) and test.shape == (1028, 28, 28)
    for name in ("tr7.pkl", "te7.pkl", "tr7_truth_rotation.npy", "te7_truth_rotation.npy"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    angles = np.load(first / "te7_truth_rotation.npy")
    assert angles.shape == (1028,) and -60 <= angles.min() < -50 and 50 < angles.max() <= 60

    (first / "te7.pkl").write_bytes(b"the user's own file")
    result = run_make_data("--out", str(first), "--seed", "4")
    assert result.returncode == 0 and "kept" in result.stdout
    assert (first / "te7.pkl").read_bytes() == b"the user's own file"


def test_another_effect_replaces_the_truth_file_so_only_the_new_one_stands(tmp_path):
    assert run_make_data("--out", str(tmp_path)).returncode == 0
    result = run_make_data("--out", str(tmp_path), "--force", "--sevens-effect", "shift")
    assert result.returncode == 0 and "removed" in result.stdout
    truths = sorted(path.name for path in tmp_path.glob("*_truth_*.npy"))
    assert truths == ["te7_truth_shift.npy", "tr7_truth_shift.npy"]


def test_make_data_refuses_a_file_as_output_folder(tmp_path):
    target = tmp_path / "data"
    target.write_text("not a folder")
    result = run_make_data("--out", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize("arguments, message", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--seed", "-1"], "--seed: expected a finite int in [0, 2**64)"),
    (["--seed", str(2**64)], "--seed: expected a finite int in [0, 2**64)"),
    (["--out", "{tmp}/notes.txt/data"], "notes.txt is a file, not a folder"),
])
def test_bad_make_data_options_are_one_line_and_status_2(tmp_path, arguments, message):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_make_data(*[argument.format(tmp=tmp_path) for argument in arguments])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr


def test_make_data_never_overwrites_or_removes_a_truth_file_without_force(tmp_path):
    (tmp_path / "tr7_truth_rotation.npy").write_bytes(b"the user's angles")
    (tmp_path / "te7_truth_thickness.npy").write_bytes(b"the user's thickness")
    result = run_make_data("--out", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--force" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["te7_truth_thickness.npy", "tr7_truth_rotation.npy"]
    assert (tmp_path / "tr7_truth_rotation.npy").read_bytes() == b"the user's angles"
    assert (tmp_path / "te7_truth_thickness.npy").read_bytes() == b"the user's thickness"
