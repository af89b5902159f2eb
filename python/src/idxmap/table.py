"""The hash table of spec/FORMAT.md §5 in pure Python: slot states (§5.1), the bounded probe
(§5.3) and the builder's placement (§7), for 8-byte slots (versions 1 and 2) and version 3's
packed 12- and 16-byte ones (§16.1). Knows nothing of files or headers.

An 8-byte slot is one uint64 word, ``hash | value << 32`` (a little-endian slot read whole); a
version 3 slot is read as its uint32 words, the hash word's one or two (low first), then the
value's.
:mod:`idxmap.vectorized` does the same with numpy arrays, many keys or slots at a time.
"""

from __future__ import annotations

from .hashing import EMPTY_HASH, MASK32
from .widths import W32, Widths

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Iterable, List, Optional, Sequence, Tuple, Union

NO_PREVIOUS = EMPTY_HASH
"""The hash word slot 0's predecessor is taken to have: EMPTY, which no entry equals, so
"entry" and "tombstone" need no special case for slot 0."""


class _Undecided:
    """The probe's answer when it used up its reach without deciding (see :func:`probe`)."""

    _instance: Optional["_Undecided"] = None

    def __new__(cls) -> "_Undecided":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDECIDED"


UNDECIDED = _Undecided()

if TYPE_CHECKING:
    ProbeAnswer = Union[int, None, _Undecided]


def is_entry(previous_hash: int, h: int) -> bool:
    """§5.1: a slot is an entry when it is not empty and does not repeat its predecessor."""
    return h != EMPTY_HASH and h != previous_hash


def is_tombstone(previous_hash: int, h: int) -> bool:
    """§5.1: a tombstone repeats its predecessor's (non-empty) hash word."""
    return h != EMPTY_HASH and h == previous_hash


def probe(slots: Sequence[int], capacity: int, reach: int, last_slot: int, h: int) -> "ProbeAnswer":
    """§5.3 for hash ``h`` (not EMPTY): its value, None when the table proves it absent, or
    UNDECIDED when the scan read ``reach + 1`` slots and still saw smaller hashes (absent if
    ``reach`` is current; worth a retry with a larger reach a writer stored since).

    Never reads more than ``reach + 1`` slots, nor past ``last_slot``, whatever the slots hold.
    """
    s = (h * capacity) >> 32
    last = s + reach
    if last > last_slot:
        last = last_slot
    x = slots[s]
    while (x & MASK32) < h and s < last:
        s += 1
        x = slots[s]
    word = x & MASK32
    if word == h:
        return x >> 32
    return UNDECIDED if word < h else None


def probe_wide(words: Sequence[int], capacity: int, reach: int, last_slot: int, h: int, w: Widths) -> "ProbeAnswer":
    """:func:`probe` over version 3 slots (``words``: the slot region's uint32 words, slot ``s``
    from ``w.slot_words * s``), for a hash ``h`` of the key width of ``w``."""
    s = w.home(h, capacity)
    last = s + reach
    if last > last_slot:
        last = last_slot
    x = hash_word(words, s, w)
    while x < h and s < last:
        s += 1
        x = hash_word(words, s, w)
    if x == h:
        return value_word(words, s, w)
    return UNDECIDED if x < h else None


def hash_word(words: Sequence[int], s: int, w: Widths) -> int:
    """Slot ``s``'s hash word from a version 3 slot region's uint32 ``words`` (§16.1)."""
    i = w.slot_words * s
    return words[i] | (words[i + 1] << 32) if w.key_bits == 64 else words[i]


def value_word(words: Sequence[int], s: int, w: Widths) -> int:
    """Slot ``s``'s value from a version 3 slot region's uint32 ``words`` (§16.1)."""
    i = w.slot_words * s + w.value_word
    return words[i] | (words[i + 1] << 32) if w.value_bits == 64 else words[i]


def measure_reach(slots: Sequence[int], capacity: int) -> int:
    """The largest ``s - home(hash)`` over the entries: the reach a version 1 file does not
    record (§14), measured. O(slots)."""
    reach = 0
    previous = NO_PREVIOUS
    for s in range(len(slots)):
        h = slots[s] & MASK32
        if h != EMPTY_HASH and h != previous:
            d = s - ((h * capacity) >> 32)
            if d > reach:
                reach = d
        previous = h
    return reach


def sorted_entries(pairs: Iterable[Tuple[int, int]], w: Widths = W32) -> Tuple[List[int], List[int], Optional[int]]:
    """§7 steps 1, 2 and the sort of 4: (hashes ascending, their values, escaped key's value or
    None) from checked pairs of widths ``w``. Duplicates: the last value given for a key wins."""
    last_wins = {}
    for k, v in pairs:
        last_wins[k] = v
    escaped = last_wins.pop(w.escaped_key, None)
    hash_of = w.hash
    ordered = sorted((hash_of(k), v) for k, v in last_wins.items())
    return [h for h, _ in ordered], [v for _, v in ordered], escaped


def place(hashes: Sequence[int], capacity: int, w: Widths = W32) -> Tuple[List[int], int]:
    """§7 step 4: the slot of each sorted hash, ``pos_j = max(home_j, pos_{j-1} + 1)``, and the
    largest ``pos_j - home_j`` (the reach, 0 when there are none)."""
    positions = []
    reach = 0
    nxt = 0
    home_of = w.home
    for h in hashes:
        home = home_of(h, capacity)
        pos = home if home > nxt else nxt
        if pos - home > reach:
            reach = pos - home
        positions.append(pos)
        nxt = pos + 1
    return positions, reach

