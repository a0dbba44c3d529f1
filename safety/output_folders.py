"""Which folder may `--out` replace? Only one this project wrote, holding nothing else, and never
the data, a checkout or a mount point; it is checked before any work (`check_output_folder`) and
again at the swap (safety/run_folders.py).

Every run folder carries RUN_MARKER, which lists each file the run wrote with its size; a folder is
a run folder when the marker is there and the folder holds those files and nothing more (an empty
folder holds nothing to lose). Anything else is refused before any work, never deleted.
"""

import json
import os
import shutil
import stat
from pathlib import Path

from safety.errors import DataError, file_kind, printable

RUN_MARKER = ".run-folder.json"
MARKER_NOTE = ("written by this project's safety/run_folders.py; the folder is replaced whole "
               "only if it holds just these")
MAX_RUN_FILES = 100  # a run writes about ten files; a folder with more is not one of ours
MAX_MARKER_BYTES = 1 << 16  # a marker lists at most MAX_RUN_FILES names: a few kB
MIN_FREE_BYTES = 64 << 20  # a run writes a few MB (model.pt, figures); less free is refused
REPO = Path(__file__).resolve().parents[1]  # the checkout: never a run folder, nor inside one


def check_output_folder(out, option: str = "--out", data_dir=None) -> Path:
    """`out` resolved if it can become a run folder, else DataError (one line). Refused: a symbolic
    link; an existing non-folder (file, /dev/null, FIFO); a path that is, contains or lies inside
    `data_dir`; the checkout or a folder above it; a git checkout or a mount point; a non-empty
    folder that is not a run folder (see RUN_MARKER); a path whose nearest existing parent is not a
    writable folder or whose file system has less than MIN_FREE_BYTES free."""
    if Path(out).is_symlink():
        raise DataError(f"{option} {out}: a symbolic link; name the folder itself "
                        "(it could hold other files)")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise DataError(f"{option} {out}: exists and is not a folder ({file_kind(out)})")
    _refuse_overlap(out, option, data_dir)
    if out.is_dir():
        _refuse_foreign_folder(out, option)
    parent = next(folder for folder in out.parents if folder.exists())
    if not parent.is_dir():
        raise DataError(f"{option} {out}: {parent} is not a folder ({file_kind(parent)})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {out}: the folder {parent} is not writable")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise DataError(f"{option} {out}: {free:,} bytes free on its file system, below the "
                        f"{MIN_FREE_BYTES:,} a run needs; free some space or choose another --out")
    return out


def _refuse_overlap(out: Path, option: str, data_dir) -> None:
    """The data and the checkout are never replaced: `out` may not be, hold or lie in --data-dir,
    nor hold the checkout, nor lie inside a .git folder (results/ inside the checkout is where
    make report writes)."""
    if data_dir is not None:
        data = Path(data_dir).resolve()
        if out == data or data in out.parents or out in data.parents:
            raise DataError(f"{option} {out}: is, holds or lies inside the data folder --data-dir "
                            f"{data}; choose a folder apart from the data")
    if out == REPO or out in REPO.parents:
        raise DataError(f"{option} {out}: is or holds this checkout ({REPO}); "
                        "choose a folder such as results/run")
    if ".git" in out.parts:
        raise DataError(f"{option} {out}: lies inside a .git folder")


def _refuse_foreign_folder(out: Path, option: str) -> None:
    """An existing folder is replaced only when it is empty or a run folder holding just what the
    run wrote."""
    if os.path.ismount(out):
        raise DataError(f"{option} {out}: a mount point; choose a folder inside it")
    if (out / ".git").exists():
        raise DataError(f"{option} {out}: a git checkout (holds .git); refusing to replace it")
    with os.scandir(out) as entries:
        names = {entry.name for entry, _ in zip(entries, range(MAX_RUN_FILES + 1))}
    if not names:
        return
    written = marked_files(out / RUN_MARKER)
    if written is None:
        raise DataError(f"{option} {out}: a non-empty folder this project did not write (no valid "
                        f"{RUN_MARKER}); refusing to replace it (an old run folder? delete it "
                        "yourself)")
    if others := sorted(names - set(written) - {RUN_MARKER}):
        shown = ", ".join(printable(name) for name in others[:3])
        shown += ", ..." if len(others) > 3 else ""
        raise DataError(f"{option} {out}: a run folder that also holds {shown}, which the run did "
                        "not write; refusing to replace it (move them out first)")
    for name in names - {RUN_MARKER}:
        status = os.lstat(out / name)
        if not stat.S_ISREG(status.st_mode) or status.st_size != written[name]:
            raise DataError(f"{option} {out}: {printable(name)} changed since the run wrote it; "
                            "refusing to replace it (move it out first)")


def marked_files(marker: Path) -> dict | None:
    """{file name: size} from a run folder's marker; None when it is missing or not one we wrote."""
    try:
        status = os.lstat(marker)
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_MARKER_BYTES:
            return None
        files = json.loads(marker.read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    valid = isinstance(files, dict) and len(files) <= MAX_RUN_FILES
    return files if valid and all(type(size) is int for size in files.values()) else None


def write_marker(folder: Path) -> None:
    """List what the run wrote (flat files only: a run writes no sub-folders) as the folder's
    RUN_MARKER."""
    files = {entry.name: entry.stat(follow_symlinks=False).st_size for entry in os.scandir(folder)}
    plain = all(stat.S_ISREG(os.lstat(folder / name).st_mode) for name in files)
    if not plain or len(files) > MAX_RUN_FILES:
        raise ValueError(f"a run folder holds at most {MAX_RUN_FILES} plain files, "
                         f"found {sorted(files)}")
    marker = {"note": MARKER_NOTE, "files": files}
    (folder / RUN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
