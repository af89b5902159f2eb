"""One index file mapped into memory, read-only and shared, and validated at open (§9.1).

The only module that opens and maps files for reading. What it hands out are views of the
mapping: the header as uint32 words, the slots as uint64 words (hash word low, value word
high: the file is little-endian and so is every machine idxmap runs on), and numpy views of
both when numpy is there.

Why whole-slot loads cannot tear: a slot or a cell is 8 bytes at an 8-byte-aligned file offset
(slots start at 64 or 128), and the mapping starts on a page boundary, so each is an aligned
8-byte word in memory. Reading ``slots[i]`` of a ``memoryview`` cast to ``"Q"`` is one
fixed-size 8-byte ``memcpy`` in CPython (``unpack_single`` in memoryobject.c), which compilers
emit as one 8-byte load; numpy gathers (``take``, fancy indexing) of an aligned ``uint64`` array
copy each element with one typed 8-byte load. On x86-64 and arm64 an aligned 8-byte load is
single-copy atomic, so it sees a writer's 8-byte store (§11.2) whole or not at all. The seq
check of §11.7 discards any probe a write overlapped anyway; only the stopped writer's
two-probe answer relies on whole-slot loads.

A mapping whose file is truncated under it kills the process with SIGBUS on the next touch of
a lost page; Python cannot survive that. :meth:`MappedFile.lost` (one ``fstat``) lets callers
check at safe points, and :meth:`MappedFile.look` (the watcher's, every 100 ms) sends lookups
to them; see the package README (deploy with a rename, never ``cp`` over a live index).
"""

from __future__ import annotations

import mmap
import os
import stat as _stat
import struct
import sys

from .errors import ERR_IDX_IO, error, io_error
from .native import extension as _extension
from .format import (
    CELL_SEQ,
    CELL_STATE,
    HEADER_ID_OFFSETS,
    MAGIC,
    MAX_HEADER_BYTES,
    Header,
    check_sentinel,
    parse_header,
    slot_offset,
)
from .protocol import StallClock, stable_header

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Any, Callable, Optional, Tuple

_Q = struct.Struct("<Q")
_MAX_ATTEMPTS = 3


def _require_little_endian(path: str) -> None:
    if sys.byteorder != "little":
        raise error(ERR_IDX_IO, "idx reads its little-endian slots in place and needs a little-endian CPU", path=path)


def open_regular_file(path: str, name: Optional[str] = None) -> Tuple[int, os.stat_result]:
    """Opens ``path`` read-only and checks it is a regular file. The caller owns the descriptor.
    Messages call it ``name`` (default ``path``).

    Raises:
        InvalidArgumentError: ``path`` is not a non-empty str (or os.PathLike) without NUL bytes.
        IdxIOError: the file cannot be opened or is not a regular file.
    """
    opened, path = path, path if name is None else name
    try:
        # Non-blocking: a named pipe opened for reading would wait for a writer; it is refused
        # below (src/os/mapping.ts openRegularFile). A regular file reads the same either way.
        fd = os.open(opened, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise io_error("open the index", path, e, "Check the path and its permissions.") from e
    try:
        st = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise io_error("read the index", path, e) from e
    if not _stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise error(
            ERR_IDX_IO, "cannot read the index: it is not a regular file", path=path, hint="Pass the path of an index file."
        )
    return fd, st


def pread_exactly(fd: int, length: int, offset: int, path: str) -> bytes:
    """Reads exactly ``length`` bytes at ``offset``.

    Raises:
        IdxIOError: the read fails.
        TruncatedError: the file ends first (it shrank while being read).
    """
    parts = []
    done = 0
    while done < length:
        try:
            b = os.pread(fd, length - done, offset + done)
        except OSError as e:
            raise io_error("read the index", path, e) from e
        if not b:
            raise error(
                "ERR_IDX_TRUNCATED", "is shorter than its header says (was it cut short while being read?)", path=path
            )
        parts.append(b)
        done += len(b)
    return b"".join(parts)


class FilePath:
    """The path of an index as the caller gave it, and the path to open it by now: a relative
    path stays the file it named when it was given, after the process changes directory (as
    src/os/file-path.ts in the Node package).

    Attributes:
        given: the path as given (what messages show).
    """

    __slots__ = ("given", "_absolute", "_cwd")

    def __init__(self, given: str) -> None:
        self.given = given
        self._cwd = None if os.path.isabs(given) else _current_directory()
        self._absolute = given if self._cwd is None else os.path.join(self._cwd, given)

    @property
    def now(self) -> str:
        """The path to open now: as given, or resolved where it was given if the process has
        changed directory since (as given while the directory is the same: a path longer than
        PATH_MAX when made absolute still opens)."""
        if self._cwd is None or _current_directory() == self._cwd:
            return self.given
        return self._absolute


def _current_directory() -> Optional[str]:
    try:
        return os.getcwd()
    except OSError:
        return None  # removed: relative paths resolve (or not) where they are


def lock_free(fd: int) -> bool:
    """§11.7 "A writer that died", on an open descriptor of the file: True when nobody holds its
    writer lock. Takes a shared flock without waiting and releases it at once (a writer that
    asks for the lock meanwhile retries for 50 ms, §11.2)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False  # held (EWOULDBLOCK), or no flock here: assume a live writer
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass  # closing the descriptor releases it anyway
    return True


def lock_free_at(path: str, dev: int, ino: int) -> bool:
    """The lock test by path: True when ``path`` names the file ``(dev, ino)`` and nobody holds
    its writer lock. False when the path names another file or none (the watcher and follow()
    deal with that) or cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        return st.st_ino == ino and st.st_dev == dev and lock_free(fd)
    finally:
        os.close(fd)


WATCHED_BYTES = 32
"""§11.8: the watcher compares the file's first 32 bytes (magic, version, header checksum,
capacity and slot count in version 2), which no writer ever stores into, with those at open."""

NOT_A_WORD = -1
"""What ``MappedFile.id`` holds once the watcher saw the file change: no header word equals it,
so the next lookup's header check fails and takes the slow path."""


class MappedFile:
    """An index file, mapped whole (read-only, shared), with its validated header.

    Attributes:
        header: the header as validated at open.
        opened: the path it was opened by (``path`` is the one messages show).
        size, dev, ino: the file's size, device and inode when it was opened.
        widths: the file's key and value widths (32/32 but in version 3); wide: a version 3
            file (packed 12- or 16-byte slots, §16.1).
        words: the header as a ``memoryview`` of uint32 (cells read in place).
        slots: versions 1 and 2: the slot region as a ``memoryview`` of uint64, one word a slot
            (hash word | value word << 32). Version 3: the same as ``slot_words`` (a 12-byte
            slot's 8-byte fields are 8-byte aligned in every other slot only, §16.1).
        slot_words: the slot region as a ``memoryview`` of uint32: (hash, value, hash, ...) in
            versions 1 and 2; ``widths.slot_words`` a slot in version 3, the hash word's one or
            two (low first), then the value's.
        reach: the reach this reader probes with; raised when a writer stores a larger one
            ``reach_words`` is twice it, kept with it: a probe's bound in ``slot_words``.
        idw, header_id: the header checksum word's index in ``words`` (3 in version 2, 7 in
            version 1) and its value at open (§11.7: compared on every lookup).
        id: what a lookup compares that word with: ``header_id``, or NOT_A_WORD once the
            watcher saw the path name another file (``moved``) or this file change size or its
            first 32 bytes (``rewritten``), so that the next lookup takes the slow path.
        dead: an odd seq whose writer died, which lookups treat as even (§11.7); -1 for none.
        native: the C extension's own mapping of the file (idxmap._native.Mapping: the limited
            API gives C no pointer into ``mm``), or None without the extension. ``reach``,
            ``dead`` and the watcher's flags are kept in step with it here.
    """

    __slots__ = (
        "path",
        "header",
        "widths",
        "wide",
        "size",
        "dev",
        "ino",
        "mm",
        "_base",
        "words",
        "slots",
        "slot_words",
        "capacity",
        "last",
        "_reach",
        "reach_words",
        "v1_measured",
        "generation",
        "opened",
        "idw",
        "header_id",
        "id",
        "_dead",
        "native",
        "moved",
        "rewritten",
        "first_bytes",
        "_np_slots",
        "_np_words",
        "__weakref__",
    )

    def __init__(self, path: str, header: Header, mm: mmap.mmap, st: os.stat_result) -> None:
        self.path = path
        self.header = header
        self.size = st.st_size
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.mm = mm
        self.native: Any = None
        hb = header.layout.header_bytes
        self.widths = header.widths
        self.wide = header.widths.wide
        self._base = memoryview(mm)
        self.words = self._base[0:hb].cast("I")
        end = hb + header.slot_count * header.layout.slot_bytes
        # The slots as uint32 words, for the fast path of a single lookup (a 32-bit hash word
        # read alone needs no masking). Loads of a slot in pieces are correct where the seq
        # check guards them (§11.7, §16.6).
        self.slot_words = self._base[hb:end].cast("I")
        # Versions 1 and 2 also as uint64 words, a whole slot with one load (the slow path).
        self.slots = self.slot_words if self.wide else self._base[hb:end].cast("Q")
        self.capacity = header.capacity
        self.last = header.slot_count - 1
        self.reach = header.reach
        self.v1_measured: Optional[Tuple[int, int]] = None
        self.generation = 0  # set by the reader: how many files it mapped before this one
        self.opened = path
        self.idw = HEADER_ID_OFFSETS[header.major] // 4
        self.header_id = int(self.words[self.idw])
        self.id = self.header_id
        self.dead = -1
        self.moved = False
        self.rewritten = False
        self.first_bytes = bytes(mm[0:WATCHED_BYTES])
        self._np_slots: Any = None
        self._np_words: Any = None

    # ---- opening ----

    @classmethod
    def open(cls, path: str, *, sequential: bool = False, name: Optional[str] = None) -> "MappedFile":
        """Maps ``path`` and validates it by §9.1 (rules 1 to 10): O(1), no slot is decoded but
        the last one, which is read (not loaded from the mapping, so its page is not mapped in).
        Messages call the file ``name`` (default ``path``): the path as the caller gave it,
        where ``path`` is the one to open now (see :class:`FilePath`).

        Raises:
            IdxIOError: the file cannot be opened, read or mapped, or is not a regular file.
            NotAnIndexError, TruncatedError, UnsupportedVersionError, ChecksumError,
            CorruptError, TooLargeError: the first §9.1 rule the file breaks.
        """
        opened, path = path, path if name is None else name
        _require_little_endian(path)
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            fd, st = open_regular_file(opened, name=path)
            try:
                if st.st_size == 0:
                    parse_header(b"", 0, path)  # raises: an empty file is not an index
                try:
                    mm = mmap.mmap(fd, st.st_size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
                except (OSError, ValueError) as e:
                    raise io_error(
                        "map the index into memory",
                        path,
                        e,
                        "Each open index file is a mapping, and the kernel allows a limited number "
                        "(vm.max_map_count): close indexes you no longer use."
                        if getattr(e, "errno", None) == 12
                        else None,
                    ) from e
                try:
                    if os.fstat(fd).st_size != st.st_size:
                        # Changed size between fstat and mmap: a touch past its end would SIGBUS.
                        raise _Resized()
                    _advise(mm, sequential)
                    head = read_stable_header(mm, st.st_size, lock_free=lambda: lock_free(fd))
                    header = parse_header(head, st.st_size, path)
                    w = header.widths
                    at = slot_offset(header.layout, header.slot_count - 1)
                    last = pread_exactly(fd, w.key_bits // 8, at, path)
                    check_sentinel(int.from_bytes(last, "little"), path, w)
                    m = cls(path, header, mm, st)
                    m.opened = opened
                    if _extension is not None:
                        m.native = _native_mapping(fd, m)
                    return m
                except BaseException:
                    mm.close()
                    raise
            except _Resized:
                if attempt == _MAX_ATTEMPTS:
                    raise error(ERR_IDX_IO, "cannot map the index: it keeps changing size while being opened", path=path) from None
            finally:
                os.close(fd)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def reach(self) -> int:
        return self._reach

    @reach.setter
    def reach(self, reach: int) -> None:
        self._reach = reach
        self.reach_words = reach << 1
        if self.native is not None:
            self.native.reach = reach

    @property
    def dead(self) -> int:
        return self._dead

    @dead.setter
    def dead(self, seq: int) -> None:
        self._dead = seq
        if self.native is not None:
            self.native.dead = seq

    # ---- numpy views ----

    def np_slots(self) -> Any:
        """The slot region as a numpy array (a view of the mapping, created once): uint64, one
        word a slot, in versions 1 and 2; records of ``widths.np_dtype`` (fields ``h`` and ``v``)
        in version 3."""
        if self._np_slots is None:
            import numpy as np

            hb = self.header.layout.header_bytes
            dtype = self.widths.np_dtype(np) if self.wide else np.uint64
            self._np_slots = np.frombuffer(self.mm, dtype=dtype, count=self.header.slot_count, offset=hb)
        return self._np_slots

    # ---- state ----

    def lost(self) -> bool:
        """True when the file is now shorter than when it was mapped (truncated or rewritten in
        place under the mapping): touching its lost pages would kill the process with SIGBUS.
        One fstat."""
        try:
            return self.mm.size() < self.size
        except (OSError, ValueError):
            return True

    def header_copy(self, opened: Optional[str] = None) -> bytes:
        """A stable copy of the header (§11.7 "The header"), testing the writer lock of the file
        at ``opened`` (default: the path it was opened by) if seq stays odd."""
        path = self.opened if opened is None else opened
        return read_stable_header(self.mm, self.size, lock_free=lambda: lock_free_at(path, self.dev, self.ino))

    def look(self, path: str) -> None:
        """The watcher's look at ``path`` (§11.8), about every 100 ms: flags this file ``moved``
        when the path names another file, ``rewritten`` when this file changed size or its first
        32 bytes; either way ``id`` stops matching, and the next lookup takes the slow path. A
        path that names nothing (``rm``, the new file not there yet) changes nothing: the file
        still answers as it did until a new one appears. Raises nothing."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            try:
                st = os.stat(path)
            except OSError:
                return
            if st.st_ino != self.ino or st.st_dev != self.dev:
                self.flag(moved=True)
            return
        try:
            st = os.fstat(fd)
            if st.st_ino != self.ino or st.st_dev != self.dev:
                self.flag(moved=True)
            elif st.st_size != self.size or os.pread(fd, WATCHED_BYTES, 0) != self.first_bytes:
                # Read from the file, not the mapping: a page of it may be gone (SIGBUS).
                self.flag(rewritten=True)
        except OSError:
            pass
        finally:
            os.close(fd)

    def flag(self, moved: bool = False, rewritten: bool = False) -> None:
        """Sends the next lookup to the slow path: the path names another file (``moved``), or
        this one changed in place (``rewritten``)."""
        if moved:
            self.moved = True
        if rewritten:
            self.rewritten = True
        self.id = NOT_A_WORD
        if self.native is not None:
            self.native.spoiled = True

    def unflag_moved(self) -> None:
        """The path names this file again (moved back): lookups take the fast path again."""
        self.moved = False
        if not self.rewritten:
            self.id = self.header_id
            if self.native is not None:
                self.native.spoiled = False

    def word(self, i: int) -> int:
        """Header word ``i`` now. Through the C extension's mapping when there is one: a file
        truncated under it reads zeros there (its SIGBUS handler), where a load from ``words``
        between a size check and the truncation would kill the process."""
        n = self.native
        return n.word(i) if n is not None else int(self.words[i])

    def changed(self) -> bool:
        """True when this file must not be answered from (§11.8): truncated or resized under the
        mapping (one fstat), rewritten in place as the watcher saw, lost under the extension's
        mapping, or its header checksum word differs from the one at open."""
        n = self.native
        if n is not None and n.lost:
            self.rewritten = True
        return self.rewritten or self.lost() or self.word(self.idw) != self.header_id

    def copy_slots(self, a: int, b: int, np: Any) -> Any:
        """A private copy of slots ``a`` to ``b - 1``. Versions 1 and 2: each slot with one 8-byte
        load, as a uint64 numpy array given numpy, else a list of ints. Version 3: the packed
        slots' bytes (loaded in pieces: the caller reads them between two loads of seq, §11.7),
        as records of ``widths.np_dtype`` given numpy, else ``bytes``."""
        if self.wide:
            if np is not None:
                return self.np_slots()[a:b].copy()
            size = self.widths.slot_bytes
            hb = self.header.layout.header_bytes
            return bytes(self._base[hb + size * a : hb + size * b])
        if np is not None:
            return self.np_slots()[a:b].copy()
        return self.slots[a:b].tolist()

    def close(self) -> None:
        """Lets go of the views and the mapping. A view still held elsewhere (another thread's
        lookup in flight) keeps the mapping alive until it is dropped; nothing is unmapped
        under it."""
        self._np_slots = None
        self._np_words = None
        for view in (self.slots, self.slot_words, self.words, self._base):
            try:
                view.release()
            except (BufferError, ValueError):
                pass
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass


class _Resized(Exception):
    pass


def _native_mapping(fd: int, m: MappedFile) -> Any:
    """The extension's mapping of the open file ``fd`` whose header ``m`` validated, or None
    when it cannot map it (lookups then take the pure path for this file)."""
    h = m.header
    try:
        return _extension.Mapping(
            fd, m.size, h.layout.header_bytes, h.capacity, h.slot_count, h.reach, m.idw, m.header_id,
            m.widths.key_bits, m.widths.value_bits,
        )
    except (OSError, ValueError, MemoryError):
        return None


def _advise(mm: mmap.mmap, sequential: bool) -> None:
    # Lookups touch a page or two each: no read-ahead or fault-around of neighbours they will
    # not use (it inflates the resident memory of a process that looks up a few keys). A scan
    # (verify) wants the opposite.
    advice = getattr(mmap, "MADV_SEQUENTIAL" if sequential else "MADV_RANDOM", None)
    if advice is not None and hasattr(mm, "madvise"):
        try:
            mm.madvise(advice)
        except OSError:
            pass


def snapshot_header(mm: Any, size: int) -> bytes:
    """A private copy of the first ``min(size, 128)`` bytes, each cell read with one 8-byte load
    (a writer stores each cell with one 8-byte store, so no cell is seen half old, half new)."""
    n = min(size, MAX_HEADER_BYTES)
    out = bytearray(n)
    plain = min(n, CELL_STATE)
    out[0:plain] = mm[0:plain]
    if n > CELL_STATE:
        cells = (n - CELL_STATE) // 8
        if cells:
            view = memoryview(mm)[CELL_STATE : CELL_STATE + cells * 8].cast("Q")
            try:
                for i in range(cells):
                    _Q.pack_into(out, CELL_STATE + 8 * i, view[i])
            finally:
                view.release()
        rest = CELL_STATE + cells * 8
        out[rest:n] = mm[rest:n]
    return bytes(out)


def read_stable_header(
    mm: Any, size: int, clock: Optional[StallClock] = None, lock_free: Optional[Callable[[], bool]] = None
) -> bytes:
    """The header between two loads of seq (§11.7), or read once if it is not an idx header.
    ``lock_free`` is the writer-lock test of the file, for a seq that stays odd."""
    head = snapshot_header(mm, size)
    if size >= CELL_SEQ + 4 and head[0:8] == MAGIC:

        def seq() -> int:
            return int.from_bytes(mm[CELL_SEQ : CELL_SEQ + 4], "little")

        head = stable_header(lambda: snapshot_header(mm, size), seq, clock, lock_free)
    return head
