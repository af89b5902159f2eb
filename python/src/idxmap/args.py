"""Checks of the values callers pass, in one place so every path (pure Python or numpy, any
batch size) refuses the same values with the same error."""

from __future__ import annotations

import operator
import os
import sys

from .errors import ERR_IDX_INVALID_ARGUMENT, IdxError, error

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Any, List, Optional

MAX_U32 = 0xFFFFFFFF
MAX_U64 = 0xFFFFFFFFFFFFFFFF


def describe_value(v: Any) -> str:
    """How a bad argument reads in a message: its type, and its value when short."""
    if v is None:
        return "None"
    if isinstance(v, str):
        return f"a string of {len(v)} characters" if len(v) > 40 else repr(v)
    if isinstance(v, (bool, int, float)):
        text = repr(v) if type(v) in (bool, int, float) else str(v)  # an IntEnum by its value
        return text if len(text) <= 40 else f"an int of {len(str(abs(int(v))))} digits"
    np = sys.modules.get("numpy")  # a numpy scalar comes from an imported numpy
    if np is not None and isinstance(v, np.generic) and isinstance(v, (np.number, np.bool_)):
        # -1 (numpy.int64): its value, and its type, which a message about a range may hinge on.
        return f"{v} (numpy.{type(v).__name__})"
    return f"an object ({type(v).__name__})"


def invalid(what: str, path: Optional[str] = None, hint: Optional[str] = None) -> IdxError:
    return error(ERR_IDX_INVALID_ARGUMENT, what, path=path, hint=hint)


def check_uint32(name: str, v: Any, path: Optional[str] = None) -> int:
    """``v`` as an int from 0 to 4294967295: an int or an integer-like (numpy integers), not a
    bool, float or string.

    Raises:
        InvalidArgumentError: anything else.
    """
    return check_uint(name, v, MAX_U32, path)


def check_uint(name: str, v: Any, limit: int, path: Optional[str] = None) -> int:
    """``v`` as an int from 0 to ``limit`` (4294967295 or 2^64 - 1): an int or an integer-like
    (numpy integers), not a bool, float or string.

    Raises:
        InvalidArgumentError: anything else.
    """
    if type(v) is int:
        if 0 <= v <= limit:
            return v
    elif not isinstance(v, bool):
        try:
            i = operator.index(v)
        except TypeError:
            i = -1
        if 0 <= i <= limit:
            return i
    raise invalid(f"{name} must be an integer from 0 to {limit}, not {describe_value(v)}", path)


def lookup_key(key: Any, limit: int = MAX_U32) -> Optional[int]:
    """The key a dict-style lookup means by ``key``, or None when no key from 0 to ``limit``
    (4294967295, or 2^64 - 1 in a file of 64-bit keys) equals it.

    As a dict with int keys: ``key`` finds uint32 ``i`` when ``key == i`` and ``hash(key) ==
    hash(i)``. So ``1``, ``True``, ``1.0``, ``Fraction(1)``, ``numpy.uint32(1)``,
    ``numpy.float64(1)`` and ``numpy.True_`` all find key 1; ``-1``, ``2**32``, ``1.5``,
    ``"1"``, ``None`` and unhashable keys find nothing.
    """
    if type(key) is int:
        return key if 0 <= key <= limit else None
    i = _integral_value(key)
    if i is None or not 0 <= i <= limit:
        return None
    # The candidate must also be what a dict would take for i: equal, with the same hash (a
    # float subclass or a Fraction that rounds to i but is not i, say, is not i).
    try:
        return i if bool(key == i) and hash(key) == hash(i) else None
    except Exception:  # noqa: BLE001 - unhashable, or an __eq__ that raises: no key equals it
        return None


def _integral_value(key: Any) -> Optional[int]:
    """The int ``key`` stands for, if it is a number with an integral value; None otherwise."""
    if isinstance(key, bool):
        return int(key)
    np = sys.modules.get("numpy")  # a numpy bool comes from an imported numpy: never import it here
    if np is not None and isinstance(key, np.bool_):
        return int(bool(key))  # no __index__ (numpy 2), and 1.x warns on it
    if hasattr(type(key), "__index__"):
        try:
            return operator.index(key)
        except Exception:  # noqa: BLE001 - a 0-d array of floats, a broken __index__
            return None
    import numbers

    if isinstance(key, numbers.Complex) and not isinstance(key, numbers.Real):
        try:
            if key.imag != 0:
                return None
            key = key.real  # 1+0j == 1 and hashes as 1, so a dict finds key 1
        except Exception:  # noqa: BLE001
            return None
    if isinstance(key, numbers.Real) or hasattr(type(key), "__float__"):
        try:
            f = float(key)
        except Exception:  # noqa: BLE001 - Decimal('sNaN'), an object whose __float__ raises
            return None
        return int(f) if f.is_integer() else None
    return None


def key_list(name: str, keys: Any, path: Optional[str] = None, limit: int = MAX_U32) -> List[Any]:
    """The elements of ``keys`` (any iterable) as a list, for the caller to check one by one
    (a numpy array by its dtype and shape first, :func:`check_key_array`). The one way both
    get_many paths read a batch of keys that is not a numpy array, so that they accept the
    same inputs.

    Raises:
        InvalidArgumentError: ``keys`` is not iterable, or is an array or memoryview that is
            not one-dimensional, or of a kind no key can be (floats, bools).
    """
    np = sys.modules.get("numpy")
    if np is not None and isinstance(keys, np.ndarray):
        return check_key_array(np.asarray(keys), name, path, limit).reshape(-1).tolist()  # a subclass as its data
    if isinstance(keys, memoryview) and keys.ndim != 1:
        # Iterating one raises NotImplementedError (or TypeError for 0-d).
        if keys.ndim == 0 or keys.nbytes != 0:
            raise invalid(f"{name} must be one-dimensional, not of shape {keys.shape}", path)
        return []
    try:
        return list(keys)
    except NotImplementedError:
        if not isinstance(keys, memoryview):
            raise
        # A memoryview of a format it cannot iterate ("<I", as ctypes arrays give).
        raise invalid(f"{name} must be integers from 0 to {limit}, not a memoryview of format {keys.format!r}", path) from None
    except TypeError:
        if hasattr(keys, "__iter__"):
            raise  # an iterable whose iteration failed: its own error, not ours
        raise invalid(f"{name} must be an iterable of integers from 0 to {limit}, not {describe_value(keys)}", path) from None


def check_key_array(arr: Any, name: str, path: Optional[str] = None, limit: int = MAX_U32) -> Any:
    """A numpy array of keys, by its dtype and shape: one-dimensional (or empty) and of an
    integer dtype (an empty float array too, which ``numpy.array([])`` gives). Its values are
    checked by the caller. Duck-typed: this module does not import numpy.

    Raises:
        InvalidArgumentError: not one-dimensional, or not integers (floats, bools, strings,
            objects).
    """
    if arr.ndim != 1:
        if arr.ndim == 0 or arr.size != 0:
            raise invalid(f"{name} must be one-dimensional, not of shape {arr.shape}", path)
        arr = arr.reshape(0)
    kind = arr.dtype.kind
    if kind not in "iu" and not (arr.size == 0 and kind == "f"):
        raise invalid(f"{name} must be integers from 0 to {limit}, not an array of {arr.dtype}", path)
    return arr


def check_path(name: str, path: Any) -> str:
    """``path`` as a str: a non-empty str or os.PathLike without NUL bytes.

    Raises:
        InvalidArgumentError: anything else.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or path == "" or "\0" in path:
        raise invalid(f"{name} must be a file path (a non-empty string without NUL bytes), not {describe_value(path)}")
    return path
