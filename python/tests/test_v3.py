"""Version 3 (spec §16): 64-bit keys and values. hash64 against the spec's test vectors, the
golden files of tests/data/v3 read and rebuilt byte for byte, the header's rules at open
(§16.7), verify's added rules, the builder's choice of widths (§16.5), and the reader's API on
files of each width combination, on both code paths."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Dict

import pytest

import idxmap
from idxmap import cli, vectorized
from idxmap.checks import verify
from idxmap.format import cell_bytes, header_checksum_v3, parse_header

from conftest import ESCAPED_KEY, FIXTURES, HAS_NUMPY, MAX_U32, cell, with_bit_flipped

V3 = Path(__file__).resolve().parent / "data" / "v3"
M64 = 2**64 - 1
ESCAPED_KEY64 = 12140293084747745066

# §16.3: key, hash64, home slots for capacities 2, 1000 and 8589934591.
HASH64 = [
    (0, 0x1DA68F5ADB2B2683, 0, 115, 994909875),
    (1, 0x116A80629EF963A4, 0, 68, 584384707),
    (2, 0x43DF86438A4D56BE, 0, 265, 2277444741),
    (42, 0x761DC129AFB96CDE, 0, 461, 3963322961),
    (4294967295, 0xCF47B1D9AD1AACB2, 1, 809, 6955164593),
    (4294967296, 0x3B4755356EA2D4FC, 0, 231, 1989061225),
    (8600000000, 0x47DCCDBC19B82C56, 0, 280, 2411305847),
    (9007199254740991, 0x3EC7B5048D35CC52, 0, 245, 2106550791),
    (9007199254740992, 0xDADE43ED6BEFA432, 1, 854, 7343998937),
    (18446744073709551614, 0x940E3ED9EF8228D3, 1, 578, 4967923121),
    (18446744073709551615, 0x21C02ABE7E92712D, 0, 131, 1132483963),
    # The spec's table says 8589934590 for the last capacity; its own formula gives
    # (0xFFFFFFFF * 8589934591) >> 32 = 2^33 - 3 = 8589934589 (as §4's table does for hash
    # 0xffffffff and the same capacity). The formula is the rule; the table's cell is a typo.
    (ESCAPED_KEY64, 0xFFFFFFFFFFFFFFFF, 1, 999, 8589934589),
]


@pytest.mark.parametrize("key,h,c2,c1000,cbig", HASH64, ids=[str(r[0]) for r in HASH64])
def test_hash64_vectors_both_ways(key: int, h: int, c2: int, c1000: int, cbig: int) -> None:
    assert idxmap.hash64(key) == h
    assert idxmap.unhash64(h) == key
    assert [idxmap.home_slot64(h, c) for c in (2, 1000, 8589934591)] == [c2, c1000, cbig]


def test_hash64_vectors_vectorised() -> None:
    np = vectorized.numpy_or_none()
    if np is None:
        pytest.skip("numpy is not installed")
    keys = np.array([r[0] for r in HASH64], dtype=np.uint64)
    hashes = vectorized.hash64_array(keys)
    assert hashes.tolist() == [r[1] for r in HASH64]
    assert vectorized.unhash64_array(hashes).tolist() == keys.tolist()
    from idxmap.widths import widths

    for cap, column in ((2, 2), (1000, 3), (8589934591, 4)):
        assert vectorized.home_slots_of(hashes, cap, widths(64, 32)).tolist() == [r[column] for r in HASH64]


def test_the_escaped_keys() -> None:
    # §16.3: unhash64 of EMPTY; §5.1's for 32-bit keys stays the escaped key of a file of
    # 32-bit keys, version 3 included.
    assert idxmap.ESCAPED_KEY64 == ESCAPED_KEY64 == idxmap.unhash64(M64)
    assert idxmap.hash64(ESCAPED_KEY64) == M64
    assert idxmap.hash32(ESCAPED_KEY) == MAX_U32


def test_hash64_is_a_bijection_on_a_sample() -> None:
    r = 0x243F6A8885A308D3
    for _ in range(2000):
        r = (r * 6364136223846793005 + 1442695040888963407) & M64
        assert idxmap.unhash64(idxmap.hash64(r)) == r


# ---- golden files ----

GOLDEN = sorted(p.stem for p in V3.glob("*.idx"))
WIDTHS = {"k64v32": (64, 32), "k32v64": (32, 64), "k64v64": (64, 64)}


def golden_map(name: str) -> Dict[int, int]:
    return dict(idxmap.read_pairs(V3 / f"{name}.tsv"))


def test_every_width_combination_has_a_golden_file() -> None:
    assert GOLDEN == sorted(WIDTHS)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_file_reads_as_its_map(name: str, code_path: str) -> None:
    want = golden_map(name)
    kb, vb = WIDTHS[name]
    with idxmap.open(V3 / f"{name}.idx") as ix:
        assert (ix.key_bits, ix.value_bits) == (kb, vb)
        assert len(ix) == len(want)
        assert dict(ix.items()) == want and ix == want
        assert list(ix.keys()) == [k for k, _ in ix.items()]
        for k, v in want.items():
            assert ix[k] == v and ix.get(k) == v and k in ix
        misses = [k ^ 1 for k in want if k ^ 1 not in want][:200] + [M64, 2**32 + 7, 5]
        misses = [k for k in misses if k not in want and (kb == 64 or k <= MAX_U32)]
        for k in misses:
            assert ix.get(k) is None and k not in ix
        keys = list(want) + misses
        values, found = ix.get_many(keys)
        assert [bool(f) for f in found] == [k in want for k in keys]
        assert [int(v) for v in values] == [want.get(k, 0) for k in keys]
        if code_path == "numpy":
            np = vectorized.numpy_or_none()
            assert values.dtype == (np.uint64 if vb == 64 else np.uint32)
        info = ix.info()
        assert (info.version, info.key_bits, info.value_bits) == ("3.0", kb, vb)
        assert info.to_json()["keyBits"] == kb and info.to_json()["valueBits"] == vb
        report = ix.verify()
        assert report.ok, report.problems
        assert report.entries == len(want) and report.version == "3.0"


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_file_rebuilds_byte_for_byte(name: str, tmp_path: Path, every_path: str) -> None:
    golden = (V3 / f"{name}.idx").read_bytes()
    pairs = list(idxmap.read_pairs(V3 / f"{name}.tsv"))
    out = tmp_path / "x.idx"
    for what, source in {
        "text pairs": pairs,
        "reversed dict": dict(reversed(pairs)),
        "columns": ([k for k, _ in pairs], [v for _, v in pairs]),
        "earlier duplicates": [(k, v ^ 1) for k, v in pairs] + pairs,
    }.items():
        r = idxmap.build(source, out)
        assert out.read_bytes() == golden, what
        assert (r.key_bits, r.value_bits) == WIDTHS[name] and r.file_bytes == len(golden)
    with idxmap.open(V3 / f"{name}.idx") as ix:
        idxmap.build(ix, out)
    assert out.read_bytes() == golden


def test_golden_layout_by_hand() -> None:
    # §16.1, §16.2 read off the bytes of k32v64: widths 32/64 at 96 and 97 under the header
    # checksum (bytes 0..11, 16..31 and 96..111), the escaped key's value split between the
    # escaped cell and escapedHigh, entriesHigh and the reserved cell at 112 and 120, packed
    # 12-byte slots (the hash word, then the 64-bit value at slot offset 4), and 256 slots a
    # checksum block.
    data = (V3 / "k32v64.idx").read_bytes()
    assert data[8:12] == b"\x03\x00\x00\x00" and data[96:98] == bytes([32, 64]) and data[98:112] == bytes(14)
    assert struct.unpack_from("<I", data, 12)[0] == zlib.crc32(data[0:12] + data[16:32] + data[96:112]) == header_checksum_v3(data)
    assert data[112:128] == cell_bytes(112, 0) + cell_bytes(120, 0)
    capacity, slot_count = struct.unpack_from("<QQ", data, 16)
    assert len(data) == 128 + 12 * slot_count + 4 * -(-slot_count // 256)
    assert struct.unpack_from("<I", data, 40)[0] == 0x9ABCDEF0 and struct.unpack_from("<I", data, 88)[0] == 0x12345678
    assert struct.unpack_from("<IQ", data, 128) == (idxmap.hash32(0), M64)  # key 0 hashes to 0: slot 0
    last = 128 + 12 * (slot_count - 1)
    assert data[last : last + 12] == b"\xff\xff\xff\xff" + bytes(8)
    checksums = 128 + 12 * slot_count
    assert struct.unpack_from("<I", data, checksums)[0] == zlib.crc32(data[128:checksums])
    # 64/32: the hash word at slot offset 0, the value at 8; slot 1's hash word is 4-byte aligned.
    small = (V3 / "k64v32.idx").read_bytes()
    n = struct.unpack_from("<Q", small, 24)[0]
    slots = [struct.unpack_from("<QI", small, 128 + 12 * s) for s in range(n)]
    with idxmap.open(V3 / "k64v32.idx") as ix:
        entries = [(idxmap.hash64(k), v) for k, v in ix.items() if k != ESCAPED_KEY64]
    assert [x for x in slots if x[0] != M64] == entries and slots[-1] == (M64, 0)
    assert len(small) == 128 + 12 * n + 4
    big = (V3 / "k64v64.idx").read_bytes()
    slots = struct.unpack_from("<Q", big, 24)[0]  # 16-byte slots: 4096 bytes a block
    base = 128 + 16 * slots
    for b in range(-(-slots // 256)):
        block = big[128 + 4096 * b : min(128 + 4096 * (b + 1), base)]
        assert struct.unpack_from("<I", big, base + 4 * b)[0] == zlib.crc32(block)
    assert big[-16 - 4 * -(-slots // 256) : -4 * -(-slots // 256)] == b"\xff" * 8 + bytes(8)


# ---- choosing widths (§16.5) ----


def test_the_narrowest_widths_unless_asked_for_64(tmp_path: Path, every_path: str) -> None:
    p = tmp_path / "x.idx"
    for source, asked, want in [
        ({1: 2}, {}, (32, 32)),
        ({MAX_U32: MAX_U32}, {}, (32, 32)),
        ({2**32: 1}, {}, (64, 32)),
        ({1: 2**32}, {}, (32, 64)),
        ({M64: M64}, {}, (64, 64)),
        ({1: 2}, {"key_bits": 64}, (64, 32)),
        ({1: 2}, {"value_bits": 64}, (32, 64)),
        ({1: 2}, {"key_bits": 64, "value_bits": 64}, (64, 64)),
        ({1: 2}, {"key_bits": 32, "value_bits": 32}, (32, 32)),
        ({}, {"key_bits": 64}, (64, 32)),
        ({}, {}, (32, 32)),
    ]:
        r = idxmap.build(source, p, **asked)
        assert (r.key_bits, r.value_bits) == want, (source, asked)
        with idxmap.open(p) as ix:
            assert (ix.key_bits, ix.value_bits) == want and ix.info().version == ("2.0" if want == (32, 32) else "3.0")
            assert dict(ix.items()) == source
    # A 32/32 map is a version 2 file, byte for byte, asked for or not (every fixture is one).
    idxmap.build(idxmap.read_pairs(FIXTURES / "edges.tsv"), p, key_bits=32, value_bits=32)
    assert p.read_bytes() == (FIXTURES / "edges.idx").read_bytes()


def test_numbers_that_do_not_fit_are_refused_by_name(tmp_path: Path, every_path: str) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({7: 7}, p)
    before = p.read_bytes()
    for source, asked, message in [
        ([(2**64, 1)], {}, "pair #0: key 18446744073709551616 is not an integer from 0 to 18446744073709551615"),
        ([(1, 1), (1, -1)], {}, "pair #1: value -1 is not an integer from 0 to 18446744073709551615"),
        ([(1, 1), (2**32, 1)], {"key_bits": 32}, "pair #1: key 4294967296 is not an integer from 0 to 4294967295"),
        ({1: 2**32}, {"value_bits": 32}, "pair #0: value 4294967296 is not an integer from 0 to 4294967295"),
        ({1: 1}, {"key_bits": 48}, "key_bits must be 32, 64 or None, not 48"),
        ({1: 1}, {"value_bits": "64"}, "value_bits must be 32, 64 or None, not '64'"),
        ({1: 1}, {"key_bits": True}, "key_bits must be 32, 64 or None, not True"),
    ]:
        with pytest.raises(idxmap.InvalidArgumentError) as info:
            idxmap.build(source, p, **asked)
        assert str(info.value).split("\n")[0] == f"{p}: {message}"
        assert p.read_bytes() == before


def test_numpy_uint64_columns(tmp_path: Path) -> None:
    np = vectorized.numpy_or_none()
    if np is None:
        pytest.skip("numpy is not installed")
    keys = np.array([0, 2**63, M64, 5], dtype=np.uint64)
    values = np.array([M64, 1, 2, 3], dtype=np.uint64)
    p = tmp_path / "x.idx"
    idxmap.build((keys, values), p)
    with idxmap.open(p) as ix:
        assert dict(ix.items()) == {0: M64, 2**63: 1, M64: 2, 5: 3}
        v, f = ix.get_many(np.array([M64, 4, 2**63], dtype=np.uint64))
        assert v.dtype == np.uint64 and v.tolist() == [2, 0, 1] and f.tolist() == [True, False, True]
        with pytest.raises(idxmap.InvalidArgumentError, match="from 0 to 18446744073709551615"):
            ix.get_many(np.array([-1], dtype=np.int64))
    with pytest.raises(idxmap.InvalidArgumentError):
        idxmap.build((np.array([1], dtype=np.int64), np.array([-1], dtype=np.int64)), p)
    idxmap.build(np.array([[1, 2**40]], dtype=np.uint64), p)
    with idxmap.open(p) as ix:
        assert (ix.key_bits, ix.value_bits) == (32, 64) and dict(ix) == {1: 2**40}


# ---- reading ----


def test_keys_a_width_cannot_hold_are_absent(tmp_path: Path, code_path: str) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({1: 2**40, ESCAPED_KEY: 5}, p)  # 32-bit keys, 64-bit values
    with idxmap.open(p) as ix:
        assert ix[ESCAPED_KEY] == 5 and ix[1] == 2**40
        for k in (2**32, ESCAPED_KEY64, M64, 2**64, -1, 1.5):
            assert ix.get(k) is None and k not in ix
        with pytest.raises(idxmap.InvalidArgumentError, match="from 0 to 4294967295"):
            ix.get_many([2**32])
        assert [int(v) for v in ix.get_many([1], missing=2**63)[0]] == [2**40]
        assert [int(v) for v in ix.get_many([2], missing=2**63)[0]] == [2**63]
    idxmap.build({ESCAPED_KEY: 9, ESCAPED_KEY64: 10, 2**64 - 1: 11}, p)  # 64-bit keys: 857579651 is ordinary
    with idxmap.open(p) as ix:
        assert [ix[k] for k in (ESCAPED_KEY, ESCAPED_KEY64, M64)] == [9, 10, 11]
        assert list(ix.items())[0] == (ESCAPED_KEY64, 10)  # the escaped key first (§5.5)
        assert ix.get(2**64) is None and ix.get(float(2**63)) == ix.get(2**63) is None
        with pytest.raises(idxmap.InvalidArgumentError, match="from 0 to 4294967295"):
            ix.get_many([1], missing=2**32)


# ---- open (§16.7) ----


def _v3(name: str = "k64v32") -> bytearray:
    return bytearray((V3 / f"{name}.idx").read_bytes())


def _fix_checksum(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 12, header_checksum_v3(bytes(data)))
    return bytes(data)


def test_each_open_rule_of_version_3(tmp_path: Path) -> None:
    good = _v3()
    slot_count = struct.unpack_from("<Q", good, 24)[0]
    cases = {}
    d = bytearray(good)
    d[96] = 48
    cases["key width 48"] = (_fix_checksum(d), idxmap.CorruptError, "has an invalid header: key and value widths 48 and 32 bits")
    d = bytearray(good)
    d[96] = 32
    cases["both widths 32"] = (_fix_checksum(d), idxmap.CorruptError, "has an invalid header: key and value widths 32 and 32 bits")
    d = bytearray(good)
    d[97] = 0
    cases["value width 0"] = (_fix_checksum(d), idxmap.CorruptError, "key and value widths 64 and 0 bits")
    d = bytearray(good)
    d[97] = 64
    cases["a width flipped, checksum not fixed"] = (bytes(d), idxmap.ChecksumError, "header checksum mismatch")
    d = bytearray(good)
    d[100] = 1
    cases["a reserved byte, checksum not fixed"] = (bytes(d), idxmap.ChecksumError, "header checksum mismatch")
    for offset in (112, 120):  # entriesHigh and the reserved cell: cells, outside the checksum
        d = bytearray(good)
        d[offset] = 1
        cases[f"cell {offset}"] = (bytes(d), idxmap.ChecksumError, f"header cell at offset {offset} fails its check")
    d = bytearray(good)
    cell(d, 112, 1)
    cases["entriesHigh counts"] = (bytes(d), idxmap.CorruptError, f"{2**32 + 9} entries do not fit in {slot_count} slots")
    cases["version 2's size rule"] = (bytes(good[: 128 + 8 * slot_count + 4]), idxmap.TruncatedError, "is truncated")
    cases["16-byte slots"] = (bytes(good) + bytes(4 * slot_count), idxmap.CorruptError, "bytes too many")
    cases["one byte more"] = (bytes(good) + b"\0", idxmap.CorruptError, "bytes too many")
    d = bytearray(good)
    struct.pack_into("<Q", d, 128 + 12 * (slot_count - 1), 0xFFFFFFFF)  # EMPTY of 32-bit keys only
    cases["last slot not EMPTY at 64 bits"] = (bytes(d), idxmap.CorruptError, "its last slot is not empty (hash word 0x00000000ffffffff)")
    d = bytearray(good)
    struct.pack_into("<H", d, 8, 4)
    cases["major 4"] = (bytes(d), idxmap.UnsupportedVersionError, "uses format version 4.0; this idx reads versions 1, 2 and 3 only")
    d = bytearray(good)
    struct.pack_into("<Q", d, 24, 2**40 + 1)
    cases["too many slots"] = (_fix_checksum(d), idxmap.TooLargeError, "more than the 1099511627776 a version 3 file can hold")
    d = bytearray(good)
    struct.pack_into("<Q", d, 24, 2**40)  # at the limit: the size rule is next
    cases["2^40 slots"] = (_fix_checksum(d), idxmap.TruncatedError, f"but its header describes {128 + 12 * 2**40 + 4 * 2**32}")
    p = tmp_path / "x.idx"
    for name, (data, cls, message) in cases.items():
        p.write_bytes(data)
        with pytest.raises(cls) as info:
            idxmap.open(p)
        assert message in str(info.value), name
        assert not verify(str(p)).ok, name
    # 32-bit keys: the last slot's hash word is its first 4 bytes (§16.7 rule 10); the value
    # after it is verify's to check, not open's.
    d = _v3("k32v64")
    slots = struct.unpack_from("<Q", d, 24)[0]
    struct.pack_into("<I", d, 128 + 12 * (slots - 1) + 8, 1)  # the value's high word
    p.write_bytes(bytes(d))
    with idxmap.open(p) as ix:
        assert len(ix) == 7
    report = verify(str(p))
    assert [x.offset for x in report.problems] == [128 + 12 * slots, 128 + 12 * (slots - 1) + 4]  # the block's checksum, the slot
    assert report.problems[1].message == f"empty slot {slots - 1} has value {2**32} (must be 0)"


def test_the_dirty_range_counts_blocks_of_256_slots(tmp_path: Path) -> None:
    # §16.1, rule 9: blockCount is ceil(slotCount / 256) in version 3. k64v64 has 829 slots:
    # 4 blocks (2 at version 2's 512), so a dirty range ending at block 4 is within them.
    d = _v3("k64v64")
    cell(d, 72, 3)
    cell(d, 80, 1)
    p = tmp_path / "x.idx"
    p.write_bytes(bytes(d))
    with idxmap.open(p) as ix:
        assert len(ix) == 712
    cell(d, 72, 4)
    p.write_bytes(bytes(d))
    with pytest.raises(idxmap.CorruptError, match=r"dirty block range 4\+1 is outside the 4 blocks"):
        idxmap.open(p)


def test_verify_adds_the_rules_of_version_3(tmp_path: Path, code_path: str) -> None:
    p = tmp_path / "x.idx"
    base = _v3("k32v64")
    slot_count = struct.unpack_from("<Q", base, 24)[0]
    # An empty slot's value is at the key width's offset: 8 in a 64/32 slot.
    d = _v3("k64v32")
    n = struct.unpack_from("<Q", d, 24)[0]
    struct.pack_into("<I", d, 128 + 12 * (n - 1) + 8, 7)
    base_sums = 128 + 12 * n
    struct.pack_into("<I", d, base_sums, zlib.crc32(bytes(d[128:base_sums])))
    p.write_bytes(bytes(d))
    report = verify(str(p))
    assert [(x.offset, x.message) for x in report.problems] == [(128 + 12 * (n - 1) + 8, f"empty slot {n - 1} has value 7 (must be 0)")]
    # escapedHigh must be 0 when values are 32-bit; the reserved cell's word 0; a reserved byte
    # 98..111 (under the checksum) 0.
    d = _v3("k64v32")
    cell(d, 88, 5)
    p.write_bytes(bytes(d))
    assert [(x.offset, x.message) for x in verify(str(p)).problems] == [(88, "the escapedHigh cell's word is 0x00000005, but values are 32-bit")]
    d = _v3("k64v32")
    cell(d, 120, 3)
    p.write_bytes(bytes(d))
    assert [(x.offset, x.message) for x in verify(str(p)).problems] == [(120, "the reserved cell's word is 0x00000003, not 0")]
    d = _v3("k64v32")
    d[100] = 1
    p.write_bytes(_fix_checksum(d))
    assert [x.message for x in verify(str(p)).problems] == ["reserved header byte at offset 100 is 1, not 0"]
    # ... but not in a later minor, which may use them (§10).
    struct.pack_into("<H", d, 10, 1)
    p.write_bytes(_fix_checksum(d))
    assert verify(str(p)).ok
    # entriesHigh must be 0 when keys are 32-bit: a count over 2^32 - 1 needs more than 2^32
    # slots (a 48 GiB file), so the rule is checked on its header alone.
    from idxmap.checks import Problems, check_reserved

    head = _v3("k32v64")
    h = parse_header(bytes(head), len(head), "x")
    h.entries += 2**32
    problems = Problems()
    check_reserved(bytes(head), h, problems)
    assert [(x.offset, x.message) for x in problems.list] == [(112, "the entriesHigh cell counts 1 x 2^32 entries, but keys are 32-bit")]
    # escapedHigh with 64-bit values is the value's high half, and may stay set once the key
    # is deleted (a delete stores the state first, §16.2): sound.
    d = bytearray(base)
    cell(d, 32, 0)  # ESCAPED cleared, its value cells left
    p.write_bytes(bytes(d))
    report = verify(str(p))
    assert report.ok and report.entries == 6
    # Block checksums cover 256 slots each.
    d = bytearray(base)
    d[128 + 12 * (slot_count - 2) + 8] ^= 1
    p.write_bytes(bytes(d))
    report = verify(str(p))
    assert not report.ok and "block 0 (bytes 128.." in report.problems[0].message


def test_every_single_bit_flip_of_a_version_3_file_is_caught(tmp_path: Path, code_path: str) -> None:
    base = (V3 / "k32v64.idx").read_bytes()
    p = tmp_path / "flip.idx"
    for bit in range(len(base) * 8):
        p.write_bytes(with_bit_flipped(base, bit))
        opened = True
        try:
            with idxmap.open(p):
                pass
        except idxmap.IdxError:
            opened = False
        assert not (opened and verify(str(p)).ok), f"bit {bit}: opens and verifies"


# ---- the command line ----


def run(args: list) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        status = cli.main(args, stdin=io.BytesIO(b""), stdout=out)
    return status, out.getvalue(), err.getvalue()


def test_command_line_on_version_3(code_path: str) -> None:
    f = str(V3 / "k64v32.idx")
    want = golden_map("k64v32")
    status, out, _ = run(["dump", f])
    assert status == 0 and dict(tuple(map(int, line.split("\t"))) for line in out.splitlines()) == want
    status, out, _ = run(["dump", "--binary", f])
    raw = out.encode("latin-1")
    pairs = list(struct.iter_unpack("<QI", raw))
    assert status == 0 and len(raw) == 12 * len(want) and dict(pairs) == want
    with idxmap.open(f) as ix:
        assert pairs == list(ix.items())
    status, out, _ = run(["get", f, str(M64), "18446744073709551614", "5"])
    assert (status, out) == (1, "3\n4\n\n")
    status, out, err = run(["get", f, "18446744073709551616"])
    assert status == 2 and 'is over 18446744073709551615\nKeys are decimal integers from 0 to 18446744073709551615.' in err
    status, out, err = run(["get", str(V3 / "k32v64.idx"), "4294967296"])
    assert (status, out, err) == (1, "", "")  # no 32-bit key is 2^32: absent, as idx answers
    status, out, _ = run(["info", "--json", f])
    assert '"version":"3.0","keyBits":64,"valueBits":32,' in out
    status, out, _ = run(["info", f])
    assert "widths           64-bit keys, 32-bit values\n" in out
    status, out, _ = run(["verify", f])
    assert (status, out) == (0, f"{f}: ok, version 3.0, 10 entries, all checksums match\n")
