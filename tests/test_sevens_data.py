"""The default "poor sevens": real MNIST sevens with a known effect, in the homework's format."""

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import make_data
from common import load_images, run_cli
from default_data.sevens import SEVENS_EFFECTS, add_effect, poor_sevens
from sevens.mnist import load_mnist_sevens

REPO = Path(__file__).resolve().parents[1]
SEED = 3  # any seed but the default one: the files are written by --seed, not by a default
SEVENS_FILES = ("tr7.pkl", "te7.pkl", "tr7_truth_rotation.npy", "te7_truth_rotation.npy")


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


# ---------------------------------------------------------------- the command
def make_sevens(*arguments) -> None:
    """make_data.py --only sevens, in this process (the process itself is tested below)."""
    make_data.main(["--only", "sevens", "--quiet", *arguments])


def run_make_data(*arguments):
    """make_data.py --only sevens as its own process: its exit status and stderr."""
    command = [sys.executable, "make_data.py", "--only", "sevens", *arguments]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def status_of(capsys, *arguments) -> tuple:
    """(exit status, stderr) of `make_data.py --only sevens ARGUMENTS` as run_cli ends it."""
    with pytest.raises(SystemExit) as exit_status:
        run_cli(functools.partial(make_sevens, *arguments))
    return exit_status.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def sevens_written_twice(tmp_path_factory):
    """Two folders written by make_data.py --only sevens with the same --seed: never modify them."""
    folders = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    for folder in folders:
        make_sevens("--out", str(folder), "--seed", str(SEED))
    return folders


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_make_data_writes_homework_format_deterministically(sevens_written_twice):
    first, second = sevens_written_twice
    train, test = load_images(first / "tr7.pkl"), load_images(first / "te7.pkl")
    assert train.shape == (6265, 28, 28) and test.shape == (1028, 28, 28)
    for name in SEVENS_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    angles = np.load(first / "te7_truth_rotation.npy")
    assert angles.shape == (1028,) and -60 <= angles.min() < -50 and 50 < angles.max() <= 60


def test_make_data_never_overwrites_a_users_sevens(sevens_written_twice, tmp_path, capsys):
    out = copy_of(sevens_written_twice[0], tmp_path)
    (out / "te7.pkl").write_bytes(b"the user's own file")
    make_sevens("--out", str(out), "--seed", "4")
    assert "kept" in capsys.readouterr().out
    assert (out / "te7.pkl").read_bytes() == b"the user's own file"


def test_another_effect_replaces_the_truth_file_so_only_the_new_one_stands(
        sevens_written_twice, tmp_path, capsys):
    out = copy_of(sevens_written_twice[0], tmp_path)
    make_sevens("--out", str(out), "--force", "--sevens-effect", "shift")
    assert "removed" in capsys.readouterr().out
    truths = sorted(path.name for path in out.glob("*_truth_*.npy"))
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
def test_bad_make_data_options_are_one_line_and_status_2(tmp_path, capsys, arguments, message):
    (tmp_path / "notes.txt").write_text("mine")
    status, stderr = status_of(capsys, *[argument.format(tmp=tmp_path) for argument in arguments])
    assert status == 2 and stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: ") and message in stderr and "Traceback" not in stderr


def test_make_data_never_overwrites_or_removes_a_truth_file_without_force(tmp_path, capsys):
    (tmp_path / "tr7_truth_rotation.npy").write_bytes(b"the user's angles")
    (tmp_path / "te7_truth_thickness.npy").write_bytes(b"the user's thickness")
    status, stderr = status_of(capsys, "--out", str(tmp_path))
    assert status == 2 and stderr.count("\n") == 1 and "--force" in stderr
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["te7_truth_thickness.npy", "tr7_truth_rotation.npy"]
    assert (tmp_path / "tr7_truth_rotation.npy").read_bytes() == b"the user's angles"
    assert (tmp_path / "te7_truth_thickness.npy").read_bytes() == b"the user's thickness"
