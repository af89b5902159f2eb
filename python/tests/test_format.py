"""§1-§3, §9.1, §12, §14: the header, its checksums, and open-time validation rule by rule,
each refusal compared with the Node package's (same code, same message)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

import idxmap
from idxmap.format import cell_check, crc32, encode_header_v2, header_checksum_v2

from conftest import FIXTURES, cell, run_node, to_v1

ONE = (FIXTURES / "one.idx").read_bytes()


def test_crc32_check_value_and_the_worked_example() -> None:
    # §1: CRC-32 of "123456789"; §12: the entries cell's check and the header of one.idx.
    assert crc32(b"123456789") == 0xCBF43926
    assert cell_check(56, 1) == 0x8BB6F0C4
    assert header_checksum_v2(ONE) == 0x8D3BE17B
    assert encode_header_v2(2, 10, 1, False, 0, 0) == ONE[:128]
    assert ONE[128:136] == bytes.fromhex("5ccd7f0807000000")
    assert ONE[-4:] == bytes.fromhex("0920219b") and len(ONE) == 212


def v2_header(data: bytes, *, major: int = 2, minor: int = 0, capacity: int = None, slot_count: int = None,
              fix_checksum: bool = True) -> bytearray:
    out = bytearray(data)
    struct.pack_into("<HH", out, 8, major, minor)
    if capacity is not None:
        struct.pack_into("<Q", out, 16, capacity)
    if slot_count is not None:
        struct.pack_into("<Q", out, 24, slot_count)
    if fix_checksum:
        struct.pack_into("<I", out, 12, zlib.crc32(bytes(out[0:12]) + bytes(out[16:32])))
    return out


def with_cell(data: bytes, offset: int, word: int) -> bytes:
    out = bytearray(data)
    cell(out, offset, word)
    return bytes(out)


BLOCKS = (FIXTURES / "blocks.idx").read_bytes()
V1_ONE = (FIXTURES / "v1" / "one.idx").read_bytes()


def cases() -> Dict[str, Tuple[bytes, str]]:
    """Files that break one rule of §9.1 (or §14) each, and the code that rule gives."""
    last_slot = 128 + 8 * 9
    taken = bytearray(ONE)
    struct.pack_into("<I", taken, last_slot, 5)  # rule 10 (the block checksum is not looked at)
    v1_taken = bytearray(V1_ONE)
    struct.pack_into("<I", v1_taken, 64 + 8 * 9, 5)
    v1 = bytearray(V1_ONE)
    v1_bad_count = bytearray(V1_ONE)
    cell(v1_bad_count, 32, 10)
    v1_escaped_but_zero = bytearray(V1_ONE)
    cell(v1_escaped_but_zero, 32, 1 << 28)
    v1_dirty_no_blocks = bytearray(V1_ONE)
    cell(v1_dirty_no_blocks, 56, 3)
    v1_dirty_out = bytearray(V1_ONE)
    cell(v1_dirty_out, 56, (1 << 20) | 1)
    v1_big = bytearray(V1_ONE)
    struct.pack_into("<I", v1_big, 16, 268173560)
    struct.pack_into("<I", v1_big, 28, zlib.crc32(bytes(v1_big[0:28])))
    v1_cap0 = bytearray(V1_ONE)
    struct.pack_into("<I", v1_cap0, 12, 0)
    struct.pack_into("<I", v1_cap0, 28, zlib.crc32(bytes(v1_cap0[0:28])))
    v1_sum = bytearray(V1_ONE)
    v1_sum[20] ^= 1
    return {
        "empty": (b"", "ERR_IDX_NOT_AN_INDEX"),
        "text": (b"42\t7\n1\t2\n", "ERR_IDX_NOT_AN_INDEX"),
        "png": (b"\x89PNG\r\n\x1a\n" + bytes(200), "ERR_IDX_NOT_AN_INDEX"),
        "magic prefix only": (ONE[:5], "ERR_IDX_TRUNCATED"),
        "cut before the version": (ONE[:11], "ERR_IDX_TRUNCATED"),
        "newer major": (bytes(v2_header(ONE, major=4)), "ERR_IDX_UNSUPPORTED_VERSION"),
        "newer major, unchecked header": (bytes(v2_header(ONE, major=9, fix_checksum=False))[:40], "ERR_IDX_UNSUPPORTED_VERSION"),
        "major 0": (bytes(v2_header(ONE, major=0)), "ERR_IDX_CORRUPT"),
        "cut inside the header": (ONE[:100], "ERR_IDX_TRUNCATED"),
        "header checksum": (bytes(v2_header(ONE, fix_checksum=False, capacity=3)), "ERR_IDX_CHECKSUM"),
        "a cell's check": (ONE[:61] + bytes([ONE[61] ^ 4]) + ONE[62:], "ERR_IDX_CHECKSUM"),
        "capacity 0": (bytes(v2_header(ONE, capacity=0)), "ERR_IDX_CORRUPT"),
        "slot count not above capacity": (bytes(v2_header(ONE, capacity=10)), "ERR_IDX_CORRUPT"),
        "too many slots": (bytes(v2_header(ONE, slot_count=2**33 + 1)), "ERR_IDX_TOO_LARGE"),
        "u64 slots past capacity, too many": (bytes(v2_header(ONE, capacity=2**64 - 2, slot_count=2**64 - 1)), "ERR_IDX_TOO_LARGE"),
        "u64 slots not above capacity": (bytes(v2_header(ONE, capacity=2**64 - 1, slot_count=2**64 - 2)), "ERR_IDX_CORRUPT"),
        "truncated": (ONE[:-1], "ERR_IDX_TRUNCATED"),
        "appended to": (ONE + b"\0", "ERR_IDX_CORRUPT"),
        "entries past the slots": (with_cell(ONE, 56, 10), "ERR_IDX_CORRUPT"),
        "reach past the slots": (with_cell(ONE, 64, 10), "ERR_IDX_CORRUPT"),
        "dirty blocks past the end": (with_cell(with_cell(ONE, 72, 1), 80, 1), "ERR_IDX_CORRUPT"),
        "last slot taken": (bytes(taken), "ERR_IDX_CORRUPT"),
        "v1 cut inside the header": (bytes(v1[:60]), "ERR_IDX_TRUNCATED"),
        "v1 header checksum": (bytes(v1_sum), "ERR_IDX_CHECKSUM"),
        "v1 capacity 0": (bytes(v1_cap0), "ERR_IDX_CORRUPT"),
        "v1 too many slots": (bytes(v1_big), "ERR_IDX_TOO_LARGE"),
        "v1 count past the slots": (bytes(v1_bad_count), "ERR_IDX_CORRUPT"),
        "v1 escaped counted but count 0": (bytes(v1_escaped_but_zero), "ERR_IDX_CORRUPT"),
        "v1 dirty first without blocks": (bytes(v1_dirty_no_blocks), "ERR_IDX_CORRUPT"),
        "v1 dirty blocks past the end": (bytes(v1_dirty_out), "ERR_IDX_CORRUPT"),
        "v1 last slot taken": (bytes(v1_taken), "ERR_IDX_CORRUPT"),
        "v1 appended to": (V1_ONE + b"\0\0\0\0", "ERR_IDX_CORRUPT"),
        "v1 cut short": (V1_ONE[:-4], "ERR_IDX_TRUNCATED"),
    }


def test_each_open_rule_refuses_with_nodes_code_and_message(tmp_path: Path) -> None:
    files: List[Path] = []
    expected: List[str] = []
    for i, (name, (data, code)) in enumerate(cases().items()):
        p = tmp_path / f"case{i}.idx"
        p.write_bytes(data)
        files.append(p)
        expected.append(code)
    node = run_node("open", *files)
    for (name, _), path, code, theirs in zip(cases().items(), files, expected, node):
        with pytest.raises(idxmap.IdxError) as info:
            idxmap.open(path)
        e = info.value
        assert e.code == code, name
        assert e.path == str(path)
        assert theirs["ok"] is False and theirs["code"] == code, (name, theirs)
        assert str(e) == theirs["message"], name


def test_error_classes_match_codes(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    for data, cls in [
        (b"", idxmap.NotAnIndexError),
        (ONE[:-1], idxmap.TruncatedError),
        (bytes(v2_header(ONE, major=4)), idxmap.UnsupportedVersionError),
        (bytes(v2_header(ONE, fix_checksum=False, capacity=3)), idxmap.ChecksumError),
        (ONE + b"\0", idxmap.CorruptError),
        (bytes(v2_header(ONE, slot_count=2**33 + 1)), idxmap.TooLargeError),
    ]:
        p.write_bytes(data)
        with pytest.raises(cls):
            idxmap.open(p)
    with pytest.raises(idxmap.IdxIOError) as info:
        idxmap.open(tmp_path / "missing.idx")
    assert info.value.code == "ERR_IDX_IO"
    assert str(info.value) == f"{tmp_path / 'missing.idx'}: cannot open the index: no such file or directory (ENOENT)\nCheck the path and its permissions."
    with pytest.raises(idxmap.IdxIOError, match="not a regular file"):
        idxmap.open(tmp_path)
    with pytest.raises(idxmap.InvalidArgumentError):
        idxmap.open("")


def test_states_a_writer_leaves_do_not_stop_an_open() -> None:
    # §9.1: a retired file, an odd seq or dirty blocks are states, not damage.
    for name in ("retired", "interrupted", "edited", "minor"):
        with idxmap.open(FIXTURES / f"{name}.idx") as ix:
            assert len(ix) >= 1


def test_a_converted_v1_file_reads_as_its_v2_twin(tmp_path: Path) -> None:
    # The helper that writes version 1 files for other tests, checked against idx 0.1's own.
    for name in ("one", "edges", "cluster", "syntax", "empty"):
        assert to_v1((FIXTURES / f"{name}.idx").read_bytes()) == (FIXTURES / "v1" / f"{name}.idx").read_bytes(), name


VECTORS = FIXTURES / "vectors"


def _vectors() -> List[Tuple[str, dict]]:
    import json

    expected = json.loads((VECTORS / "expected.json").read_text())
    return [(name, e) for name, e in sorted(expected.items()) if isinstance(e, dict)]


@pytest.mark.parametrize("name,expected", _vectors(), ids=[name for name, _ in _vectors()])
def test_vectors_open_and_verify_as_expected_json_says(name: str, expected: dict) -> None:
    # spec §13.1: fixtures/vectors settle rules a stranger could guess at (u64 fields compared
    # and printed exactly, §9.1 rules 7 and 8; a short version 1 file is truncated, §14; what
    # §9.2 relaxes for an interrupted file and nothing else).
    from idxmap.checks import verify

    path = VECTORS / f"{name}.idx"
    opened = expected["open"]
    if "code" in opened:
        with pytest.raises(idxmap.IdxError) as info:
            idxmap.open(path)
        assert info.value.code == opened["code"]
        assert str(info.value).split("\n")[0] == f"{path}: {opened['message']}"
        report = verify(str(path))
        assert not report.ok
        return
    with idxmap.open(path) as ix:
        assert len(ix) == opened["size"]
    report = verify(str(path))
    got = {"ok": report.ok, "interrupted": report.interrupted, "tombstones": report.tombstones, "entries": report.entries}
    assert got == expected["verify"], [p.message for p in report.problems]


def test_u64_fields_are_compared_and_printed_exactly(tmp_path: Path) -> None:
    # §9.1 rules 7 and 8 in order, on exact integers: 2^64-2 < 2^64-1 passes rule 7 and fails
    # rule 8; a double would call them equal and print 18446744073709552000 for both.
    p = tmp_path / "u64.idx"
    for capacity, slots, code, what in [
        (2**64 - 2, 2**64 - 1, "ERR_IDX_TOO_LARGE", "declares 18446744073709551615 slots, more than the 8589934592 a version 2 file can hold"),
        (2**64 - 1, 2**64 - 2, "ERR_IDX_CORRUPT", "has an invalid header: slot count 18446744073709551614 is not above capacity 18446744073709551615"),
        (2**53, 2**53 + 1, "ERR_IDX_TOO_LARGE", "declares 9007199254740993 slots, more than the 8589934592 a version 2 file can hold"),
    ]:
        p.write_bytes(bytes(v2_header(ONE, capacity=capacity, slot_count=slots)))
        with pytest.raises(idxmap.IdxError) as info:
            idxmap.open(p)
        assert info.value.code == code
        assert str(info.value).split("\n")[0] == f"{p}: {what}"
