"""Writer: keeps an index current in place while other processes read it (spec/FORMAT.md §11), with
the surface of a ``dict`` (a ``collections.abc.MutableMapping``). The protocol is the Node
package's writer's (src/writer/*.ts), store for store, so the two exclude each other through
the same lock, repair each other's interrupted operations, and make the same bytes from the
same operations. The spec's seams are modules of their own: the lock (:mod:`idxmap.lock`), the
cells (:mod:`idxmap.cells`), the slot stores (:mod:`idxmap.slots`), the edits
(:mod:`idxmap.edits`), the bracket (:mod:`idxmap.operation`), recovery
(:mod:`idxmap.recovery`), rehash and swap (:mod:`idxmap.rehash`). This class holds them
together and checks what callers pass.

Durable after flush() or close(); a kill -9 at any moment leaves a file that opens, passes
verify and holds each key's value from before or after the interrupted operation (in a version
3 file, see python/README.md for the one exception pure Python leaves).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from typing import Any, Callable, Iterator, Optional, Tuple

from .args import MAX_U64, check_path, check_uint, invalid, lookup_key
from .atomic_file import TempFile, commit, discard, remove_stale_temp_files, write_target, write_temp_file
from .builder import _check_bool, _check_wait, _columns, _largest, table_parts
from .cells import HeaderCells
from .checks import Problems, check_reserved
from .edits import InsertPlan, SlotEditor
from .errors import ERR_IDX_CLOSED, ERR_IDX_CORRUPT, ERR_IDX_IO, ERR_IDX_UNSUPPORTED_VERSION, IdxError, error, io_error
from .format import (
    HEADER_ID_OFFSETS,
    VERSION_MINOR,
    Header,
    build_capacity,
    check_sentinel,
    parse_header,
    slot_offset,
)
from .lock import WriterLock
from .mapping import FilePath, snapshot_header
from .native import extension as _extension
from .operation import OperationBracket, damaged, lost_under_writer
from .recovery import needs_recovery, recover
from .rehash import Batch, rehash_into, swap_in
from .slots import SlotRegion
from .vectorized import numpy_or_none
from .widths import W32, Widths, narrowest

MAX_LOAD_NUM = 9
MAX_LOAD_DEN = 10
"""§11.3: a writer grows before the entries pass 9/10 of the home slots."""

BULK_SHARE = 4
BULK_MIN = 4096
"""§11.3: update() with more pairs than max(4096, size / 4) merges them into a new file."""

DIRTY_V1_MAX_BLOCKS = 0xFFF
"""§14: version 1's dirty cell names at most 4095 blocks."""


def grow_capacity(entries: int) -> int:
    """§11.5: a writer grows into a table at 3/4 load, so the next growth is a third away."""
    return max(1, -(-(entries * 4) // 3) + 1)


class _Displaced(Exception):
    """Raised inside a change whose rehash found a new index at the path (a rename that took no
    lock): nothing was changed; the change starts again on the file now at the path."""


def _whole_slot_store(fd: int, size: int, mm: mmap.mmap) -> Any:
    """The C extension's whole-slot store over the slots of the open file ``fd`` when it is a
    version 3 file (§16.6: one 16-byte store a slot), or None (no extension, another version,
    a header the caller's checks will refuse, or no mapping to be had: the pure stores then)."""
    if _extension is None:
        return None
    try:
        header = parse_header(snapshot_header(mm, size), size, "")
    except IdxError:
        return None
    w = header.widths
    if not w.wide:
        return None
    try:
        return _extension.SlotStore(fd, size, header.layout.header_bytes, header.slot_count, w.key_bits, w.value_bits)
    except (OSError, ValueError, MemoryError):
        return None


class _Table:
    """The writer's file, mapped for writing: its header, cells, slots, editor and bracket."""

    __slots__ = (
        "mm", "size", "header", "layout", "widths", "capacity", "slot_count", "checksum_word", "checksum_at",
        "cells", "region", "editor", "bracket", "_header_view", "_words",
    )

    def __init__(self, mm: mmap.mmap, size: int, header: Header, path: str, whole: Any = None) -> None:
        self.mm = mm
        self.size = size
        self.header = header
        self.layout = header.layout
        self.widths = header.widths
        self.capacity = header.capacity
        self.slot_count = header.slot_count
        hb = header.layout.header_bytes
        self._header_view = memoryview(mm)[0:hb].cast("Q")
        self._words = memoryview(mm)[0:hb].cast("I")
        self.checksum_at = HEADER_ID_OFFSETS[header.major] // 4
        self.checksum_word = int(self._words[self.checksum_at])
        self.cells = HeaderCells(self._header_view, header.major, header.widths)
        self.region = SlotRegion(mm, header.layout, header.widths, header.slot_count, whole)
        self.editor = SlotEditor(self.region, header.capacity, header.widths)
        self.bracket = OperationBracket(self.cells, self.region, path, self.lost)

    def lost(self) -> bool:
        """The file shrank or changed size under the mapping (a store there would fault), or was
        rewritten in place with another header (§11.8): one fstat, one load."""
        try:
            if self.mm.size() != self.size:
                return True
        except (OSError, ValueError):
            return True
        return int(self._words[self.checksum_at]) != self.checksum_word

    def current_header(self, path: str) -> Header:
        """The header as it is now (the writer holds the lock: nothing else changes it)."""
        return parse_header(snapshot_header(self.mm, self.size), self.size, path)

    def reach(self) -> int:
        """The reach to probe with: the header's, or every slot (version 1 records none, §14)."""
        r = self.cells.reach
        return self.slot_count - 1 if r is None else r

    def release(self) -> None:
        self.region.release()
        for view in (self._header_view, self._words):
            try:
                view.release()
            except (BufferError, ValueError):
                pass
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass


class Writer(MutableMapping):  # type: ignore[type-arg]
    """Writes the index at ``path`` in place: ``w[key] = value``, ``del w[key]``,
    ``w.update(pairs)``, ``w.compact()``; reads as a ``dict`` does (``w[key]``, ``w.get``, ``in``,
    ``len``, iteration). Readers in other processes (idxmap's :class:`~idxmap.Index`, idx's
    IdIndex) see each change at once, never half of one. Use it as a context manager, or call
    :meth:`close` (which flushes).

    ``create`` (default True) creates an empty index when there is no file at ``path``;
    ``wait`` is how many seconds to wait for another writer (Python's or Node's) that holds the
    index (default 0: fail at once, after retrying for 50 ms while readers test the lock);
    ``sync`` (default True) makes :meth:`flush`, :meth:`close` and every new file durable.

    Keys and values are ints from 0 to the file's largest (4294967295, or 2^64 - 1 in a file of
    64-bit keys or values, spec §16). Setting a key or a value larger than the file holds
    widens it: the table is rewritten into a version 3 file with 64-bit keys or values (§16.5),
    which readers follow as they follow a growth.

    Raises (at open):
        InvalidArgumentError: a path, ``create``, ``wait`` or ``sync`` of the wrong kind.
        LockedError: another process holds the writer lock (named, from /proc/locks).
        UnsupportedVersionError: a newer format version, major or minor (§10).
        ChecksumError, CorruptError: the file is damaged where a writer must not build on it,
            or a stopped writer left it in a state that cannot be repaired.
        the errors of :func:`idxmap.open` (not an index, truncated...), IdxIOError.
    """

    def __init__(self, path: Any, create: bool = True, wait: float = 0.0, sync: bool = True) -> None:
        self._table: Optional[_Table] = None
        self._lock: Optional[WriterLock] = None
        path = write_target(check_path("path", path))
        _check_bool("create", create, path)
        _check_bool("sync", sync, path)
        self._wait = _check_wait(wait, path)
        self._sync = sync
        self.path: str = path
        self._file = FilePath(path)
        self._generation = 0
        self._widening = 0
        lock = WriterLock.acquire(self._file.now, self._wait, name=path)
        while lock is None:
            if not create:
                raise io_error(
                    "open the index", path, FileNotFoundError(2, "missing"), "Build it first, or let the writer create it."
                )
            lock = _create_empty(self._file.now, path, sync) or WriterLock.acquire(self._file.now, self._wait, name=path)
        self._lock = lock
        try:
            remove_stale_temp_files(self._file.now)
            try:
                self._attach_and_recover()
            except _Displaced:
                self._follow()
        except BaseException:
            self._detach()
            raise

    # ---- the file ----

    def _attach_and_recover(self) -> None:
        """Maps the locked file and repairs what a killed writer left (§11.6)."""
        self._attach()
        t = self._table
        assert t is not None
        if needs_recovery(t.cells):
            recover(t.mm, t.cells, t.editor, t.current_header(self.path), self.path)
            if self._sync:
                t.mm.flush()

    def _attach(self) -> None:
        lock = self._lock
        assert lock is not None and lock.fd is not None
        now = self._file.now
        try:
            fd = os.open(now, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise io_error("open the index for writing", self.path, e, "Check the file's permissions.") from e
        try:
            st = os.fstat(fd)
            held = os.fstat(lock.fd)
            if (st.st_dev, st.st_ino) != (held.st_dev, held.st_ino):
                raise _Displaced()  # renamed over between the lock and the open: lock the new file
            if st.st_size == 0:
                parse_header(b"", 0, self.path)  # raises: an empty file is not an index
            try:
                mm = mmap.mmap(fd, st.st_size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            except (OSError, ValueError) as e:
                raise io_error("map the index for writing", self.path, e) from e
            whole = _whole_slot_store(fd, st.st_size, mm)
        finally:
            os.close(fd)
        try:
            head = snapshot_header(mm, st.st_size)
            header = parse_header(head, st.st_size, self.path)
            if header.minor > VERSION_MINOR:
                raise error(
                    ERR_IDX_UNSUPPORTED_VERSION,
                    f"uses format version {header.major}.{header.minor}; this idx reads it but writes only "
                    f"{header.major}.{VERSION_MINOR} files",
                    path=self.path,
                    hint="Upgrade idx to change it, or rebuild it with this version.",
                )
            w = header.widths
            at = slot_offset(header.layout, header.slot_count - 1)
            check_sentinel(int.from_bytes(mm[at : at + w.key_bits // 8], "little"), self.path, w)
            # Reserved bits and bytes set in a file of this minor are damage: a writer would clear them.
            problems = Problems(1)
            check_reserved(head, header, problems)
            if problems.list:
                raise damaged(self.path, f"{problems.list[0].message}, so it is not written")
            table = _Table(mm, st.st_size, header, self.path, whole if whole is not None and header.widths.wide else None)
        except BaseException:
            if whole is not None:
                whole.close()
            mm.close()
            raise
        old, self._table = self._table, table
        if old is not None:
            old.release()
        self._generation += 1

    def _detach(self) -> None:
        t, self._table = self._table, None
        if t is not None:
            t.release()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _current(self, changing: bool) -> _Table:
        """Before anything is read or changed: the writer's file must still be whole (a file
        truncated or rewritten in place under it is refused: its last change may be lost). Before
        a change, the path must still name it: a new index put there by a rename that took no
        lock (``mv``, ``rsync``) is followed, its lock taken, and the change made there, so no
        change goes into the file the deploy replaced and no second writer works beside this
        one (§11.2). One fstat for a read; a stat more for a change."""
        t = self._table
        if t is None:
            self._closed()
        if t.lost():
            raise lost_under_writer(self.path)
        if t.bracket.interrupted:
            # An operation of this writer stopped in its bracket (an exception inside it): its
            # file is as a killed writer leaves it, and is repaired as the next writer would.
            t.bracket.interrupted = False
            recover(t.mm, t.cells, t.editor, t.current_header(self.path), self.path)
        if changing:
            lock = self._lock
            assert lock is not None
            if not lock.still_at(self._file.now):
                self._follow()
                t = self._table
                assert t is not None
        return t

    def _follow(self) -> None:
        """Moves the writer to the file now at its path (see _current)."""
        while True:
            lock = WriterLock.acquire(self._file.now, self._wait, name=self.path)
            if lock is None:
                raise error(
                    ERR_IDX_IO,
                    "the index was removed from its path while this writer had it open, so nothing was changed",
                    path=self.path,
                    hint="Put an index back at the path (or let a new writer create one), then open the writer again.",
                )
            old, self._lock = self._lock, lock
            if old is not None:
                old.release()
            try:
                self._attach_and_recover()
                return
            except _Displaced:
                continue
            except BaseException:
                self._detach()
                raise

    def _changing(self, change: Callable[[], Any]) -> Any:
        """Runs a change on the current file; again if a rehash found the file replaced."""
        while True:
            self._current(True)
            try:
                return change()
            except _Displaced:
                continue

    def _closed(self) -> Any:
        raise error(ERR_IDX_CLOSED, "the writer is closed", path=self.path, hint="Open it again with idxmap.Writer().")

    # ---- reading ----

    @property
    def closed(self) -> bool:
        return self._table is None

    @property
    def widths(self) -> Widths:
        return self._current(False).widths

    @property
    def key_bits(self) -> int:
        return self.widths.key_bits

    @property
    def value_bits(self) -> int:
        return self.widths.value_bits

    def __len__(self) -> int:
        t = self._current(False)
        return t.cells.entries + (1 if t.cells.escaped_present else 0)

    def _lookup(self, key: Any) -> Optional[int]:
        t = self._current(False)
        w = t.widths
        k = lookup_key(key, w.max_key)
        if k is None:
            return None
        h = w.hash(k)
        if h == w.empty:
            return t.cells.escaped_value if t.cells.escaped_present else None
        s = t.editor.find(h, t.reach())
        return None if s < 0 else t.region.value(s)

    def __getitem__(self, key: Any) -> int:
        """The value of ``key``; KeyError when absent (or not a key of the file's width)."""
        value = self._lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._lookup(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return self._lookup(key) is not None

    def _entries(self) -> Iterator[Tuple[int, int]]:
        """Every (key, value): the escaped key first, then by hash. Changing the writer while
        iterating behaves as Node's IdWriter does: an entry present throughout is visited once,
        a deleted one is not visited after its deletion, and one added later is visited if its
        hash comes after the place the iteration has reached (a rehash included). A change of
        widths (§16.5) reorders every entry: the iteration then raises RuntimeError, as a dict
        changed in size does."""
        t = self._current(False)
        widening = self._widening
        if t.cells.escaped_present:
            yield t.widths.escaped_key, t.cells.escaped_value
        after = -1  # the hash of the last entry yielded
        slot = 0
        generation = self._generation
        while True:
            t = self._current(False)
            if self._widening != widening:
                raise RuntimeError(f"{self.path}: the index changed widths during iteration")
            region = t.region
            if generation != self._generation or (after >= 0 and slot > 0 and region.hash(slot - 1) != after):
                # The table changed under the iteration: find the place again by hash.
                generation = self._generation
                slot = 0 if after < 0 else t.editor.home(after)
            found = -1
            empty = region.empty
            while slot < t.slot_count:
                h = region.hash(slot)
                if h != empty and h > after:
                    found = slot
                    break
                slot += 1
            if found < 0:
                return
            h = region.hash(found)
            value = region.value(found)
            after = h
            slot = found + 1
            yield t.widths.unhash(h), value

    def __iter__(self) -> Iterator[int]:
        for key, _ in self._entries():
            yield key

    def keys(self) -> KeysView:  # type: ignore[type-arg]
        return KeysView(self)

    def items(self) -> "WriterItemsView":
        return WriterItemsView(self)

    def values(self) -> "WriterValuesView":
        return WriterValuesView(self)

    def __repr__(self) -> str:
        if self._table is None:
            return f"<idxmap.Writer {self.path!r}: closed>"
        return f"<idxmap.Writer {self.path!r}: {len(self)} entries>"

    def __reduce__(self) -> Any:
        raise TypeError("an idxmap.Writer cannot be pickled: pass its path and open it again")

    # ---- writing in place ----

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def set(self, key: Any, value: Any) -> None:
        """Sets ``key`` to ``value`` (insert or overwrite). Readers see it at once; durable after
        flush(). May grow or widen the table: a new file renamed over the old one.

        Raises:
            InvalidArgumentError: not an int from 0 to 2^64 - 1 (nothing changed).
            ChecksumError, CorruptError: the blocks or the run it would change are damaged
                (nothing changed).
            TooLargeError, IdxIOError: growing failed; the index is unchanged.
        """
        self._current(False)
        k = check_uint("key", key, MAX_U64, self.path)
        v = check_uint("value", value, MAX_U64, self.path)
        self._changing(lambda: self._set(k, v))

    def _set(self, key: int, value: int) -> None:
        t = self._table
        assert t is not None
        w = t.widths
        if key > w.max_key or value > w.max_value:
            self._widen(Batch([key], [value]), key, value)
            return
        h = w.hash(key)
        cells = t.cells
        if h == w.empty:
            t.bracket.run(0, -1, 0, lambda: cells.set_escaped(value))
            return
        found = t.editor.find(h, t.reach())
        if found >= 0:
            region = t.region
            if region.value(found) != value:
                t.bracket.run(found, found, 0, lambda: region.store_value(found, value))
            return
        # A rehash below moves the writer to a new file: nothing of the old one is kept past it.
        if (cells.entries + 1) * MAX_LOAD_DEN > t.capacity * MAX_LOAD_NUM:
            self._rehash(grow_capacity, 1)
        plan = self._plan(h)
        if plan is None:
            # The run reached the sentinel, not the load limit: a fresh layout at the same
            # capacity lays out new spill slots; grow only if that is not enough.
            capacity = self._table.capacity  # type: ignore[union-attr]
            self._rehash(lambda _n: capacity, 0)
            plan = self._plan(h)
            if plan is None:
                self._rehash(grow_capacity, 1)
                plan = self._plan(h)
                if plan is None:
                    raise error(ERR_IDX_CORRUPT, "no room for an insert after growing the table", path=self.path)
        t = self._table
        assert t is not None
        self._check_run(t, plan.at, plan.end)
        cells, editor, entries, p = t.cells, t.editor, t.cells.entries, plan

        def insert() -> None:
            editor.insert(p, h, value)
            cells.set_entries(entries + 1)

        t.bracket.run(p.at, p.end, p.reach, insert)

    def _plan(self, h: int) -> Optional[InsertPlan]:
        """Where an insert goes, or None when it must rehash first (the sentinel, or a dirty
        range version 1 cannot name)."""
        t = self._table
        assert t is not None
        plan = t.editor.plan_insert(h, t.cells.reach or 0)
        if plan is None:
            return None
        per = t.region.slots_per_block
        if t.header.major == 1 and plan.end // per - plan.at // per + 1 > DIRTY_V1_MAX_BLOCKS:
            return None
        return plan

    def _check_run(self, t: _Table, first: int, last: int) -> None:
        problem = t.editor.run_problem(first, last, t.reach())
        if problem is not None:
            raise damaged(self.path, f"{problem}, so the index was not changed")

    def __delitem__(self, key: Any) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def delete(self, key: Any) -> bool:
        """Removes ``key``; returns whether it was there (False for anything that is not a key of
        the file's width, as a dict answers).

        Raises:
            ChecksumError, CorruptError: the blocks or the run it would change are damaged.
        """
        t = self._current(False)
        k = lookup_key(key, t.widths.max_key)
        if k is None:
            return False
        return bool(self._changing(lambda: self._delete(k)))

    def _delete(self, key: int) -> bool:
        t = self._table
        assert t is not None
        w = t.widths
        if key > w.max_key:
            return False
        h = w.hash(key)
        cells = t.cells
        if h == w.empty:
            if not cells.escaped_present:
                return False
            t.bracket.run(0, -1, 0, cells.clear_escaped)
            return True
        s = t.editor.find(h, t.reach())
        if s < 0:
            return False
        editor = t.editor
        last = editor.shift_end(s)
        self._check_run(t, s, last)
        entries = cells.entries

        def remove() -> None:
            editor.remove(s, last)
            cells.set_entries(entries - 1)

        t.bracket.run(s, last, 0, remove)
        return True

    def update(self, source: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Sets every pair of ``source`` (later pairs win): a mapping, an iterable of ``(key,
        value)`` pairs, a ``(keys, values)`` tuple of columns, or a numpy array of shape (n, 2).
        Every pair is checked before anything changes. A large batch (more than max(4096, a
        quarter of the entries) pairs) is merged into a new file renamed over the old one,
        faster than inserting in place; a small one is applied in place key by key in hash
        order (a key given twice written once, with its last value), after growing the table
        once if it must (§11.3). A pair the file's widths cannot hold widens it (§16.5): the
        whole batch is then merged into the wider file.

        Raises:
            InvalidArgumentError: a pair that is not one, or numbers out of 0 to 2^64 - 1
                (nothing changed); keyword arguments (keys are integers).
        """
        self._current(False)
        if kwargs:
            raise invalid(f"update takes pairs, not keyword arguments ({', '.join(sorted(kwargs))}): keys are integers", self.path)
        keys, values = _columns(source, self.path, numpy_or_none(), (MAX_U64, MAX_U64))
        self._merge(keys, values)

    def _merge(self, keys: Any, values: Any) -> None:
        """update() of checked columns (numpy arrays or lists of ints, equally long)."""
        given = len(keys)
        if given == 0:
            return
        largest_key = _largest(keys)
        largest_value = _largest(values)
        self._changing(lambda: self._update(keys, values, given, largest_key, largest_value))

    def _update(self, keys: Any, values: Any, given: int, largest_key: int, largest_value: int) -> None:
        t = self._table
        assert t is not None
        w = t.widths
        if largest_key > w.max_key or largest_value > w.max_value:
            self._widen(_distinct(keys, values), largest_key, largest_value)
            return
        hashes, vals, escaped = _sorted_batch(keys, values, w)
        size = t.cells.entries + (1 if t.cells.escaped_present else 0)
        if given > max(BULK_MIN, size / BULK_SHARE):
            self._rehash(grow_capacity, 0, _distinct(keys, values))
            return
        # Grow once, first, for every key that is new: a growth that fails (a full disk) then
        # leaves the index as it was, not with part of the batch in it.
        reach = t.reach()
        fresh = sum(1 for h in hashes if t.editor.find(h, reach) < 0)
        if (t.cells.entries + fresh) * MAX_LOAD_DEN > t.capacity * MAX_LOAD_NUM:
            self._rehash(grow_capacity, fresh)
        unhash = w.unhash
        for h, v in zip(hashes, vals):
            self._set(unhash(h), v)
        if escaped is not None:
            self._set(w.escaped_key, escaped)

    def clear(self) -> None:
        """Removes every entry: a new, empty file (of the same widths) renamed over the old one."""
        self._current(False)

        def empty() -> None:
            t = self._table
            assert t is not None
            parts, _ = table_parts([], [], None, 1, t.widths, self._file.now)
            self._replace(write_temp_file(self._file.now, parts, self._sync))

        self._changing(empty)

    def compact(self) -> None:
        """Rehashes now into the builder's layout (§7, §11.5): the file becomes byte-identical to
        a build of the same pairs at its widths, as small as a build makes it."""
        self._current(False)
        self._changing(lambda: self._rehash(build_capacity, 0))

    def flush(self) -> None:
        """Makes every change so far durable: returns once the mapped pages are on disk."""
        t = self._current(False)
        if self._sync:
            t.mm.flush()

    def close(self) -> None:
        """flush(), then releases the writer lock. Later calls raise ClosedError; a second
        close() does nothing."""
        if self._table is None:
            return
        try:
            self.flush()
        finally:
            self._detach()

    def __enter__(self) -> "Writer":
        self._current(False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # An unclosed writer lets go of its lock when collected (a process's exit does anyway).
        try:
            self._detach()
        except Exception:  # noqa: BLE001 - nothing to report to at collection
            pass

    # ---- rehash ----

    def _rehash(self, capacity_for: Callable[[int], int], extra: int, batch: Optional[Batch] = None, w: Optional[Widths] = None) -> None:
        """Rewrites the table (merged with ``batch``, widened to ``w``) into a new file with
        ``capacity_for(entries + extra)`` home slots, and swaps it in."""
        t = self._table
        assert t is not None
        cells = t.cells
        escaped = cells.escaped_value if cells.escaped_present else None
        target = self._file.now
        temp = rehash_into(
            target, t.mm, t.region, t.current_header(self.path), escaped, lambda n: capacity_for(n + extra), self._sync, batch, w
        )
        self._replace(temp)

    def _widen(self, batch: Batch, largest_key: int, largest_value: int) -> None:
        """§16.5: the table rewritten into a version 3 file with the wider widths (the other kept),
        with the batch in it, swapped in as a growth is."""
        t = self._table
        assert t is not None
        old = t.widths
        w = narrowest(largest_key, largest_value, 64 if old.key_bits == 64 else None, 64 if old.value_bits == 64 else None)
        capacity = t.capacity

        def capacity_for(n: int) -> int:
            # At the same capacity, as idx widens, unless the pairs push the load past 9/10.
            return grow_capacity(n) if n * MAX_LOAD_DEN > capacity * MAX_LOAD_NUM else capacity

        self._widening += 1
        self._rehash(capacity_for, 0, batch, w)

    def _replace(self, temp: TempFile) -> None:
        """§11.4: the new file in place of the old, the lock passed on, the new file mapped. If
        the path names another file now (see _current), nothing is renamed: _Displaced."""
        t = self._table
        assert t is not None and self._lock is not None
        lock = swap_in(temp, self._file.now, t.cells, self._lock, self._sync)
        if lock is None:
            raise _Displaced()
        self._lock = lock
        try:
            self._attach()
        except _Displaced:
            self._follow()


class WriterItemsView(ItemsView):  # type: ignore[type-arg]
    """w.items(): (key, value) pairs read from the slots directly."""

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return self._mapping._entries()  # type: ignore[attr-defined, no-any-return]


class WriterValuesView(ValuesView):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[int]:
        for _, value in self._mapping._entries():  # type: ignore[attr-defined]
            yield value


def _distinct(keys: Any, values: Any) -> Batch:
    """A batch's pairs, a key given twice kept once with its last value."""
    np = numpy_or_none()
    if np is not None and hasattr(keys, "dtype"):
        k = np.asarray(keys, dtype=np.uint64)[::-1]
        v = np.asarray(values, dtype=np.uint64)[::-1]
        _, first = np.unique(k, return_index=True)  # the first of the reversed: the last given
        return Batch(k[first], v[first])
    d = dict(zip(keys, values))
    return Batch(list(d), list(d.values()))


def _sorted_batch(keys: Any, values: Any, w: Widths) -> Tuple[Any, Any, Optional[int]]:
    """A batch as the file's hashes, ascending and distinct (the last value of a key wins), and
    the escaped key's value or None (§11.3: each key as its own set, in hash order, the escaped
    key last)."""
    np = numpy_or_none()
    if np is not None and hasattr(keys, "dtype"):
        from .vectorized import sort_entries

        hashes, vals, escaped = sort_entries(keys, values, w)
        return hashes.tolist(), vals.tolist(), escaped
    from .table import sorted_entries

    return sorted_entries(zip(keys, values), w)


def _create_empty(now: str, path: str, sync: bool) -> Optional[WriterLock]:
    """Creates an empty index at ``now`` and returns its lock, or None if another process created
    one first (then the caller locks that one)."""
    parts, _ = table_parts([], [], None, 1, W32, path)
    temp = write_temp_file(now, parts, sync)
    try:
        lock = WriterLock.of_new_file(temp.path, temp.fd)
    except BaseException:
        discard(temp.path)
        os.close(temp.fd)
        raise
    try:
        if commit(temp.path, now, sync, no_clobber=True):
            return lock
        discard(temp.path)
    except BaseException:
        lock.release()
        raise
    lock.release()
    return None

