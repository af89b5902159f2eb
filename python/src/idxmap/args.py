"""Checks of the values callers pass, in one place so every path (pure Python or numpy, any
batch size) refuses the same values with the same error."""

from __future__ import annotations

import operator
import os

from .errors import ERR_IDX_INVALID_ARGUMENT, IdxError, error

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Any, Optional

MAX_U32 = 0xFFFFFFFF


def describe_value(v: Any) -> str:
    """How a bad argument reads in a message: its type, and its value when short."""
    if v is None:
        return "None"
    if isinstance(v, str):
        return f"a string of {len(v)} characters" if len(v) > 40 else repr(v)
    if isinstance(v, (bool, int, float)):
        text = repr(v)
        return text if len(text) <= 40 else f"an int of {len(str(abs(int(v))))} digits"
    return f"an object ({type(v).__name__})"


def invalid(what: str, path: Optional[str] = None, hint: Optional[str] = None) -> IdxError:
    return error(ERR_IDX_INVALID_ARGUMENT, what, path=path, hint=hint)


def check_uint32(name: str, v: Any, path: Optional[str] = None) -> int:
    """``v`` as an int from 0 to 4294967295: an int or an integer-like (numpy integers), not a
    bool, float or string.

    Raises:
        InvalidArgumentError: anything else.
    """
    if type(v) is int:
        if 0 <= v <= MAX_U32:
            return v
    elif not isinstance(v, bool):
        try:
            i = operator.index(v)
        except TypeError:
            i = -1
        if 0 <= i <= MAX_U32:
            return i
    raise invalid(f"{name} must be an integer from 0 to 4294967295, not {describe_value(v)}", path)


def lookup_key(key: Any) -> Optional[int]:
    """The uint32 a dict-style lookup means by ``key``, or None when no uint32 key equals it.

    As a dict with int keys: ``1``, ``True``, ``1.0`` and ``numpy.uint32(1)`` all find key 1;
    ``-1``, ``2**32``, ``1.5``, ``"1"`` and ``None`` find nothing.
    """
    if type(key) is float:
        if key.is_integer() and 0 <= key <= MAX_U32:
            return int(key)
        return None
    try:
        i = operator.index(key)
    except TypeError:
        return None
    return i if 0 <= i <= MAX_U32 else None


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
