"""§6.1, §9: every single flipped bit of a small index is caught (open refuses it, or verify
reports it), and Python's verify reports exactly what Node's does, problem by problem."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

import idxmap

from conftest import FIXTURES, run_node, with_bit_flipped

V3 = Path(__file__).resolve().parent / "data" / "v3"


@pytest.mark.parametrize("name", ["edges.idx", "v1/edges.idx", "blocks.idx", "v3/k64v32.idx", "v3/k32v64.idx"])
def test_every_single_bit_flip_is_caught_and_reported_as_node_does(tmp_path: Path, name: str, code_path: str) -> None:
    # Version 3 (§16): the golden files of tests/data/v3, 12-byte slots of either kind.
    base = (V3.parent / name if name.startswith("v3/") else FIXTURES / name).read_bytes()
    bits = range(len(base) * 8)
    if name == "blocks.idx":
        # 18 KB, five blocks: the header is edges.idx's; here the first slots, the edge of
        # blocks 0 and 1, the last slots and the checksums.
        bits = [b for b in bits if 1024 <= b < 1536 or 4208 * 8 <= b < 4240 * 8 or b >= (len(base) - 60) * 8]
    files: List[Path] = []
    for bit in bits:
        p = tmp_path / f"flip{bit}.idx"
        p.write_bytes(with_bit_flipped(base, bit))
        files.append(p)
    node_reports = run_node("verify", *files)
    node_opens = run_node("open", *files)
    for bit, path, theirs, their_open in zip(bits, files, node_reports, node_opens):
        ours = idxmap.verify(path)
        try:
            with idxmap.open(path):
                opened = True
        except idxmap.IdxError as e:
            opened = False
            assert not their_open["ok"] and e.code == their_open["code"] and str(e) == their_open["message"], bit
        else:
            assert their_open["ok"], bit
        assert not (opened and ours.ok), f"bit {bit}: opens and verifies"
        assert ours.to_json() == theirs, f"bit {bit}"


def test_damage_in_the_table_is_listed_slot_by_slot(tmp_path: Path, code_path: str) -> None:
    # Two entries swapped (unsorted), a value in an empty slot, a duplicate hash outside an
    # interrupted write, a wrong count: each reported where it is, as Node reports it.
    data = bytearray((FIXTURES / "cluster.idx").read_bytes())
    s = 128 + 8 * 5
    data[s : s + 8], data[s + 8 : s + 16] = data[s + 8 : s + 16], data[s : s + 8]
    data[128 + 8 * 1 + 4] = 9
    data[128 + 8 * 10 : 128 + 8 * 11] = data[128 + 8 * 9 : 128 + 8 * 10]
    p = tmp_path / "bad.idx"
    p.write_bytes(bytes(data))
    ours = idxmap.verify(p)
    assert not ours.ok and len(ours.problems) >= 4
    assert ours.to_json() == run_node("verify", p)[0]
    with idxmap.open(p) as ix:
        assert ix.verify().to_json() == ours.to_json()


def test_twenty_problems_at_most_as_node(tmp_path: Path, code_path: str) -> None:
    # Values changed all over: five blocks fail their checksums, and the table scan stops at
    # the 20th problem (its entry count is then partial, in both).
    data = bytearray((FIXTURES / "blocks.idx").read_bytes())
    for s in range(0, 2296, 7):
        data[128 + 8 * s + 5] ^= 0x10
    p = tmp_path / "many.idx"
    p.write_bytes(bytes(data))
    ours = idxmap.verify(p)
    zeros = bytearray((FIXTURES / "blocks.idx").read_bytes())
    for s in range(0, 2296, 3):
        if zeros[128 + 8 * s : 128 + 8 * s + 4] == b"\xff\xff\xff\xff":
            zeros[128 + 8 * s + 4] = 1  # empty slots with values: many table problems
    q = tmp_path / "table.idx"
    q.write_bytes(bytes(zeros))
    theirs = run_node("verify", p, q)
    assert ours.to_json() == theirs[0]
    assert idxmap.verify(q).to_json() == theirs[1]
    assert len(theirs[0]["problems"]) == len(theirs[1]["problems"]) == 20
