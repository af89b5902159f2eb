"""The slot region and the checksums of an index file mapped for writing: loads and stores of slots
(spec/FORMAT.md §2, §16.1) and the CRC of a checksum block (§6). What the stores are:

- Versions 1 and 2: a slot is one aligned 8-byte word (hash word low, value word high), stored
  whole with one 8-byte store; an overwrite stores the 4-byte value word alone.
- Version 3: a slot is two aligned 8-byte fields, the hash field and the value field. §16.6
  asks for one 16-byte store, which Python cannot make: this module stores each field with
  one 8-byte store, and :mod:`idxmap.edits` orders them so that every state between two stores
  answers as before or after the operation, but for the few cases its docstring lists. An
  overwrite stores the value field alone at its width (4 or 8 bytes).

Every store is an assignment to an element of a ``memoryview`` cast to "Q" (or "I"): CPython
packs an item with one fixed-size ``memcpy``, which compilers emit as one aligned store of that
width. Slices are never assigned (they copy byte by byte).
"""

from __future__ import annotations

import zlib
from typing import Any

from .format import BLOCK_BYTES, CHECKSUM_BYTES, Layout, block_count, checksums_offset
from .widths import Widths

MASK32 = 0xFFFFFFFF


class SlotRegion:
    """The slots and checksums of a writable mapping ``mm`` of a file of ``layout`` and widths
    ``w`` with ``slot_count`` slots."""

    __slots__ = (
        "slot_count", "wide", "empty", "hash_mask", "value_mask", "value_bits", "_q", "_i", "_bytes", "_sums",
        "_first", "_end", "blocks", "slots_per_block",
    )

    def __init__(self, mm: Any, layout: Layout, w: Widths, slot_count: int) -> None:
        self.slot_count = slot_count
        self.wide = w.wide
        self.empty = w.empty
        self.hash_mask = w.hash_mask
        self.value_mask = w.value_mask
        self.value_bits = w.value_bits
        self.slots_per_block = layout.slots_per_block
        self.blocks = block_count(slot_count, layout)
        base = memoryview(mm)
        self._first = layout.header_bytes
        self._end = checksums_offset(layout, slot_count)
        self._bytes = base
        self._q = base[self._first : self._end].cast("Q")
        self._i = base[self._first : self._end].cast("I")
        self._sums = base[self._end : self._end + CHECKSUM_BYTES * self.blocks].cast("I")

    def release(self) -> None:
        """Lets go of the views (the mapping can be closed after). Raises nothing."""
        for view in (self._q, self._i, self._sums, self._bytes):
            try:
                view.release()
            except (BufferError, ValueError):
                pass

    # ---- loads ----

    def hash(self, s: int) -> int:
        """Slot ``s``'s hash word (one 8-byte load)."""
        if self.wide:
            return self._q[2 * s] & self.hash_mask
        return self._q[s] & MASK32

    def value(self, s: int) -> int:
        if self.wide:
            return self._q[2 * s + 1] & self.value_mask
        return self._q[s] >> 32

    def raw(self, s: int) -> Any:
        """Slot ``s`` as stored: one uint64, or (hash field, value field)."""
        if self.wide:
            return self._q[2 * s], self._q[2 * s + 1]
        return self._q[s]

    # ---- stores (each one aligned store) ----

    def store(self, s: int, h: int, v: int) -> None:
        """Versions 1 and 2: slot ``s`` := (h, v) in one 8-byte store."""
        self._q[s] = h | (v << 32)

    def copy(self, to: int, frm: int) -> None:
        """Versions 1 and 2: slot ``to`` := slot ``frm``, one 8-byte load and one 8-byte store."""
        self._q[to] = self._q[frm]

    def store_hash_field(self, s: int, h: int) -> None:
        """Version 3: slot ``s``'s hash field alone (one 8-byte store; padding zero)."""
        self._q[2 * s] = h

    def store_value_field(self, s: int, v: int) -> None:
        """Version 3: slot ``s``'s value field alone (one 8-byte store; padding zero)."""
        self._q[2 * s + 1] = v

    def store_value(self, s: int, v: int) -> None:
        """An overwrite (§11.3, §16.6): the value alone, one aligned store of its width: the
        4-byte value word of an 8-byte slot, a 32-bit value field's low word, or a 64-bit value
        field."""
        if not self.wide:
            self._i[2 * s + 1] = v
        elif self.value_bits == 64:
            self._q[2 * s + 1] = v
        else:
            self._i[4 * s + 2] = v

    # ---- checksums (§6) ----

    def crc(self, b: int) -> int:
        """The CRC-32 of block ``b``'s bytes as they are now."""
        start = self._first + b * BLOCK_BYTES
        return zlib.crc32(self._bytes[start : min(start + BLOCK_BYTES, self._end)]) & MASK32

    def stored_checksum(self, b: int) -> int:
        return int(self._sums[b])

    def write_checksum(self, b: int) -> None:
        """Block ``b``'s checksum word := the CRC of its bytes (one 4-byte store)."""
        self._sums[b] = self.crc(b)

    def block_offset(self, b: int) -> int:
        return self._first + b * BLOCK_BYTES

    def touch(self, first: int, last: int, b0: int, b1: int) -> None:
        """Makes the pages of slots ``first..last`` and of the checksums of blocks ``b0..b1``
        present and writable, changing nothing (each word stored back as it is), so that the
        operation's bracket takes no page fault (§11.2)."""
        q = self._q
        per = 2 if self.wide else 1
        step = 4096 // 8
        for word in range(per * first, per * (last + 1), step):
            q[word] = q[word]
        q[per * (last + 1) - 1] = q[per * (last + 1) - 1]
        sums = self._sums
        for b in range(b0, b1 + 1, 1024):
            sums[b] = sums[b]
        sums[b1] = sums[b1]
