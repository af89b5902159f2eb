"""Index: a read-only, dict-like view of an index file, probed in place through a shared mapping.

Opening is O(1): the file is mapped and its header validated against its size (§9.1), nothing
more. A writer in another process (the Node package's IdWriter, ``idx set``...) may change the
file while it is mapped here: every lookup reads the header's seq word before and after its
probe (§11.7, :mod:`idxmap.protocol`), so no answer mixes two states of the table. When the
file is replaced by a writer's grow or compact, or by a build (all of which retire the old
file, §11.4), the next lookup here follows the path to the new file.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import ItemsView, KeysView, Mapping, ValuesView

from . import protocol as _protocol
from .args import check_path, check_uint32, key_list, lookup_key
from .errors import ERR_IDX_CLOSED, ERR_IDX_CORRUPT, IdxError, error
from .format import (
    STATE_ESCAPED,
    STATE_RETIRED,
    STATE_V1_COUNT_MASK,
    W_ENTRIES,
    W_ESCAPED,
    W_REACH,
    W_SEQ,
    W_STATE,
    Header,
    parse_header,
)
from .hashing import EMPTY_HASH, ESCAPED_KEY, MASK32, unhash32
from .mapping import FilePath, MappedFile
from .protocol import FOLLOW_EVERY_SECONDS, ProtocolReader, StallClock, quiet, settle
from .table import UNDECIDED, measure_reach, probe
from .vectorized import (
    as_uint32_array,
    entries_of,
    hash32_array,
    measure_reach_array,
    numpy_or_none,
    probe_hashes,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import (
        Any,
        Dict,
        Iterable,
        Iterator,
        List,
        NoReturn,
        Optional,
        Tuple,
        Union,
    )

    from .checks import VerifyReport

V1_FIRST_REACH = 4096
"""§14: a version 1 file records no reach; probes run this far before the reader measures it
(as idx's reader does), which bounds every probe of a damaged version 1 table too."""

GET_MANY_CHUNK = 1 << 16
"""Keys per seq bracket in get_many (§11.7 per chunk): two loads of seq per chunk instead of per
key, and a chunk that a write overlapped is probed again as a whole."""

_ITER_CHUNK = 1 << 16
_FENCE = _protocol.FENCE_NEEDED
_fence = _protocol.fence

class IndexInfo:
    """The header's numbers and what they mean for size: what ``idx info`` prints.

    Attributes: path; version ("2.0"); count (live entries); capacity (home slots, the range
    of the slot mapping); slot_count (all slots, spill slots included); load (count /
    capacity); file_bytes; bytes_per_entry (file_bytes / count, None for an empty index);
    writes (in-place operations since the file was written: seq / 2); reach (no lookup reads
    more than reach + 1 slots; None for version 1, which records none); access ("mapped").
    """

    __slots__ = ("path", "version", "count", "capacity", "slot_count", "load", "file_bytes", "bytes_per_entry", "writes", "reach", "access")
    path: str
    version: str
    count: int
    capacity: int
    slot_count: int
    load: float
    file_bytes: int
    bytes_per_entry: "Optional[float]"
    writes: int
    reach: "Optional[int]"
    access: str

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("access", "mapped")
        for name in self.__slots__:
            setattr(self, name, fields.pop(name))
        if fields:
            raise TypeError(f"unknown fields {sorted(fields)}")

    def __repr__(self) -> str:
        return "IndexInfo(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexInfo) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def of(cls, path: str, h: Header, size: int) -> "IndexInfo":
        count = h.size
        return cls(
            path=path,
            version=h.version,
            count=count,
            capacity=h.capacity,
            slot_count=h.slot_count,
            load=count / h.capacity,
            file_bytes=size,
            bytes_per_entry=None if count == 0 else size / count,
            writes=h.seq // 2,
            reach=None if h.major == 1 else h.reach,
        )

    def to_json(self) -> Dict[str, Any]:
        """The info with the Node package's field names and order (``idx info --json``)."""
        return {
            "path": self.path,
            "version": self.version,
            "count": self.count,
            "capacity": self.capacity,
            "slotCount": self.slot_count,
            "load": self.load,
            "fileBytes": self.file_bytes,
            "bytesPerEntry": self.bytes_per_entry,
            "writes": self.writes,
            "reach": self.reach,
            "access": self.access,
        }


class _ChunkAnswer:
    """get_many's answer for one chunk, comparable as §11.7's second probe needs."""

    __slots__ = ("values", "found")

    def __init__(self, values: Any, found: Any) -> None:
        self.values = values
        self.found = found

    def __eq__(self, other: object) -> bool:
        np = numpy_or_none()
        return (
            isinstance(other, _ChunkAnswer)
            and bool(np.array_equal(self.values, other.values))
            and bool(np.array_equal(self.found, other.found))
        )

    __hash__ = None  # type: ignore[assignment]


class _Protocol(ProtocolReader):
    """The loads :func:`idxmap.protocol.settle` makes, on the index's current file."""

    __slots__ = ("_ix",)

    def __init__(self, ix: "Index") -> None:
        self._ix = ix

    def seq(self) -> int:
        # The seq word above the mapping's generation: two loads from different files (another
        # thread followed a new file in between) never look like one quiet probe.
        m = self._ix._current()
        return (m.generation << 32) | int(m.words[W_SEQ])

    def retired(self) -> bool:
        m = self._ix._current()
        # A file truncated under the mapping counts as replaced: follow() reopens the path or
        # says why it cannot, and nothing touches the lost pages (which would raise SIGBUS).
        if m.lost():
            return True
        return (m.words[W_STATE] & STATE_RETIRED) != 0

    def follow(self) -> bool:
        return self._ix._follow()


class Index(Mapping):  # type: ignore[type-arg]
    """A read-only, dict-like view of the idx index at ``path``: uint32 keys to uint32 values.

    ``Index(path)`` maps the file and validates its header (O(1)); use it as a context manager
    or call :meth:`close`. Lookups read the file in place: no loading, no per-entry objects.

    ``ix[key]`` raises KeyError for a missing key; ``ix.get``, ``in``, ``len``, iteration (keys,
    in hash order, the escaped key first), ``keys()``, ``values()``, ``items()`` and ``==``
    work as on a dict. A key that no uint32 equals (``-1``, ``2**32``, ``1.5``, ``"1"``) is
    simply absent, as in a dict of int keys. :meth:`get_many` looks up many keys at once.

    Raises (at open):
        InvalidArgumentError: ``path`` is not a path.
        IdxIOError: the file cannot be opened or mapped, or is not a regular file.
        NotAnIndexError, TruncatedError, UnsupportedVersionError, ChecksumError,
        CorruptError, TooLargeError: the first rule of §9.1 (§14) the file breaks.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path: str = check_path("path", path)
        # Messages show the path as given; the file is reopened (following a replaced file,
        # refresh) by the path it named at open, whatever directory the process is in then.
        self._file = FilePath(self.path)
        self._m: Optional[MappedFile] = None
        self._clock = StallClock()
        self._last_follow = -math.inf
        self._generations = 0
        self._m = self._map()

    def _map(self) -> MappedFile:
        m = MappedFile.open(self._file.now, name=self.path)
        if m.header.major == 1:
            m.reach = min(V1_FIRST_REACH, m.last)
        self._generations += 1
        m.generation = self._generations
        return m

    # ---- lifetime ----

    def close(self) -> None:
        """Lets go of the file and its mapping. Later calls raise ClosedError. Raises nothing.

        The mapping is unmapped as soon as nothing reads it: at once, unless another thread is
        in the middle of a lookup or an iteration still runs (then when it ends). Views are
        never released under a reader, so no thread can touch an unmapped page."""
        self._m = None

    @property
    def closed(self) -> bool:
        return self._m is None

    def __enter__(self) -> "Index":
        self._current()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError("an idxmap.Index cannot be pickled: pass its path and open it again")

    def _current(self) -> MappedFile:
        m = self._m
        if m is None:
            self._closed()
        return m

    def _closed(self) -> NoReturn:
        raise error(ERR_IDX_CLOSED, "the index is closed", path=self.path, hint="Open it again with idxmap.open().")

    # ---- single lookups ----

    def _get(self, key: Any) -> Optional[int]:
        """The value of ``key`` or None: §5.3 between two loads of seq (§11.7)."""
        m = self._m
        if m is None:
            self._closed()
        if type(key) is not int or key < 0 or key > 0xFFFFFFFF:
            key = lookup_key(key)
            if key is None:
                return None
        # hash32, inlined: a call costs a fifth of a lookup here.
        x = key ^ (key >> 16)
        x = (x * 0x85EBCA6B) & 0xFFFFFFFF
        x ^= x >> 13
        x = (x * 0xC2B2AE35) & 0xFFFFFFFF
        h = x ^ (x >> 16)
        words = m.words
        s1 = words[12]  # W_SEQ
        if _FENCE:
            _fence()
        undecided = False
        if h == 0xFFFFFFFF:
            value = words[10] if words[8] & 0x10000000 else None  # W_ESCAPED, W_STATE, ESCAPED
        else:
            # §5.3 over the slots' uint32 words: hash word at 2s, value word at 2s + 1.
            hw = m.slot_words
            i = ((h * m.capacity) >> 32) << 1
            end = i + (m.reach << 1)
            if end > m.last << 1:
                end = m.last << 1
            w = hw[i]
            while w < h and i < end:
                i += 2
                w = hw[i]
            if w == h:
                value = hw[i + 1]
            else:
                value = None
                undecided = w < h
        if _FENCE:
            _fence()
        s2 = words[12]
        if s1 == s2 and not s1 & 1 and not undecided:
            return value
        g = m.generation << 32
        return self._slow_get(h, g | s1, g | s2, value, undecided)

    def _slow_get(self, h: int, s1: int, s2: int, value: Optional[int], undecided: bool) -> Optional[int]:
        """_get after its fast check failed: a write overlapped, the file was retired, or the
        probe used up the reach it had (a writer may have raised it since)."""
        if undecided:
            protocol = _Protocol(self)
            s1 = protocol.seq()
            _fence()
            value = self._probe(h)
            _fence()
            s2 = protocol.seq()
        return settle(_Protocol(self), lambda: self._probe(h), s1, s2, value, self._clock)

    def _probe(self, h: int) -> Optional[int]:
        """§5.3 on the current file, no seq check; raises the reach it probes with when it must."""
        while True:
            m = self._current()
            if h == EMPTY_HASH:
                w = m.words
                return int(w[W_ESCAPED]) if w[W_STATE] & STATE_ESCAPED else None
            answer = probe(m.slots, m.capacity, m.reach, m.last, h)
            if answer is not UNDECIDED:
                return answer  # type: ignore[return-value]
            if not self._raise_reach(m):
                return None

    def _raise_reach(self, m: MappedFile) -> bool:
        """A probe used up its reach: take the larger one a writer stored since (version 2), or
        measure the entries once (version 1, §14). True when the reach grew."""
        if m.header.major == 2:
            reach = min(int(m.words[W_REACH]), m.last)
        else:
            seq = int(m.words[W_SEQ])
            if m.v1_measured is None:
                np = numpy_or_none()
                measured = (
                    measure_reach_array(m.np_slots(), m.capacity) if np is not None else measure_reach(m.slots, m.capacity)
                )
                m.v1_measured = (measured, seq)
            measured, at = m.v1_measured
            # Each operation since moves an entry at most one slot further; seq counts two per
            # operation (and one more for an odd seq mid-operation).
            since = ((seq - at) & MASK32) / 2
            reach = min(m.last, measured + math.ceil(since) + 1)
        if reach <= m.reach:
            return False
        m.reach = reach
        return True

    def __getitem__(self, key: Any) -> int:
        """The value of ``key``. Raises KeyError when it is absent (or not a uint32), ClosedError
        after close(), CorruptError when the file was truncated under the mapping and cannot be
        reopened."""
        value = self._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is absent (or not a uint32).
        Raises ClosedError after close()."""
        value = self._get(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        """True when ``key`` is in the index. Raises ClosedError after close()."""
        return self._get(key) is not None

    # ---- many lookups ----

    def get_many(self, keys: Iterable[int], missing: int = 0) -> Tuple[Any, Any]:
        """Looks up every key of ``keys``: returns ``(values, found)``, where ``values[i]`` is the
        value of ``keys[i]`` or ``missing`` (default 0) when it is absent, and ``found[i]`` says
        which (every uint32 is a valid value, so ``missing`` alone cannot).

        ``keys`` is any iterable of ints (numpy integers too; not bools, floats or strings),
        or a numpy array of an integer dtype; numpy or not, the same inputs are accepted. With
        numpy the answers are numpy arrays (uint32 and bool), computed with no Python loop per
        key, a chunk of 65,536 keys between two loads of seq. Without numpy, they are lists.

        Raises:
            InvalidArgumentError: ``keys`` not iterable, a key (or ``missing``) that is not an
                integer from 0 to 4294967295, or keys that are not one-dimensional.
            ClosedError: after close().
        """
        self._current()
        missing = check_uint32("missing", missing, self.path)
        np = numpy_or_none()
        if np is None:
            return self._get_many_pure(keys, missing)
        arr = as_uint32_array(keys, "keys", self.path)
        n = arr.size
        values = np.empty(n, dtype=np.uint32)
        found = np.empty(n, dtype=bool)
        for a in range(0, n, GET_MANY_CHUNK):
            b = min(a + GET_MANY_CHUNK, n)
            answer = self._settled_chunk(hash32_array(arr[a:b]))
            values[a:b] = answer.values
            found[a:b] = answer.found
        if missing:
            values[~found] = missing
        return values, found

    def _get_many_pure(self, keys: Iterable[int], missing: int) -> Tuple[List[int], List[bool]]:
        checked = [check_uint32("keys", k, self.path) for k in key_list("keys", keys, self.path)]
        values: List[int] = []
        found: List[bool] = []
        get = self._get
        for i, k in enumerate(checked):
            if i % GET_MANY_CHUNK == 0:
                self._intact()  # one fstat a chunk, as the numpy path
            v = get(k)
            if v is None:
                values.append(missing)
                found.append(False)
            else:
                values.append(v)
                found.append(True)
        return values, found

    def _settled_chunk(self, hashes: Any) -> _ChunkAnswer:
        """One chunk of get_many through §11.7: probed between two loads of seq, and again as
        the protocol says when a write overlapped it (the whole chunk, vectorised)."""
        m = self._intact()
        s1 = int(m.words[W_SEQ])
        _fence()
        answer = self._probe_chunk(hashes, m)
        _fence()
        s2 = int(m.words[W_SEQ])
        if quiet(s1, s2):
            return answer
        g = m.generation << 32
        return settle(_Protocol(self), lambda: self._probe_chunk(hashes, self._current()), g | s1, g | s2, answer, self._clock)

    def _probe_chunk(self, hashes: Any, m: MappedFile) -> _ChunkAnswer:
        """§5.3 for a chunk of hashes on file ``m``, no seq check (see _settled_chunk)."""
        np = numpy_or_none()
        while True:
            escaped = hashes == np.uint32(EMPTY_HASH)
            if escaped.any():
                rest = np.flatnonzero(~escaped)
                values = np.zeros(hashes.size, dtype=np.uint32)
                found = np.zeros(hashes.size, dtype=bool)
                v, f, undecided = probe_hashes(m.np_slots(), hashes[rest], m.capacity, m.reach, m.last)
                values[rest] = v
                found[rest] = f
                w = m.words
                if w[W_STATE] & STATE_ESCAPED:
                    values[escaped] = w[W_ESCAPED]
                    found[escaped] = True
            else:
                values, found, undecided = probe_hashes(m.np_slots(), hashes, m.capacity, m.reach, m.last)
            if undecided and self._raise_reach(m):
                continue
            return _ChunkAnswer(values, found)

    # ---- following a replaced file (§11.7) ----

    def _follow(self) -> bool:
        """§11.7 follow(): maps the file now at the path if it is another one than ours (at most
        once a millisecond), or if ours was truncated under its mapping. True when it did.

        Raises CorruptError when the mapped file was truncated and the path cannot be reopened.
        """
        m = self._current()
        lost = m.lost()
        t = time.monotonic()
        if not lost and t - self._last_follow < FOLLOW_EVERY_SECONDS:
            return False
        self._last_follow = t
        try:
            st: Optional[os.stat_result] = os.stat(self._file.now)
        except OSError:
            st = None
        if st is None:
            if lost:
                raise _lost_error(self.path, "the path no longer exists")
            return False  # no replacement yet: keep answering from this file, which no longer changes
        if not lost and st.st_ino == m.ino and st.st_dev == m.dev:
            return False
        try:
            new = self._map()
        except IdxError as e:
            # Not readable yet (a copy still being written): keep the old file if it is intact.
            if lost:
                raise _lost_error(self.path, e.what) from e
            return False
        if self._m is None:
            new.close()
            self._closed()
        # The old mapping is dropped, not closed: another thread may be probing it; it is
        # unmapped when the last reader lets go (see close()).
        self._m = new
        self._clock = StallClock()
        return True

    def _intact(self) -> MappedFile:
        """The current file, after one fstat: if it was truncated under its mapping (``cp`` over
        a live index), reopen the path rather than touch a lost page (SIGBUS). For get_many's
        chunks, iteration, info and verify, where one fstat is cheap next to the work."""
        m = self._current()
        if m.lost():
            self._follow()
            m = self._current()
        return m

    def _follow_if_replaced(self) -> MappedFile:
        """Before a whole-file read (iteration, info, verify): the current file, if it was retired."""
        m = self._intact()
        if m.words[W_STATE] & STATE_RETIRED:
            self._last_follow = -math.inf
            self._follow()
        return self._current()

    def refresh(self) -> bool:
        """Maps the file now at the path if it is another file than the one mapped (replaced by
        a plain ``mv`` or ``rm`` and rebuild, which do not retire the old file: §11.8), or if the
        mapped one was retired or truncated. True when it switched.

        Raises ClosedError after close(); CorruptError when the mapped file was truncated and
        the path cannot be reopened.
        """
        m = self._current()
        self._last_follow = -math.inf
        try:
            st = os.stat(self._file.now)
        except OSError:
            st = None
        if st is not None and (st.st_ino != m.ino or st.st_dev != m.dev) or m.lost():
            return self._follow()
        if m.words[W_STATE] & STATE_RETIRED:
            return self._follow()
        return False

    # ---- size, iteration ----

    def _count(self, m: MappedFile) -> int:
        w = m.words
        state = w[W_STATE]
        if m.header.major == 1:
            return int(state & STATE_V1_COUNT_MASK)
        return int(w[W_ENTRIES]) + (1 if state & STATE_ESCAPED else 0)

    def __len__(self) -> int:
        """Live entries (the header's count, read between two loads of seq). Raises ClosedError
        after close(), CorruptError when the file was truncated under the mapping and cannot
        be reopened.

        One fstat first (see _intact): ``list(ix.items())`` and ``==`` call len before they
        read anything, and len is rarely in a hot loop."""
        m = self._intact()
        s1 = int(m.words[W_SEQ])
        _fence()
        answer = self._count(m)
        _fence()
        s2 = int(m.words[W_SEQ])
        if quiet(s1, s2):
            return answer
        g = m.generation << 32
        return settle(_Protocol(self), lambda: self._count(self._current()), g | s1, g | s2, answer, self._clock)

    def _items(self) -> Iterator[Tuple[int, int]]:
        """Every (key, value) pair, in slot order: the escaped key first, then by hash (§5.5).

        Not a snapshot: while a writer changes the index, an entry it moves may be seen twice or
        not at all. The file's size is checked before each chunk of slots (one fstat): a file
        truncated under the mapping (``cp`` over it) is never read, the iteration goes on from
        the same slot in the file now at the path, as in a file a writer replaced, or raises
        CorruptError when there is none. Raises ClosedError when the index is closed meanwhile."""
        m = self._follow_if_replaced()
        w = m.words
        if w[W_STATE] & STATE_ESCAPED:
            yield ESCAPED_KEY, int(w[W_ESCAPED])
        np = numpy_or_none()
        # Our own views: the mapping stays valid for this iteration even if the index closes
        # or follows another file meanwhile.
        views = _slot_views(m, np)
        previous = EMPTY_HASH
        a = 0
        try:
            while a < m.header.slot_count:
                if self._m is None:
                    self._closed()
                if m.lost():
                    # Its pages past the new end would kill the process (SIGBUS): go on in the
                    # file at the path now (_intact follows it, or raises CorruptError).
                    m = self._intact()
                    _release(views)
                    views = _slot_views(m, np)
                    previous = int(m.slots[a - 1]) & MASK32 if 0 < a < m.header.slot_count else EMPTY_HASH
                    continue
                b = min(a + _ITER_CHUNK, m.header.slot_count)
                slots = views[-1]
                if np is not None:
                    words = slots[a:b].copy()
                    keys, values = entries_of(words, previous)
                    previous = int(words[-1]) & MASK32
                    a = b
                    yield from zip(keys.tolist(), values.tolist())
                    continue
                chunk = slots[a:b].tolist()  # a copy: the caller runs between yields
                a = b
                for x in chunk:
                    h = x & MASK32
                    if h != EMPTY_HASH and h != previous:
                        yield unhash32(h), x >> 32
                    previous = h
        finally:
            _release(views)

    def __iter__(self) -> Iterator[int]:
        for key, _ in self._items():
            yield key

    def keys(self) -> "IndexKeysView":
        return IndexKeysView(self)

    def values(self) -> "IndexValuesView":
        return IndexValuesView(self)

    def items(self) -> "IndexItemsView":
        return IndexItemsView(self)

    # ---- comparison, display ----

    def __eq__(self, other: object) -> bool:
        """Equal to a mapping (a dict, another Index) holding exactly the same pairs."""
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        get = self._get
        for key, value in other.items():
            if get(key) != value:
                return False
        return True

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._m is None:
            return f"<idxmap.Index {self.path!r}: closed>"
        return f"<idxmap.Index {self.path!r}: {len(self)} entries>"

    # ---- header, verify ----

    def info(self) -> IndexInfo:
        """The header's numbers, as ``idx info`` prints them. O(1).

        Raises ClosedError after close(); the errors of open if the header is damaged now."""
        m = self._follow_if_replaced()
        return IndexInfo.of(self.path, parse_header(m.header_copy(), m.size, self.path), m.size)

    def verify(self) -> "VerifyReport":
        """The full check of §9.2: every checksum and table invariant. Reads the whole file:
        O(file size), unlike opening. Problems are reported, not raised.

        Raises ClosedError after close()."""
        from .checks import verify_mapped

        m = self._follow_if_replaced()
        return verify_mapped(m, self.path)


class IndexKeysView(KeysView):  # type: ignore[type-arg]
    """ix.keys(): a set-like view of the keys (iterating reads the slots directly)."""

    def __iter__(self) -> Iterator[int]:
        return iter(self._mapping)  # type: ignore[attr-defined]


class IndexValuesView(ValuesView):  # type: ignore[type-arg]
    """ix.values(): the values, in the order of ix.keys()."""

    def __iter__(self) -> Iterator[int]:
        for _, value in self._mapping._items():  # type: ignore[attr-defined]
            yield value


class IndexItemsView(ItemsView):  # type: ignore[type-arg]
    """ix.items(): set-like (key, value) pairs, read from the slots directly."""

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return self._mapping._items()  # type: ignore[attr-defined, no-any-return]

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        v = self._mapping._get(key)  # type: ignore[attr-defined]
        return v is not None and v == value


def _slot_views(m: MappedFile, np: Any) -> List[Any]:
    """Views of ``m``'s slot region as uint64 words, owned by one iteration; the last one is the
    slots (a numpy array with numpy, else a memoryview cast to "Q")."""
    count = m.header.slot_count
    hb = m.header.layout.header_bytes
    if np is not None:
        return [np.frombuffer(m.mm, dtype=np.uint64, count=count, offset=hb)]
    base = memoryview(m.mm)
    return [base, base[hb : hb + 8 * count].cast("Q")]


def _release(views: List[Any]) -> None:
    # memoryviews let go of the mapping (so that close() can unmap it); numpy views when dropped.
    for view in reversed(views):
        if isinstance(view, memoryview):
            try:
                view.release()
            except BufferError:
                pass
    views.clear()


def _lost_error(path: str, why: str) -> IdxError:
    return error(
        ERR_IDX_CORRUPT,
        f"the index file was truncated or rewritten in place while it was open, and cannot be reopened: {why}",
        path=path,
        hint="Something wrote over the live file (cp over it, say). Deploy a new index with a rename "
        "(mv, `idx cp`, idxmap.build), which readers follow.",
    )


def open_index(path: Union[str, "os.PathLike[str]"]) -> Index:
    """Opens the index at ``path``: ``with idxmap.open(path) as ix: ...``. See :class:`Index`."""
    return Index(path)
