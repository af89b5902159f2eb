"""The widths of a file's keys and values (spec/FORMAT.md §16): 32 bits both in versions 1 and
2, 32 or 64 bits each in version 3. Everything that depends on them is here: the slot's size, the
empty hash word, the escaped key, the hash and its inverse, the home slot, and the largest key
and value a file holds. Pure: no files, no numpy.
"""

from __future__ import annotations

from .hashing import (
    EMPTY_HASH,
    EMPTY_HASH64,
    ESCAPED_KEY,
    ESCAPED_KEY64,
    MASK32,
    MASK64,
    hash32,
    hash64,
    unhash32,
    unhash64,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Dict, Tuple


class Widths:
    """A file's key and value widths, and what follows from them.

    Attributes: key_bits, value_bits (32 or 64); wide (a version 3 file: 16-byte slots);
    slot_bytes (8 or 16); empty (the hash word of an empty slot at the key width); escaped_key
    (the key whose hash is ``empty``, kept in the header, §5.1, §16.3); max_key, max_value;
    hash_mask, value_mask (the bits of a slot's hash and value fields that are not padding).
    """

    __slots__ = (
        "key_bits", "value_bits", "wide", "slot_bytes", "empty", "escaped_key", "max_key", "max_value",
        "hash_mask", "value_mask",
    )

    key_bits: int
    value_bits: int
    wide: bool
    slot_bytes: int
    empty: int
    escaped_key: int
    max_key: int
    max_value: int
    hash_mask: int
    value_mask: int

    def __init__(self, key_bits: int, value_bits: int) -> None:
        self.key_bits = key_bits
        self.value_bits = value_bits
        self.wide = key_bits == 64 or value_bits == 64
        self.slot_bytes = 16 if self.wide else 8
        self.empty = EMPTY_HASH64 if key_bits == 64 else EMPTY_HASH
        self.escaped_key = ESCAPED_KEY64 if key_bits == 64 else ESCAPED_KEY
        self.max_key = MASK64 if key_bits == 64 else MASK32
        self.max_value = MASK64 if value_bits == 64 else MASK32
        self.hash_mask = self.max_key
        self.value_mask = self.max_value

    def __repr__(self) -> str:
        return f"Widths({self.key_bits}, {self.value_bits})"

    @property
    def major(self) -> int:
        """The format version a new file of these widths is (§16: 32/32 is version 2)."""
        return 3 if self.wide else 2

    def hash(self, key: int) -> int:
        """§4 (32-bit keys) or §16.3 (64-bit keys)."""
        return hash64(key) if self.key_bits == 64 else hash32(key)

    def unhash(self, h: int) -> int:
        return unhash64(h) if self.key_bits == 64 else unhash32(h)

    def home(self, h: int, capacity: int) -> int:
        """The home slot of hash ``h``: from its high half for 64-bit keys (§16.3)."""
        return (((h >> 32) if self.key_bits == 64 else h) * capacity) >> 32

    def holds(self, key: int, value: int) -> bool:
        return key <= self.max_key and value <= self.max_value


_CACHE: Dict[Tuple[int, int], Widths] = {}


def widths(key_bits: int, value_bits: int) -> Widths:
    """The (shared) Widths of ``key_bits`` and ``value_bits``, each 32 or 64."""
    w = _CACHE.get((key_bits, value_bits))
    if w is None:
        w = _CACHE[(key_bits, value_bits)] = Widths(key_bits, value_bits)
    return w


W32 = widths(32, 32)
"""The widths of every version 1 and version 2 file."""


def narrowest(max_key: int, max_value: int, key_bits: "int | None" = None, value_bits: "int | None" = None) -> Widths:
    """§16.5: for keys and values separately, the narrowest width that holds the largest number
    (32 or 64), unless 64 is asked for. The caller has checked that what is asked holds them."""
    kb = key_bits if key_bits is not None else (64 if max_key > MASK32 else 32)
    vb = value_bits if value_bits is not None else (64 if max_value > MASK32 else 32)
    return widths(kb, vb)
