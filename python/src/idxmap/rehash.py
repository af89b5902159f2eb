"""Rehash (spec/FORMAT.md §11.5) and the swap that puts its file in place (§11.4, §11.1), as
src/writer/rehash.ts and src/replace.ts do in the Node package: a writer's table, merged with
a batch of pairs if any, laid out as §7 lays out a build at the capacity the caller chooses,
into a new file beside the old, which is then marked retired and renamed over.

The entries come from the slots, never from the header's count, and the whole table is
checked first as verify checks it: a writer does not carry damage into a new file that would
pass. A rehash may widen the file (§16.5): the new file then has the wider widths, and a key
that was the escaped key of 32-bit keys is an ordinary key of the 64-bit table.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from .atomic_file import TempFile, commit, discard, write_temp_file
from .builder import table_parts
from .cells import HeaderCells
from .checks import Problems, check_blocks, check_table
from .errors import ERR_IDX_CHECKSUM, error
from .format import Header
from .lock import WriterLock
from .operation import damaged
from .slots import SlotRegion
from .vectorized import hash_array, numpy_or_none, unhash_array
from .widths import Widths


class Batch:
    """Pairs to merge into a table: distinct keys with their (last) values, in no order."""

    __slots__ = ("keys", "values")

    def __init__(self, keys: Any, values: Any) -> None:
        self.keys = keys
        self.values = values


def refuse_damage(mm: Any, header: Header, path: str) -> None:
    """The whole check of §9.2 (checksums and every invariant of §5.2) before a rehash, which reads
    every slot anyway.

    Raises:
        ChecksumError, CorruptError: the first problem; the index was not rewritten.
    """
    problems = Problems(1)
    check_blocks(mm, header, problems)
    if problems.list:
        p = problems.list[0]
        raise error(
            ERR_IDX_CHECKSUM,
            f"{p.message}; the index was not rewritten",
            path=path,
            offset=p.offset,
            hint="Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
        )
    check_table(mm, header, problems)
    if problems.list:
        raise damaged(path, f"{problems.list[0].message}; the index was not rewritten")


def table_entries(mm: Any, region: SlotRegion, header: Header) -> Tuple[Any, Any]:
    """Every entry of the slots in slot order (so by hash), as (hashes, values): numpy arrays
    (uint64) with numpy, lists without."""
    np = numpy_or_none()
    w = header.widths
    n = region.slot_count
    if np is not None:
        slots = np.frombuffer(mm, dtype=w.np_dtype(np), count=n, offset=header.layout.header_bytes)
        hashes = slots["h"].astype(np.uint64)
        values = slots["v"].astype(np.uint64)
        previous = np.empty_like(hashes)
        if n:
            previous[0] = w.empty
            previous[1:] = hashes[:-1]
        entry = (hashes != np.uint64(w.empty)) & (hashes != previous)
        return hashes[entry], values[entry]
    out_h: List[int] = []
    out_v: List[int] = []
    previous_hash = w.empty
    for s in range(n):
        h = region.hash(s)
        if h != w.empty and h != previous_hash:
            out_h.append(h)
            out_v.append(region.value(s))
        previous_hash = h
    return out_h, out_v


def merged(
    mm: Any, region: SlotRegion, header: Header, escaped: Optional[int], batch: Optional[Batch], w: Widths
) -> Tuple[Any, Any, Optional[int]]:
    """The table's entries with ``batch``'s pairs (which win), for a new file of widths ``w``
    (the table's, or wider): (hashes ascending, values, the escaped key's value or None).
    ``escaped`` is the table's escaped value (None when absent)."""
    old = header.widths
    hashes, values = table_entries(mm, region, header)
    np = numpy_or_none()
    if batch is None and old.key_bits == w.key_bits:
        if np is not None and not w.wide:
            hashes, values = hashes.astype(np.uint32), values.astype(np.uint32)
        return hashes, values, escaped
    # Through keys: a batch hashes at the new width, and a wider key width hashes every key anew.
    if np is not None:
        keys = unhash_array(hashes.astype(np.uint64 if old.key_bits == 64 else np.uint32), old).astype(np.uint64)
        values = values.astype(np.uint64)
        extra_keys: List[int] = []
        extra_values: List[int] = []
        if escaped is not None and w.escaped_key != old.escaped_key:
            extra_keys.append(old.escaped_key)  # an ordinary key at the new width
            extra_values.append(escaped)
            escaped = None
        if batch is not None:
            bk = np.asarray(batch.keys, dtype=np.uint64)
            bv = np.asarray(batch.values, dtype=np.uint64)
        else:
            bk = bv = np.zeros(0, dtype=np.uint64)
        keys = np.concatenate([keys, np.array(extra_keys, dtype=np.uint64), bk])
        values = np.concatenate([values, np.array(extra_values, dtype=np.uint64), bv])
        is_escaped = keys == np.uint64(w.escaped_key)
        if is_escaped.any():
            escaped = int(values[np.flatnonzero(is_escaped)[-1]])
            keys, values = keys[~is_escaped], values[~is_escaped]
        new_hashes = hash_array(keys if w.key_bits == 64 else keys.astype(np.uint32), w).astype(np.uint64)
        order = np.argsort(new_hashes, kind="stable")
        new_hashes, values = new_hashes[order], values[order]
        if new_hashes.size:
            last_of_run = np.empty(new_hashes.size, dtype=bool)
            np.not_equal(new_hashes[1:], new_hashes[:-1], out=last_of_run[:-1])
            last_of_run[-1] = True
            new_hashes, values = new_hashes[last_of_run], values[last_of_run]
        if not w.wide:
            return new_hashes.astype(np.uint32), values.astype(np.uint32), escaped
        return new_hashes, values, escaped
    pairs: Dict[int, int] = {old.unhash(h): v for h, v in zip(hashes, values)}
    if escaped is not None and w.escaped_key != old.escaped_key:
        pairs[old.escaped_key] = escaped
        escaped = None
    if batch is not None:
        pairs.update(zip(batch.keys, batch.values))
    if w.escaped_key in pairs:
        escaped = pairs.pop(w.escaped_key)
    ordered = sorted((w.hash(k), v) for k, v in pairs.items())
    return [h for h, _ in ordered], [v for _, v in ordered], escaped


def rehash_into(
    target: str,
    mm: Any,
    region: SlotRegion,
    header: Header,
    escaped: Optional[int],
    capacity_for: Callable[[int], int],
    sync: bool,
    batch: Optional[Batch] = None,
    w: Optional[Widths] = None,
) -> TempFile:
    """Writes the table (merged with ``batch``, widened to ``w``) into a new file beside
    ``target``, at ``capacity_for(entries in slots)`` home slots. Returns the temp file,
    complete and synced.

    Raises:
        ChecksumError, CorruptError: the table is damaged (§11.5); nothing was written.
        TooLargeError, IdxIOError: the new file cannot be laid out or written.
    """
    refuse_damage(mm, header, target)
    w = header.widths if w is None else w
    hashes, values, escaped = merged(mm, region, header, escaped, batch, w)
    parts, _ = table_parts(hashes, values, escaped, capacity_for(len(hashes)), w, target)
    return write_temp_file(target, parts, sync)


def swap_in(temp: TempFile, target: str, old_cells: HeaderCells, old_lock: WriterLock, sync: bool) -> Optional[WriterLock]:
    """§11.4, §11.1: takes the temp file (its descriptor becomes the new file's lock), marks the
    writer's own file retired through its cells, renames the new file over it, and passes the
    writer lock from the old file to the new. Returns the new file's lock, or None, changing
    nothing, when ``target`` no longer names the writer's file (a new index was put there with
    ``mv``, say): the writer must not rename its old data over it. If the rename fails, the mark
    is taken back (the state without RETIRED, then seq + 1, even), the temp file removed, and
    the old index is as it was.
    """
    try:
        new_lock = WriterLock.of_new_file(temp.path, temp.fd)
    except BaseException:
        discard(temp.path)
        _close(temp.fd)
        raise
    if not old_lock.still_at(target):
        discard(temp.path)
        new_lock.release()
        return None
    old_cells.retire()
    try:
        commit(temp.path, target, sync, no_clobber=False)
    except BaseException:
        discard(temp.path)
        new_lock.release()
        old_cells.unretire()
        old_cells.bump_seq()
        raise
    old_lock.release()
    return new_lock


def _close(fd: int) -> None:
    import os

    try:
        os.close(fd)
    except OSError:
        pass
