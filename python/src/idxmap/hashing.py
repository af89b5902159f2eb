"""The hash and the slot mapping of spec/FORMAT.md §4, exact integer functions.

Every reader and writer in every language must compute the same numbers, so nothing here may
depend on float rounding. Python integers are exact at any width, so the 65-bit product of
``home`` needs no splitting here; the numpy versions (in :mod:`idxmap.vectorized`) split it.
"""

from __future__ import annotations

MASK32 = 0xFFFFFFFF
EMPTY_HASH = 0xFFFFFFFF
"""§5.1: the hash word of an empty slot; it compares above every entry's hash."""


def hash32(key: int) -> int:
    """MurmurHash3's 32-bit finalizer (fmix32) of a uint32 ``key`` (§4).

    A bijection on uint32: the stored hash identifies its key, and :func:`unhash32` recovers it.
    Raises nothing; the caller passes an int from 0 to 4294967295.
    """
    x = key
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    x ^= x >> 16
    return x


def unhash32(h: int) -> int:
    """The inverse of :func:`hash32`: ``unhash32(hash32(k)) == k`` for every uint32 ``k``."""
    x = h
    x ^= x >> 16
    x = (x * 0x7ED1B41D) & MASK32  # the inverse of 0xC2B2AE35 mod 2^32
    x ^= (x >> 13) ^ (x >> 26)
    x = (x * 0xA5CB9243) & MASK32  # the inverse of 0x85EBCA6B mod 2^32
    x ^= x >> 16
    return x


def home_slot(h: int, capacity: int) -> int:
    """``(h * capacity) >> 32``: the home slot of hash ``h`` among ``capacity`` home slots (§4).

    Monotone in ``h``, which is what keeps the table sorted by hash (§5).
    """
    return (h * capacity) >> 32


ESCAPED_KEY = unhash32(EMPTY_HASH)
"""857579651, the one key whose hash is EMPTY: kept in the header, never in a slot (§5.1)."""
