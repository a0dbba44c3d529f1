"""Can a homework pickle be read safely? Yes: a crafted pickle can neither run code nor make us read
or allocate memory it does not own.

A pickle can call any importable callable while it loads, and NumPy's own _reconstruct allocates
whatever shape it is told. So a restricted unpickler hands out stand-ins (`_Call`) that record what
the file claims, without running anything; the array is built only once the claims hold: a plain
numeric dtype (ACCEPTED_DTYPES), a tuple of sizes, at most MAX_ARRAY_BYTES, and exactly the bytes
that shape needs (`_array_from_parts`). A .npy file's header is a literal dict, parsed by NumPy.
`load_array` then checks the values: finite, within float32's range, of the dimensions asked for.
"""

import math
import pickle
import reprlib
from pathlib import Path

import numpy as np

from safety.errors import DataError, file_kind, printable

MAX_ARRAY_BYTES = 1 << 30  # 1 GiB of array data; the homework's largest file holds 32 MB
MAX_HEADER_BYTES = 1 << 16  # what a file may hold beyond its array data: pickle opcodes, a header
MAX_DIMENSIONS = 32  # NumPy's own limit on an array's dimensions
ACCEPTED_DTYPES = {"f4": "float32", "f8": "float64", "i2": "int16", "u1": "uint8"}  # any byte order
_DTYPE_NAMES = ", ".join(ACCEPTED_DTYPES.values())
SHOWN_BYTES = 20  # bytes of an untrusted value shown in an error: enough to recognise it
# The only globals a NumPy array's pickle names (both of NumPy's module layouts, 1.x and 2.x).
_ALLOWED = {("numpy", "ndarray"): "ndarray", ("numpy", "dtype"): "dtype",
            ("_codecs", "encode"): "encode",
            **{(f"{core}.multiarray", "_reconstruct"): "_reconstruct"
               for core in ("numpy.core", "numpy._core")},
            **{(f"{core}.numeric", "_frombuffer"): "_frombuffer"
               for core in ("numpy.core", "numpy._core")}}


class _Refused(Exception):
    """A pickle that asks for more than a plain NumPy array."""


def _first_bytes(value, level) -> str:
    return repr(value[:SHOWN_BYTES])


_SHORT = reprlib.Repr()  # how values from an untrusted file are shown: cut short, escaped by repr
_SHORT.repr_bytes = _SHORT.repr_bytearray = _first_bytes


def _shown(value) -> str:
    return printable(_SHORT.repr(value))


# ---------------------------------------------------------------- what the file claims
class _Call:
    """Recorded instead of done: an allowed global `name` (args None) or a call name(*args), then
    BUILD's state."""

    def __init__(self, name: str, args: tuple | None = None):
        self.name, self.args, self.state = name, args, None

    def __call__(self, *args):
        return _Call(self.name, args)

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return self.name if self.args is None else f"{self.name}(...)"


def _is(value, name: str, *n_args: int) -> bool:
    """`value` is the recorded global `name` (no n_args) or a call of it with one of n_args
    arguments."""
    if not (isinstance(value, _Call) and value.name == name):
        return False
    if not n_args:
        return value.args is None
    return value.args is not None and len(value.args) in n_args


class _RecordingUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            shown = _shown(f"{module}.{name}")
            raise _Refused(f"refused to load global {shown} (only NumPy arrays are allowed)")
        # A fresh record each time: nothing is shared between loads.
        return _Call(_ALLOWED[(module, name)])


# ---------------------------------------------------------------- the array, once the claims hold
def _array_from_calls(call) -> np.ndarray:
    """How NumPy pickles an array: _reconstruct(ndarray, (0,), b'b') then BUILD with (version,
    shape, dtype, fortran, bytes), or (protocol 5) _frombuffer(bytes, dtype, shape, order);
    protocol 2 stores bytes as _codecs.encode(text, 'latin1')."""
    if _is(call, "_reconstruct", 3) and _is(call.args[0], "ndarray"):
        if not (isinstance(call.state, tuple) and len(call.state) == 5):
            raise _Refused("an array without its data")
        _, shape, dtype, fortran, data = call.state
    elif _is(call, "_frombuffer", 4, 5) and call.args[3] in ("C", "F"):
        data, dtype, shape, fortran = *call.args[:3], call.args[3] == "F"
    else:
        if isinstance(call, _Call):
            found = f"{call.name}{_shown(call.args or ())}"
        else:
            found = f"a {type(call).__name__}"
        raise _Refused("expected a plain (C or Fortran ordered: np.ascontiguousarray) NumPy array, "
                       f"found {found}")
    latin1 = _is(data, "encode", 2) and isinstance(data.args[0], str)
    if latin1 and data.args[1] in ("latin1", "latin-1"):
        data = data.args[0].encode("latin1")
    return _array_from_parts(shape, _claimed_dtype(dtype), fortran, data)


def _claimed_dtype(dtype) -> np.dtype:
    """The dtype a recorded dtype(code, align, copy) call names, if it is a plain numeric one: its
    BUILD state (version, byte order, subarray, names, fields, ...) with the last three None."""
    state = getattr(dtype, "state", None)
    if not (_is(dtype, "dtype", 3) and dtype.args[0] in ACCEPTED_DTYPES
            and isinstance(state, tuple) and len(state) > 4
            and state[1] in ("<", ">", "|", "=") and state[2:5] == (None,) * 3):
        code = dtype.args[0] if isinstance(dtype, _Call) and dtype.args else dtype
        raise _Refused(f"dtype {_shown(code)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    return np.dtype(dtype.args[0]).newbyteorder(state[1])


def _array_from_parts(shape, dtype: np.dtype, fortran, data) -> np.ndarray:
    """The array a file claims, built only if it is a plain numeric array with exactly its bytes."""
    if dtype.str[1:] not in ACCEPTED_DTYPES or dtype.fields is not None:
        raise _Refused(f"dtype {_shown(dtype.str)} is not one of the numeric dtypes {_DTYPE_NAMES}")
    if not (isinstance(shape, tuple) and len(shape) <= MAX_DIMENSIONS
            and all(type(n) is int and n >= 0 for n in shape)):
        raise _Refused(f"shape {_shown(shape)} is not a tuple of sizes")
    # Promise: nothing is allocated beyond the cap, and the bytes are exactly the shape's.
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes, "
                       f"above the cap of {MAX_ARRAY_BYTES:,}")
    is_bytes = isinstance(data, (bytes, bytearray))
    if not is_bytes or len(data) != nbytes or fortran not in (True, False):
        found = f"{len(data):,} bytes" if is_bytes else _shown(data)
        raise _Refused(f"shape {shape} of {dtype.name} needs {nbytes:,} bytes of data, "
                       f"found {found}")
    flat = np.frombuffer(data, dtype) if nbytes else np.zeros(0, dtype)
    order = "F" if fortran else "C"
    return flat.reshape(shape, order=order).astype(dtype.newbyteorder("="), order="C")


def _read_array(stream, suffix: str) -> np.ndarray:
    if suffix != ".npy":
        return _array_from_calls(_RecordingUnpickler(stream, encoding="latin1").load())
    np.lib.format.read_magic(stream)  # np.save writes format 1.0 for every plain numeric array
    # A literal dict, parsed by NumPy.
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    return _array_from_parts(shape, dtype, fortran, stream.read())


def _claimed_array(path: Path) -> np.ndarray:
    """The array in the file at `path`, read through the sandbox, else DataError."""
    try:
        size = path.stat().st_size
        if size > MAX_ARRAY_BYTES + MAX_HEADER_BYTES:
            raise _Refused(f"{size:,} bytes, above the cap of {MAX_ARRAY_BYTES:,} bytes of data")
        with open(path, "rb") as stream:
            return _read_array(stream, path.suffix)
    except _Refused as error:
        raise DataError(f"{path}: not a plain NumPy array: {error}") from None
    except Exception as error:  # whatever a damaged or hostile file makes the unpickler raise
        message = f"{type(error).__name__}: {str(error)[:200]}"
        raise DataError(f"{path}: could not read a pickled array "
                        f"(truncated or not a pickle?): {message}") from None


# ---------------------------------------------------------------- its values
def load_array(path, ndim: int | None, what: str, integer_scale: dict | None = None) -> np.ndarray:
    """A finite float32 array of `ndim` dimensions (None: any) from a pickle or .npy file, else
    DataError.

    Stored dtypes (ACCEPTED_DTYPES): float32 as is; float64 once every value is finite and within
    float32's range; int16 and uint8 as values, or divided by integer_scale[dtype name] where one is
    given (a dtype missing from it is then refused)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found (expected {what}; "
                        "`make data` writes the default data)")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file ({file_kind(path)}); expected {what}")
    array = _claimed_array(path)
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions ({what}), found shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{path}: expected {what}, found an empty array of shape {array.shape}")
    if array.dtype.kind in "iu":
        if integer_scale is not None and array.dtype.name not in integer_scale:
            raise DataError(f"{path}: expected {what} as float32 or float64, "
                            f"found {array.dtype.name}")
        scale = (integer_scale or {}).get(array.dtype.name, 1.0)
        return array.astype(np.float32) / np.float32(scale)
    if not np.isfinite(array).all():
        infinite = np.count_nonzero(~np.isfinite(array))
        raise DataError(f"{path}: expected finite values, found {infinite} NaN/Inf entries")
    beyond = np.abs(array) > np.finfo(np.float32).max
    if beyond.any():
        raise DataError(f"{path}: found {np.count_nonzero(beyond)} values beyond float32's range "
                        f"(largest |x| {np.abs(array).max():.3g})")
    return array.astype(np.float32, copy=False)
