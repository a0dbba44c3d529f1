"""The safety machinery the homework does not ask for but users need, read top to bottom as the README's
promises, each beside the code that keeps it:

1. A bad file or option ends, before any work, with one line and exit status 2 (`DataError`, shown by
   `common.run_cli`).
2. Pickles are untrusted input: a restricted unpickler records what a file claims without running anything,
   and the array is built only when the claims hold (`load_array`).
3. `--out` replaces only a folder this project wrote, holding nothing else, and never the data, a checkout
   or a mount point; it is checked before any work (`check_output_folder`) and again at the swap.
4. A run folder appears whole or not at all: one atomic exchange (`run_folder`, `_swap_in`); a failed or
   interrupted run leaves the previous one as it was, and what a killed run leaves is cleared by the next.
5. Single files are replaced whole too (`atomic_path`); metrics.json is strict JSON (`write_json`).
"""

import contextlib
import ctypes
import errno
import glob
import json
import math
import os
import pickle
import reprlib
import shutil
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------- errors
class DataError(Exception):
    """Bad input the user can fix: reported as one line and exit status 2."""


def printable(text: str) -> str:
    """`text` on one line: newlines, escape bytes and other unprintable characters shown escaped."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


# ---------------------------------------------------------------- safe loading
# A pickle can call any importable callable while it loads, and numpy's own _reconstruct allocates whatever shape
# it is told. So the unpickler hands out stand-ins that record what the file claims; the array is built after checks.

MAX_ARRAY_BYTES = 1 << 30  # 1 GiB of array data; the homework's largest file holds 32 MB
ACCEPTED_DTYPES = {"f4": "float32", "f8": "float64", "i2": "int16", "u1": "uint8"}  # any byte order
_DTYPE_NAMES = ", ".join(ACCEPTED_DTYPES.values())


class _Refused(Exception):
    """A pickle that asks for more than a plain NumPy array."""


_SHORT = reprlib.Repr()  # how values from an untrusted file are shown: cut short, escaped by repr
_SHORT.repr_bytes = _SHORT.repr_bytearray = lambda value, level: repr(value[:20])


def _shown(value) -> str:
    return printable(_SHORT.repr(value))


class _Call:
    """Recorded instead of done: an allowed global `name` (args None) or a call name(*args), then BUILD's state."""

    def __init__(self, name: str, args: tuple | None = None):
        self.name, self.args, self.state = name, args, None

    def __call__(self, *args):
        return _Call(self.name, args)

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return self.name if self.args is None else f"{self.name}(...)"


def _is(value, name: str, *n_args: int) -> bool:
    """`value` is the recorded global `name` (no n_args) or a call of it with one of n_args arguments."""
    if not (isinstance(value, _Call) and value.name == name):
        return False
    return value.args is None if not n_args else value.args is not None and len(value.args) in n_args


_ALLOWED = {("numpy", "ndarray"): "ndarray", ("numpy", "dtype"): "dtype", ("_codecs", "encode"): "encode",
            **{(f"{core}.multiarray", "_reconstruct"): "_reconstruct" for core in ("numpy.core", "numpy._core")},
            **{(f"{core}.numeric", "_frombuffer"): "_frombuffer" for core in ("numpy.core", "numpy._core")}}


class _RecordingUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise _Refused(f"refused to load global {_shown(f'{module}.{name}')} (only NumPy arrays are allowed)")
        return _Call(_ALLOWED[(module, name)])  # a fresh record each time: nothing is shared between loads


def _array_from_calls(call) -> np.ndarray:
    """How NumPy pickles an array: _reconstruct(ndarray, (0,), b'b') then BUILD with (version, shape,
    dtype, fortran, bytes), or (protocol 5) _frombuffer(bytes, dtype, shape, order); the dtype as
    dtype(code, align, copy) then BUILD with (version, byte order, subarray, names, fields, ...);
    protocol 2 stores bytes as _codecs.encode(text, 'latin1')."""
    if _is(call, "_reconstruct", 3) and _is(call.args[0], "ndarray"):
        if not (isinstance(call.state, tuple) and len(call.state) == 5):
            raise _Refused("an array without its data")
        _, shape, dtype, fortran, data = call.state
    elif _is(call, "_frombuffer", 4, 5) and call.args[3] in ("C", "F"):
        data, dtype, shape, fortran = *call.args[:3], call.args[3] == "F"
    else:
        found = f"{call.name}{_shown(call.args or ())}" if isinstance(call, _Call) else f"a {type(call).__name__}"
        raise _Refused(f"expected a plain (C or Fortran ordered: np.ascontiguousarray) NumPy array, found {found}")
    if _is(data, "encode", 2) and isinstance(data.args[0], str) and data.args[1] in ("latin1", "latin-1"):
        data = data.args[0].encode("latin1")
    state = getattr(dtype, "state", None)
    if not (_is(dtype, "dtype", 3) and dtype.args[0] in ACCEPTED_DTYPES and isinstance(state, tuple) and len(state) > 4
            and state[1] in ("<", ">", "|", "=") and state[2:5] == (None,) * 3):
        code = dtype.args[0] if isinstance(dtype, _Call) and dtype.args else dtype
        raise _Refused(f"dtype {_shown(code)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    return _array_from_parts(shape, np.dtype(dtype.args[0]).newbyteorder(state[1]), fortran, data)


def _array_from_parts(shape, dtype: np.dtype, fortran, data) -> np.ndarray:
    """The array a file claims, built only if it is a plain numeric array with exactly its bytes."""
    if dtype.str[1:] not in ACCEPTED_DTYPES or dtype.fields is not None:
        raise _Refused(f"dtype {_shown(dtype.str)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    if not (isinstance(shape, tuple) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)):
        raise _Refused(f"shape {_shown(shape)} is not a tuple of sizes")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes, above the cap of {MAX_ARRAY_BYTES:,}")
    if not isinstance(data, (bytes, bytearray)) or len(data) != nbytes or fortran not in (True, False):
        found = f"{len(data):,} bytes" if isinstance(data, (bytes, bytearray)) else _shown(data)
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes of data, found {found}")
    flat = np.frombuffer(data, dtype) if nbytes else np.zeros(0, dtype)
    return flat.reshape(shape, order="F" if fortran else "C").astype(dtype.newbyteorder("="), order="C")


def _read_array(stream, suffix: str) -> np.ndarray:
    if suffix != ".npy":
        return _array_from_calls(_RecordingUnpickler(stream, encoding="latin1").load())
    np.lib.format.read_magic(stream)  # np.save writes format 1.0 for every plain numeric array
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)  # a literal dict, parsed by NumPy
    return _array_from_parts(shape, dtype, fortran, stream.read())


def load_array(path, ndim: int | None, what: str, integer_scale: dict | None = None) -> np.ndarray:
    """A finite float32 array of `ndim` dimensions (None: any) from a pickle or .npy file, else DataError.

    Stored dtypes (ACCEPTED_DTYPES): float32 as is; float64 once every value is finite and within
    float32's range; int16 and uint8 as values, or divided by integer_scale[dtype name] where one is
    given (a dtype missing from it is then refused)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found (expected {what}; `make data` writes the default data)")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file ({_file_kind(path)}); expected {what}")
    try:
        if path.stat().st_size > MAX_ARRAY_BYTES + (1 << 16):
            raise _Refused(f"{path.stat().st_size:,} bytes, above the cap of {MAX_ARRAY_BYTES:,} bytes of data")
        with open(path, "rb") as stream:
            array = _read_array(stream, path.suffix)
    except _Refused as error:
        raise DataError(f"{path}: not a plain NumPy array: {error}") from None
    except Exception as error:  # whatever a damaged or hostile file makes the unpickler raise
        message = f"{type(error).__name__}: {str(error)[:200]}"
        raise DataError(f"{path}: could not read a pickled array (truncated or not a pickle?): {message}") from None
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions ({what}), found shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{path}: expected {what}, found an empty array of shape {array.shape}")
    if array.dtype.kind in "iu":
        if integer_scale is not None and array.dtype.name not in integer_scale:
            raise DataError(f"{path}: expected {what} as float32 or float64, found {array.dtype.name}")
        return array.astype(np.float32) / np.float32((integer_scale or {}).get(array.dtype.name, 1.0))
    if not np.isfinite(array).all():
        infinite = np.count_nonzero(~np.isfinite(array))
        raise DataError(f"{path}: expected finite values, found {infinite} NaN/Inf entries")
    beyond = np.abs(array) > np.finfo(np.float32).max
    if beyond.any():
        raise DataError(f"{path}: found {np.count_nonzero(beyond)} values beyond float32's range "
                        f"(largest |x| {np.abs(array).max():.3g})")
    return array.astype(np.float32, copy=False)


# ---------------------------------------------------------------- run folders
# Promise: `--out` is replaced only when this project wrote it and it holds nothing else. Every run folder
# carries RUN_MARKER, which lists each file the run wrote with its size; a folder is a run folder when the
# marker is there and the folder holds those files and nothing more (an empty folder holds nothing to lose).
# Anything else is refused before any work, never deleted.
RUN_MARKER = ".run-folder.json"
MARKER_NOTE = "written by this project's safety.run_folder; the folder is replaced whole only if it holds just these"
MAX_RUN_FILES = 100  # a run writes about ten files; a folder with more is not one of ours
MIN_FREE_BYTES = 64 << 20  # a run writes a few MB (model.pt, figures); refused before training below this
REPO = Path(__file__).resolve().parents[1]  # the checkout: never a run folder, nor inside one
_UMASK = os.umask(0)
os.umask(_UMASK)


def _file_kind(path: Path) -> str:
    kinds = {"a folder": path.is_dir(), "a regular file": path.is_file(), "a FIFO": path.is_fifo(),
             "a character device": path.is_char_device(), "a block device": path.is_block_device()}
    return next((name for name, is_kind in kinds.items() if is_kind), "a socket or other special file")


def check_output_folder(out, option: str = "--out", data_dir=None) -> Path:
    """`out` resolved if it can become a run folder, else DataError (one line). Refused: a symbolic link;
    an existing non-folder (file, /dev/null, FIFO); a path that is, contains or lies inside `data_dir`;
    the checkout or a folder above it; a git checkout or a mount point; a non-empty folder that is not a
    run folder (see RUN_MARKER); a path whose nearest existing parent is not a writable folder or whose
    file system has less than MIN_FREE_BYTES free."""
    if Path(out).is_symlink():
        raise DataError(f"{option} {out}: a symbolic link; name the folder itself (it could hold other files)")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise DataError(f"{option} {out}: exists and is not a folder ({_file_kind(out)})")
    _refuse_overlap(out, option, data_dir)
    if out.is_dir():
        _refuse_foreign_folder(out, option)
    parent = next(folder for folder in out.parents if folder.exists())
    if not parent.is_dir():
        raise DataError(f"{option} {out}: {parent} is not a folder ({_file_kind(parent)})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {out}: the folder {parent} is not writable")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise DataError(f"{option} {out}: {free:,} bytes free on its file system, below the {MIN_FREE_BYTES:,} "
                        "a run needs; free some space or choose another --out")
    return out


def _refuse_overlap(out: Path, option: str, data_dir) -> None:
    """The data and the checkout are never replaced: `out` may not be, hold or lie in --data-dir, nor hold
    the checkout, nor lie inside a .git folder (results/ inside the checkout is where make report writes)."""
    if data_dir is not None:
        data = Path(data_dir).resolve()
        if out == data or data in out.parents or out in data.parents:
            raise DataError(f"{option} {out}: is, holds or lies inside the data folder --data-dir {data}; "
                            "choose a folder apart from the data")
    if out == REPO or out in REPO.parents:
        raise DataError(f"{option} {out}: is or holds this checkout ({REPO}); choose a folder such as results/run")
    if ".git" in out.parts:
        raise DataError(f"{option} {out}: lies inside a .git folder")


def _refuse_foreign_folder(out: Path, option: str) -> None:
    """An existing folder is replaced only when it is empty or a run folder holding just what the run wrote."""
    if os.path.ismount(out):
        raise DataError(f"{option} {out}: a mount point; choose a folder inside it")
    if (out / ".git").exists():
        raise DataError(f"{option} {out}: a git checkout (holds .git); refusing to replace it")
    with os.scandir(out) as entries:
        names = {entry.name for entry, _ in zip(entries, range(MAX_RUN_FILES + 1))}
    if not names:
        return
    written = _marked_files(out / RUN_MARKER)
    if written is None:
        raise DataError(f"{option} {out}: a non-empty folder this project did not write (no valid {RUN_MARKER}); "
                        "refusing to replace it (an old run folder? delete it yourself)")
    if others := sorted(names - set(written) - {RUN_MARKER}):
        shown = ", ".join(printable(name) for name in others[:3]) + (", ..." if len(others) > 3 else "")
        raise DataError(f"{option} {out}: a run folder that also holds {shown}, which the run did not write; "
                        "refusing to replace it (move them out first)")
    for name in names - {RUN_MARKER}:
        status = os.lstat(out / name)
        if not stat.S_ISREG(status.st_mode) or status.st_size != written[name]:
            raise DataError(f"{option} {out}: {printable(name)} changed since the run wrote it; "
                            "refusing to replace it (move it out first)")


def _marked_files(marker: Path) -> dict | None:
    """{file name: size} from a run folder's marker; None when it is missing or not one we wrote."""
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode) or os.lstat(marker).st_size > 1 << 16:
            return None
        files = json.loads(marker.read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    valid = isinstance(files, dict) and len(files) <= MAX_RUN_FILES
    return files if valid and all(type(size) is int for size in files.values()) else None


def _write_marker(folder: Path) -> None:
    """List what the run wrote (flat files only: a run writes no sub-folders) as the folder's RUN_MARKER."""
    files = {entry.name: entry.stat(follow_symlinks=False).st_size for entry in os.scandir(folder)}
    if any(not stat.S_ISREG(os.lstat(folder / name).st_mode) for name in files) or len(files) > MAX_RUN_FILES:
        raise ValueError(f"a run folder holds at most {MAX_RUN_FILES} plain files, found {sorted(files)}")
    (folder / RUN_MARKER).write_text(json.dumps({"note": MARKER_NOTE, "files": files}, indent=2) + "\n")


# Promise: a run folder appears whole or not at all. The run writes into `.<name>.run.<pid>.<random>.partial`
# beside --out, then exchanges it with --out in one renameat2(RENAME_EXCHANGE) (or renames it in with
# RENAME_NOREPLACE when --out does not exist), so at every instant --out is the previous run folder or
# the new one, whole. Where renameat2 is missing (not Linux, an old kernel or a file system without it)
# two renames do it: --out to `.<name>.run.<pid>.old`, then the new folder to --out; a kill between the
# two leaves --out absent and the previous run whole in the .old folder, which the next run renames back.
AT_FDCWD, RENAME_NOREPLACE, RENAME_EXCHANGE = -100, 1, 2  # from <fcntl.h> and <linux/fs.h>
LEFTOVER_AGE_SECONDS = 7 * 24 * 3600  # a leftover this old is removed even if its pid runs (pids get reused)


def _libc_renameat2():
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:  # no C library to open (Windows)
        return None


_RENAMEAT2 = _libc_renameat2()


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """True when renameat2 did it; False when this system or file system lacks it (then the fallback)."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(target))


@contextlib.contextmanager
def run_folder(out):
    """Yield a fresh temporary folder beside `out` (hidden name) that replaces `out` whole when the block ends
    normally; `out` is checked again at the swap (a folder the user made there meanwhile is refused, not
    replaced). On any exception, KeyboardInterrupt or SIGTERM the temporary folder is removed and `out` is
    left as it was; a failed write (disk full, a folder made read-only) becomes a one-line DataError."""
    out = check_output_folder(out)
    _clear_leftovers(out)
    holding, held = True, []  # while holding, a signal is noted and raised once nothing is half-done

    def on_signal(number, frame):
        if not holding:
            raise KeyboardInterrupt
        held.append(number)

    main_thread = threading.current_thread() is threading.main_thread()  # no other may set handlers
    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM) if main_thread}
    temporary = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.run.{os.getpid()}.", suffix=".partial", dir=out.parent))
        holding = False
        if held:
            raise KeyboardInterrupt
        yield temporary
        holding = True
        _write_marker(temporary)
        _swap_in(temporary, out)
    except Exception as error:
        if not _is_failed_write(error):
            raise
        raise DataError(f"--out {out}: could not write the run folder ({_write_failure(error)}); the previous "
                        "folder is as it was") from None
    finally:
        holding = True
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        for number, handler in previous.items():
            signal.signal(number, handler)
    if held:
        raise KeyboardInterrupt


def _is_failed_write(error: Exception) -> bool:
    """OSError (disk full, read-only, ...); torch.save reports a failed write as its zip writer's RuntimeError."""
    return isinstance(error, OSError) or isinstance(error, RuntimeError) and "inline_container" in str(error)


def _write_failure(error: Exception) -> str:
    if isinstance(error, OSError):
        return printable(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")
    return "a write failed: is the disk full?"


def _swap_in(folder: Path, out: Path) -> None:
    """Put `folder` at `out` in one step (see above); the previous run folder, if any, is then removed."""
    os.chmod(folder, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual permissions
    out = check_output_folder(out)  # again: the user may have made or filled a folder there meanwhile
    if not os.path.lexists(out):
        if _renameat2(folder, out, RENAME_NOREPLACE):
            return
        os.rename(folder, out)  # fallback: a folder made in this instant is empty (checked just above)
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


def _clear_leftovers(out: Path) -> None:
    """Promise: what a killed run leaves beside `out` is cleared by the next run. A `.<name>.run.<pid>.*`
    folder whose pid no longer runs (or older than LEFTOVER_AGE_SECONDS) is removed, except a `.old`
    one while `out` is missing: that is the previous run, left by a kill inside the fallback swap, and
    it is renamed back to `out`."""
    for leftover in out.parent.glob(f".{glob.escape(out.name)}.run.*"):
        pid = leftover.name[len(out.name) + 6:].split(".")[0]
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


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds. A failed write
    (disk full, an unwritable folder) removes the temporary file and becomes a one-line DataError."""
    path, temporary = Path(path), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(handle)
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    except OSError as error:
        raise DataError(f"{path}: could not write it ({_write_failure(error)}); any previous file is as it "
                        "was") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


# Promise: metrics.json is strict JSON. json.dumps writes NaN and Infinity by default, which JSON does not
# have; a number a run could not compute (a correlation with a constant, a ratio of zeros) is written as null
# instead, and its place is listed under "not_computed" with the reason.
NOT_COMPUTED = "not_computed"


def write_json(path, payload: dict) -> None:
    """`payload` as strict JSON (allow_nan=False), each non-finite number null and listed under NOT_COMPUTED."""
    missing = {}
    finite = _finite_or_null(payload, "", missing)
    if missing:
        finite[NOT_COMPUTED] = missing
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(finite, indent=2, allow_nan=False) + "\n")


def _finite_or_null(value, where: str, missing: dict):
    """A copy of `value` with every NaN or infinite float replaced by None, each noted in `missing`."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item, f"{where}.{key}".lstrip("."), missing) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item, f"{where}.{index}", missing) for index, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        missing[where] = f"{value}: the inputs leave it undefined (constant values, or identical images?)"
        return None
    return value
