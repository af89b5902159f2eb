"""§4: the hash, its inverse and the home slot, against the spec's test vectors and Node's."""

from __future__ import annotations

import pytest

import idxmap
from idxmap import vectorized
from idxmap.hashing import home_slot, hash32, unhash32

from conftest import HAS_NUMPY, MAX_U32, mulberry32, run_node, write_words

CAPACITIES = [2, 14, 1000, 268435455, 4908534053, 8589934591]
# spec/FORMAT.md §4, the table of test vectors: key, hash, home slot for each capacity.
VECTORS = [
    (0, 0x00000000, [0, 0, 0, 0, 0, 0]),
    (1, 0x514E28B7, [0, 4, 317, 85254795, 1558944830, 2728153453]),
    (2, 0x30F4C306, [0, 2, 191, 51334192, 938682374, 1642694155]),
    (42, 0x087FCD5C, [0, 0, 33, 8912085, 162963853, 285186743]),
    (4096, 0x7A94D36D, [0, 6, 478, 128535862, 2350370063, 4113147609]),
    (65536, 0x0EA34562, [0, 0, 57, 15348822, 280664176, 491162307]),
    (2147483648, 0x6D3C65A0, [0, 5, 426, 114542169, 2094485394, 3665349439]),
    (4294967294, 0x7995C304, [0, 6, 474, 127491119, 2331266199, 4079715847]),
    (4294967295, 0x81F16F39, [1, 7, 507, 136255219, 2491524015, 4360167025]),
    (857579651, 0xFFFFFFFF, [1, 13, 999, 268435454, 4908534051, 8589934589]),
]


@pytest.mark.parametrize("key,h,homes", VECTORS)
def test_spec_vectors_pure(key: int, h: int, homes: list) -> None:
    assert hash32(key) == h
    assert unhash32(h) == key
    assert [home_slot(h, c) for c in CAPACITIES] == homes


@pytest.mark.skipif(not HAS_NUMPY, reason="numpy is not installed")
def test_spec_vectors_numpy() -> None:
    np = vectorized.numpy_or_none()
    keys = np.array([k for k, _, _ in VECTORS], dtype=np.uint32)
    hashes = vectorized.hash32_array(keys)
    assert hashes.tolist() == [h for _, h, _ in VECTORS]
    assert vectorized.unhash32_array(hashes).tolist() == keys.tolist()
    for i, c in enumerate(CAPACITIES):
        assert vectorized.home_slots(hashes, c).tolist() == [homes[i] for _, _, homes in VECTORS]


def test_escaped_key_is_the_one_whose_hash_is_empty() -> None:
    assert idxmap.ESCAPED_KEY == 857579651 == unhash32(0xFFFFFFFF)


def test_hash_is_a_bijection_on_a_sample_and_home_is_monotone() -> None:
    r = mulberry32(11)
    keys = [next(r) for _ in range(20000)] + [0, 1, MAX_U32]
    assert all(unhash32(hash32(k)) == k for k in keys)
    assert len({hash32(k) for k in keys}) == len(set(keys))
    hs = sorted(hash32(k) for k in keys)
    for c in (1, 7, 1000, 2**32 + 5, 2**33):
        homes = [home_slot(h, c) for h in hs]
        assert homes == sorted(homes) and 0 <= homes[0] and homes[-1] < c


def test_hash_unhash_and_home_agree_with_node(tmp_path) -> None:
    """The same keys through idx's hash32, unhash32 and homeSlot (Node) and through idxmap's,
    pure and vectorised: every number equal."""
    r = mulberry32(5)
    keys = [0, 1, 2, 42, MAX_U32, MAX_U32 - 1, 857579651] + [next(r) for _ in range(3000)]
    caps = [1, 2, 14, 1000, 2286, 268435455, 4294967296, 4908534053, 8589934591]
    node = run_node("hash", write_words(tmp_path / "keys.bin", keys), *caps)
    assert node["hashes"] == [hash32(k) for k in keys]
    assert node["unhashes"] == [unhash32(hash32(k)) for k in keys] == keys
    for c in caps:
        assert node["homes"][str(c)] == [home_slot(hash32(k), c) for k in keys], c
    if HAS_NUMPY:
        np = vectorized.numpy_or_none()
        h = vectorized.hash32_array(np.array(keys, dtype=np.uint32))
        assert h.tolist() == node["hashes"]
        for c in caps:
            assert vectorized.home_slots(h, c).tolist() == node["homes"][str(c)], c
