"""Index: a read-only, dict-like view of an index file, probed in place through a shared mapping.

Opening is O(1): the file is mapped and its header validated against its size (§9.1), nothing
more. A writer in another process (the Node package's IdWriter, ``idx set``...) may change the
file while it is mapped here: every lookup reads the header's seq word before and after its
probe, and the header checksum word beside the second (§11.7, :mod:`idxmap.protocol`), so no
answer mixes two states of the table or comes from a file rewritten in place. When the file is
replaced by a writer's grow or compact, or by a build (all of which retire the old file,
§11.4), the next lookup here follows the path to the new file; when it is replaced in a way
that does not retire it (``mv``, ``rm`` and a new build), the watcher notices within about
100 ms (§11.8, :mod:`idxmap.watcher`) and the next lookup follows.
"""

from __future__ import annotations

import math
import os
import time
from array import array as _array
from collections.abc import ItemsView, KeysView, Mapping, ValuesView

from . import protocol as _protocol
from . import watcher as _watcher
from .args import check_path, check_uint, key_list, lookup_key
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
    entries_in_slots,
    escaped_value,
    parse_header,
)
from .hashing import EMPTY_HASH, MASK32, hash64, unhash32
from .mapping import FilePath, MappedFile, lock_free_at
from .native import extension as _extension
from .protocol import FOLLOW_EVERY_SECONDS, ProtocolReader, StallClock, settle
from .table import UNDECIDED, measure_reach, probe, probe_wide
from .vectorized import (
    as_key_array,
    entries_of,
    entries_of_wide,
    hash_array,
    measure_reach_array,
    numpy_or_none,
    packed_array,
    probe_hashes,
    probe_hashes_wide,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import (
        Any,
        Callable,
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
    from .widths import Widths

V1_FIRST_REACH = 4096
"""§14: a version 1 file records no reach; probes run this far before the reader measures it
(as idx's reader does), which bounds every probe of a damaged version 1 table too."""

GET_MANY_CHUNK = 1 << 16
"""Keys per seq bracket in get_many (§11.7 per chunk): two loads of seq per chunk instead of per
key, and a chunk that a write overlapped is probed again as a whole."""

_ITER_CHUNK = 1 << 16



class _PureBase:
    """Without the extension, Index is all Python."""

    __slots__ = ()


# The extension's reader type answers single lookups in C (see Index._native_slow).
_IndexBase: Any = _PureBase if _extension is None else _extension.IndexBase
_CHUNK = 64
"""Keys per seq bracket in the extension's get_many (probe.h's IDX_CHUNK): a chunk it stops at
is answered key by key here."""
_FENCE = _protocol.FENCE_NEEDED
_fence = _protocol.fence

class IndexInfo:
    """The header's numbers and what they mean for size: what ``idx info`` prints.

    Attributes: path; version ("2.0"); key_bits, value_bits (32, or 64 in a version 3 file,
    §16); count (live entries); capacity (home slots, the range
    of the slot mapping); slot_count (all slots, spill slots included); load (count /
    capacity); file_bytes; bytes_per_entry (file_bytes / count, None for an empty index);
    writes (in-place operations since the file was written: seq / 2); reach (no lookup reads
    more than reach + 1 slots; None for version 1, which records none); access ("mapped");
    interrupted (a writer stopped mid-operation and none has opened the index since: the next
    one repairs it); retired (marked retired but still the file at its path: its replacer
    stopped before its rename).
    """

    __slots__ = (
        "path", "version", "key_bits", "value_bits", "count", "capacity", "slot_count", "load", "file_bytes", "bytes_per_entry", "writes", "reach",
        "access", "interrupted", "retired",
    )
    path: str
    version: str
    key_bits: int
    value_bits: int
    count: int
    capacity: int
    slot_count: int
    load: float
    file_bytes: int
    bytes_per_entry: "Optional[float]"
    writes: int
    reach: "Optional[int]"
    access: str
    interrupted: bool
    retired: bool

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
            key_bits=h.widths.key_bits,
            value_bits=h.widths.value_bits,
            count=count,
            capacity=h.capacity,
            slot_count=h.slot_count,
            load=count / h.capacity,
            file_bytes=size,
            bytes_per_entry=None if count == 0 else size / count,
            writes=h.seq // 2,
            reach=None if h.major == 1 else h.reach,
            # A writer stopped mid-operation (seq odd, or dirty blocks): the next writer repairs it.
            interrupted=((h.seq & 1) == 1 and not h.retired) or h.dirty_count > 0,
            retired=h.retired,
        )

    def to_json(self) -> Dict[str, Any]:
        """The info with the Node package's field names and order (``idx info --json``)."""
        return {
            "path": self.path,
            "version": self.version,
            "keyBits": self.key_bits,
            "valueBits": self.value_bits,
            "count": self.count,
            "capacity": self.capacity,
            "slotCount": self.slot_count,
            "load": self.load,
            "fileBytes": self.file_bytes,
            "bytesPerEntry": self.bytes_per_entry,
            "writes": self.writes,
            "reach": self.reach,
            "access": self.access,
            "interrupted": self.interrupted,
            "retired": self.retired,
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


def _quiet(m: MappedFile, s1: int, s2: int) -> bool:
    """§11.7's fast check for a read of ``m`` between seq loads ``s1`` and ``s2``: no write
    overlapped it (the same even seq, or the seq of a writer that died), and the header
    checksum word is the one at open (and the watcher saw nothing)."""
    return s1 == s2 and m.words[m.idw] == m.id and (not s1 & 1 or s1 == m.dead)


class _Protocol(ProtocolReader):
    """The loads :func:`idxmap.protocol.settle` makes, on the index's current file."""

    __slots__ = ("_ix",)

    def __init__(self, ix: "Index") -> None:
        self._ix = ix

    def seq(self) -> int:
        # The seq word above the mapping's generation: two loads from different files (another
        # thread followed a new file in between) never look like one quiet probe.
        m = self._ix._current()
        return (m.generation << 32) | m.word(W_SEQ)

    def changed(self) -> bool:
        # Checked first: nothing below touches a file truncated under its mapping (SIGBUS).
        return self._ix._current().changed()

    def reopen(self) -> None:
        self._ix._reopen()

    def retired(self) -> bool:
        return (self._ix._current().word(W_STATE) & STATE_RETIRED) != 0

    def moved(self) -> bool:
        return self._ix._current().moved

    def follow(self) -> bool:
        return self._ix._follow()

    def is_dead(self, seq: int) -> bool:
        m = self._ix._current()
        return seq >> 32 == m.generation and seq & MASK32 == m.dead

    def writer_gone(self, seq: int) -> bool:
        return self._ix._writer_gone(self._ix._current(), seq)


class _FileChanged(Exception):
    """An iteration's file changed in place under it: it goes on in the file reopened."""


class _FileProtocol(ProtocolReader):
    """The loads of :func:`idxmap.protocol.settle` on one file, which it does not leave: an
    iteration's runs of slots (§5.5). A retired or renamed-over file still answers as it stands."""

    __slots__ = ("_ix", "_m")

    def __init__(self, ix: "Index", m: MappedFile) -> None:
        self._ix = ix
        self._m = m

    def seq(self) -> int:
        return self._m.word(W_SEQ)

    def changed(self) -> bool:
        return self._m.changed()

    def reopen(self) -> None:
        raise _FileChanged()

    def retired(self) -> bool:
        return (self._m.word(W_STATE) & STATE_RETIRED) != 0

    def moved(self) -> bool:
        return False

    def follow(self) -> bool:
        return False

    def is_dead(self, seq: int) -> bool:
        return seq == self._m.dead

    def writer_gone(self, seq: int) -> bool:
        return self._ix._writer_gone(self._m, seq)


class Index(_IndexBase, Mapping):  # type: ignore[type-arg, misc]
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
        self._replacements_seen = _watcher.replacements
        self._reopen_failed: Optional[Tuple[float, str]] = None
        self._generations = 0
        self._slow = 0  # lookups (and chunks, runs) that took the slow path: for tests
        self._m = self._map()
        _watcher.watch(self)

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

    @property
    def widths(self) -> "Widths":
        """The key and value widths of the file now mapped (spec §16): ``key_bits`` and
        ``value_bits`` are 32, or 64 in a version 3 file. Raises ClosedError after close()."""
        return self._current().widths

    @property
    def key_bits(self) -> int:
        """32, or 64 for a file of 64-bit keys (keys from 0 to 2^64 - 1)."""
        return self._current().widths.key_bits

    @property
    def value_bits(self) -> int:
        """32, or 64 for a file of 64-bit values."""
        return self._current().widths.value_bits

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

    def _watch(self) -> bool:
        """The watcher's look at the path (§11.8), from its thread. False once closed."""
        m = self._m
        if m is None:
            return False
        m.look(self._file.now)
        return True

    # ---- single lookups ----

    def _get(self, key: Any) -> Optional[int]:
        """The value of ``key`` or None: §5.3 between two loads of seq (§11.7)."""
        m = self._m
        if m is None:
            self._closed()
        if m.wide:
            return self._get_wide(m, key)
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
        if h == 0xFFFFFFFF:
            value = words[10] if words[8] & 0x10000000 else None  # W_ESCAPED, W_STATE, ESCAPED
        else:
            # §5.3 over the slots' uint32 words: hash word at 2s, value word at 2s + 1. No bound
            # at the last slot: its EMPTY hash word (checked at open, never written) stops the
            # scan, and a view ends there (IndexError, were it overwritten since).
            hw = m.slot_words
            i = ((h * m.capacity) >> 32) << 1
            end = i + m.reach_words
            try:
                w = hw[i]
                while w < h and i < end:
                    i += 2
                    w = hw[i]
            except IndexError:
                w = -1
            if w == h:
                value = hw[i + 1]
            elif w < h:
                # Used up its reach (or the slots): a writer may have raised the reach since.
                g = m.generation << 32
                return self._slow_get(key, g | s1, g | s1, None, True)
            else:
                value = None
        if _FENCE:
            _fence()
        s2 = words[12]
        # §11.7: the same even seq (or a dead writer's), and the header checksum word as at open
        # (the watcher spoils m.id when the path names another file: one compare for both).
        if s1 == s2 and words[m.idw] == m.id and (not s1 & 1 or s1 == m.dead):
            return value
        g = m.generation << 32
        return self._slow_get(key, g | s1, g | s2, value, False)

    def _get_wide(self, m: MappedFile, key: Any) -> Optional[int]:
        """_get for a version 3 file (§16): packed 12- or 16-byte slots read as uint32 words (a
        64-bit field as two, low first), the hash of the key width, the home from a 64-bit
        hash's high half. The seq check is the same; a probe that a write overlapped (a slot
        stored in two pieces included, §16.6) is discarded and made again."""
        w = m.widths
        if type(key) is not int or key < 0 or key > w.max_key:
            key = lookup_key(key, w.max_key)
            if key is None:
                return None
        # hash64 (§16.3) of a 64-bit key, whose home is from its high half; hash32 (§4) written
        # out (a call costs a tenth of a 32-bit lookup).
        if w.key_bits == 64:
            h = hash64(key)
            hi = h >> 32
        else:
            x = key ^ (key >> 16)
            x = (x * 0x85EBCA6B) & 0xFFFFFFFF
            x ^= x >> 13
            x = (x * 0xC2B2AE35) & 0xFFFFFFFF
            hi = h = x ^ (x >> 16)
        words = m.words
        s1 = words[12]  # W_SEQ
        if _FENCE:
            _fence()
        if h == w.empty:
            if words[8] & 0x10000000:  # W_STATE, ESCAPED
                value = words[10] | (words[22] << 32 if w.value_bits == 64 else 0)  # W_ESCAPED, W_ESCAPED_HIGH
            else:
                value = None
        else:
            # §5.3 over the slots' uint32 words: slot s's hash word at sw * s (two words, low
            # first, for 64-bit keys), its value at sw * s + value_word (§16.1).
            q = m.slot_words
            sw = w.slot_words
            i = ((hi * m.capacity) >> 32) * sw
            end = i + m.reach * sw
            try:
                if w.key_bits == 64:
                    x = q[i] | (q[i + 1] << 32)
                    while x < h and i < end:
                        i += sw
                        x = q[i] | (q[i + 1] << 32)
                else:
                    x = q[i]
                    while x < h and i < end:
                        i += sw
                        x = q[i]
            except IndexError:
                x = -1
            if x == h:
                i += w.value_word
                value = q[i] | (q[i + 1] << 32) if w.value_bits == 64 else q[i]
            elif x < h:
                g = m.generation << 32
                return self._slow_get(key, g | s1, g | s1, None, True)
            else:
                value = None
        if _FENCE:
            _fence()
        s2 = words[12]
        if s1 == s2 and words[m.idw] == m.id and (not s1 & 1 or s1 == m.dead):
            return value
        g = m.generation << 32
        return self._slow_get(key, g | s1, g | s2, value, False)

    def _slow_get(self, key: int, s1: int, s2: int, value: Optional[int], undecided: bool) -> Optional[int]:
        """_get after its fast check failed: a write overlapped, the file was retired, replaced
        or changed in place, a writer is mid-operation (or died there), or the probe used up
        the reach it had (a writer may have raised it since). Probes by ``key``, not by its
        hash: a file followed meanwhile may have other widths (§16.5), hence another hash."""
        self._slow += 1
        if undecided:
            protocol = _Protocol(self)
            s1 = protocol.seq()
            _fence()
            value = self._probe(key)
            _fence()
            s2 = protocol.seq()
        return settle(_Protocol(self), lambda: self._probe(key), s1, s2, value, self._clock)

    def _probe(self, key: int) -> Optional[int]:
        """§5.3 (§16) on the current file, no seq check; raises the reach it probes with when it
        must."""
        while True:
            m = self._current()
            w = m.widths
            if key > w.max_key:
                return None
            if m.native is not None:
                # Through the extension's mapping, which a truncation cannot kill the process by.
                status, value = m.native.probe(key)
                if status != 2:
                    return value if status == 0 else None
                if not self._raise_reach(m):
                    return None
                continue
            h = w.hash(key)
            if h == w.empty:
                words = m.words
                if not words[W_STATE] & STATE_ESCAPED:
                    return None
                return escaped_value(words, w)
            if m.wide:
                answer = probe_wide(m.slot_words, m.capacity, m.reach, m.last, h, w)
            else:
                answer = probe(m.slots, m.capacity, m.reach, m.last, h)
            if answer is not UNDECIDED:
                return answer  # type: ignore[return-value]
            if not self._raise_reach(m):
                return None

    def _raise_reach(self, m: MappedFile) -> bool:
        """A probe used up its reach: take the larger one a writer stored since (version 2), or
        measure the entries once (version 1, §14). True when the reach grew."""
        if m.header.major != 1:
            reach = min(m.word(W_REACH), m.last)
        else:
            seq = m.word(W_SEQ)
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

    if _extension is None:

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

    # With the extension, ix[key], get and ``in`` are its IndexBase's (no Python frame): the
    # usual lookup in C, the rest here (_native_slow, or _get for a key that is not an int).

    def _native_slow(self, key: int) -> Optional[int]:
        """The C lookup's slow path, for a key of the file's width: its file was not quiet, was
        flagged by the watcher or lost under a truncation (SIGBUS, now zero pages), or its probe
        used up the reach. Through settle, whose first look is whether the file changed in place:
        nothing here touches a page of a file that shrank."""
        m = self._m
        if m is not None and m.native is not None and m.native.lost:
            m.flag(rewritten=True)
        return self._slow_get(key, -1, -2, None, False)

    # ---- many lookups ----

    def get_many(self, keys: Iterable[int], missing: int = 0) -> Tuple[Any, Any]:
        """Looks up every key of ``keys``: returns ``(values, found)``, where ``values[i]`` is the
        value of ``keys[i]`` or ``missing`` (default 0) when it is absent, and ``found[i]`` says
        which (every value is a valid value, so ``missing`` alone cannot).

        ``keys`` is any iterable of ints (numpy integers too; not bools, floats or strings),
        or a numpy array of an integer dtype; numpy or not, the same inputs are accepted. With
        numpy the answers are numpy arrays (values uint32, or uint64 in a file of 64-bit
        values; found bool), computed with no Python loop per key, a chunk of 65,536 keys
        between two loads of seq. Without numpy, they are lists.

        Raises:
            InvalidArgumentError: ``keys`` not iterable, a key (or ``missing``) that is not an
                integer from 0 to the file's largest (4294967295, or 2^64 - 1 in a file of
                64-bit keys or values), or keys that are not one-dimensional.
            ClosedError: after close().
        """
        w = self._current().widths
        missing = check_uint("missing", missing, w.max_value, self.path)
        np = numpy_or_none()
        if _extension is not None and self._current().native is not None:
            keys = self._checked_keys(keys, w.max_key, np)  # once: the paths below take them too
            answers = self._get_many_native(keys, missing, w.max_key, np)
            if answers is not None:
                return answers
        if np is None:
            return self._get_many_pure(keys, missing, w.max_key)
        arr = as_key_array(keys, "keys", self.path, w.max_key)
        n = arr.size
        first = self._intact()
        values = np.empty(n, dtype=_value_dtype(np, first))
        found = np.empty(n, dtype=bool)
        a = 0
        while a < n:
            b = min(a + GET_MANY_CHUNK, n)
            answer = self._settled_chunk(arr[a:b])
            if self._m is not first:
                # §11.7 "A batch": it followed a new file part way; every key of the call is
                # answered from one file, so all of them again from the new one (whose values
                # may be wider, §16.5).
                first = self._current()
                values = np.empty(n, dtype=_value_dtype(np, first))
                a = 0
                continue
            values[a:b] = answer.values
            found[a:b] = answer.found
            a = b
        if missing:
            values[~found] = missing
        return values, found

    def _checked_keys(self, keys: Iterable[int], limit: int, np: Any) -> Any:
        """get_many's keys, checked: a numpy array of uint32 or uint64 given numpy, else a list
        of ints from 0 to ``limit``. Raises as get_many says."""
        if np is not None:
            return as_key_array(keys, "keys", self.path, limit)
        listed = key_list("keys", keys, self.path, limit)
        # The usual batch, a list of ints, is checked in C (map, min, max); anything else
        # element by element, as the pure path does.
        if listed and not (set(map(type, listed)) == {int} and min(listed) >= 0 and max(listed) <= limit):
            listed = [check_uint("keys", k, limit, self.path) for k in listed]
        return listed

    def _get_many_native(self, keys: Any, missing: int, limit: int, np: Any) -> Optional[Tuple[Any, Any]]:
        """get_many in the extension (probe.h's loop over its mapping), or None for the paths
        below (a file followed meanwhile that the keys or ``missing`` do not fit, or with no
        extension mapping). A chunk the loop stops at (a write overlapped it, the reach ran out,
        the file was flagged or lost) is answered key by key through _native_slow; when that
        follows another file, every key is asked again of it (§11.7 "A batch")."""
        if np is not None:
            n = int(keys.size)
            keys64 = keys.dtype == np.uint64
            packed = packed_array(keys)
        else:
            n = len(keys)
            keys64 = limit > MASK32
            packed = _array("Q" if keys64 else "I", keys).tobytes()
        key_at = memoryview(packed).cast("Q" if keys64 else "I")
        while True:
            first = self._intact()
            nat = first.native
            w = first.widths
            if nat is None or missing > w.max_value or (keys64 and not first.wide):
                return None
            wide_values = w.value_bits == 64
            values = bytearray(n * (8 if wide_values else 4))
            found = bytearray(n)
            a = 0
            while a < n:
                a = nat.probe_many(packed, keys64, values, found, missing, a, n)[0]
                if a == n:
                    break
                b = min(a + _CHUNK, n)
                out = memoryview(values).cast("Q" if wide_values else "I")
                for i in range(a, b):
                    v = self._native_slow(key_at[i])
                    out[i] = missing if v is None else v
                    found[i] = v is not None
                out.release()
                if self._m is not first:
                    break
                a = b
            if self._m is first:
                break
        if np is not None:
            return np.frombuffer(values, dtype=_value_dtype(np, first)), np.frombuffer(found, dtype=bool)
        return _array("Q" if wide_values else "I", values).tolist(), list(map(bool, found))

    def _get_many_pure(self, keys: Iterable[int], missing: int, limit: int) -> Tuple[List[int], List[bool]]:
        checked = [check_uint("keys", k, limit, self.path) for k in key_list("keys", keys, self.path, limit)]
        while True:
            answers = self._answers_from_one_file(checked, missing)
            if answers is not None:
                return answers

    def _answers_from_one_file(self, keys: List[int], missing: int) -> Optional[Tuple[List[int], List[bool]]]:
        """get_many's pure path: every key looked up, or None when the index followed another
        file part way (§11.7 "A batch": the caller asks every key again, of the new file)."""
        values: List[int] = []
        found: List[bool] = []
        get = self._get
        first = self._intact()
        for i, k in enumerate(keys):
            if i % GET_MANY_CHUNK == 0 and self._intact() is not first:  # one fstat a chunk, as the numpy path
                return None
            v = get(k)
            if v is None:
                values.append(missing)
                found.append(False)
            else:
                values.append(v)
                found.append(True)
        return (values, found) if self._m is first else None

    def _settled_chunk(self, keys: Any) -> _ChunkAnswer:
        """One chunk of get_many through §11.7: probed between two loads of seq, and again as
        the protocol says when a write overlapped it (the whole chunk, vectorised)."""
        m = self._intact()
        s1 = int(m.words[W_SEQ])
        _fence()
        answer = self._probe_chunk(keys, m)
        _fence()
        s2 = int(m.words[W_SEQ])
        if _quiet(m, s1, s2):
            return answer
        self._slow += 1
        g = m.generation << 32
        return settle(_Protocol(self), lambda: self._probe_chunk(keys, self._current()), g | s1, g | s2, answer, self._clock)

    def _probe_chunk(self, keys: Any, m: MappedFile) -> _ChunkAnswer:
        """§5.3 for a chunk of keys on file ``m``, no seq check (see _settled_chunk). The keys are
        hashed for ``m``'s key width; a key wider than it is absent."""
        np = numpy_or_none()
        w = m.widths
        n = keys.size
        inside = None
        if keys.dtype == np.uint64 and w.key_bits == 32:
            inside = np.flatnonzero(keys <= np.uint64(w.max_key))  # a file followed since is narrower
            keys = keys[inside].astype(np.uint32)
        hashes = hash_array(keys, w)
        def probed(h: Any) -> Tuple[Any, Any, bool]:
            if m.wide:
                return probe_hashes_wide(m.np_slots(), h, m.capacity, m.reach, m.last, w)  # type: ignore[no-any-return]
            return probe_hashes(m.np_slots(), h, m.capacity, m.reach, m.last)  # type: ignore[no-any-return]

        while True:
            escaped = hashes == hashes.dtype.type(w.empty)
            if escaped.any():
                rest = np.flatnonzero(~escaped)
                values = np.zeros(hashes.size, dtype=_value_dtype(np, m))
                found = np.zeros(hashes.size, dtype=bool)
                v, f, undecided = probed(hashes[rest])
                values[rest] = v
                found[rest] = f
                if m.words[W_STATE] & STATE_ESCAPED:
                    values[escaped] = escaped_value(m.words, w)
                    found[escaped] = True
            else:
                values, found, undecided = probed(hashes)
            if undecided and self._raise_reach(m):
                continue
            if inside is not None:
                all_values = np.zeros(n, dtype=values.dtype)
                all_found = np.zeros(n, dtype=bool)
                all_values[inside] = values
                all_found[inside] = found
                values, found = all_values, all_found
            return _ChunkAnswer(values, found)

    # ---- following a replaced file (§11.7, §11.8) ----

    def _follow(self) -> bool:
        """§11.7 follow(): maps the file now at the path if it is another one than ours (at most
        once a millisecond, or at once after this process replaced a file). True when it did.

        When the path names our file still and it is retired, the process that retired it is
        between its mark and its rename, or died there: the lock test says which (a dead
        renamer's seq value is then ``dead``, and lookups run at full speed again).
        """
        m = self._current()
        t = time.monotonic()
        n = _watcher.replacements
        if t - self._last_follow < FOLLOW_EVERY_SECONDS and n == self._replacements_seen:
            return False
        self._last_follow = t
        self._replacements_seen = n
        path = self._file.now
        try:
            st = os.stat(path)
        except OSError:
            return False  # no replacement yet: keep answering from this file, which no longer changes
        if st.st_ino == m.ino and st.st_dev == m.dev:
            if m.moved:
                m.unflag_moved()  # moved back
            seq = m.word(W_SEQ)
            if seq & 1 and m.word(W_STATE) & STATE_RETIRED and self._clock.may_test_lock():
                self._writer_gone(m, seq)
            return False
        try:
            new = self._map()
        except IdxError:
            return False  # not readable yet (a copy still being written): keep the old file
        self._switch(new)
        return True

    def _switch(self, new: MappedFile) -> None:
        if self._m is None:
            new.close()
            self._closed()
        # The old mapping is dropped, not closed: another thread may be probing it; it is
        # unmapped when the last reader lets go (see close()).
        self._m = new
        self._clock = StallClock()

    def _reopen(self) -> None:
        """The mapped file changed in place (truncated, resized or rewritten, §11.8): it is never
        answered from again. Maps the file at the path anew, at most once a millisecond.

        Raises CorruptError while the path holds no valid index."""
        t = time.monotonic()
        failed = self._reopen_failed
        if failed is not None and t - failed[0] < FOLLOW_EVERY_SECONDS:
            raise _lost_error(self.path, failed[1])
        try:
            new = self._map()
        except IdxError as e:
            self._reopen_failed = (t, e.what)
            raise _lost_error(self.path, e.what) from e
        self._reopen_failed = None
        self._switch(new)

    def _writer_gone(self, m: MappedFile, seq: int) -> bool:
        """§11.7's lock test for file ``m`` at seq ``seq`` (its generation above 32 bits, or
        not): True, with that seq remembered as ``dead``, when the path names ``m`` and no
        process holds its writer lock (the writer that left seq odd died)."""
        if seq >> 32 and seq >> 32 != m.generation:
            return False
        if not lock_free_at(self._file.now, m.dev, m.ino):
            return False
        m.dead = seq & MASK32
        return True

    def _intact(self) -> MappedFile:
        """The current file, after one fstat: if it changed in place (``cp`` over a live index
        truncates it), reopen the path rather than touch a lost page (SIGBUS). For get_many's
        chunks, iteration, info and verify, where one fstat is cheap next to the work."""
        m = self._current()
        if m.changed():
            self._reopen()
            m = self._current()
        return m

    def _follow_if_replaced(self) -> MappedFile:
        """Before a whole-file read (iteration, info, verify): the current file, if it was
        retired or the path names another file."""
        m = self._intact()
        if m.words[W_STATE] & STATE_RETIRED or m.moved:
            self._last_follow = -math.inf
            self._follow()
        return self._current()

    def refresh(self) -> bool:
        """Maps the file now at the path if it is another file than the one mapped, or if the
        mapped one changed in place. True when it switched. Lookups do this by themselves within
        about 100 ms of a replacement (§11.8); this does it now.

        Raises ClosedError after close(); CorruptError when the mapped file changed in place and
        the path holds no valid index.
        """
        m = self._current()
        if m.changed():
            self._reopen()
            return True
        self._last_follow = -math.inf
        return self._follow()

    # ---- size, iteration ----

    def _count(self, m: MappedFile) -> int:
        w = m.words
        state = w[W_STATE]
        if m.header.major == 1:
            return int(state & STATE_V1_COUNT_MASK)
        return entries_in_slots(w, m.header.major) + (1 if state & STATE_ESCAPED else 0)

    def __len__(self) -> int:
        """Live entries (the header's count, read between two loads of seq). Raises ClosedError
        after close(), CorruptError when the file changed in place (truncated, rewritten) and
        the path holds no valid index.

        One fstat first (see _intact): ``list(ix.items())`` and ``==`` call len before they
        read anything, and len is rarely in a hot loop."""
        m = self._intact()
        s1 = int(m.words[W_SEQ])
        _fence()
        answer = self._count(m)
        _fence()
        s2 = int(m.words[W_SEQ])
        if _quiet(m, s1, s2):
            return answer
        self._slow += 1
        g = m.generation << 32
        return settle(_Protocol(self), lambda: self._count(self._current()), g | s1, g | s2, answer, self._clock)

    def _read_quietly(self, m: MappedFile, read: Callable[[], Any]) -> Any:
        """``read()`` of file ``m`` between two loads of seq that show no write (§11.7), without
        leaving ``m`` (see _FileProtocol). Raises _FileChanged when ``m`` changed in place."""
        s1 = int(m.words[W_SEQ])
        _fence()
        value = read()
        _fence()
        s2 = int(m.words[W_SEQ])
        if _quiet(m, s1, s2):
            return value
        self._slow += 1
        if m.changed():
            raise _FileChanged()
        return settle(_FileProtocol(self, m), read, s1, s2, value, self._clock)

    def _items(self) -> Iterator[Tuple[int, int]]:
        """Every (key, value) pair, in slot order: the escaped key first, then by hash (§5.5).

        Slots are copied in runs of 65,536, each with the slot before it (whose hash word says
        whether the first is an entry), between two loads of seq that show no write (§5.5): an
        entry a writer moves within a run is seen once, and no slot is read half before a write
        and half after. Not a snapshot: an entry a writer moves between runs may be seen twice
        or not at all. The file is checked before each run (one fstat): a file that changed in
        place (``cp`` over it truncates it) is never read, the iteration goes on from the same
        slot in the file now at the path, or raises CorruptError when there is none. A file
        retired or renamed over meanwhile is read to its end. Raises ClosedError when the index
        is closed meanwhile."""
        m = self._follow_if_replaced()
        while True:
            try:
                words, wd = m.words, m.widths
                state, escaped = self._read_quietly(m, lambda: (int(words[W_STATE]), escaped_value(words, wd)))
                break
            except _FileChanged:
                m = self._intact()
        if state & STATE_ESCAPED:
            yield m.widths.escaped_key, escaped
        np = numpy_or_none()
        a = 0
        while a < m.header.slot_count:
            if self._m is None:
                self._closed()
            if m.changed():
                # Its pages past a new end would kill the process (SIGBUS): go on in the file
                # at the path now (_intact reopens it, or raises CorruptError).
                m = self._intact() if self._m is m else self._current()
                continue
            b = min(a + _ITER_CHUNK, m.header.slot_count)
            lo = a - 1 if a else 0
            try:
                run = self._read_quietly(m, lambda: m.copy_slots(lo, b, np))
            except _FileChanged:
                continue
            a0, a = a, b
            if m.wide:
                yield from self._wide_entries(run, a0, m.widths, np)
                continue
            previous = EMPTY_HASH if a0 == 0 else int(run[0]) & MASK32
            if a0:
                run = run[1:]
            if np is not None:
                keys, values = entries_of(run, previous)
                yield from zip(keys.tolist(), values.tolist())
                continue
            for x in run:  # a copy: the caller runs between yields
                h = x & MASK32
                if h != EMPTY_HASH and h != previous:
                    yield unhash32(h), x >> 32
                previous = h

    @staticmethod
    def _wide_entries(run: Any, a: int, w: Any, np: Any) -> Iterator[Tuple[int, int]]:
        """The entries of a run of version 3 slots (:meth:`MappedFile.copy_slots`: records, or
        the packed bytes, with the slot before them unless ``a`` is 0), in slot order."""
        if np is not None:
            hashes, values = run["h"], run["v"]
            previous = w.empty if a == 0 else int(hashes[0])
            if a:
                hashes, values = hashes[1:], values[1:]
            keys, values = entries_of_wide(hashes, values, previous, w)
            yield from zip(keys.tolist(), values.tolist())
            return
        slots = w.slot_struct.iter_unpack(run)
        previous = w.empty if a == 0 else next(slots)[0]
        empty, unhash = w.empty, w.unhash
        for h, v in slots:  # a copy: the caller runs between yields
            if h != empty and h != previous:
                yield unhash(h), v
            previous = h

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
        get = self.get  # the C lookup with the extension
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
        return IndexInfo.of(self.path, parse_header(m.header_copy(self._file.now), m.size, self.path), m.size)

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
        v = self._mapping.get(key)
        return v is not None and v == value


def _value_dtype(np: Any, m: MappedFile) -> Any:
    """get_many's values: uint64 in a file of 64-bit values, else uint32."""
    return np.uint64 if m.widths.value_bits == 64 else np.uint32


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
