"""The full check of spec/FORMAT.md §9.2: the header's reserved fields, every block checksum and
every table invariant of §5.2. O(file size); opening an index does none of it.

Problems are reported in the order and words of the Node package's verify (``idx verify``), at
most 20, so the two print the same report for the same file.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .errors import ERR_IDX_INVALID_ARGUMENT, ERR_IDX_IO, IdxError
from .format import (
    CELL_ENTRIES,
    CELL_ENTRIES_HIGH,
    CELL_ESCAPED_HIGH,
    CELL_SEQ,
    CELL_STATE,
    STATE_ESCAPED,
    STATE_RETIRED,
    VERSION_MINOR,
    Header,
    block_count,
    checksums_offset,
    hex8,
    parse_header,
    slot_offset,
)
from .hashing import MASK32
from .mapping import MappedFile, lock_free, open_regular_file, read_stable_header
from .vectorized import home_slots_of, numpy_or_none

MAX_PROBLEMS = 20
_SCAN_CHUNK = 1 << 16
"""Slots per vectorised step of the table scan; a step with anything suspect is replayed slot
by slot by the same rules as the pure-Python scan, so both report the same problems."""


@dataclass
class Problem:
    """One thing wrong with a file: where (byte offset) and what."""

    offset: int
    message: str


@dataclass
class VerifyReport:
    """What :func:`verify` found.

    Attributes:
        ok: no problem found.
        path: the file, as given.
        version: the format version ("2.0"), when the header could be read.
        problems: what is wrong, first problems first; at most 20.
        entries: live entries found by the scan (escaped key included).
        tombstones: slots repeating their predecessor, left by a writer stopped mid-operation.
        interrupted: a writer stopped mid-operation (dirty blocks): their checksums and the
            count may lag (§9.2).
        dirty_blocks: the blocks that writer was changing.
        retired: marked retired (§11.4): a newer file replaced it, or was about to.
        writer_stopped: a writer stopped mid-operation (seq odd, or dirty blocks); the next
            writer repairs it (§11.6).
    """

    ok: bool
    path: str
    version: Optional[str] = None
    problems: List[Problem] = field(default_factory=list)
    entries: int = 0
    tombstones: int = 0
    interrupted: bool = False
    dirty_blocks: int = 0
    retired: bool = False
    writer_stopped: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> Dict[str, Any]:
        """The report with the Node package's field names (``dirtyBlocks``), as JSON data."""
        out: Dict[str, Any] = {"ok": self.ok, "path": self.path}
        if self.version is not None:
            out["version"] = self.version
        out["problems"] = [{"offset": p.offset, "message": p.message} for p in self.problems]
        out.update(
            entries=self.entries,
            tombstones=self.tombstones,
            interrupted=self.interrupted,
            dirtyBlocks=self.dirty_blocks,
            retired=self.retired,
            writerStopped=self.writer_stopped,
        )
        return out


class Problems:
    """Problems found so far, at most ``limit`` (a writer asks for 1: the first stops it)."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self.list: List[Problem] = []
        self.limit = limit

    def add(self, offset: int, message: str) -> bool:
        """Adds a problem; False once the list is full (the caller stops looking)."""
        if len(self.list) < self.limit:
            self.list.append(Problem(offset, message))
        return len(self.list) < self.limit

    @property
    def full(self) -> bool:
        return len(self.list) >= self.limit


def verify(path: Any) -> VerifyReport:
    """Reads all of the index at ``path`` and checks it (§9.2). A damaged or foreign file is
    reported (``ok`` False, with its problems), not raised.

    Raises:
        InvalidArgumentError: ``path`` is not a path.
        IdxIOError: the file cannot be opened, read or mapped, or is not a regular file.
    """
    from .args import check_path

    path = check_path("path", path)
    try:
        m = MappedFile.open(path, sequential=True)
    except IdxError as e:
        if e.code in (ERR_IDX_IO, ERR_IDX_INVALID_ARGUMENT):
            raise
        if e.code == "ERR_IDX_CORRUPT" and e.what.startswith("its last slot is not empty"):
            # Open's rule 10; verify reports it among the table's problems instead.
            return _verify_without_sentinel(path)
        return _failed(path, e)
    try:
        return verify_mapped(m, path)
    finally:
        m.close()


def _verify_without_sentinel(path: str) -> VerifyReport:
    # A file whose header is fine but whose last slot is taken: map it anyway and scan it, so
    # that the report lists every problem, as idx's verify (which does not apply rule 10) does.
    import mmap
    import os

    fd, st = open_regular_file(path)
    try:
        try:
            mm = mmap.mmap(fd, st.st_size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        except (OSError, ValueError) as e:
            from .errors import io_error

            raise io_error("map the index into memory", path, e) from e
        try:
            header = parse_header(read_stable_header(mm, st.st_size, lock_free=lambda: lock_free(fd)), st.st_size, path)
            m = MappedFile(path, header, mm, st)
        except IdxError as e:
            mm.close()
            return _failed(path, e)
    finally:
        os.close(fd)
    try:
        return verify_mapped(m, path)
    finally:
        m.close()


def _failed(path: str, e: IdxError) -> VerifyReport:
    return VerifyReport(ok=False, path=path, problems=[Problem(e.offset or 0, str(e).split("\n")[0])])


def _seq_of(m: MappedFile) -> int:
    return int(m.words[CELL_SEQ // 4]) if m.size >= CELL_SEQ + 4 else 0


def verify_mapped(m: MappedFile, path: str) -> VerifyReport:
    """Checks a mapped file. A writer working on it meanwhile can make a check fail that would
    pass a moment later: a failed check during which seq changed is run again, up to 3 times."""
    attempt = 1
    while True:
        before = _seq_of(m)
        report = _verify_once(m, path)
        if report.ok or _seq_of(m) == before:
            return report
        if attempt == 3:
            report.problems.append(
                Problem(
                    CELL_SEQ,
                    "the index changed while it was being verified (a writer is working on it); "
                    "verify again when it is done",
                )
            )
            return report
        attempt += 1


def _verify_once(m: MappedFile, path: str) -> VerifyReport:
    try:
        head = m.header_copy()  # testing the writer lock if seq stays odd (§11.7)
        h = parse_header(head, m.size, path)
    except IdxError as e:
        return _failed(path, e)
    problems = Problems()
    check_reserved(head, h, problems)
    check_blocks(m.mm, h, problems)
    entries, tombstones = check_table(m.mm, h, problems)
    return VerifyReport(
        ok=not problems.list,
        path=path,
        version=h.version,
        problems=problems.list,
        entries=entries + (1 if h.escaped_present else 0),
        tombstones=tombstones,
        interrupted=h.dirty_count > 0,
        dirty_blocks=h.dirty_count,
        retired=h.retired,
        writer_stopped=((h.seq & 1) == 1 and not h.retired) or h.dirty_count > 0,
    )


def _is_dirty(h: Header, block: int) -> bool:
    return h.dirty_count > 0 and h.dirty_first <= block < h.dirty_first + h.dirty_count


def check_reserved(head: bytes, h: Header, problems: Problems) -> None:
    """Reserved bytes, bits and cells: checked only against the minor that reserves them (§10);
    in version 3 also the high words a narrow width leaves unused (§16.7)."""
    if h.minor != VERSION_MINOR:
        return
    lo, hi = h.layout.reserved
    for o in range(lo, hi):
        if head[o] != 0:
            problems.add(o, f"reserved header byte at offset {o} is {head[o]}, not 0")
            break
    allowed = 0x3FFFFFFF if h.major == 1 else STATE_ESCAPED | STATE_RETIRED
    if h.state_word & ~allowed & MASK32:
        problems.add(CELL_STATE, f"reserved state bits set: 0x{hex8(h.state_word)}")
    if h.reserved_cell != 0:
        problems.add(h.layout.reserved_cell, f"the reserved cell's word is 0x{hex8(h.reserved_cell)}, not 0")
    w = h.widths
    if h.escaped_high != 0 and w.value_bits == 32:
        problems.add(CELL_ESCAPED_HIGH, f"the escapedHigh cell's word is 0x{hex8(h.escaped_high)}, but values are 32-bit")
    if h.entries > MASK32 and w.key_bits == 32:
        problems.add(CELL_ENTRIES_HIGH, f"the entriesHigh cell counts {h.entries >> 32} x 2^32 entries, but keys are 32-bit")


def check_blocks(mm: Any, h: Header, problems: Problems) -> None:
    """§6.1: every block's checksum against its bytes, except dirty blocks (§6.2). ``mm`` holds
    the whole file (a mapping)."""
    blocks = block_count(h.slot_count, h.layout)
    base = checksums_offset(h.layout, h.slot_count)
    view = memoryview(mm)
    try:
        stored_all = view[base : base + 4 * blocks].cast("I")
        try:
            start0 = h.layout.header_bytes
            size = h.layout.block_bytes
            for b in range(blocks):
                if _is_dirty(h, b):
                    continue
                start = start0 + b * size
                end = min(start + size, base)
                actual = zlib.crc32(view[start:end]) & MASK32
                stored = stored_all[b]
                if stored != actual:
                    if not problems.add(
                        base + 4 * b,
                        f"block {b} (bytes {start}..{end - 1}) fails its checksum: "
                        f"stored 0x{hex8(stored)}, computed 0x{hex8(actual)}",
                    ):
                        break
        finally:
            stored_all.release()
    finally:
        view.release()


class _Scan:
    """The table scan's running state: what the rules of §5.2 need from earlier slots."""

    __slots__ = ("previous", "last_entry", "last_empty", "entries", "tombstones", "reach", "stopped")

    def __init__(self, empty: int) -> None:
        self.previous = empty  # the hash word of the previous slot
        self.last_entry = -1  # the hash of the last entry, for order across empty slots
        self.last_empty = -1
        self.entries = 0
        self.tombstones = 0
        self.reach = 0
        self.stopped = False


def check_table(mm: Any, h: Header, problems: Problems) -> "tuple[int, int]":
    """Every invariant of §5.2 over the slots; empty slots hold value 0. Returns (entries in
    slots, tombstones) as far as the scan went (it stops at the 20th problem, as idx's does).
    ``mm`` holds the whole file (a mapping)."""
    w = h.widths
    scan = _Scan(w.empty)
    view = memoryview(mm)
    try:
        if not problems.full:
            np = numpy_or_none()
            if np is None:
                for a in range(0, h.slot_count, _SCAN_CHUNK):
                    b = min(a + _SCAN_CHUNK, h.slot_count)
                    hashes, values = slot_columns(view, h.layout, a, b)
                    _scan_slots(hashes, values, a, h, scan, problems)
                    if scan.stopped:
                        break
            else:
                _scan_vectorized(np, mm, view, h, scan, problems)
        last = h.slot_count - 1
        if slot_columns(view, h.layout, last, last + 1)[0][0] != w.empty:
            problems.add(slot_offset(h.layout, last), "the last slot is not empty")
    finally:
        view.release()
    interrupted = h.dirty_count > 0
    if abs(scan.entries - h.entries) > (1 if interrupted else 0):
        problems.add(
            CELL_STATE if h.major == 1 else CELL_ENTRIES,
            f"header count is {h.entries} entries in slots but the table holds {scan.entries}",
        )
    return scan.entries, scan.tombstones


def slot_columns(view: Any, layout: Any, a: int, b: int) -> "tuple[List[int], List[int]]":
    """The hash words and the values of slots ``a .. b-1`` (lists of ints), from ``view``, a
    ``memoryview`` of the whole file."""
    size = layout.slot_bytes
    start = layout.header_bytes + size * a
    pairs = layout.widths.slot_struct.iter_unpack(view[start : start + size * (b - a)])
    hashes: List[int] = []
    values: List[int] = []
    for hw, value in pairs:
        hashes.append(hw)
        values.append(value)
    return hashes, values


def _hex_hash(hw: int, w: Any) -> str:
    # As idx prints a hash word: 8 hex digits, or 16 for 64-bit keys.
    return f"{hw:016x}" if w.key_bits == 64 else hex8(hw)


def _scan_slots(hashes: Any, values: Any, first: int, h: Header, scan: _Scan, problems: Problems) -> None:
    """The rules of §5.2 slot by slot over slots ``first .. first + len(hashes) - 1``, whose
    hash words and values are ``hashes`` and ``values``: the reference scan."""
    interrupted = h.dirty_count > 0
    capacity = h.capacity
    layout = h.layout
    hb = layout.header_bytes
    size = layout.slot_bytes
    per_block = layout.slots_per_block
    w = h.widths
    empty, home_of = w.empty, w.home
    value_at = w.value_offset
    has_reach = h.major != 1
    previous = scan.previous
    for i in range(len(hashes)):
        s = first + i
        at = hb + size * s
        hw = int(hashes[i])
        value = int(values[i])
        if hw == empty:
            scan.last_empty = s
            if value != 0 and not problems.add(at + value_at, f"empty slot {s} has value {value} (must be 0)"):
                scan.stopped = True
                return
        elif hw == previous:
            scan.tombstones += 1
            if not interrupted:
                msg = f"slot {s} repeats the hash of slot {s - 1}, but no write was interrupted"
            elif not _is_dirty(h, s // per_block):
                msg = f"slot {s} repeats the hash of slot {s - 1} outside the blocks the interrupted write was changing"
            elif scan.tombstones > 1:
                msg = f"slot {s} is a second repeated slot; an interrupted write leaves at most one"
            else:
                msg = ""
            if msg and not problems.add(at, msg):
                scan.stopped = True
                return
        else:
            scan.entries += 1
            if scan.last_entry >= 0 and hw <= scan.last_entry:
                if not problems.add(
                    at,
                    f"slot {s} hash 0x{_hex_hash(hw, w)} is not above the previous entry's 0x{_hex_hash(scan.last_entry, w)}: "
                    "slots must be sorted by hash",
                ):
                    scan.stopped = True
                    return
            home = home_of(hw, capacity)
            if home > s and not problems.add(at, f"slot {s} holds an entry whose home slot is {home}, after it"):
                scan.stopped = True
                return
            if home <= scan.last_empty and not problems.add(
                at,
                f"slot {s} is unreachable: empty slot {scan.last_empty} lies between it and its home slot {home}",
            ):
                scan.stopped = True
                return
            if s - home > scan.reach:
                scan.reach = s - home
            if has_reach and s - home > h.reach and not problems.add(
                at, f"slot {s} is {s - home} slots from its home, beyond the header's reach {h.reach}"
            ):
                scan.stopped = True
                return
            scan.last_entry = hw
        previous = hw
        scan.previous = hw


def _scan_vectorized(np: Any, mm: Any, view: Any, h: Header, scan: _Scan, problems: Problems) -> None:
    """The same scan, a chunk of slots at a time: a chunk where no slot can break a rule only
    advances the running state; any other chunk is replayed by :func:`_scan_slots`."""
    w = h.widths
    slots_all = np.frombuffer(mm, dtype=w.np_dtype(np), count=h.slot_count, offset=h.layout.header_bytes)
    empty_word = np.uint64(w.empty)
    has_reach = h.major != 1
    for a in range(0, h.slot_count, _SCAN_CHUNK):
        b = min(a + _SCAN_CHUNK, h.slot_count)
        chunk = slots_all[a:b].copy()
        hw = chunk["h"].astype(np.uint64)
        values = chunk["v"]
        empty = hw == empty_word
        prev = np.empty_like(hw)
        prev[0] = scan.previous
        prev[1:] = hw[:-1]
        repeat = ~empty & (hw == prev)
        entry = ~empty & ~repeat
        suspect = bool(repeat.any()) or bool((values[empty] != 0).any())
        where = np.flatnonzero(entry)
        eh = hw[where]
        s_idx = where + a
        home = home_slots_of(eh, h.capacity, w) if where.size else where
        if not suspect and where.size:
            # sorted against the previous entry (across chunks and empty slots)
            if scan.last_entry >= 0 and int(eh[0]) <= scan.last_entry:
                suspect = True
            elif eh.size > 1 and not bool((eh[1:] > eh[:-1]).all()):
                suspect = True
            elif bool((home > s_idx).any()):
                suspect = True
            else:
                # the last empty slot before each slot, carried in from earlier chunks
                empties = np.where(empty, np.arange(a, b, dtype=np.int64), np.int64(-1))
                last_empty = np.maximum.accumulate(empties)
                np.maximum(last_empty, scan.last_empty, out=last_empty)
                if bool((home <= last_empty[where]).any()):
                    suspect = True
                elif has_reach and bool(((s_idx - home) > h.reach).any()):
                    suspect = True
        if suspect:
            _scan_slots(hw.tolist(), values.tolist(), a, h, scan, problems)
            if scan.stopped:
                return
            continue
        scan.entries += int(where.size)
        if where.size:
            scan.reach = max(scan.reach, int((s_idx - home).max()))
            scan.last_entry = int(eh[-1])
        e = np.flatnonzero(empty)
        if e.size:
            scan.last_empty = a + int(e[-1])
        scan.previous = int(hw[-1])
