"""Writes the version 3 golden files of this directory (spec §16): each NAME.tsv is the input,
NAME.idx what idx (the Node package, the reference implementation) builds of it, at the
narrowest widths that hold its numbers (§16.5). Run from anywhere, after `npm run build`:
python make.py. The tests rebuild each .tsv and compare bytes: idxmap's builder in test_v3.py,
idx's in test/python.test.ts.
"""

import subprocess
from pathlib import Path

import idxmap

HERE = Path(__file__).resolve().parent
IDX = HERE.parents[3] / "bin" / "idx.js"
M32 = 2**32 - 1
M64 = 2**64 - 1


def same_high_half(hi: int, n: int) -> list:
    # Keys whose hashes share their high half (one home slot), told apart by the low half (§16.3).
    return [idxmap.unhash64((hi << 32) | lo) for lo in (5, 1, 0xFFFFFFFE, 3, 2)[:n]]


MAPS = {
    # 64-bit keys, 32-bit values, the escaped key of 64-bit keys in the header.
    "k64v32": {
        0: 7, 1: 0, M32: M32, 2**32: 1, 2**63: 2, M64: 3, M64 - 1: 4, 9007199254740993: 5,
        idxmap.ESCAPED_KEY64: 4000000000, idxmap.ESCAPED_KEY: 6,
    },
    # 32-bit keys, 64-bit values: the escaped key of 32-bit keys with a value whose high half
    # is in the escapedHigh cell.
    "k32v64": {
        0: M64, 1: 2**32, 42: 0, M32: 2**63 + 5, M32 - 1: M32, 4096: 8600000000,
        idxmap.ESCAPED_KEY: 0x123456789ABCDEF0,
    },
    # Both 64-bit, over several checksum blocks (256 slots each), with runs that share a home.
    "k64v64": {
        **{(i * 0x9E3779B97F4A7C15) & M64: (i * 0xC2B2AE3D27D4EB4F) & M64 for i in range(700)},
        **{k: i for i, k in enumerate(same_high_half(0xFFFFFFFF, 5))},  # the last home slot: spill
        **{k: 2**40 + i for i, k in enumerate(same_high_half(0, 3))},
        **{k: 2**50 + i for i, k in enumerate(same_high_half(0x80000000, 4))},
    },
}


def main() -> None:
    for name, m in MAPS.items():
        tsv = HERE / f"{name}.tsv"
        tsv.write_text("".join(f"{k}\t{v}\n" for k, v in m.items()))
        subprocess.run(["node", str(IDX), "build", str(tsv), "-o", str(HERE / f"{name}.idx"), "-q"], check=True)


if __name__ == "__main__":
    main()
