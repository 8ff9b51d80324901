"""Parameter files and checkpoints: written with ``paddle.save``, read back as data only.

``paddle.load`` reads a ``.pdparams`` file with Python's pickle, and a pickle can name any Python
function to call while it is read: a file shared in a chat group or attached to a tutorial can
run a command on the machine that opens it. ``load_params`` reads the same files with an
unpickler that knows only what Paddle's format holds (numpy arrays, the (name, array) pairs
Paddle writes for tensors, numbers, strings, and dicts, lists and tuples of them). Anything else
is refused at the first reference to it, before any of its code can run, with an
``UnsafeFileError`` naming the file and what it held. What it returns is what ``paddle.load``
would: the same dicts, with Paddle tensors in place of the arrays.

Writing keeps Paddle's own format, so a file from ``train.py`` still loads with the lesson's
``paddle.load`` and in every Paddle tool, and a ``.pdparams`` made the lesson's way,
``paddle.save(model.state_dict(), path)``, loads here.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from collections import OrderedDict

import numpy as np

from mnist.cli import CliError
from mnist.files import atomic_write

try:  # numpy 2.x; numpy 1.x wrote and keeps these in numpy.core.multiarray
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover
    from numpy.core import multiarray as _multiarray

# Every global a file written by paddle.save refers to (Paddle 2.x and 3.x, numpy 1.x and 2.x),
# by the name in the file: containers, and how numpy rebuilds an array, a dtype and a scalar.
# Each of them builds data and nothing else (numbers, strings and bytes have opcodes of their
# own: a file never needs to name int or bytes, and bytes(10**12) would be a memory bomb).
ALLOWED = {
    **{(module, t.__name__): t for t in (tuple, list, dict, set, frozenset)
       for module in ("builtins", "__builtin__")},  # protocol 2 writes Python 2's name
    ("collections", "OrderedDict"): OrderedDict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(module, name): getattr(_multiarray, name)
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name in ("_reconstruct", "scalar")},
    ("_codecs", "encode"): codecs.encode,  # how pickle protocol 2 writes bytes
}
NUMBER_KINDS = "biufc"  # numpy dtype kinds of numbers and booleans: no objects, no records
MAX_DEPTH = 64


class UnsafeFileError(CliError):
    """A parameters file or checkpoint that holds something other than parameters."""

    def __init__(self, path, what: str):
        super().__init__(f"{path} holds something other than parameters ({what}); it was "
                         "refused before any of it ran")


class _DataOnly(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED[module, name]
        except KeyError:
            raise _Refused(f"a reference to {module}.{name}") from None


class _Refused(Exception):
    pass


def _check(obj, depth: int = 0) -> None:
    """Only numbers, strings, bytes, numeric arrays and containers of them, not nested deeper
    than MAX_DEPTH (which also stops a structure that contains itself)."""
    if depth > MAX_DEPTH:
        raise _Refused(f"containers nested more than {MAX_DEPTH} deep")
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, bytearray)):
        return
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind not in NUMBER_KINDS:
            raise _Refused(f"an array of {obj.dtype}")
        return
    if isinstance(obj, dict):
        items = [x for pair in obj.items() for x in pair]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = obj
    else:
        raise _Refused(f"a {type(obj).__name__}")
    for item in items:
        _check(item, depth + 1)


def read_data(path) -> object:
    """The pickled contents of ``path`` as plain Python and numpy objects, or UnsafeFileError.
    A damaged or truncated file raises what pickle raises (an UnpicklingError, EOFError, ...).
    Needs numpy only, not Paddle."""
    try:
        with open(path, "rb") as f:
            obj = _DataOnly(f, encoding="latin1").load()  # latin1: as paddle.load
        _check(obj)
    except _Refused as exc:
        raise UnsafeFileError(path, str(exc)) from None
    except RecursionError:
        raise UnsafeFileError(path, "containers nested too deep") from None
    return obj


NAME_TABLE = "StructuredToParameterName@@"  # what paddle.save adds to a state_dict it saves


def _tensor(array: np.ndarray, name: str | None):
    import paddle

    tensor = paddle.to_tensor(array)
    if name:
        tensor.name = name
    return tensor


def _to_tensors(obj, pairs: bool):
    """paddle.load's conversion of nested data: each (name, array) pair Paddle wrote for a
    tensor becomes a tensor of that name; in data without such pairs, each array does."""
    if pairs and _is_pair(obj):
        return _tensor(obj[1], obj[0])
    if not pairs and isinstance(obj, np.ndarray):
        return _tensor(obj, None)
    if isinstance(obj, dict):
        return type(obj)((k, _to_tensors(v, pairs)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_tensors(v, pairs) for v in obj)
    return obj


def _is_pair(obj) -> bool:
    return (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], np.ndarray))


def _has_pair(obj) -> bool:
    if _is_pair(obj):
        return True
    if isinstance(obj, dict):
        obj = list(obj.values())
    return isinstance(obj, (list, tuple)) and any(_has_pair(v) for v in obj)


def load_params(path):
    """What ``paddle.load(path)`` returns for a parameters file or checkpoint, read as data
    only (see the module's docstring); UnsafeFileError for anything else."""
    obj = read_data(path)
    if isinstance(obj, dict) and NAME_TABLE in obj:  # a state_dict: arrays, and their names
        names = obj.pop(NAME_TABLE)
        return type(obj)((k, _tensor(v, names[k]) if isinstance(v, np.ndarray) else v)
                         for k, v in obj.items())
    return _to_tensors(obj, _has_pair(obj))


def save_params(obj, path: str | os.PathLike) -> None:
    """paddle.save, atomically: a crash never leaves a half-written parameters file."""
    import paddle

    buffer = io.BytesIO()
    paddle.save(obj, buffer)
    with atomic_write(path) as f:
        f.write(buffer.getvalue())
