"""The table rules of spec/FORMAT.md with numpy, many keys or slots per call: the hash (§4), the
bounded probe (§5.3) as a few gathers, the builder's sort and placement (§7), and the slot
scans of iteration and verify. Every function here computes exactly what its pure-Python twin
in :mod:`idxmap.hashing` / :mod:`idxmap.table` computes (the tests run both).

numpy is optional (``pip install idxmap[numpy]``); :func:`numpy_or_none` says whether it is
there. Set ``IDXMAP_NUMPY=0`` to take the pure-Python paths with numpy installed.
"""

from __future__ import annotations

import os

from .args import check_key_array, check_uint32, key_list
from .errors import ERR_IDX_INVALID_ARGUMENT, error
from .hashing import EMPTY_HASH

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Any, Optional, Tuple

_numpy: Any = None
_checked = False


def numpy_or_none() -> Any:
    """The numpy module, or None when it is not installed (or IDXMAP_NUMPY=0). Imported on first
    use, not with idxmap: a script that opens an index and looks up a few keys does not pay for
    importing numpy (about 0.1 s)."""
    global _numpy, _checked
    if not _checked:
        _checked = True
        if os.environ.get("IDXMAP_NUMPY", "1") != "0":
            try:
                import numpy

                _numpy = numpy
            except ImportError:
                _numpy = None
    return _numpy


def _np() -> Any:
    # The functions below are called on the numpy paths only, after numpy_or_none(); called
    # directly (or with IDXMAP_NUMPY=0), they import numpy themselves.
    if _numpy is not None:
        return _numpy
    import numpy

    return numpy


# ---- §4 ----


def hash32_array(keys: Any) -> Any:
    """fmix32 of every uint32 of ``keys`` (a new uint32 array). numpy's uint32 arithmetic on
    arrays wraps mod 2^32, as the spec's does."""
    np = _np()
    x = np.array(keys, dtype=np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def unhash32_array(hashes: Any) -> Any:
    """The inverse of :func:`hash32_array`."""
    np = _np()
    x = np.array(hashes, dtype=np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7ED1B41D)
    x ^= (x >> np.uint32(13)) ^ (x >> np.uint32(26))
    x *= np.uint32(0xA5CB9243)
    x ^= x >> np.uint32(16)
    return x


def home_slots(hashes: Any, capacity: int) -> Any:
    """``(h * capacity) >> 32`` for every hash, as int64. ``capacity`` may pass 2^32, so the
    product may need 65 bits: with ``capacity = c1 * 2^32 + c0`` it is ``h * c1 + ((h * c0) >> 32)``
    (§4), every step within uint64."""
    np = _np()
    h = hashes.astype(np.uint64)
    c0 = np.uint64(capacity & 0xFFFFFFFF)
    c1 = np.uint64(capacity >> 32)
    home = (h * c0) >> np.uint64(32)
    if capacity >> 32:
        home += h * c1
    return home.astype(np.int64)


# ---- arguments ----


def as_uint32_array(obj: Any, name: str, path: Optional[str] = None) -> Any:
    """``obj`` as a 1-D uint32 array (no copy when it already is one).

    Accepts exactly what the pure-Python path accepts (see :func:`idxmap.args.key_list`): a
    numpy array of an integer dtype (its dtype and shape decide, :func:`~idxmap.args.
    check_key_array`), or any other iterable whose every element is an int from 0 to
    4294967295 (numpy integers included; not bools, floats or strings), whatever mix of
    types it holds. Elements are converted as ints, never through numpy's type promotion,
    which turns ``[numpy.uint64(5), 1]`` into floats and ``[1, True]`` into ints.

    Raises:
        InvalidArgumentError: not iterable, not 1-D, not integers, or an element out of range.
    """
    np = _np()
    if isinstance(obj, np.ndarray):
        arr = check_key_array(np.asarray(obj), name, path)  # a subclass (masked, matrix) as its data
    else:
        arr = _integer_buffer(obj, np)
        if arr is None:
            keys = key_list(name, obj, path)
            # The usual batch, a list of ints, is checked in C (map, min, max); anything else
            # element by element, as the pure path does.
            if keys and not (set(map(type, keys)) == {int} and min(keys) >= 0 and max(keys) <= 0xFFFFFFFF):
                keys = [check_uint32(name, k, path) for k in keys]
            return np.array(keys, dtype=np.uint32)
    if arr.dtype == np.uint32:
        return arr
    if arr.size:
        lo = int(arr.min())
        hi = int(arr.max())
        if lo < 0 or hi > 0xFFFFFFFF:
            bad = lo if lo < 0 else hi
            raise error(
                ERR_IDX_INVALID_ARGUMENT,
                f"{name} must be integers from 0 to 4294967295, not {bad}",
                path=path,
            )
    return arr.astype(np.uint32)


_INTEGER_FORMATS = frozenset("bBhHiIlLqQnN")


def _integer_buffer(obj: Any, np: Any) -> Any:
    """A one-dimensional buffer of integers (``array.array("I")``, ``bytes``, a memoryview) as a
    numpy array without a copy, or None. Iterating one yields ints, so reading it whole accepts
    and refuses what the element-by-element path would; other buffers (floats, bools, structs,
    several dimensions) go that path."""
    if isinstance(obj, (str, list, tuple, dict)):
        return None
    try:
        view = memoryview(obj)
    except TypeError:
        return None
    # Native formats only: those a memoryview iterates ("<I" of ctypes is read element by element).
    if view.ndim != 1 or view.format.lstrip("@") not in _INTEGER_FORMATS:
        return None
    return np.asarray(view)


# ---- §5.3 ----

def probe_hashes(slots: Any, hashes: Any, capacity: int, reach: int, last_slot: int) -> Tuple[Any, Any, bool]:
    """§5.3 for every hash of ``hashes`` (uint32, none EMPTY) over ``slots`` (uint64 words of the
    mapping). Returns (values uint32, found bool, undecided): ``undecided`` is True when some
    probe read ``reach + 1`` slots and still saw smaller hashes (see :func:`idxmap.table.probe`).

    No Python loop per key: step k gathers slot ``home + k`` of every key still undecided (one
    ``take``: each slot read with one 8-byte load, see :mod:`idxmap.mapping`), and the keys that
    step decides drop out. At the builder's load a step decides about a fifth of the keys, so
    the steps cost about four full gathers in all, however long the longest probe; no probe
    reads past ``home + reach`` or ``last_slot``.
    """
    np = _np()
    n = hashes.size
    home = home_slots(hashes, capacity)
    limit = np.minimum(home + reach, last_slot)
    # The word each probe stopped at; EMPTY (which no probed hash equals) for probes that
    # used up their reach.
    final = np.full(n, np.uint64(EMPTY_HASH), dtype=np.uint64)
    idx = None  # the keys still undecided (None: all of them, in order)
    pos = home
    h32 = hashes
    undecided = False
    while pos.size:
        w = slots.take(pos)
        smaller = w.view(np.uint32)[0::2] < h32  # the hash words: the low half of each slot
        # Index arrays and take, not boolean masks: measured a quarter faster.
        stopped = np.flatnonzero(~smaller)
        final[stopped if idx is None else idx.take(stopped)] = w.take(stopped)
        keep = np.flatnonzero(smaller & (pos < limit))
        if not undecided and keep.size + stopped.size < pos.size:
            undecided = True  # some probe reached its limit still seeing smaller hashes
        idx = keep if idx is None else idx.take(keep)
        pos = pos.take(keep)
        pos += 1
        limit = limit.take(keep)
        h32 = h32.take(keep)
    words = final.view(np.uint32)
    found = words[0::2] == hashes
    values = np.where(found, words[1::2], np.uint32(0))
    return values, found, undecided


def measure_reach_array(slots: Any, capacity: int, chunk: int = 1 << 20) -> int:
    """:func:`idxmap.table.measure_reach` over a numpy uint64 slot array, chunk by chunk."""
    np = _np()
    reach = 0
    previous = EMPTY_HASH
    n = slots.size
    for a in range(0, n, chunk):
        hw = (slots[a : a + chunk] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        prev = np.empty_like(hw)
        prev[0] = previous
        prev[1:] = hw[:-1]
        entry = (hw != EMPTY_HASH) & (hw != prev)
        where = np.flatnonzero(entry)
        if where.size:
            d = (where + a) - home_slots(hw[where], capacity)
            reach = max(reach, int(d.max()))
        previous = int(hw[-1])
    return reach


# ---- §5.5 ----


def entries_of(words: Any, previous: int) -> Tuple[Any, Any]:
    """The (keys, values) of the entries among ``words`` (a copy of consecutive slots), the slot
    before them holding hash ``previous``; in slot order."""
    np = _np()
    hw = (words & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    prev = np.empty_like(hw)
    prev[0] = previous
    prev[1:] = hw[:-1]
    entry = (hw != EMPTY_HASH) & (hw != prev)
    return unhash32_array(hw[entry]), (words[entry] >> np.uint64(32)).astype(np.uint32)


# ---- §7 ----


def sort_and_place(keys: Any, values: Any) -> Tuple[Any, int, Optional[int], int, int, int]:
    """§7 steps 1 to 5 for uint32 columns (in input order): returns (slot words uint64 of the
    whole slot region, entries n, the escaped key's value or None, capacity, slot count, reach).

    The last value of a key wins: hashes are sorted stably (packed above their input position
    into one uint64 and sorted; every packed word is distinct, so any sort is stable), and the
    last of each run of equal hashes is kept. Placement ``pos_j = max(home_j, pos_{j-1} + 1)``
    is ``j + max_{i<=j}(home_i - i)``: a running maximum.
    """
    np = _np()
    from .format import SPILL_SLOTS, build_capacity

    hashes = hash32_array(keys)
    values = np.asarray(values, dtype=np.uint32)
    escaped_value: Optional[int] = None
    is_escaped = hashes == np.uint32(EMPTY_HASH)
    if is_escaped.any():
        escaped_value = int(values[np.flatnonzero(is_escaped)[-1]])
        keep = ~is_escaped
        hashes = hashes[keep]
        values = values[keep]
    m = hashes.size
    packed = (hashes.astype(np.uint64) << np.uint64(32)) | np.arange(m, dtype=np.uint64)
    packed.sort()
    sorted_hashes = (packed >> np.uint64(32)).astype(np.uint32)
    order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    del packed
    if m:
        last_of_run = np.empty(m, dtype=bool)
        np.not_equal(sorted_hashes[1:], sorted_hashes[:-1], out=last_of_run[:-1])
        last_of_run[-1] = True
        sorted_hashes = sorted_hashes[last_of_run]
        order = order[last_of_run]
    sorted_values = values[order]
    del order
    n = sorted_hashes.size
    capacity = build_capacity(n)
    home = home_slots(sorted_hashes, capacity)
    j = np.arange(n, dtype=np.int64)
    pos = home - j
    np.maximum.accumulate(pos, out=pos)
    pos += j
    reach = int((pos - home).max()) if n else 0
    slot_count = max(capacity, int(pos[-1]) + 1 if n else 0) + SPILL_SLOTS
    slots = np.full(slot_count, np.uint64(EMPTY_HASH), dtype=np.uint64)
    slots[pos] = sorted_hashes.astype(np.uint64) | (sorted_values.astype(np.uint64) << np.uint64(32))
    return slots, n, escaped_value, capacity, slot_count, reach
