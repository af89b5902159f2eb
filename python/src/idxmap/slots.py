"""The slot region and the checksums of an index file mapped for writing: loads and stores of slots
(spec/FORMAT.md §2, §16.1) and the CRC of a checksum block (§6). What the stores are:

- Versions 1 and 2: a slot is one aligned 8-byte word (hash word low, value word high), stored
  whole with one 8-byte store; an overwrite stores the 4-byte value word alone.
- Version 3: a slot is the hash word (4 or 8 bytes), then the value (4 or 8 bytes), packed: 12
  bytes for 64/32 and 32/64, 16 for 64/64. §16.6 asks for one 16-byte store of the whole slot,
  which Python cannot make: this module stores each field with one store of its width, and
  :mod:`idxmap.edits` orders the two so that every state between them answers as before or
  after the operation, but for the few cases its docstring lists. An overwrite stores the value
  field alone (one store of its width, as §16.6 asks).

With the C extension, version 3 slots are stored whole as §16.6 asks: ``whole`` is its
SlotStore (one 16-byte store instruction a slot, as the Node addon's native/write.c), and
:mod:`idxmap.edits` then edits version 3 tables as version 2's, slot by slot.

Every other store is an assignment to an element of a ``memoryview`` cast to "Q" or "I": CPython packs
an item with one fixed-size ``memcpy``, which compilers emit as one store instruction of that
width (an 8-byte field of a 12-byte slot is 4-byte aligned in every other slot: x86-64 and arm64
store it with one unaligned instruction all the same). Slices are never assigned (they copy byte
by byte).
"""

from __future__ import annotations

import zlib
from typing import Any

from .format import CHECKSUM_BYTES, Layout, block_count, checksums_offset
from .widths import Widths

MASK32 = 0xFFFFFFFF


class SlotRegion:
    """The slots and checksums of a writable mapping ``mm`` of a file of ``layout`` and widths
    ``w`` with ``slot_count`` slots."""

    __slots__ = (
        "slot_count", "wide", "empty", "value_bits", "key_bits", "slot_bytes", "slot_words", "value_word",
        "_q", "_q4", "_i", "_bytes", "_sums", "_first", "_end", "blocks", "slots_per_block", "block_bytes",
        "whole",
    )

    def __init__(self, mm: Any, layout: Layout, w: Widths, slot_count: int, whole: Any = None) -> None:
        #: Version 3 with the C extension: its SlotStore over the same file (store, copy: a
        #: whole slot with one store); else None.
        self.whole = whole
        self.slot_count = slot_count
        self.wide = w.wide
        self.empty = w.empty
        self.key_bits = w.key_bits
        self.value_bits = w.value_bits
        self.slot_bytes = w.slot_bytes
        self.slot_words = w.slot_words
        self.value_word = w.value_word
        self.slots_per_block = layout.slots_per_block
        self.block_bytes = layout.block_bytes
        self.blocks = block_count(slot_count, layout)
        base = memoryview(mm)
        first = self._first = layout.header_bytes
        end = self._end = checksums_offset(layout, slot_count)
        self._bytes = base
        # Every field as uint32 words; 8-byte fields at region offsets that are a multiple of 8
        # through _q, and (12-byte slots) those 4 bytes past one through _q4.
        self._i = base[first:end].cast("I")
        self._q = base[first : first + (end - first) // 8 * 8].cast("Q")
        self._q4 = base[first + 4 : first + 4 + (end - first - 4) // 8 * 8].cast("Q")
        self._sums = base[end : end + CHECKSUM_BYTES * self.blocks].cast("I")

    def release(self) -> None:
        """Lets go of the views and the whole-slot store's mapping (the mapping can be closed
        after). Raises nothing."""
        if self.whole is not None:
            self.whole.close()
        for view in (self._q, self._q4, self._i, self._sums, self._bytes):
            try:
                view.release()
            except (BufferError, ValueError):
                pass

    # ---- 8-byte fields at any 4-byte alignment ----

    def _load64(self, offset: int) -> int:
        """The 8-byte field at byte ``offset`` of the region (a multiple of 4), one load."""
        return self._q[offset >> 3] if offset & 7 == 0 else self._q4[offset >> 3]

    def _store64(self, offset: int, x: int) -> None:
        """The 8-byte field at byte ``offset`` of the region := ``x``, one store instruction."""
        if offset & 7 == 0:
            self._q[offset >> 3] = x
        else:
            self._q4[offset >> 3] = x

    # ---- loads ----

    def hash(self, s: int) -> int:
        """Slot ``s``'s hash word."""
        if not self.wide:
            return self._q[s] & MASK32
        if self.key_bits == 64:
            return self._load64(self.slot_bytes * s)
        return self._i[self.slot_words * s]

    def value(self, s: int) -> int:
        if not self.wide:
            return self._q[s] >> 32
        if self.value_bits == 64:
            return self._load64(self.slot_bytes * s + 4 * self.value_word)
        return self._i[self.slot_words * s + self.value_word]

    def raw(self, s: int) -> Any:
        """Slot ``s`` as stored: one uint64 (versions 1 and 2), or (hash word, value)."""
        if self.wide:
            return self.hash(s), self.value(s)
        return self._q[s]

    # ---- stores (each one store instruction) ----

    def store(self, s: int, h: int, v: int) -> None:
        """Versions 1 and 2: slot ``s`` := (h, v) in one 8-byte store."""
        self._q[s] = h | (v << 32)

    def copy(self, to: int, frm: int) -> None:
        """Versions 1 and 2: slot ``to`` := slot ``frm``, one 8-byte load and one 8-byte store."""
        self._q[to] = self._q[frm]

    def store_hash_field(self, s: int, h: int) -> None:
        """Version 3: slot ``s``'s hash word alone (one store of its width)."""
        if self.key_bits == 64:
            self._store64(self.slot_bytes * s, h)
        else:
            self._i[self.slot_words * s] = h

    def store_value_field(self, s: int, v: int) -> None:
        """Version 3: slot ``s``'s value alone (one store of its width)."""
        if self.value_bits == 64:
            self._store64(self.slot_bytes * s + 4 * self.value_word, v)
        else:
            self._i[self.slot_words * s + self.value_word] = v

    def store_value(self, s: int, v: int) -> None:
        """An overwrite (§11.3, §16.6): the value alone, one store of its width."""
        if self.wide:
            self.store_value_field(s, v)
        else:
            self._i[2 * s + 1] = v

    # ---- checksums (§6) ----

    def crc(self, b: int) -> int:
        """The CRC-32 of block ``b``'s bytes as they are now."""
        start = self._first + b * self.block_bytes
        return zlib.crc32(self._bytes[start : min(start + self.block_bytes, self._end)]) & MASK32

    def stored_checksum(self, b: int) -> int:
        return int(self._sums[b])

    def write_checksum(self, b: int) -> None:
        """Block ``b``'s checksum word := the CRC of its bytes (one 4-byte store)."""
        self._sums[b] = self.crc(b)

    def block_offset(self, b: int) -> int:
        return self._first + b * self.block_bytes

    def touch(self, first: int, last: int, b0: int, b1: int) -> None:
        """Makes the pages of slots ``first..last`` and of the checksums of blocks ``b0..b1``
        present and writable, changing nothing (each word stored back as it is), so that the
        operation's bracket takes no page fault (§11.2)."""
        words = self._i
        per = self.slot_words
        step = 4096 // 4
        for word in range(per * first, per * (last + 1), step):
            words[word] = words[word]
        end = per * (last + 1) - 1
        words[end] = words[end]
        sums = self._sums
        for b in range(b0, b1 + 1, 1024):
            sums[b] = sums[b]
        sums[b1] = sums[b1]
