"""The widths of a file's keys and values (spec/FORMAT.md §16): 32 bits both in versions 1 and
2, 32 or 64 bits each in version 3. Everything that depends on them is here: the slot's size, the
empty hash word, the escaped key, the hash and its inverse, the home slot, and the largest key
and value a file holds. Pure: no files, no numpy.
"""

from __future__ import annotations

import struct

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
    from typing import Any, Dict, Tuple

_FIELD = {32: "I", 64: "Q"}
"""struct's code of a field of each width (with "<": standard sizes, no alignment padding)."""


class Widths:
    """A file's key and value widths, and what follows from them.

    Attributes: key_bits, value_bits (32 or 64); wide (a version 3 file); slot_bytes (8, 12 or
    16: the hash word, then the value, packed, §16.1); slot_words (uint32 words a slot: 2, 3 or
    4); value_word (the uint32 word of a slot where its value starts: 1 or 2, after the hash
    word's one or two); value_offset (the same in bytes); slot_struct (a slot packed or
    unpacked as (hash word, value), little-endian); empty (the hash word of an empty slot at
    the key width); escaped_key (the key whose hash is ``empty``, kept in the header, §5.1,
    §16.3); max_key, max_value (also the masks of a hash word and a value).
    """

    __slots__ = (
        "key_bits", "value_bits", "wide", "slot_bytes", "slot_words", "value_word", "value_offset", "slot_struct",
        "empty", "escaped_key", "max_key", "max_value", "_np_dtype",
    )

    key_bits: int
    value_bits: int
    wide: bool
    slot_bytes: int
    slot_words: int
    value_word: int
    value_offset: int
    slot_struct: struct.Struct
    empty: int
    escaped_key: int
    max_key: int
    max_value: int

    def __init__(self, key_bits: int, value_bits: int) -> None:
        self.key_bits = key_bits
        self.value_bits = value_bits
        self.wide = key_bits == 64 or value_bits == 64
        self.slot_bytes = (key_bits + value_bits) // 8
        self.slot_words = self.slot_bytes // 4
        self.value_word = key_bits // 32
        self.value_offset = key_bits // 8
        self.slot_struct = struct.Struct("<" + _FIELD[key_bits] + _FIELD[value_bits])
        self._np_dtype = None
        self.empty = EMPTY_HASH64 if key_bits == 64 else EMPTY_HASH
        self.escaped_key = ESCAPED_KEY64 if key_bits == 64 else ESCAPED_KEY
        self.max_key = MASK64 if key_bits == 64 else MASK32
        self.max_value = MASK64 if value_bits == 64 else MASK32

    def __repr__(self) -> str:
        return f"Widths({self.key_bits}, {self.value_bits})"

    @property
    def major(self) -> int:
        """The format version a new file of these widths is (§16: 32/32 is version 2)."""
        return 3 if self.wide else 2

    def np_dtype(self, np: "Any") -> "Any":
        """A slot as a packed numpy record (fields ``h``, the hash word, and ``v``, the value;
        itemsize ``slot_bytes``): an array of them over a mapping gives both fields as strided
        views, whatever the slot's size and its fields' alignment."""
        if self._np_dtype is None:
            self._np_dtype = np.dtype(
                {"names": ["h", "v"], "formats": ["<u%d" % (self.key_bits // 8), "<u%d" % (self.value_bits // 8)],
                 "offsets": [0, self.value_offset], "itemsize": self.slot_bytes}
            )
        return self._np_dtype

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
