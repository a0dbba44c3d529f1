"""How does a run folder appear? Whole or not at all: a failed or interrupted run leaves the
previous one as it was, and what a killed run leaves is cleared by the next. Single files are
replaced whole too (`atomic_path`).

The run writes into `.<name>.run.<pid>.<random>.partial` beside --out, then exchanges it with --out
in one renameat2(RENAME_EXCHANGE) (or renames it in with RENAME_NOREPLACE when --out does not
exist), so at every instant --out is the previous run folder or the new one, whole. Where renameat2
is missing (not Linux, an old kernel or a file system without it) two renames do it: --out to
`.<name>.run.<pid>.old`, then the new folder to --out; a kill between the two leaves --out absent
and the previous run whole in the .old folder, which the next run renames back.
"""

import contextlib
import ctypes
import errno
import glob
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from safety.errors import DataError, printable
from safety.output_folders import check_output_folder, write_marker

AT_FDCWD, RENAME_NOREPLACE, RENAME_EXCHANGE = -100, 1, 2  # from <fcntl.h> and <linux/fs.h>
LEFTOVER_AGE_SECONDS = 7 * 24 * 3600  # a leftover this old is removed even if its pid runs (reused)
_UMASK = os.umask(0)  # read by setting it, so set it back at once
os.umask(_UMASK)


# ---------------------------------------------------------------- one atomic exchange
def _libc_renameat2():
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:  # no C library to open (Windows)
        return None


_RENAMEAT2 = _libc_renameat2()


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """True when renameat2 did it; False when this system or file system lacks it (then the
    fallback)."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(target))


def _swap_in(folder: Path, out: Path) -> None:
    """Put `folder` at `out` in one step (see above); the previous run folder, if any, is then
    removed."""
    os.chmod(folder, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual permissions
    # Again: the user may have made or filled a folder there meanwhile.
    out = check_output_folder(out)
    if not os.path.lexists(out):
        if _renameat2(folder, out, RENAME_NOREPLACE):
            return
        os.rename(folder, out)  # fallback: a folder made in this instant is empty (checked above)
        return
    if _renameat2(folder, out, RENAME_EXCHANGE):
        shutil.rmtree(folder, ignore_errors=True)  # `folder` now holds the previous run
        return
    aside = out.with_name(f".{out.name}.run.{os.getpid()}.old")
    os.rename(out, aside)
    try:
        os.rename(folder, out)
    except BaseException:
        os.rename(aside, out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


# ---------------------------------------------------------------- a run folder
class _HeldSignals:
    """SIGINT and SIGTERM while `holding`: noted, and raised as KeyboardInterrupt once nothing is
    half-done (`release`); otherwise raised at once. Only the main thread may set handlers."""

    def __init__(self):
        self.holding, self.held = True, []
        main_thread = threading.current_thread() is threading.main_thread()
        numbers = (signal.SIGINT, signal.SIGTERM) if main_thread else ()
        self.previous = {number: signal.signal(number, self.on_signal) for number in numbers}

    def on_signal(self, number, frame):
        if not self.holding:
            raise KeyboardInterrupt
        self.held.append(number)

    def release(self) -> None:
        """Stop holding; a signal that came meanwhile is raised now."""
        self.holding = False
        if self.held:
            raise KeyboardInterrupt

    def restore(self) -> None:
        self.holding = True
        for number, handler in self.previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def run_folder(out):
    """Yield a fresh temporary folder beside `out` (hidden name) that replaces `out` whole when the
    block ends normally; `out` is checked again at the swap (a folder the user made there meanwhile
    is refused, not replaced). On any exception, KeyboardInterrupt or SIGTERM the temporary folder
    is removed and `out` is left as it was; a failed write (disk full, a folder made read-only)
    becomes a one-line DataError."""
    out = check_output_folder(out)
    _clear_leftovers(out)
    signals, temporary = _HeldSignals(), None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.run.{os.getpid()}.",
                                          suffix=".partial", dir=out.parent))
        signals.release()
        yield temporary
        signals.holding = True
        write_marker(temporary)
        _swap_in(temporary, out)
    except Exception as error:
        if not _is_failed_write(error):
            raise
        raise DataError(f"--out {out}: could not write the run folder ({_write_failure(error)}); "
                        "the previous folder is as it was") from None
    finally:
        signals.holding = True
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        signals.restore()
    if signals.held:
        raise KeyboardInterrupt


def _is_failed_write(error: Exception) -> bool:
    """OSError (disk full, read-only, ...); torch.save reports a failed write as its zip writer's
    RuntimeError."""
    failed_zip = isinstance(error, RuntimeError) and "inline_container" in str(error)
    return isinstance(error, OSError) or failed_zip


def _write_failure(error: Exception) -> str:
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return printable(f"{error.strerror or error}{where}")
    return "a write failed: is the disk full?"


# ---------------------------------------------------------------- what a killed run leaves
def _clear_leftovers(out: Path) -> None:
    """Promise: what a killed run leaves beside `out` is cleared by the next run. A
    `.<name>.run.<pid>.*` folder whose pid no longer runs (or older than LEFTOVER_AGE_SECONDS) is
    removed, except a `.old` one while `out` is missing: that is the previous run, left by a kill
    inside the fallback swap, and it is renamed back to `out`."""
    prefix = f".{out.name}.run."
    for leftover in out.parent.glob(f".{glob.escape(out.name)}.run.*"):
        pid = leftover.name[len(prefix):].split(".")[0]
        if not (pid.isdigit() and leftover.is_dir() and not leftover.is_symlink()):
            continue
        age = time.time() - os.lstat(leftover).st_mtime
        if _running(int(pid)) and age < LEFTOVER_AGE_SECONDS:
            continue
        if leftover.name.endswith(".old") and not os.path.lexists(out):
            os.rename(leftover, out)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:  # beyond any pid the system gives
        return False
    return True


# ---------------------------------------------------------------- a single file
@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds. A
    failed write (disk full, an unwritable folder) removes the temporary file and becomes a one-line
    DataError."""
    path, temporary = Path(path), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=path.suffix)
        os.close(handle)
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    except OSError as error:
        raise DataError(f"{path}: could not write it ({_write_failure(error)}); any previous file "
                        "is as it was") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
