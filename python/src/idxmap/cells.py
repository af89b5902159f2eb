"""The header cells of spec/FORMAT.md §3, §14 and §16.2 as a writer changes them (src/core/cells.ts
in the Node package): each cell is its word and its check, stored together with one aligned
8-byte store, so that no crash can leave them apart. The versions keep the entry count, the
dirty range and the escaped key's value differently; this class is where that difference lives.
"""

from __future__ import annotations

from typing import Any, Tuple

from .format import (
    CELL_DIRTY_COUNT,
    CELL_DIRTY_FIRST,
    CELL_DIRTY_V1,
    CELL_ENTRIES,
    CELL_ENTRIES_HIGH,
    CELL_ESCAPED,
    CELL_ESCAPED_HIGH,
    CELL_REACH,
    CELL_SEQ,
    CELL_STATE,
    DIRTY_V1_FIRST_BITS,
    DIRTY_V1_FIRST_MASK,
    STATE_ESCAPED,
    STATE_RETIRED,
    STATE_V1_COUNT_MASK,
    cell_check,
)
from .widths import Widths

MASK32 = 0xFFFFFFFF


def fresh_odd_seq(seq: int) -> int:
    """§11.4, §11.6: a seq no reader has seen, odd: ``seq + 1`` if even, ``seq + 2`` if odd."""
    return (seq + (2 if seq & 1 else 1)) & MASK32


def dirty_word_v1(first: int, blocks: int) -> int:
    """§14: version 1's packed dirty word (0 when there are no blocks)."""
    return 0 if blocks == 0 else (first | (blocks << DIRTY_V1_FIRST_BITS)) & MASK32


class HeaderCells:
    """The cells of a mapped header. ``cells`` is the header as a writable ``memoryview`` of
    uint64 (cell ``o`` is its element ``o // 8``: the word in the low half, the check in the
    high half): reading an element is one 8-byte load, and assigning one is one 8-byte store
    (CPython's memoryview packs an item with one fixed-size memcpy, which compilers emit as
    one aligned store; slice assignment would copy bytes one by one)."""

    __slots__ = ("_cells", "_v1", "_v3", "_wide_values")

    def __init__(self, cells: Any, major: int, w: Widths) -> None:
        self._cells = cells
        self._v1 = major == 1
        self._v3 = major == 3
        self._wide_values = w.value_bits == 64

    def load(self, offset: int) -> int:
        return self._cells[offset >> 3] & MASK32

    def store(self, offset: int, word: int) -> None:
        word &= MASK32
        self._cells[offset >> 3] = word | (cell_check(offset, word) << 32)

    def touch(self) -> None:
        """Makes the header's page present and writable, changing nothing (the seq cell stored
        back as it is): an operation's bracket takes no page fault (§11.2)."""
        i = CELL_SEQ >> 3
        self._cells[i] = self._cells[i]

    @property
    def seq(self) -> int:
        return self.load(CELL_SEQ)

    @property
    def state(self) -> int:
        return self.load(CELL_STATE)

    @property
    def escaped_present(self) -> bool:
        return (self.state & STATE_ESCAPED) != 0

    @property
    def escaped_value(self) -> int:
        low = self.load(CELL_ESCAPED)
        return low | (self.load(CELL_ESCAPED_HIGH) << 32) if self._wide_values else low

    @property
    def retired(self) -> bool:
        return (self.state & STATE_RETIRED) != 0

    @property
    def entries(self) -> int:
        """Entries in slots (the escaped key not counted; §16.2: entries + entriesHigh x 2^32)."""
        if self._v3:
            return self.load(CELL_ENTRIES) | (self.load(CELL_ENTRIES_HIGH) << 32)
        if not self._v1:
            return self.load(CELL_ENTRIES)
        state = self.state
        return (state & STATE_V1_COUNT_MASK) - (1 if state & STATE_ESCAPED else 0)

    @property
    def reach(self) -> "int | None":
        """The reach readers probe with (version 1 records none: None)."""
        return None if self._v1 else self.load(CELL_REACH)

    @property
    def dirty(self) -> Tuple[int, int]:
        """(dirtyFirst, dirtyCount)."""
        if self._v1:
            w = self.load(CELL_DIRTY_V1)
            return w & DIRTY_V1_FIRST_MASK, w >> DIRTY_V1_FIRST_BITS
        return self.load(CELL_DIRTY_FIRST), self.load(CELL_DIRTY_COUNT)

    def bump_seq(self) -> None:
        """§11.2 steps 1 and 5: seq + 1."""
        self.store(CELL_SEQ, self.seq + 1)

    def fresh_odd_seq(self) -> None:
        self.store(CELL_SEQ, fresh_odd_seq(self.seq))

    def set_dirty(self, first: int, count: int) -> None:
        """§11.2 step 2: the first block, then the count, so that a crash between leaves no
        range (version 1: both in its one dirty cell)."""
        if self._v1:
            self.store(CELL_DIRTY_V1, dirty_word_v1(first, count))
            return
        self.store(CELL_DIRTY_FIRST, first)
        self.store(CELL_DIRTY_COUNT, count)

    def clear_dirty(self) -> None:
        """§11.2 step 4: dirtyCount 0 (dirtyFirst keeps its word; version 1 clears its cell)."""
        self.store(CELL_DIRTY_V1 if self._v1 else CELL_DIRTY_COUNT, 0)

    def raise_reach(self, reach: int) -> None:
        """§11.2 step 2: a larger reach, before any entry moves further from its home."""
        if not self._v1 and reach > self.load(CELL_REACH):
            self.store(CELL_REACH, reach)

    def set_entries(self, entries: int) -> None:
        """The entry count after an insert or a delete in slots (§11.2 step 3)."""
        if self._v1:
            self._write_state(entries + (1 if self.escaped_present else 0), self.escaped_present, self.retired)
            return
        self.store(CELL_ENTRIES, entries & MASK32)
        # §16.2: the high word after the low one, and only when it changes (a count crossing a
        # multiple of 2^32), as idx's writer stores it.
        high = entries >> 32
        if self._v3 and self.load(CELL_ENTRIES_HIGH) != high:
            self.store(CELL_ENTRIES_HIGH, high)

    def set_escaped(self, value: int) -> None:
        """§11.3, §16.2: the escaped key set: its value (low half, then high half), then the state."""
        was_present = self.escaped_present
        self.store(CELL_ESCAPED, value & MASK32)
        if self._wide_values:
            self.store(CELL_ESCAPED_HIGH, value >> 32)
        if not was_present:
            self._write_state(self.entries + 1, True, self.retired)

    def clear_escaped(self) -> None:
        """§11.3, §16.2: the escaped key deleted: the state first, then its value cells with 0."""
        self._write_state(self.entries, False, self.retired)
        self.store(CELL_ESCAPED, 0)
        if self._wide_values:
            self.store(CELL_ESCAPED_HIGH, 0)

    def retire(self) -> None:
        """§11.4: RETIRED (every other bit kept), then a fresh odd seq that sends readers to
        their slow path."""
        self.store(CELL_STATE, self.state | STATE_RETIRED)
        self.fresh_odd_seq()

    def unretire(self) -> None:
        """Takes RETIRED back (a swap that did not happen, §11.4, or recovery, §11.6). Seq is
        the caller's."""
        self.store(CELL_STATE, self.state & ~STATE_RETIRED)

    def _write_state(self, count: int, escaped: bool, retired: bool) -> None:
        bits = (STATE_ESCAPED if escaped else 0) | (STATE_RETIRED if retired else 0)
        self.store(CELL_STATE, ((count if self._v1 else 0) | bits) & MASK32)
