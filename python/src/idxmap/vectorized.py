"""The table rules of spec/FORMAT.md with numpy, many keys or slots per call: the hash (§4), the
bounded probe (§5.3) as a few gathers, the builder's sort and placement (§7), and the slot
scans of iteration and verify. Every function here computes exactly what its pure-Python twin
in :mod:`idxmap.hashing` / :mod:`idxmap.table` computes (the tests run both).

numpy is optional (``pip install idxmap[numpy]``); :func:`numpy_or_none` says whether it is
there. Set ``IDXMAP_NUMPY=0`` to take the pure-Python paths with numpy installed.
"""

from __future__ import annotations

import os

from .args import MAX_U32, check_key_array, check_uint, key_list
from .errors import ERR_IDX_INVALID_ARGUMENT, error
from .hashing import EMPTY_HASH
from .widths import W32, Widths

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


def hash64_array(keys: Any) -> Any:
    """hash64 (§16.3) of every uint64 of ``keys`` (a new uint64 array): the Feistel rounds on the
    two uint32 halves, each round's fmix32 an array operation."""
    np = _np()
    k = np.asarray(keys, dtype=np.uint64)
    hi = (k >> np.uint64(32)).astype(np.uint32)
    lo = (k & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    lo ^= hash32_array(hi ^ np.uint32(0x9E3779B9))
    hi ^= hash32_array(lo ^ np.uint32(0x85EBCA77))
    lo ^= hash32_array(hi ^ np.uint32(0xC2B2AE3D))
    hi ^= hash32_array(lo ^ np.uint32(0x27D4EB2F))
    return (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)


def unhash64_array(hashes: Any) -> Any:
    """The inverse of :func:`hash64_array`."""
    np = _np()
    h = np.asarray(hashes, dtype=np.uint64)
    hi = (h >> np.uint64(32)).astype(np.uint32)
    lo = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi ^= hash32_array(lo ^ np.uint32(0x27D4EB2F))
    lo ^= hash32_array(hi ^ np.uint32(0xC2B2AE3D))
    hi ^= hash32_array(lo ^ np.uint32(0x85EBCA77))
    lo ^= hash32_array(hi ^ np.uint32(0x9E3779B9))
    return (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)


def hash_array(keys: Any, w: Widths) -> Any:
    """The hash of every key at the key width of ``w``: uint32 (§4) or uint64 (§16.3)."""
    return hash64_array(keys) if w.key_bits == 64 else hash32_array(keys)


def unhash_array(hashes: Any, w: Widths) -> Any:
    return unhash64_array(hashes) if w.key_bits == 64 else unhash32_array(hashes)


def home_slots_of(hashes: Any, capacity: int, w: Widths) -> Any:
    """The home slot of every hash of the key width of ``w`` (a 64-bit hash's from its high half)."""
    np = _np()
    return home_slots(hashes >> np.uint64(32) if w.key_bits == 64 else hashes, capacity)


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
    """``obj`` as a 1-D uint32 array: :func:`as_key_array` to 4294967295."""
    return as_key_array(obj, name, path, MAX_U32)


def as_key_array(obj: Any, name: str, path: Optional[str] = None, limit: int = MAX_U32) -> Any:
    """``obj`` as a 1-D array of integers from 0 to ``limit``: uint32 for 4294967295, uint64 for
    2^64 - 1 (no copy when it already is one).

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
    dtype = np.uint32 if limit == MAX_U32 else np.uint64
    if isinstance(obj, np.ndarray):
        arr = check_key_array(np.asarray(obj), name, path, limit)  # a subclass (masked, matrix) as its data
    else:
        arr = _integer_buffer(obj, np)
        if arr is None:
            keys = key_list(name, obj, path, limit)
            # The usual batch, a list of ints, is checked in C (map, min, max); anything else
            # element by element, as the pure path does.
            if keys and not (set(map(type, keys)) == {int} and min(keys) >= 0 and max(keys) <= limit):
                keys = [check_uint(name, k, limit, path) for k in keys]
            return np.array(keys, dtype=dtype)
    if arr.dtype == dtype:
        return arr
    if arr.size:
        lo = int(arr.min())
        hi = int(arr.max())
        if lo < 0 or hi > limit:
            bad = lo if lo < 0 else hi
            raise error(
                ERR_IDX_INVALID_ARGUMENT,
                f"{name} must be integers from 0 to {limit}, not {bad}",
                path=path,
            )
    return arr.astype(dtype)


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


def probe_hashes_wide(slots: Any, hashes: Any, capacity: int, reach: int, last_slot: int, w: Widths) -> Tuple[Any, Any, bool]:
    """:func:`probe_hashes` over version 3 slots (``slots``: the mapping's slot region as records
    of ``w.np_dtype``, whose fields are the hash words and the values, §16.1), for ``hashes`` of
    the key width of ``w`` (none EMPTY). Returns (values, found, undecided); values are uint64
    when values are 64-bit, else uint32."""
    np = _np()
    hash_fields = slots["h"]
    value_fields = slots["v"]
    h64 = hashes.astype(np.uint64)
    n = h64.size
    home = home_slots_of(h64, capacity, w)
    limit = np.minimum(home + reach, last_slot)
    final = np.full(n, -1, dtype=np.int64)  # the slot each probe stopped at (-1: used up its reach)
    idx = None
    pos = home
    hk = h64
    undecided = False
    while pos.size:
        x = hash_fields.take(pos)
        smaller = x < hk
        stopped = np.flatnonzero(~smaller)
        final[stopped if idx is None else idx.take(stopped)] = pos.take(stopped)
        keep = np.flatnonzero(smaller & (pos < limit))
        if not undecided and keep.size + stopped.size < pos.size:
            undecided = True
        idx = keep if idx is None else idx.take(keep)
        pos = pos.take(keep)
        pos += 1
        limit = limit.take(keep)
        hk = hk.take(keep)
    stops = np.flatnonzero(final >= 0)
    found = np.zeros(n, dtype=bool)
    dtype = np.uint64 if w.value_bits == 64 else np.uint32
    values = np.zeros(n, dtype=dtype)
    at = final.take(stops)
    hit = hash_fields.take(at) == h64.take(stops)
    where = stops[hit]
    found[where] = True
    values[where] = value_fields.take(at[hit])
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


def entries_of_wide(hashes: Any, values: Any, previous: int, w: Widths) -> Tuple[Any, Any]:
    """:func:`entries_of` for version 3 slots: ``hashes`` and ``values`` the hash words and
    values of consecutive slots (a copy), at the widths of ``w``. Keys and values as uint64
    where their width is 64, else uint32."""
    np = _np()
    prev = np.empty_like(hashes)
    if hashes.size:
        prev[0] = previous
        prev[1:] = hashes[:-1]
    entry = (hashes != hashes.dtype.type(w.empty)) & (hashes != prev)
    keys = unhash_array(hashes[entry], w)
    if w.key_bits == 32:
        keys = keys.astype(np.uint32)
    return keys, np.ascontiguousarray(values[entry])


# ---- §7 ----


def sort_and_place(keys: Any, values: Any, w: Widths = W32) -> Tuple[Any, int, Optional[int], int, int, int]:
    """§7 steps 1 to 5 for columns of widths ``w`` (in input order): returns (the slot
    region as :func:`place_sorted` gives it; entries n, the escaped key's value or None,
    capacity, slot count, reach)."""
    from .format import build_capacity

    hashes, sorted_values, escaped_value = sort_entries(keys, values, w)
    n = int(hashes.size)
    capacity = build_capacity(n)
    slots, slot_count, reach = place_sorted(hashes, sorted_values, capacity, w)
    return slots, n, escaped_value, capacity, slot_count, reach


def sort_entries(keys: Any, values: Any, w: Widths = W32) -> Tuple[Any, Any, Optional[int]]:
    """§7 steps 1, 2 and the sort of 4 for columns of widths ``w`` (in input order): (hashes
    ascending, their values, the escaped key's value or None). Hashes and values are uint32
    arrays in a 32-bit width, uint64 in a 64-bit one.

    The last value of a key wins: hashes are sorted stably, and the last of each run of equal
    hashes is kept. For 32-bit hashes the sort is of each hash packed above its input position
    into one uint64 (every packed word is distinct, so any sort is stable, and numpy sorts
    uint64 fastest); 64-bit hashes are argsorted stably.
    """
    np = _np()
    hash_dtype = np.uint64 if w.key_bits == 64 else np.uint32
    value_dtype = np.uint64 if w.value_bits == 64 else np.uint32
    hashes = hash_array(keys, w)
    values = np.asarray(values, dtype=value_dtype)
    escaped_value: Optional[int] = None
    is_escaped = hashes == hash_dtype(w.empty)
    if is_escaped.any():
        escaped_value = int(values[np.flatnonzero(is_escaped)[-1]])
        keep = ~is_escaped
        hashes = hashes[keep]
        values = values[keep]
    m = hashes.size
    if w.key_bits == 32:
        packed = (hashes.astype(np.uint64) << np.uint64(32)) | np.arange(m, dtype=np.uint64)
        packed.sort()
        sorted_hashes = (packed >> np.uint64(32)).astype(np.uint32)
        order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
        del packed
    else:
        order = np.argsort(hashes, kind="stable")
        sorted_hashes = hashes[order]
    if m:
        last_of_run = np.empty(m, dtype=bool)
        np.not_equal(sorted_hashes[1:], sorted_hashes[:-1], out=last_of_run[:-1])
        last_of_run[-1] = True
        sorted_hashes = sorted_hashes[last_of_run]
        order = order[last_of_run]
    return sorted_hashes, values[order], escaped_value


def place_sorted(hashes: Any, values: Any, capacity: int, w: Widths = W32) -> Tuple[Any, int, int]:
    """§7 steps 4 and 5 for sorted, distinct hashes (none EMPTY) with their values: (the whole
    slot region: uint64 words, one a slot, in version 2; records of ``w.np_dtype`` in version
    3, whose bytes are the packed slots of §16.1; slot count; reach).
    Placement ``pos_j = max(home_j, pos_{j-1} + 1)`` is ``j + max_{i<=j}(home_i - i)``: a running
    maximum."""
    np = _np()
    from .format import SPILL_SLOTS

    n = hashes.size
    home = home_slots_of(hashes, capacity, w)
    j = np.arange(n, dtype=np.int64)
    pos = home - j
    np.maximum.accumulate(pos, out=pos)
    pos += j
    reach = int((pos - home).max()) if n else 0
    slot_count = max(capacity, int(pos[-1]) + 1 if n else 0) + SPILL_SLOTS
    if not w.wide:
        slots = np.full(slot_count, np.uint64(EMPTY_HASH), dtype=np.uint64)
        slots[pos] = hashes.astype(np.uint64) | (values.astype(np.uint64) << np.uint64(32))
        return slots, slot_count, reach
    slots = np.zeros(slot_count, dtype=w.np_dtype(np))
    slots["h"] = w.empty
    slots["h"][pos] = hashes
    slots["v"][pos] = values
    return slots, slot_count, reach


def packed_array(arr: Any) -> bytearray:
    """The elements of a 1-D numpy array as a bytearray (what the C extension can read under the
    3.9 limited API). Copied into a bytearray rather than by ``tobytes``: measured 12 ms against
    450 ms for 40 MB on this project's VM."""
    np = _np()
    out = bytearray(arr.nbytes)
    if arr.size:
        np.frombuffer(out, dtype=arr.dtype)[:] = arr
    return out
