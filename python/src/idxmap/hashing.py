"""The hash and the slot mapping of spec/FORMAT.md §4 (32-bit keys) and §16.3 (64-bit keys),
exact integer functions.

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


MASK64 = 0xFFFFFFFFFFFFFFFF
EMPTY_HASH64 = MASK64
"""§16.1: the hash word of an empty slot in a file of 64-bit keys."""

# §16.3: the round constants of hash64's Feistel network, in the order hash64 uses them.
_K1, _K2, _K3, _K4 = 0x9E3779B9, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F


def hash64(key: int) -> int:
    """The hash of a 64-bit ``key`` (§16.3): four Feistel rounds whose round function is
    :func:`hash32`, each changing one 32-bit half by a function of the other, so that each
    round undoes itself and the whole is a bijection on uint64. Raises nothing; the caller
    passes an int from 0 to 2^64 - 1. (hash32 written out four times: a call costs a tenth of
    a lookup in a file of 64-bit keys.)"""
    hi = key >> 32
    lo = key & MASK32
    x = hi ^ _K1
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    lo ^= x ^ (x >> 16)
    x = lo ^ _K2
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    hi ^= x ^ (x >> 16)
    x = hi ^ _K3
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    lo ^= x ^ (x >> 16)
    x = lo ^ _K4
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    hi ^= x ^ (x >> 16)
    return (hi << 32) | lo


def unhash64(h: int) -> int:
    """The inverse of :func:`hash64`: the rounds in reverse order."""
    hi = h >> 32
    lo = h & MASK32
    hi ^= hash32(lo ^ _K4)
    lo ^= hash32(hi ^ _K3)
    hi ^= hash32(lo ^ _K2)
    lo ^= hash32(hi ^ _K1)
    return (hi << 32) | lo


def home_slot64(h: int, capacity: int) -> int:
    """The home slot of a 64-bit hash (§16.3): §4's formula applied to its high half, so hashes
    with the same high half share a home and the table stays sorted by the whole hash."""
    return ((h >> 32) * capacity) >> 32


ESCAPED_KEY64 = unhash64(EMPTY_HASH64)
"""12140293084747745066: the escaped key of a file of 64-bit keys (§16.3)."""
