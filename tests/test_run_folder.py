"""Run folders (safety/output_folders.py, safety/run_folders.py): recognised by their marker,
checked before any work and again at the swap, written whole or not at all, leftovers of killed
runs cleared; strict metrics.json (safety/json_files.py); and named random streams (common.py)."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common import data_entry, stream_rng, torch_generator
from safety import output_folders, run_folders
from safety.errors import DataError
from safety.json_files import NOT_COMPUTED, write_json
from safety.output_folders import RUN_MARKER, check_output_folder
from safety.run_folders import run_folder

REPO = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict:
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    return {path.relative_to(folder): path.read_bytes() for path in files}


def previous_run(folder: Path) -> Path:
    """A run folder as a run writes it: its files and the marker listing them."""
    with run_folder(folder) as written:
        (written / "metrics.json").write_text('{"test_accuracy": 0.9}\n')
        (written / "model.pt").write_bytes(b"old weights")
    return folder


def users_folder(folder: Path) -> Path:
    """What a user may keep in a folder: a metrics.json of their own among other files."""
    (folder / "sub").mkdir(parents=True)
    (folder / "metrics.json").write_text('{"accuracy": 0.9}\n')
    (folder / "notes.txt").write_text("my notes")
    (folder / "sub" / "train.py").write_text("print('mine')")
    return folder


# ---------------------------------------------------------------- check_output_folder


def test_a_new_path_and_a_previous_run_folder_are_accepted(tmp_path):
    assert check_output_folder(tmp_path / "new" / "run") == (tmp_path / "new" / "run").resolve()
    assert check_output_folder(previous_run(tmp_path / "old")) == (tmp_path / "old").resolve()
    (tmp_path / "empty").mkdir()
    assert check_output_folder(tmp_path / "empty") == (tmp_path / "empty").resolve()


def a_text_file(tmp: Path) -> Path:
    (tmp / "file.txt").write_text("notes")
    return tmp / "file.txt"


def dev_null(tmp: Path) -> Path:
    return Path("/dev/null")


def a_fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "fifo")
    return tmp / "fifo"


def a_folder_of_the_users(tmp: Path) -> Path:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.tex").write_text("x")
    return tmp / "mine"


def under_a_file(tmp: Path) -> Path:
    return a_text_file(tmp) / "run"


@pytest.mark.parametrize(
    "make, message",
    [
        (a_text_file, "not a folder .a regular file"),
        (dev_null, "not a folder .a character device"),
        (a_fifo, "not a folder .a FIFO"),
        (a_folder_of_the_users, "this project did not write"),
        (under_a_file, "is not a folder"),
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


def refused(out, message: str, **kwargs) -> str:
    """check_output_folder's one line for `out`, which must match `message`."""
    with pytest.raises(DataError, match=message) as error:
        check_output_folder(out, "--out", **kwargs)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_a_users_folder_holding_a_metrics_json_is_refused(tmp_path):
    out = users_folder(tmp_path / "mine")
    before = snapshot(out)
    refused(out, "this project did not write")
    with pytest.raises(DataError), run_folder(out):
        pass
    assert snapshot(out) == before


def test_a_run_folder_holding_a_users_file_or_a_changed_file_is_refused(tmp_path):
    out = previous_run(tmp_path / "run")
    (out / "README.txt").write_text("mine")
    refused(out, "also holds README.txt, which the run did not write")
    (out / "README.txt").unlink()
    (out / "model.pt").write_bytes(b"weights I retrained by hand")
    refused(out, "model.pt changed since the run wrote it")


def test_a_symlink_to_a_run_folder_is_refused(tmp_path):
    os.symlink(previous_run(tmp_path / "run"), tmp_path / "link")
    refused(tmp_path / "link", "a symbolic link")


def test_the_data_folder_is_never_an_output(tmp_path):
    data = users_folder(tmp_path / "data")
    for out in (data, data / "run", tmp_path):
        refused(out, "the data folder --data-dir", data_dir=data)
    results = tmp_path / "results"
    assert check_output_folder(results, data_dir=data) == results.resolve()


def test_the_checkout_and_any_git_checkout_are_refused(tmp_path):
    refused(REPO, "this checkout")
    refused(REPO.parent, "this checkout")
    refused(REPO / ".git" / "run", "inside a .git folder")
    (users_folder(tmp_path / "project") / ".git").mkdir()
    refused(tmp_path / "project", "a git checkout")
    assert check_output_folder(REPO / "results" / "run") == REPO / "results" / "run"


def test_a_mount_point_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mnt").mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == tmp_path / "mnt")
    refused(tmp_path / "mnt", "a mount point")


def test_a_nearly_full_file_system_is_refused_before_any_work(tmp_path, monkeypatch):
    nearly_full = shutil._ntuple_diskusage(total=1 << 30, used=(1 << 30) - (1 << 20), free=1 << 20)
    monkeypatch.setattr(output_folders.shutil, "disk_usage", lambda path: nearly_full)
    refused(tmp_path / "run", "bytes free on its file system")


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
        assert folder.parent == out.parent and folder.name.startswith(".")
        assert not any(folder.iterdir())
        (folder / "metrics.json").write_text("{}\n")
    files = snapshot(out)
    assert files.pop(Path("metrics.json")) == b"{}\n"
    assert list(files) == [Path(RUN_MARKER)]  # no old model.pt
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
from safety.run_folders import run_folder

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
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "written"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no stray temporary folder


def test_a_folder_the_user_makes_at_out_during_the_run_is_refused_at_the_swap(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DataError, match="this project did not write"), run_folder(out) as folder:
        (folder / "metrics.json").write_text("{}\n")
        users_folder(out)
    assert snapshot(out) == snapshot(users_folder(tmp_path / "expected"))
    assert sorted(os.listdir(tmp_path)) == ["expected", "run"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_both_swaps_replace_the_previous_run_whole(tmp_path, monkeypatch, exchange):
    out = previous_run(tmp_path / "run")
    if exchange:  # one renameat2(RENAME_EXCHANGE), no os.rename: --out is never missing
        assert run_folders._RENAMEAT2 is not None
        monkeypatch.setattr(os, "rename", lambda *paths: pytest.fail("renamed in two steps"))
    else:
        monkeypatch.setattr(run_folders, "_RENAMEAT2", None)
    with run_folder(out) as folder:
        (folder / "metrics.json").write_text("{}\n")
    assert snapshot(out)[Path("metrics.json")] == b"{}\n" and Path("model.pt") not in snapshot(out)
    assert sorted(os.listdir(tmp_path)) == ["run"]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(tmp_path):
    out = previous_run(tmp_path / "run")
    pid = dead_pid()
    live = f".run.run.{os.getpid()}.live.partial"
    for name in (f".run.run.{pid}.abc.partial", f".run.run.{pid}.old", live):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_bytes(b"half written")
    (tmp_path / ".other.run.1.partial").mkdir()  # another --out's: not ours to judge here
    with run_folder(out) as folder:
        (folder / "metrics.json").write_text("{}\n")
    assert sorted(os.listdir(tmp_path)) == [".other.run.1.partial", live, "run"]


def test_a_previous_run_left_aside_by_a_kill_inside_the_fallback_swap_is_renamed_back(tmp_path):
    before = snapshot(previous_run(tmp_path / "run"))
    # Killed between the two renames.
    os.rename(tmp_path / "run", tmp_path / f".run.run.{dead_pid()}.old")
    with pytest.raises(RuntimeError), run_folder(tmp_path / "run"):
        raise RuntimeError("this run fails too")
    assert snapshot(tmp_path / "run") == before and sorted(os.listdir(tmp_path)) == ["run"]


FULL_DISK_RUN = """
import resource, signal, sys
from pathlib import Path
from common import run_cli
from safety.run_folders import run_folder

# A write beyond the limit fails with EFBIG, as on a full disk.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))

def main():
    with run_folder(Path(sys.argv[1])) as folder:
        (folder / "model.pt").write_bytes(bytes(1 << 20))

run_cli(main)
"""


@pytest.mark.parametrize("writer", ["open", "torch.save"])
def test_a_failed_write_is_one_line_and_leaves_the_previous_folder_whole(tmp_path, writer):
    out = previous_run(tmp_path / "run")
    before = snapshot(out)
    script = FULL_DISK_RUN if writer == "open" else FULL_DISK_RUN.replace(
        '(folder / "model.pt").write_bytes(bytes(1 << 20))',
        'import torch; torch.save(torch.zeros(1 << 18), folder / "model.pt")')
    result = subprocess.run([sys.executable, "-c", script, str(out)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "could not write the run folder" in result.stderr
    assert "previous folder is as it was" in result.stderr
    assert snapshot(out) == before and sorted(os.listdir(tmp_path)) == ["run"]


def test_a_single_file_that_cannot_be_written_is_one_line_and_the_previous_file_stays(tmp_path):
    (tmp_path / "results.tex").write_text("previous")
    folder_block = """    with run_folder(Path(sys.argv[1])) as folder:
        (folder / "model.pt").write_bytes(bytes(1 << 20))"""
    file_block = """    with atomic_path(Path(sys.argv[1])) as temporary:
        temporary.write_bytes(bytes(1 << 20))"""
    assert folder_block in FULL_DISK_RUN
    script = FULL_DISK_RUN.replace("import run_folder", "import atomic_path")
    script = script.replace(folder_block, file_block)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "results.tex")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "could not write it" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["results.tex"]
    assert (tmp_path / "results.tex").read_text() == "previous"


# ---------------------------------------------------------------- metrics.json


def strict_json(text: str):
    """json.loads refusing NaN, Infinity and -Infinity, which Python's json accepts and JSON does
    not have."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_write_json_writes_strict_json_with_each_uncomputable_number_null_and_explained(tmp_path):
    payload = {"rho": [0.5, math.nan], "ratio": {"a": math.inf}, "k": 3}
    write_json(tmp_path / "metrics.json", payload)
    written = strict_json((tmp_path / "metrics.json").read_text())
    assert written["rho"] == [0.5, None] and written["ratio"] == {"a": None} and written["k"] == 3
    assert sorted(written[NOT_COMPUTED]) == ["ratio.a", "rho.1"]
    assert "undefined" in written[NOT_COMPUTED]["rho.1"]


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
