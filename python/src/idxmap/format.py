"""The file layout of spec/FORMAT.md: the three header versions (§3, §14, §16.2), sizes, limits,
and the header's encoding and open-time validation (§9.1, §16.7). Works on bytes it is given;
knows no files.
"""

from __future__ import annotations

import struct
import zlib

from .errors import (
    ERR_IDX_CHECKSUM,
    ERR_IDX_CORRUPT,
    ERR_IDX_NOT_AN_INDEX,
    ERR_IDX_TOO_LARGE,
    ERR_IDX_TRUNCATED,
    ERR_IDX_UNSUPPORTED_VERSION,
    IdxError,
    error,
)
from .widths import W32, Widths, widths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

MAGIC = b"\x89IDX\r\n\x1a\n"
"""§3: the high byte catches 7-bit transfers, CR LF and LF newline conversion, ^Z DOS ``type``."""
VERSION_MAJOR = 2
"""What a map of 32-bit keys and values is written as; version 3 when a width is 64 (§16)."""
VERSION_MINOR = 0
NEWEST_MAJOR = 3
"""The newest major version read (§10): a newer one is refused by rule 4."""

SLOT_BYTES = 8
"""Versions 1 and 2; version 3's slots are 12 or 16 bytes (§16.1): see Layout.slot_bytes."""
BLOCK_BYTES = 4096
"""Versions 1 and 2: a checksum block is 4096 bytes, 512 slots (§6.1)."""
SLOTS_PER_BLOCK = BLOCK_BYTES // SLOT_BYTES
SLOTS_PER_BLOCK_V3 = 256
"""§16.1: a version 3 checksum block is 256 slots, whatever their size (3072 or 4096 bytes)."""
CHECKSUM_BYTES = 4
SPILL_SLOTS = 8
"""§7 step 5: slots after the last entry or home slot; the last is the sentinel."""

STATE_ESCAPED = 1 << 28
STATE_RETIRED = 1 << 29
STATE_V1_COUNT_MASK = 0x0FFFFFFF
"""§14: version 1 keeps the live count (escaped key included) in the state word's low 28 bits."""

# Cell offsets (§3). State, escaped and seq are at the same place in both versions: a reader's
# hot path reads only those three words.
CELL_STATE = 32
CELL_ESCAPED = 40
CELL_SEQ = 48
CELL_ENTRIES = 56
CELL_REACH = 64
CELL_DIRTY_FIRST = 72
CELL_DIRTY_COUNT = 80
CELL_RESERVED = 88
CELL_ESCAPED_HIGH = 88
"""§16.2: version 3's cell at 88, the high half of the escaped key's value."""
WIDTHS_OFFSET = 96
"""§16.2: keyBits and valueBits, one byte each, under the header checksum."""
CELL_ENTRIES_HIGH = 112
"""§16.2: version 3's count of entries in slots is entries + entriesHigh x 2^32."""
CELL_RESERVED_V3 = 120
"""§16.2: version 3's reserved cell (word 0 in 3.0)."""
HEADER_CHECKSUM_V3_END = 112
"""§16.2: the header checksum of version 3 covers bytes 96..111 too (widths and reserved)."""
MAX_SLOT_COUNT_V3 = 2**40
"""§16.4: a version 3 file has at most 2^40 slots (16 TiB of them)."""
CELL_DIRTY_V1 = 56
DIRTY_V1_FIRST_BITS = 20
DIRTY_V1_FIRST_MASK = (1 << DIRTY_V1_FIRST_BITS) - 1

# uint32 word indexes of the hot cells' words, for word views of a mapped header.
W_STATE = CELL_STATE // 4
W_ESCAPED = CELL_ESCAPED // 4
W_SEQ = CELL_SEQ // 4
W_ENTRIES = CELL_ENTRIES // 4
W_REACH = CELL_REACH // 4
W_ESCAPED_HIGH = CELL_ESCAPED_HIGH // 4
W_ENTRIES_HIGH = CELL_ENTRIES_HIGH // 4

MAX_HEADER_BYTES = 128

HEADER_ID_OFFSETS = {1: 28, 2: 12, 3: 12}
"""Where each major version keeps its header checksum, which covers the version, capacity and
slot count: a reader compares it with its value at open on every lookup (§11.7, §11.8)."""


class Layout:
    """What differs between the versions and widths (§3, §14, §16): the header, its cells and
    reserved bytes, the slot's size, and a checksum block's slots and bytes."""

    __slots__ = (
        "major", "header_bytes", "max_slot_count", "cells", "slot_bytes", "slots_per_block", "block_bytes",
        "reserved", "reserved_cell", "widths",
    )
    major: int
    header_bytes: int
    max_slot_count: int
    cells: "tuple[int, ...]"
    slot_bytes: int
    slots_per_block: int
    block_bytes: int
    reserved: "tuple[int, int]"
    reserved_cell: int
    widths: Widths

    def __init__(
        self, major: int, header_bytes: int, max_slot_count: int, cells: "tuple[int, ...]", w: Widths,
        slots_per_block: int, reserved: "tuple[int, int]", reserved_cell: int,
    ) -> None:
        self.major = major
        self.header_bytes = header_bytes
        self.max_slot_count = max_slot_count
        self.cells = cells
        self.widths = w
        self.slot_bytes = w.slot_bytes
        self.slots_per_block = slots_per_block
        self.block_bytes = slots_per_block * w.slot_bytes
        self.reserved = reserved
        self.reserved_cell = reserved_cell

    def __repr__(self) -> str:
        return f"Layout(version {self.major}, {self.header_bytes}-byte header, {self.slot_bytes}-byte slots)"


_CELLS_V2 = (CELL_STATE, CELL_ESCAPED, CELL_SEQ, CELL_ENTRIES, CELL_REACH, CELL_DIRTY_FIRST, CELL_DIRTY_COUNT, CELL_RESERVED)
_CELLS_V3 = _CELLS_V2 + (CELL_ENTRIES_HIGH, CELL_RESERVED_V3)
LAYOUT_V2 = Layout(2, 128, 2**33, _CELLS_V2, W32, SLOTS_PER_BLOCK, (96, 128), CELL_RESERVED)
LAYOUT_V1 = Layout(1, 64, 268173559, (CELL_STATE, CELL_ESCAPED, CELL_SEQ, CELL_DIRTY_V1), W32, SLOTS_PER_BLOCK, (20, 28), -1)


def _layout_v3(key_bits: int, value_bits: int) -> Layout:
    # §16.2: version 2's cells (88 is escapedHigh), entriesHigh and a reserved cell at 112 and
    # 120; reserved bytes 98..111 under the header checksum; §16.1: packed slots, 256 a block.
    return Layout(
        3, 128, MAX_SLOT_COUNT_V3, _CELLS_V3, widths(key_bits, value_bits), SLOTS_PER_BLOCK_V3,
        (WIDTHS_OFFSET + 2, CELL_ENTRIES_HIGH), CELL_RESERVED_V3,
    )


LAYOUTS_V3 = {(kb, vb): _layout_v3(kb, vb) for kb, vb in ((64, 32), (32, 64), (64, 64))}
LAYOUT_V3 = LAYOUTS_V3[(64, 64)]
"""Version 3's header is the same for every width: this layout serves until the widths are read."""

LAYOUTS = {1: LAYOUT_V1, 2: LAYOUT_V2, 3: LAYOUT_V3}


def layout_for(w: Widths) -> Layout:
    """The layout of a file of widths ``w``: version 2 for 32/32, else version 3 (§16)."""
    return LAYOUTS_V3[(w.key_bits, w.value_bits)] if w.wide else LAYOUT_V2


class Header:
    """A validated header, decoded (§3; version 1 fields mapped onto version 2's, §14; version 3's
    widths, §16.2).

    Attributes: layout, major, minor, widths (key and value bits: 32/32 but in version 3);
    capacity (home slots: the range of the slot mapping); slot_count (all slots, spill slots
    included); entries (in slots: the escaped key not counted; in version 3, entries +
    entriesHigh x 2^32); escaped_present, retired,
    escaped_value (both halves in version 3), seq; reach (§5.3's bound on ``s - home``; for
    version 1, which records none, ``slot_count - 1``); dirty_first, dirty_count; state_word
    (as stored, for verify's reserved-bit rule); reserved_cell (the reserved cell's word: at 88
    in version 2, at 120 in version 3; 0 for version 1); escaped_high (version 3's escapedHigh cell word, else 0).
    """

    __slots__ = (
        "layout", "major", "minor", "widths", "capacity", "slot_count", "entries", "escaped_present", "retired",
        "escaped_value", "seq", "reach", "dirty_first", "dirty_count", "state_word", "reserved_cell", "escaped_high",
    )

    layout: Layout
    major: int
    minor: int
    widths: Widths
    capacity: int
    slot_count: int
    entries: int
    escaped_present: bool
    retired: bool
    escaped_value: int
    seq: int
    reach: int
    dirty_first: int
    dirty_count: int
    state_word: int
    reserved_cell: int
    escaped_high: int

    def __init__(self, **fields: object) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.pop(name))
        if fields:
            raise TypeError(f"unknown header fields {sorted(fields)}")

    def __repr__(self) -> str:
        return "Header(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    @property
    def size(self) -> int:
        """Live entries: the slots' entries and the escaped key."""
        return self.entries + (1 if self.escaped_present else 0)

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


def block_count(slot_count: int, layout: Layout = LAYOUT_V2) -> int:
    """§2, §16.1: the number of checksum blocks, ``ceil(slot_count / 512)`` (256 in version 3)."""
    return -(-slot_count // layout.slots_per_block)


def checksums_offset(layout: Layout, slot_count: int) -> int:
    return layout.header_bytes + slot_count * layout.slot_bytes


def file_bytes(layout: Layout, slot_count: int) -> int:
    """§2, §16.1: the exact size of a file with ``slot_count`` slots:
    ``header + slot_bytes x slot_count + 4 x block_count``."""
    return checksums_offset(layout, slot_count) + block_count(slot_count, layout) * CHECKSUM_BYTES


def slot_offset(layout: Layout, s: int) -> int:
    """The file offset of slot ``s``'s hash word."""
    return layout.header_bytes + s * layout.slot_bytes


def build_capacity(n: int) -> int:
    """§7 step 3: ``max(1, ceil(8 n / 7))``, load at most 7/8."""
    return max(1, -(-(8 * n) // 7))


_U32 = struct.Struct("<I")
_U32X2 = struct.Struct("<II")


def crc32(data: bytes) -> int:
    """CRC-32 of zlib, PNG and Ethernet (§1): ``crc32(b"123456789") == 0xCBF43926``."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cell_check(offset: int, word: int) -> int:
    """§3: a cell's check, the CRC-32 of its offset and its word, each as u32 little-endian."""
    return zlib.crc32(_U32X2.pack(offset, word & 0xFFFFFFFF)) & 0xFFFFFFFF


def header_checksum_v2(header: bytes) -> int:
    """§3: CRC-32 of bytes 0..11 followed by bytes 16..31."""
    return zlib.crc32(bytes(header[0:12]) + bytes(header[16:32])) & 0xFFFFFFFF


def header_checksum_v3(header: bytes) -> int:
    """§16.2: CRC-32 of bytes 0..11, then 16..31, then 96..111 (the widths and the reserved
    bytes; the cells at 112 and 120 are outside it, as every cell is)."""
    covered = bytes(header[0:12]) + bytes(header[16:32]) + bytes(header[WIDTHS_OFFSET:HEADER_CHECKSUM_V3_END])
    return zlib.crc32(covered) & 0xFFFFFFFF


def header_checksum(major: int, header: bytes) -> int:
    """The header checksum of a header of version ``major`` (§3, §14, §16.2)."""
    if major == 1:
        return header_checksum_v1(header)
    return header_checksum_v3(header) if major == 3 else header_checksum_v2(header)


def header_checksum_v1(header: bytes) -> int:
    """§14: CRC-32 of bytes 0..27."""
    return zlib.crc32(bytes(header[0:28])) & 0xFFFFFFFF


def hex8(n: int) -> str:
    return f"{n:08x}"


def _hex_bytes(b: bytes) -> str:
    return " ".join(f"{x:02x}" for x in b)


_REBUILD = "Rebuild the index from its source pairs (or restore a good copy)."
_CUT_SHORT = "The file was cut short (an interrupted copy or download); rebuild it or copy it again."


def _u32(b: bytes, offset: int) -> int:
    return int(_U32.unpack_from(b, offset)[0])


def _u64(b: bytes, offset: int) -> int:
    lo, hi = _U32X2.unpack_from(b, offset)
    return int(lo) + (int(hi) << 32)


def parse_header(head: bytes, size: int, path: str) -> Header:
    """Applies §9.1 rules 1 to 9 (and §14 for version 1) to a file of ``size`` bytes.

    ``head`` holds the file's first ``min(size, 128)`` bytes (or more); a header another process
    may be writing must be a stable copy (see :func:`idxmap.protocol.stable_header`). Rule 10,
    the sentinel, reads a slot: see :func:`check_sentinel`.

    Raises:
        NotAnIndexError: empty file, or not the idx magic (rules 1, 2).
        TruncatedError: shorter than the version field, the header, or its declared size.
        UnsupportedVersionError: a major version above 3 (rule 4).
        ChecksumError: the header checksum or a cell's check fails (rule 6).
        CorruptError: major 0, version 3 widths that are not 32 or 64 or both 32 (rule 6a),
            capacity or slot count out of order, too long, or a count (entries + entriesHigh x
            2^32 in version 3), reach or dirty range out of range (rules 4, 7, 9).
        TooLargeError: more slots than the version allows (rule 8: 2^33, or 2^40 in version 3).
    """

    def fail(code: str, what: str, hint: str) -> IdxError:
        return error(code, what, path=path, hint=hint)

    if size == 0:
        raise fail(
            ERR_IDX_NOT_AN_INDEX,
            "is empty (0 bytes), not an idx index",
            "Build one with `idx build PAIRS -o FILE`; an interrupted copy can also leave an empty file.",
        )
    seen = bytes(head[: min(size, len(MAGIC))])
    if seen != MAGIC[: len(seen)]:
        raise fail(
            ERR_IDX_NOT_AN_INDEX,
            f"is not an idx index (it starts with {_hex_bytes(seen)}, not the idx magic {_hex_bytes(MAGIC)})",
            "Check the path: this looks like another kind of file.",
        )
    if size < 12:
        raise fail(ERR_IDX_TRUNCATED, f"is truncated: {size} bytes, too short to hold the format version", _CUT_SHORT)
    major, minor = struct.unpack_from("<HH", head, 8)
    if major > NEWEST_MAJOR:
        raise fail(
            ERR_IDX_UNSUPPORTED_VERSION,
            f"uses format version {major}.{minor}; this idx reads versions 1, 2 and 3 only",
            "Upgrade idx to open it, or rebuild the index with this version.",
        )
    if major == 0:
        raise fail(
            ERR_IDX_CORRUPT,
            f"has format version {major}.{minor}, which no idx has written",
            f"The header is damaged. {_REBUILD}",
        )
    layout = LAYOUTS[major]  # version 3's of its widths once they are read (rule 6a)
    if size < layout.header_bytes:
        raise fail(
            ERR_IDX_TRUNCATED,
            f"is truncated: {size} bytes, shorter than the {layout.header_bytes}-byte header of a version {major} index",
            _CUT_SHORT,
        )
    stored = _u32(head, HEADER_ID_OFFSETS[major])
    actual = header_checksum(major, head)
    if stored != actual:
        raise fail(
            ERR_IDX_CHECKSUM,
            f"header checksum mismatch (stored 0x{hex8(stored)}, computed 0x{hex8(actual)})",
            f"The header bytes changed after they were written. {_REBUILD}",
        )
    for offset in layout.cells:
        word, check = _U32X2.unpack_from(head, offset)
        if check != cell_check(offset, word):
            raise fail(
                ERR_IDX_CHECKSUM,
                f"header cell at offset {offset} fails its check (word 0x{hex8(word)}, check 0x{hex8(check)})",
                f"The header bytes changed after they were written. {_REBUILD}",
            )
    w = W32
    if major == 3:
        # Rule 6a (§16.7): after the checksums, before anything reads the slots' stride.
        key_bits, value_bits = head[WIDTHS_OFFSET], head[WIDTHS_OFFSET + 1]
        if key_bits not in (32, 64) or value_bits not in (32, 64) or key_bits == value_bits == 32:
            raise fail(
                ERR_IDX_CORRUPT,
                f"has an invalid header: key and value widths {key_bits} and {value_bits} bits "
                "(a version 3 file has 32 or 64 each, not both 32)",
                _REBUILD,
            )
        w = widths(key_bits, value_bits)
        layout = LAYOUTS_V3[(key_bits, value_bits)]
    state = _u32(head, CELL_STATE)
    escaped_present = (state & STATE_ESCAPED) != 0
    if major == 1:
        dirty = _u32(head, CELL_DIRTY_V1)
        slot_count = _u32(head, 16)
        count = state & STATE_V1_COUNT_MASK
        h = Header(
            layout=layout,
            major=major,
            minor=minor,
            widths=w,
            capacity=_u32(head, 12),
            slot_count=slot_count,
            entries=count - (1 if escaped_present else 0),
            escaped_present=escaped_present,
            retired=(state & STATE_RETIRED) != 0,
            escaped_value=_u32(head, CELL_ESCAPED),
            seq=_u32(head, CELL_SEQ),
            reach=max(0, slot_count - 1),
            dirty_first=dirty & DIRTY_V1_FIRST_MASK,
            dirty_count=dirty >> DIRTY_V1_FIRST_BITS,
            state_word=state,
            reserved_cell=0,
            escaped_high=0,
        )
    else:
        cell88 = _u32(head, CELL_RESERVED)
        v3 = major == 3
        h = Header(
            layout=layout,
            major=major,
            minor=minor,
            widths=w,
            capacity=_u64(head, 16),
            slot_count=_u64(head, 24),
            entries=_u32(head, CELL_ENTRIES) + ((_u32(head, CELL_ENTRIES_HIGH) << 32) if v3 else 0),
            escaped_present=escaped_present,
            retired=(state & STATE_RETIRED) != 0,
            # §16.2: the value's high half is escapedHigh, when values are 64-bit.
            escaped_value=_u32(head, CELL_ESCAPED) | ((cell88 << 32) if w.value_bits == 64 else 0),
            seq=_u32(head, CELL_SEQ),
            reach=_u32(head, CELL_REACH),
            dirty_first=_u32(head, CELL_DIRTY_FIRST),
            dirty_count=_u32(head, CELL_DIRTY_COUNT),
            state_word=state,
            reserved_cell=_u32(head, layout.reserved_cell),
            escaped_high=cell88 if v3 else 0,
        )

    def corrupt(what: str) -> IdxError:
        return fail(ERR_IDX_CORRUPT, f"has an invalid header: {what}", _REBUILD)

    if h.capacity < 1:
        raise corrupt("capacity is 0")
    if h.slot_count <= h.capacity:
        raise corrupt(f"slot count {h.slot_count} is not above capacity {h.capacity}")
    if h.slot_count > layout.max_slot_count:
        raise fail(
            ERR_IDX_TOO_LARGE,
            f"declares {h.slot_count} slots, more than the {layout.max_slot_count} a version {major} file can hold",
            f"The header is damaged or the file was written by an incompatible tool. {_REBUILD}",
        )
    expected = file_bytes(layout, h.slot_count)
    if size < expected:
        raise fail(ERR_IDX_TRUNCATED, f"is truncated: {size} bytes, but its header describes {expected}", _CUT_SHORT)
    if size > expected:
        raise fail(
            ERR_IDX_CORRUPT,
            f"is {size} bytes, but its header describes {expected} ({size - expected} bytes too many)",
            "Something was appended to the file; rebuild it or copy it again.",
        )
    if major == 1:
        # §14 says count <= slotCount - 1 + ESCAPED; a count of 0 with ESCAPED set (the escaped
        # key counted but not there) is refused too, as idx does: entries would be -1.
        if h.entries > h.slot_count - 1 or h.entries < 0:
            raise corrupt(f"count {state & STATE_V1_COUNT_MASK} does not fit in {h.slot_count} slots")
        dirty = _u32(head, CELL_DIRTY_V1)
        if h.dirty_count == 0 and dirty != 0:
            raise corrupt(f"dirty cell 0x{hex8(dirty)} names a first block but no blocks")
    else:
        if h.entries > h.slot_count - 1:
            raise corrupt(f"{h.entries} entries do not fit in {h.slot_count} slots")
        if h.reach > h.slot_count - 1:
            raise corrupt(f"reach {h.reach} is beyond the {h.slot_count} slots")
    blocks = block_count(h.slot_count, layout)
    if h.dirty_count > 0 and h.dirty_first + h.dirty_count > blocks:
        raise corrupt(f"dirty block range {h.dirty_first}+{h.dirty_count} is outside the {blocks} blocks")
    return h


def check_sentinel(last_hash_word: int, path: str, w: Widths = W32) -> None:
    """§9.1 rule 10: a probe stops inside the table only because the last slot is empty (its hash
    word read at the key width, §16.7).

    Raises:
        CorruptError: the last slot's hash word is not EMPTY.
    """
    if last_hash_word != w.empty:
        # As idx prints it: all 16 hex digits of a 64-bit hash word.
        word = f"{last_hash_word:016x}" if w.key_bits == 64 else f"{last_hash_word:x}"
        raise error(
            ERR_IDX_CORRUPT,
            f"its last slot is not empty (hash word 0x{word})",
            path=path,
            hint=f"The table is damaged. {_REBUILD}",
        )


def encode_header_v2(
    capacity: int, slot_count: int, entries: int, escaped_present: bool, escaped_value: int, reach: int
) -> bytes:
    """§7 step 7: the 128-byte version 2 header of a freshly built file."""
    return encode_header(capacity, slot_count, entries, escaped_present, escaped_value, reach, W32)


def encode_header(
    capacity: int, slot_count: int, entries: int, escaped_present: bool, escaped_value: int, reach: int, w: Widths
) -> bytes:
    """§7 step 7: the 128-byte header of a freshly built file of widths ``w``: version 2.0 for
    32/32, else 3.0 with the widths at bytes 96 and 97, the escaped value's high half in the
    escapedHigh cell and the count's in entriesHigh (§16.2)."""
    out = bytearray(MAX_HEADER_BYTES)
    out[0:8] = MAGIC
    major = w.major
    assert major == 3 or escaped_value >> 32 == 0, "a 64-bit value needs a version 3 file"
    struct.pack_into("<HHIQQ", out, 8, major, VERSION_MINOR, 0, capacity, slot_count)
    if major == 3:
        out[WIDTHS_OFFSET] = w.key_bits
        out[WIDTHS_OFFSET + 1] = w.value_bits
    struct.pack_into("<I", out, 12, header_checksum(major, bytes(out)))
    escaped = escaped_value if escaped_present else 0
    words = [
        (CELL_STATE, STATE_ESCAPED if escaped_present else 0),
        (CELL_ESCAPED, escaped & 0xFFFFFFFF),
        (CELL_SEQ, 0),
        (CELL_ENTRIES, entries & 0xFFFFFFFF),
        (CELL_REACH, reach),
        (CELL_DIRTY_FIRST, 0),
        (CELL_DIRTY_COUNT, 0),
        (CELL_RESERVED, escaped >> 32),
    ]
    if major == 3:
        # §16.2: the count's high word, and the reserved cell (word 0).
        words += [(CELL_ENTRIES_HIGH, entries >> 32), (CELL_RESERVED_V3, 0)]
    for offset, word in words:
        _U32X2.pack_into(out, offset, word, cell_check(offset, word))
    return bytes(out)


def entries_in_slots(words: "Sequence[int]", major: int) -> int:
    """The entries in slots from a header's uint32 words (versions 2 and 3): the entries cell's
    word, and in version 3 entriesHigh's as its high half (§16.2)."""
    low = int(words[W_ENTRIES])
    return low | (int(words[W_ENTRIES_HIGH]) << 32) if major == 3 else low


def escaped_value(words: "Sequence[int]", w: Widths) -> int:
    """The escaped key's value from a header's uint32 words (§3, §16.2): the escaped cell's word,
    and escapedHigh's as its high half when values are 64-bit. Two cells, two stores: a reader
    beside a writer reads them between two loads of seq (§11.7)."""
    low = int(words[W_ESCAPED])
    return low | (int(words[W_ESCAPED_HIGH]) << 32) if w.value_bits == 64 else low


def cell_bytes(offset: int, word: int) -> bytes:
    """The 8 bytes of a cell at ``offset`` holding ``word``: word, then its check."""
    return _U32X2.pack(word & 0xFFFFFFFF, cell_check(offset, word))
