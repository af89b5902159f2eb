"""Shared test helpers: the repository's fixtures, the Node package (for cross tests), the two
code paths (numpy and pure Python) and small builders of files and key sets."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import pytest

import idxmap
from idxmap import vectorized

PY_DIR = Path(__file__).resolve().parent.parent
ROOT = PY_DIR.parent
FIXTURES = ROOT / "fixtures"
DIST = ROOT / "dist"
NODE_HELPER = Path(__file__).resolve().parent / "node_helper.js"
MAX_U32 = 0xFFFFFFFF
ESCAPED_KEY = 857579651

HAS_NUMPY = vectorized.numpy_or_none() is not None


def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the cross tests need the Node package (npm install at the repo root)")
    if not (DIST / "index.js").exists():
        pytest.fail(f"{DIST}/index.js is missing: run `npm install` (or `npm run build`) at the repo root first")
    return node


def run_node(command: str, *args: Any, input: Optional[bytes] = None, timeout: float = 60) -> Any:
    """Runs python/tests/node_helper.js COMMAND ARGS with the repo's dist/; its JSON answer."""
    r = subprocess.run(
        [node_bin(), str(NODE_HELPER), str(DIST), command, *map(str, args)],
        input=input,
        capture_output=True,
        timeout=timeout,
    )
    if r.returncode != 0:
        raise AssertionError(f"node_helper {command} failed ({r.returncode}): {r.stdout!r} {r.stderr!r}")
    return json.loads(r.stdout)


def run_idx(*args: str, input: Optional[bytes] = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The Node command line, ``node bin/idx.js ARGS``."""
    return subprocess.run(
        [node_bin(), str(ROOT / "bin" / "idx.js"), *args],
        input=input if input is not None else b"",
        capture_output=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "IDX_DEBUG": ""},
    )


def write_words(path: Path, words: Iterable[int]) -> Path:
    data = list(words)
    path.write_bytes(struct.pack(f"<{len(data)}I", *data))
    return path


def read_words(path: Path) -> List[int]:
    raw = path.read_bytes()
    return list(struct.unpack(f"<{len(raw) // 4}I", raw))


def pairs_file(path: Path, pairs: Iterable[Tuple[int, int]]) -> Path:
    return write_words(path, (w for kv in pairs for w in kv))


def _use(path: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if path == "pure":
        # numpy hidden from idxmap, as IDXMAP_NUMPY=0 does
        monkeypatch.setattr(vectorized, "_numpy", None)
        monkeypatch.setattr(vectorized, "_checked", True)
    return path


# The suite runs once with numpy installed and once without (scripts/python-test.sh), so each
# run tests its own path; IDXMAP_TEST_BOTH=1 runs the pure-Python path in the numpy run too.
_NATURAL = ["numpy", "pure"] if HAS_NUMPY and os.environ.get("IDXMAP_TEST_BOTH") else ["numpy"] if HAS_NUMPY else ["pure"]


@pytest.fixture(params=_NATURAL)
def code_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The code path of this run: numpy where it is installed, pure Python where it is not."""
    return _use(str(request.param), monkeypatch)


@pytest.fixture(params=["numpy", "pure"] if HAS_NUMPY else ["pure"])
def every_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both code paths where numpy is installed (for cheap tests whose paths differ: the pure
    path must also take numpy arrays when numpy is there but idxmap does not use it)."""
    return _use(str(request.param), monkeypatch)


# ---- key sets (the structures of test/helpers/keys.ts) ----


def mulberry32(seed: int) -> Iterator[int]:
    """The tests' seeded uint32 generator (test/helpers/spec.js)."""
    a = seed & MAX_U32

    def imul(x: int, y: int) -> int:
        return (x * y) & MAX_U32

    while True:
        a = (a + 0x6D2B79F5) & MAX_U32
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & MAX_U32
        yield (t ^ (t >> 14)) & MAX_U32


def structured_key_sets(n: int, seed: int = 1) -> Dict[str, List[int]]:
    """Named key sets of about n keys each: random, sequential, strided, clustered hashes."""
    r = mulberry32(seed)
    unhash = idxmap.unhash32
    sets = {
        "random": [next(r) for _ in range(n)],
        "sequential from 0": list(range(n)),
        "sequential ending at 4294967295": [MAX_U32 - i for i in range(n)],
        "high byte only": [(i << 24) & MAX_U32 for i in range(min(n, 256))],
        # Runs of hundreds of slots: probes that long cost what they cost, so keep them short.
        "hashes clustered at slot 0": [unhash(i) for i in range(min(n, 400))],
        "hashes clustered at the top (spill past the last home slot)": [unhash(0xFFFFFFFE - i) for i in range(min(n, 400))],
        "edges": [0, 1, MAX_U32 - 1, MAX_U32, ESCAPED_KEY],
    }
    for k in (1, 4, 12, 16, 24, 31):
        sets[f"strided i * 2^{k}"] = [(i << k) & MAX_U32 for i in range(min(n, 2 ** (32 - k)))]
    return sets


def with_values(keys: Sequence[int], seed: int = 3) -> Dict[int, int]:
    """A map of ``keys`` to values mixing 0, 4294967295, the key itself and random values."""
    r = mulberry32(seed)
    out: Dict[int, int] = {}
    for i, k in enumerate(keys):
        out[k] = 0 if i % 7 == 0 else MAX_U32 if i % 7 == 1 else k if i % 7 == 2 else next(r)
    return out


def misses_for(present: Dict[int, int], count: int = 200, seed: int = 7) -> List[int]:
    """Keys not in ``present`` that a lookup could confuse with keys that are: neighbours of
    present keys and of their hashes, the domain's edges and random keys."""
    r = mulberry32(seed)
    keys = list(present)
    cands = [0, 1, MAX_U32, MAX_U32 - 1, ESCAPED_KEY, idxmap.unhash32(0), idxmap.unhash32(0xFFFFFFFE)]
    for _ in range(count if keys else 0):
        k = keys[next(r) % len(keys)]
        h = idxmap.hash32(k)
        cands += [k + 1, k - 1, idxmap.unhash32((h + 1) & MAX_U32), idxmap.unhash32((h - 1) & MAX_U32)]
    cands += [next(r) for _ in range(count)]
    return sorted({c for c in cands if 0 <= c <= MAX_U32 and c not in present})


# ---- files ----


def cell(buf: bytearray, offset: int, word: int) -> None:
    """Stores a cell (§3): the word and the CRC-32 of its offset and word."""
    struct.pack_into("<II", buf, offset, word & MAX_U32, zlib.crc32(struct.pack("<II", offset, word & MAX_U32)))


def to_v1(v2: bytes, seq: int = 0) -> bytes:
    """A version 2 file as idx 0.1 would have written the same table (§14): a 64-byte header
    (capacity and slot count as u32, the count in the state cell, one dirty cell), same slots."""
    capacity, slot_count = struct.unpack_from("<QQ", v2, 16)
    state, escaped = struct.unpack_from("<I", v2, 32)[0], struct.unpack_from("<I", v2, 40)[0]
    entries = struct.unpack_from("<I", v2, 56)[0]
    esc = state & (1 << 28)
    head = bytearray(64)
    head[0:8] = b"\x89IDX\r\n\x1a\n"
    struct.pack_into("<HHII", head, 8, 1, 0, capacity, slot_count)
    struct.pack_into("<I", head, 28, zlib.crc32(bytes(head[0:28])))
    cell(head, 32, (entries + (1 if esc else 0)) | esc)
    cell(head, 40, escaped)
    cell(head, 48, seq)
    cell(head, 56, 0)
    return bytes(head) + v2[128:]


def with_bit_flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def sys_python() -> str:
    return sys.executable
