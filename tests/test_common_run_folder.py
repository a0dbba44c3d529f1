"""Run folders: checked before any work, written whole or not at all; named random streams."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common import data_entry, stream_rng, torch_generator
from safety import DataError, check_output_folder, run_folder

REPO = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def previous_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text('{"test_accuracy": 0.9}\n')
    (folder / "model.pt").write_bytes(b"old weights")
    return folder


# ---------------------------------------------------------------- check_output_folder


def test_a_new_path_and_a_previous_run_folder_are_accepted(tmp_path):
    assert check_output_folder(tmp_path / "new" / "run") == (tmp_path / "new" / "run").resolve()
    assert check_output_folder(previous_run(tmp_path / "old")) == (tmp_path / "old").resolve()
    (tmp_path / "empty").mkdir()
    assert check_output_folder(tmp_path / "empty") == (tmp_path / "empty").resolve()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: (tmp / "file.txt").write_text("notes") and tmp / "file.txt", "not a folder .a regular file"),
        (lambda tmp: Path("/dev/null"), "not a folder .a character device"),
        (lambda tmp: os.mkfifo(tmp / "fifo") or tmp / "fifo", "not a folder .a FIFO"),
        (lambda tmp: (tmp / "mine").mkdir() or (tmp / "mine" / "thesis.tex").write_text("x") and tmp / "mine",
         "not a run folder"),
        (lambda tmp: (tmp / "file.txt").write_text("notes") and tmp / "file.txt" / "run", "is not a folder"),
    ],
    ids=["file", "dev-null", "fifo", "users-folder", "under-a-file"],
)
def test_check_output_folder_refuses_in_one_line_and_touches_nothing(tmp_path, make, message):
    out = make(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match=message) as error:
        check_output_folder(out, "--out")
    assert str(error.value).startswith("--out ") and "\n" not in str(error.value)
    assert snapshot(tmp_path) == before


def test_check_output_folder_refuses_an_unwritable_parent(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # Root may write anywhere, so ask the question as an ordinary user would get it answered.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked)
    with pytest.raises(DataError, match="not writable"):
        check_output_folder(locked / "run")


# ---------------------------------------------------------------- run_folder


def test_a_successful_block_replaces_the_old_run_folder_whole(tmp_path):
    out = previous_run(tmp_path / "run")
    with run_folder(out) as folder:
        assert folder.parent == out.parent and folder.name.startswith(".") and not any(folder.iterdir())
        (folder / "metrics.json").write_text("{}\n")
    assert snapshot(out) == {Path("metrics.json"): b"{}\n"}  # the old model.pt is gone, not mixed in
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_an_exception_leaves_the_previous_folder_as_it_was_and_no_temporary(tmp_path):
    out = previous_run(tmp_path / "run")
    before = snapshot(out)
    with pytest.raises(RuntimeError), run_folder(out) as folder:
        (folder / "model.pt").write_bytes(b"new weights")
        raise RuntimeError("training diverged")
    assert snapshot(out) == before and sorted(os.listdir(tmp_path)) == ["run"]


KILLED_RUN = """
import sys, time
from pathlib import Path
from common import run_cli
from safety import run_folder

def main():
    with run_folder(Path(sys.argv[1])) as folder:
        (folder / "model.pt").write_bytes(b"new weights")
        (folder / "metrics.json").write_text("{}")
        print("written", flush=True)
        time.sleep(60)

run_cli(main)
"""


def test_sigterm_mid_run_leaves_the_previous_folder_byte_identical(tmp_path):
    out = previous_run(tmp_path / "run")
    before = snapshot(out)
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "written"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no stray temporary folder


# ---------------------------------------------------------------- data entries and random streams


def test_data_entry_records_path_shape_and_hash(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((3, 4), dtype=np.float32))
    entry = data_entry(path)
    assert entry["path"] == str(path) and entry["shape"] == [3, 4] and len(entry["sha256"]) == 64


def test_named_streams_are_reproducible_and_distinct():
    assert stream_rng(0, 1).integers(1 << 30) == stream_rng(0, 1).integers(1 << 30)
    assert stream_rng(0, 1).integers(1 << 30) != stream_rng(0, 2).integers(1 << 30)
    first, again = torch_generator(0, 5), torch_generator(0, 5)
    assert torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=again))
    other_seed = torch.rand(4, generator=torch_generator(1, 5))
    assert not torch.equal(torch.rand(4, generator=torch_generator(0, 5)), other_seed)
