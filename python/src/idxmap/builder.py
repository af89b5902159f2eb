"""Pairs -> a new index file in the canonical layout of spec/FORMAT.md §7, put in place the way
§11.1 says: written beside the target under a temp name, synced, the old file locked and marked
retired (§11.4) so that its readers follow the path, then renamed over it.

The bytes depend only on the map (last value wins per key), not on input order or duplicates,
and are byte-identical to the Node package's builder (the tests compare them). With numpy the
hash, sort, dedupe and placement are array operations; without it, plain Python.

A map of 32-bit keys and values is a version 2 file; one whose keys or values need 64 bits (or
are asked to have them) a version 3 file (§16). A build only ever writes a new file; writing in
place is :mod:`idxmap.writer`'s.
"""

from __future__ import annotations

import array
import fcntl
import mmap
import numbers
import os
import stat
import struct
import sys
import warnings
import zlib
from collections.abc import Mapping, Sequence as _SequenceABC
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

from .args import MAX_U32, MAX_U64, check_path, check_uint, describe_value, invalid, key_list
from .errors import (
    ERR_IDX_IO,
    IdxWarning,
    ERR_IDX_NOT_AN_INDEX,
    ERR_IDX_TOO_LARGE,
    IdxError,
    error,
    io_reason,
)
from .format import (
    CELL_SEQ,
    CELL_STATE,
    LAYOUT_V2,
    MAGIC,
    SPILL_SLOTS,
    STATE_RETIRED,
    block_count,
    build_capacity,
    cell_bytes,
    encode_header,
    file_bytes,
    layout_for,
    parse_header,
)
from .atomic_file import commit, discard, remove_stale_temp_files, write_target, write_temp_file
from .lock import READER_TEST_SECONDS, WriterLock
from .mapping import snapshot_header
from .native import extension as _extension
from .protocol import fence
from .table import place, sorted_entries
from .vectorized import as_key_array, numpy_or_none, packed_array, place_sorted, sort_entries
from .widths import Widths, narrowest

PairSource = Union[
    "Mapping[int, int]",
    Iterable[Tuple[int, int]],
    Tuple[Sequence[int], Sequence[int]],
]


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` wrote."""

    path: str
    """The file written: ``path``, or the file it names when it is a symlink."""
    count: int
    """Distinct keys in the index."""
    pairs: int
    """Pairs read, duplicates included."""
    capacity: int
    slot_count: int
    file_bytes: int
    key_bits: int = 32
    """32, or 64 in a version 3 file (§16)."""
    value_bits: int = 32


def build(
    source: Any,
    path: Any,
    key_bits: Optional[int] = None,
    value_bits: Optional[int] = None,
    *,
    sync: bool = True,
    wait: float = 0.0,
    force: bool = False,
) -> BuildResult:
    """Builds the index of ``source`` at ``path``, atomically: readers of an index already there
    see the old file or the new one, never a mix, and follow to the new one.

    ``source`` is one of:

    - a mapping (a dict, an :class:`~idxmap.Index`): its items;
    - an iterable of ``(key, value)`` pairs; when a key repeats, its last value wins;
    - two columns ``(keys, values)``: a tuple of two equally long sequences or arrays (lists,
      numpy arrays, ``array.array``, ``memoryview``...), or a numpy array of shape ``(n, 2)``.

    A tuple of exactly two items that both have length 2, such as ``([10, 20], [30, 40])``,
    could be two pairs or two columns, and is refused: pass ``[(10, 20), (30, 40)]`` or
    ``{10: 20, 30: 40}`` for two pairs, ``{10: 30, 20: 40}`` for two columns.

    Keys and values are ints from 0 to 2^64 - 1 (numpy integers too). For keys and for values
    separately, the file takes the narrowest width that holds every one given, 32 or 64 bits,
    unless ``key_bits`` or ``value_bits`` asks for 64 (or for 32, which then refuses a larger
    number): a map of 32-bit keys and values is a version 2 file, one with a 64-bit width a
    version 3 file (spec §16). ``sync`` (default True)
    fsyncs the file and its directory; ``wait`` is how many seconds to wait for a writer that
    holds the index at ``path`` (default 0: fail at once, after retrying for 50 ms while
    readers test the lock). ``sync`` and ``force`` are True or False.

    An index at ``path`` that this process may not write (mode 0444, another user's, a
    read-only mount) cannot be marked retired (§11.4); it is replaced all the same and an
    :class:`~idxmap.IdxWarning` says so: readers that watch the path (idxmap's, idx's) follow
    within about 100 ms, others keep the old file until they reopen it.

    ``path`` may name an index (which is replaced), an empty file or nothing. Any other file is
    not the build's to overwrite and is refused, unless ``force`` is True. A symlink is written
    through: the file it names is replaced, and the link kept (as ``cp`` and ``>`` do).

    Raises:
        InvalidArgumentError: a key or value that is not an integer from 0 to 2^64 - 1 (or to
            4294967295 when ``key_bits`` or ``value_bits`` is 32), a width that is not 32, 64
            or None, a pair that is not a pair,
            columns of different lengths, a tuple that could be pairs or columns, a path that
            is not one, a ``wait`` that is not a number of seconds, or a ``sync`` or ``force``
            that is not a bool.
        NotAnIndexError: ``path`` is a file that is not an idx index (text, a named pipe, a
            device) and ``force`` is False; it is left as it was.
        TooLargeError: more entries than the format's slots hold (2^33 slots in version 2,
            2^40 in version 3, §16.4).
        LockedError: a writer holds the index at ``path``.
        IdxIOError: ``path`` is a directory, or the file cannot be written, synced or renamed
            (the target is unchanged and no temp file is left).
    """
    path = check_path("path", path)
    key_bits = check_bits("key_bits", key_bits, path)
    value_bits = check_bits("value_bits", value_bits, path)
    wait = _check_wait(wait, path)
    _check_bool("sync", sync, path)
    _check_bool("force", force, path)
    path = write_target(path)
    # Before reading the source: refused, it is left unconsumed (a generator, a pipe).
    refuse_to_replace(path, force)
    np = numpy_or_none()
    limits = (MAX_U32 if key_bits == 32 else MAX_U64, MAX_U32 if value_bits == 32 else MAX_U64)
    keys, values = _columns(source, path, np, limits)
    pairs = len(keys)
    w = narrowest(_largest(keys), _largest(values), key_bits, value_bits)
    if _extension is not None:
        parts, slot_count, n, escaped = native_table_parts(keys, values, w, path)
        capacity = build_capacity(n)
    else:
        if np is not None:
            hashes, vals, escaped = sort_entries(keys, values, w)
        else:
            hashes, vals, escaped = sorted_entries(zip(keys, values), w)
        n = len(hashes)
        capacity = build_capacity(n)
        parts, slot_count = table_parts(hashes, vals, escaped, capacity, w, path)
    not_retired = _replace(path, parts, sync, wait)
    if not_retired is not None:
        warnings.warn(not_retired_warning(path, not_retired), stacklevel=2)
    return BuildResult(
        path=path,
        count=n + (1 if escaped is not None else 0),
        pairs=pairs,
        capacity=capacity,
        slot_count=slot_count,
        file_bytes=file_bytes(layout_for(w), slot_count),
        key_bits=w.key_bits,
        value_bits=w.value_bits,
    )


def check_bits(name: str, bits: Any, path: Optional[str] = None) -> Optional[int]:
    """A width asked for: None (the narrowest that holds the numbers), 32 or 64."""
    if bits is None or (type(bits) is int and bits in (32, 64)):
        return bits
    raise invalid(f"{name} must be 32, 64 or None, not {describe_value(bits)}", path)


def _largest(column: Any) -> int:
    if not len(column):
        return 0
    return int(column.max()) if hasattr(column, "dtype") else max(column)


def table_parts(hashes: Any, values: Any, escaped: Optional[int], capacity: int, w: Widths, path: str) -> Tuple[Tuple[Any, ...], int]:
    """The bytes of a new file (§7) holding ``hashes`` (ascending, distinct, none EMPTY) with
    their ``values`` and the escaped key's value (or None), at ``capacity`` home slots, of
    widths ``w``: (the header, the slot region and the checksums, to be written in that order;
    the slot count). Numpy arrays are placed with numpy, lists in Python.

    Raises:
        TooLargeError: more slots than the format holds.
    """
    np = numpy_or_none()
    n = len(hashes)
    if np is not None and isinstance(hashes, np.ndarray):
        slots, slot_count, reach = place_sorted(hashes, values, capacity, w)
        _check_size(slot_count, n, w, path)
        slot_bytes: Any = memoryview(slots.view(np.uint8))
    else:
        positions, reach = place(hashes, capacity, w)
        slot_count = max(capacity, positions[-1] + 1 if n else 0) + SPILL_SLOTS
        _check_size(slot_count, n, w, path)
        if w.wide:
            # §16.1: packed slots (12 or 16 bytes), each the hash word then the value.
            out = bytearray(w.slot_struct.pack(w.empty, 0) * slot_count)
            pack_into, size = w.slot_struct.pack_into, w.slot_bytes
            for pos, h, v in zip(positions, hashes, values):
                pack_into(out, size * pos, h, v)
            words = out
        else:
            words = array.array("Q", [w.empty]) * slot_count
            for pos, h, v in zip(positions, hashes, values):
                words[pos] = h | (v << 32)
            if sys.byteorder != "little":
                words.byteswap()
        slot_bytes = memoryview(words).cast("B")
    return file_parts(slot_bytes, slot_count, n, escaped, reach, capacity, w), slot_count


def native_table_parts(keys: Any, values: Any, w: Widths, path: str) -> Tuple[Tuple[Any, ...], int, int, Optional[int]]:
    """table_parts in the C extension, from the checked columns (numpy arrays or lists of ints
    that fit ``w``): (the parts, slot count, entries, the escaped key's value or None). Hashing,
    sorting and placing in C (§7 steps 1 to 5); the same bytes as the pure paths and Node's.

    Raises:
        TooLargeError: more slots than the format holds.
    """

    def column(c: Any, bits: int) -> Tuple[Any, bool]:
        if hasattr(c, "dtype"):  # a numpy array of uint32 or uint64 (as_key_array's)
            return packed_array(c), c.dtype.itemsize == 8
        return array.array("Q" if bits == 64 else "I", c).tobytes(), bits == 64

    kb, k64 = column(keys, w.key_bits)
    vb, v64 = column(values, w.value_bits)
    slots, slot_count, reach, n, escaped = _extension.build_table(kb, k64, vb, v64, w.key_bits, w.value_bits, build_capacity, SPILL_SLOTS)
    _check_size(slot_count, n, w, path)
    return file_parts(memoryview(slots), slot_count, n, escaped, reach, build_capacity(n), w), slot_count, n, escaped


def file_parts(slot_bytes: Any, slot_count: int, n: int, escaped: Optional[int], reach: int, capacity: int, w: Widths) -> Tuple[Any, ...]:
    """A new file's parts around its slot region (§7): the header, the slots, the checksums."""
    layout = layout_for(w)
    blocks = block_count(slot_count, layout)
    checksums = bytearray(4 * blocks)
    size = layout.block_bytes
    for b in range(blocks):
        struct.pack_into("<I", checksums, 4 * b, zlib.crc32(slot_bytes[b * size : (b + 1) * size]) & 0xFFFFFFFF)
    header = encode_header(capacity, slot_count, n, escaped is not None, escaped or 0, reach, w)
    return (header, slot_bytes, checksums)


def _check_wait(wait: Any, path: str) -> float:
    if isinstance(wait, bool) or not isinstance(wait, numbers.Real) or not wait >= 0:
        raise invalid(f"wait must be a number of seconds (0 or more), not {describe_value(wait)}", path)
    return float(wait)


def _check_bool(name: str, value: Any, path: str) -> None:
    # "yes", 0 or None would mean something else to every reader of the call: refused.
    if type(value) is not bool:
        raise invalid(f"{name} must be True or False, not {describe_value(value)}", path)


def not_retired_warning(path: str, why: str) -> IdxWarning:
    """The warning of a build that replaced an index it could not mark retired (§11.8)."""
    return IdxWarning(
        f"{path}: replaced, but the old index could not be marked retired ({why}); readers that "
        "watch the path (idxmap, idx) follow within about 100 ms, other readers keep answering "
        "from the old file until they reopen it. To retire it, build as a user who may write "
        "the old file."
    )


# ---- the target ----



def refuse_to_replace(path: str, force: bool) -> None:
    """Refuses to replace what is not an index (src/build.ts refuseToReplace): a directory
    always; with ``force`` False, anything but an idx index, an empty file or nothing. Looks
    with stat, through symlinks, and reads the first bytes of regular files only, so that a
    named pipe never blocks the build.

    Raises:
        IdxIOError: ``path`` is a directory.
        NotAnIndexError: ``path`` is another kind of file, or a regular file that does not
            start with the idx magic, and ``force`` is False.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return  # nothing there, or the rename will say
    if stat.S_ISDIR(st.st_mode):
        raise error(ERR_IDX_IO, "is a directory; give the path of the index file to write", path=path)
    if force:
        return
    if not stat.S_ISREG(st.st_mode):
        raise _not_replaced(path, f" (it is {_file_kind(st.st_mode)})")
    if st.st_size == 0:
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return  # not readable by us: the rename will say if it is not writable either
    try:
        head = os.pread(fd, len(MAGIC), 0)
    except OSError:
        head = b""
    finally:
        os.close(fd)
    if head != MAGIC[: len(head)]:
        raise _not_replaced(path, "")


def _not_replaced(path: str, kind: str) -> IdxError:
    return error(
        ERR_IDX_NOT_AN_INDEX,
        f"exists and is not an idx index{kind}, so it was not replaced",
        path=path,
        hint="Check the output path; to replace that file anyway, pass force=True.",
    )


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_size(slot_count: int, entries: int, w: Widths, path: str) -> None:
    # §8, §16.4: at most 2^33 slots (2^40 in version 3); 2^32 - 1 entries in slots when keys
    # are 32-bit (version 2's entries cell is a u32; no more distinct 32-bit keys exist).
    if entries > MAX_U32 and w.key_bits == 32:
        raise error(
            ERR_IDX_TOO_LARGE,
            f"{entries} entries are more than the {MAX_U32} an index holds in its slots",
            path=path,
            hint="Split the keys across several indexes (by key range, for example).",
        )
    layout = layout_for(w)
    limit = layout.max_slot_count
    if slot_count > limit:
        raise error(
            ERR_IDX_TOO_LARGE,
            f"{entries} entries need {slot_count} slots; a version {layout.major} index holds at most {limit} "
            f"(about {(limit - SPILL_SLOTS) * 7 // 8} entries)",
            path=path,
            hint="Split the keys across several indexes (by key range, for example).",
        )


# ---- the input ----


def _column_length(x: Any) -> Optional[int]:
    """The length of ``x`` if it can be a column (a sized sequence or array: a list, a tuple, a
    range, ``array.array``, a memoryview, a numpy array), else None. numpy arrays are known by
    their interface, so that they are columns on the pure-Python path too (IDXMAP_NUMPY=0)."""
    if isinstance(x, (str, bytes, bytearray)):
        return None
    if not (isinstance(x, (_SequenceABC, array.array, memoryview)) or hasattr(x, "__array_interface__")):
        return None
    try:
        return len(x)
    except TypeError:
        return None  # a 0-d array


_TWO_PAIRS_OR_TWO_COLUMNS = (
    "a tuple of two items of length 2 could be two pairs or two columns (keys, values), so it was "
    "not read: pass two pairs as a list, [(10, 20), (30, 40)], or a dict, {{10: 20, 30: 40}}; "
    "two columns as a dict of them, {{10: 30, 20: 40}} (a (keys, values) tuple is read as "
    "columns when they are of any other length)"
)


def _columns(source: Any, path: str, np: Any, limits: Tuple[int, int] = (MAX_U32, MAX_U32)) -> Tuple[Any, Any]:
    """``source`` as two equally long columns of keys and values up to ``limits``: numpy arrays
    (uint32 for a limit of 4294967295, else uint64) with numpy, lists without.

    A 2-tuple of two sized sequences is columns, ``(keys, values)``, with one exception: when
    both have length 2 it could as well be two pairs, whatever their types (a tuple of two
    lists and a tuple of two numpy arrays must not mean different maps), and is refused.

    Raises InvalidArgumentError naming the first bad pair."""
    lengths = (
        (_column_length(source[0]), _column_length(source[1])) if isinstance(source, tuple) and len(source) == 2 else (None, None)
    )
    if lengths[0] is not None and lengths[1] is not None:
        if lengths == (2, 2):
            raise invalid(_TWO_PAIRS_OR_TWO_COLUMNS.format(), path)
        keys, values = source
        for name, column in (("keys", keys), ("values", values)):
            if isinstance(column, memoryview) and column.ndim != 1:
                # Its elements cannot be iterated (NotImplementedError): say what is wrong.
                raise invalid(f"{name} must be one-dimensional, not of shape {column.shape}", path)
        if len(keys) != len(values):
            raise invalid(
                f"keys ({len(keys)}) and values ({len(values)}) differ in length",
                path,
                "A tuple of two sequences is read as columns (keys, values); pass pairs as a list, "
                "[(key, value), ...], or a dict.",
            )
    elif isinstance(source, _ndarray_type()):
        # Also without numpy's help (IDXMAP_NUMPY=0): an array is taken by its shape and dtype
        # on both paths, never as an iterable of rows or records.
        if source.ndim != 2 or source.shape[1] != 2:
            raise invalid(f"an array of pairs must have shape (n, 2), not {source.shape}", path)
        keys, values = source[:, 0], source[:, 1]
    elif isinstance(source, Mapping):
        keys, values = list(source.keys()), list(source.values())
    elif isinstance(source, (str, bytes)) or not hasattr(source, "__iter__"):
        raise invalid(
            f"pairs must be a mapping, an iterable of (key, value) pairs or a (keys, values) tuple of arrays, "
            f"not {describe_value(source)}",
            path,
        )
    else:
        keys, values = [], []
        add_key, add_value = keys.append, values.append
        for at, pair in enumerate(source):
            try:
                k, v = pair
            except (TypeError, ValueError):
                raise invalid(f"pair #{at} is not a (key, value) pair (it is {describe_value(pair)})", path) from None
            add_key(k)
            add_value(v)
    if np is None:
        ndarray = _ndarray_type()
        # numpy arrays by the numpy path's rules for their dtype and shape (key_list), as ints.
        keys, values = (
            key_list(n, c, path, limit) if isinstance(c, ndarray) else c
            for n, c, limit in (("keys", keys, limits[0]), ("values", values, limits[1]))
        )
        return _checked_lists(keys, values, path, limits)
    try:
        return as_key_array(keys, "keys", path, limits[0]), as_key_array(values, "values", path, limits[1])
    except IdxError:
        _checked_lists(keys, values, path, limits)  # names the first bad pair
        raise


def _ndarray_type() -> Any:
    # numpy.ndarray if numpy is imported (an array comes from an imported numpy: never import
    # it here); else a type nothing is an instance of.
    np = sys.modules.get("numpy")
    return np.ndarray if np is not None else ()


def _checked_lists(
    keys: Sequence[Any], values: Sequence[Any], path: str, limits: Tuple[int, int] = (MAX_U32, MAX_U32)
) -> Tuple[List[int], List[int]]:
    key_limit, value_limit = limits
    out_k: List[int] = []
    out_v: List[int] = []
    for at, (k, v) in enumerate(zip(keys, values)):
        try:
            out_k.append(check_uint("key", k, key_limit))
        except IdxError:
            raise invalid(f"pair #{at}: key {describe_value(k)} is not an integer from 0 to {key_limit}", path) from None
        try:
            out_v.append(check_uint("value", v, value_limit))
        except IdxError:
            raise invalid(f"pair #{at}: value {describe_value(v)} is not an integer from 0 to {value_limit}", path) from None
    return out_k, out_v


# ---- §11.1: the new file beside the target, then in its place ----


def _replace(target: str, parts: Sequence[Any], sync: bool, wait: float) -> Optional[str]:
    """Writes ``parts`` to a temp file beside ``target`` and puts it in place (see module doc).
    On any failure (or KeyboardInterrupt) the temp file is removed and the target unchanged.
    Returns why the index it replaced could not be marked retired, or None (it was, or there
    was no index there)."""
    temp = write_temp_file(target, parts, sync)
    try:
        # §11.2: the new file is locked while still private, so the writer lock passes from the
        # old file to the new one without a gap.
        fcntl.flock(temp.fd, fcntl.LOCK_EX)
        while True:
            old = _lock_existing(target, wait)
            try:
                not_retired = _retire(target) if old is not None else None
                # No file to lock: link ours in only if the path is still free; but a dangling
                # symlink (no file behind it) is replaced by ours, not waited for forever.
                if _commit(temp.path, target, sync, no_clobber=old is None and not os.path.islink(target)):
                    return not_retired
            finally:
                if old is not None:
                    os.close(old)  # closing drops its flock
    except BaseException:
        discard(temp.path)
        raise
    finally:
        os.close(temp.fd)


def _commit(temp: str, target: str, sync: bool, no_clobber: bool) -> bool:
    """Gives the temp file the name ``target`` (see :func:`idxmap.atomic_file.commit`)."""
    return commit(temp, target, sync, no_clobber)


LOCK_RETRY_SECONDS = READER_TEST_SECONDS
"""§11.2: readers take the lock shared for an instant to test it (a writer that died, §11.7), so a
refused exclusive lock is retried this long before the index counts as held by a writer."""


def _lock_existing(target: str, wait: float) -> Optional[int]:
    """Takes the writer lock (an exclusive flock, §11.2) of the file at ``target``; returns its
    descriptor, or None when there is no file there.

    Raises:
        LockedError: another process holds it (after waiting ``wait`` seconds, and at least
            50 ms: a reader's lock test holds it for an instant).
        IdxIOError: it cannot be opened or locked.
    """
    lock = WriterLock.acquire(target, wait, who="build", at_least=LOCK_RETRY_SECONDS)
    if lock is None:
        return None
    fd, lock.fd = lock.fd, None
    return fd


def _retire(target: str) -> Optional[str]:
    """§11.4: marks the index at ``target`` retired, so its readers follow the path to the file
    about to replace it: the state cell with its word as it was plus RETIRED (every other bit
    kept: a newer minor may give them meaning), then the seq cell with a fresh odd value
    (``seq + 1`` if even, ``seq + 2`` if odd), in that order, each one 8-byte store into a
    shared mapping (as a writer stores cells). The caller holds the writer lock.

    Returns None when it marked the file, or when there is nothing to mark (not a valid index:
    nobody reads it); else why it could not (this process may not write it: mode 0444, another
    user's, a read-only mount). Its readers then notice the rename on their own (§11.8)."""
    try:
        fd = os.open(target, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        return io_reason(e) if _looks_like_an_index(target) else None
    try:
        size = os.fstat(fd).st_size
        if size < 64:
            return None
        mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except (OSError, ValueError) as e:
        return f"cannot map it for writing: {io_reason(e)}"
    finally:
        os.close(fd)
    try:
        try:
            parse_header(snapshot_header(mm, size), size, target)
        except IdxError:
            return None
        cells = memoryview(mm)[0:64].cast("Q")
        try:
            state = cells[CELL_STATE // 8] & 0xFFFFFFFF
            cells[CELL_STATE // 8] = int.from_bytes(cell_bytes(CELL_STATE, state | STATE_RETIRED), "little")
            fence()  # the state before the seq (§11.4); a no-op on x86, whose stores stay in order
            seq = cells[CELL_SEQ // 8] & 0xFFFFFFFF
            new_seq = (seq + (2 if seq & 1 else 1)) & 0xFFFFFFFF
            cells[CELL_SEQ // 8] = int.from_bytes(cell_bytes(CELL_SEQ, new_seq), "little")
        finally:
            cells.release()
    finally:
        mm.close()
    return None


def _looks_like_an_index(target: str) -> bool:
    """Whether ``target`` starts with the idx magic, or cannot be read to tell (then assume it
    does: its readers, if any, are the ones to warn about)."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return True
    try:
        return os.pread(fd, len(MAGIC), 0) == MAGIC
    except OSError:
        return True
    finally:
        os.close(fd)


def _remove_stale_temp_files(target: str) -> None:
    remove_stale_temp_files(target)
