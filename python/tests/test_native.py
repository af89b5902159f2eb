"""The C extension idxmap._native: it answers what the pure package answers, on every file and
for every value a caller passes; its copies of the Node addon's C stay the addon's; it survives a
file truncated under its mapping; its get_many answers a batch from one file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

import idxmap
from idxmap import reader

from conftest import FIXTURES, HAS_NUMPY, PY_DIR, ROOT, with_bit_flipped

HERE = Path(__file__).resolve().parent
V3 = HERE / "data" / "v3"
NATIVE = idxmap.native_available()
needs_native = pytest.mark.skipif(not NATIVE, reason="the C extension is not in use here")


def child_env(pure: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env["IDXMAP_PURE"] = "1" if pure else "0"
    return env


# ---- the copies of the Node addon's plain C ----


@pytest.mark.parametrize("name", ["format.h", "probe.h", "sort.h", "stores.h"])
def test_the_extension_s_copies_of_the_addon_s_c_are_byte_identical(name: str) -> None:
    # setup.py compiles python/src/idxmap/_native/; the probe loops and the format's numbers are
    # the Node addon's (native/), copied: a change to one is a change to both.
    ours = PY_DIR / "src" / "idxmap" / "_native" / name
    theirs = ROOT / "native" / name
    if not theirs.exists():
        pytest.skip("not in the idx repository (an sdist's tests): no native/ to compare with")
    assert ours.read_bytes() == theirs.read_bytes(), f"{ours} differs from {theirs}: copy it again"


# ---- which implementation runs ----


def test_native_available_says_which_implementation_runs_and_why() -> None:
    code = "import idxmap; print(idxmap.native_available(), idxmap.native_reason())"
    pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(True), check=True)
    assert pure.stdout.strip() == "False IDXMAP_PURE=1 is set"
    if NATIVE:
        assert idxmap.native_reason() is None
        assert type(idxmap.Index.__dict__.get("__getitem__", None)).__name__ != "function"
    else:
        assert "not installed" in (idxmap.native_reason() or "") or os.environ.get("IDXMAP_PURE") == "1"


# ---- the same answers as the pure package ----


def _files(tmp_path: Path) -> List[Path]:
    """Golden files of every version and width, every bit flip of a small one (those that
    open and those that do not), and crafted tables: unsorted, reach too short, escaped key."""
    files = [FIXTURES / n for n in ("edges.idx", "cluster.idx", "blocks.idx", "one.idx", "empty.idx", "interrupted.idx", "retired.idx", "edited.idx", "v1/edges.idx")]
    files += sorted(V3.glob("*.idx"))
    base = (FIXTURES / "edges.idx").read_bytes()
    for bit in range(0, len(base) * 8, 3):
        p = tmp_path / f"flip{bit}.idx"
        p.write_bytes(with_bit_flipped(base, bit))
        files.append(p)
    cluster = bytearray((FIXTURES / "cluster.idx").read_bytes())
    s = 128 + 8 * 5
    cluster[s : s + 8], cluster[s + 8 : s + 16] = cluster[s + 8 : s + 16], cluster[s : s + 8]
    (tmp_path / "unsorted.idx").write_bytes(bytes(cluster))
    files.append(tmp_path / "unsorted.idx")
    short = bytearray((FIXTURES / "cluster.idx").read_bytes())
    short[64:68] = (0).to_bytes(4, "little")  # reach 0: probes past their home are undecided
    (tmp_path / "reach0.idx").write_bytes(bytes(short))
    files.append(tmp_path / "reach0.idx")
    big = tmp_path / "big.idx"
    idxmap.build({k * 7919 % (1 << 32): k for k in range(1, 3000)} | {0xFFFFFFFF: 5}, big)
    files.append(big)
    for kb, vb in ((64, 32), (32, 64), (64, 64)):
        p = tmp_path / f"k{kb}v{vb}.idx"
        idxmap.build({(k * 0x9E3779B97F4A7C15) % (1 << kb): k << (vb - 32) for k in range(1, 2000)} | {(1 << kb) - 1: 3}, p, key_bits=kb, value_bits=vb)
        files.append(p)
    return files


@needs_native
def test_the_extension_and_the_pure_package_answer_the_same_on_every_file(tmp_path: Path) -> None:
    import native_helper

    files = [str(f) for f in _files(tmp_path)]
    ours = json.loads(json.dumps(native_helper.answers_of(files)))
    r = subprocess.run(
        [sys.executable, str(HERE / "native_helper.py"), *files], capture_output=True, text=True, env=child_env(True), timeout=600
    )
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)
    opened = 0
    for f in files:
        assert ours[f]["open"] == theirs[f]["open"], f
        for what in ours[f]:
            assert ours[f][what] == theirs[f][what], (f, what)
        opened += ours[f]["open"] == "ok"
    assert opened > 20


# ---- truncation under the mapping (SIGBUS) ----

TRUNCATE = """
import os, sys, idxmap
path, how = sys.argv[1], sys.argv[2]
ix = idxmap.open(path)
keys = list(range(1, 20000, 7))
assert ix[7] == 7 * 3
if how == "zero":
    os.truncate(path, 0)
elif how == "smaller":
    with open(path, "r+b") as f:  # cp smaller.idx live.idx: truncated, then written in place
        f.truncate(0)
        f.write(open(sys.argv[3], "rb").read())
outcomes = set()
for k in keys:
    for lookup in (lambda: ix[k], lambda: ix.get(k), lambda: k in ix, lambda: ix.get_many([k, k + 1])):
        try:
            v = lookup()
            outcomes.add("answer")
        except KeyError:
            outcomes.add("KeyError")
        except idxmap.IdxError as e:
            outcomes.add(e.code)
print(" ".join(sorted(outcomes)))
"""


@needs_native
@pytest.mark.parametrize("how", ["zero", "smaller"])
def test_a_file_truncated_under_the_mapping_raises_corrupt_or_answers_never_kills(tmp_path: Path, how: str) -> None:
    # Node's addon turns the fault into zero pages over the mapping (native/mapping.c); so does
    # the extension, and its slow path reopens the path: ERR_IDX_CORRUPT while no index is
    # there, the new file's answers once one is.
    path = tmp_path / "live.idx"
    idxmap.build({k: k * 3 for k in range(1, 200000)}, path)
    smaller = tmp_path / "smaller.idx"
    idxmap.build({k: k * 3 for k in range(1, 50)}, smaller)
    r = subprocess.run(
        [sys.executable, "-c", TRUNCATE, str(path), how, str(smaller)], capture_output=True, text=True, env=child_env(False), timeout=120
    )
    assert r.returncode == 0, r.stderr
    if how == "zero":
        assert r.stdout.split() == ["ERR_IDX_CORRUPT"]
    else:
        assert set(r.stdout.split()) <= {"answer", "KeyError"}


LOOP = """
import sys, time, idxmap
ix = idxmap.open(sys.argv[1])
print("ready", flush=True)
codes = set()
end = time.monotonic() + 1.5
k = 1
while time.monotonic() < end:
    k = k * 48271 % 200000 or 1
    try:
        ix[k]
        ix.get_many([k, k + 1, k + 2])
    except KeyError:
        pass
    except idxmap.IdxError as e:
        codes.add(e.code)
print(" ".join(sorted(codes)) or "none")
"""


@needs_native
def test_a_reader_in_its_loop_survives_another_process_truncating_its_file(tmp_path: Path) -> None:
    path = tmp_path / "live.idx"
    idxmap.build({k: k for k in range(1, 200000)}, path)
    p = subprocess.Popen([sys.executable, "-c", LOOP, str(path)], stdout=subprocess.PIPE, text=True, env=child_env(False))
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    import time

    time.sleep(0.3)
    os.truncate(path, 0)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0
    assert out.split() == ["ERR_IDX_CORRUPT"]


# ---- get_many: one batch, one file ----


class _StopsAfter:
    """An extension mapping whose probe_many answers at most ``step`` keys a call, and which
    calls ``then`` once after its second call: a replacement part way through a batch."""

    def __init__(self, real: Any, step: int, then: Any) -> None:
        self.real, self.step, self.then, self.calls = real, step, then, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def probe_many(self, keys: Any, keys64: bool, values: Any, found: Any, missing: int, a: int, b: int) -> Any:
        self.calls += 1
        if self.calls == 2:
            self.then()
        return self.real.probe_many(keys, keys64, values, found, missing, a, min(b, a + self.step))


@needs_native
@pytest.mark.parametrize("kind", ["list", "numpy"] if HAS_NUMPY else ["list"])
def test_the_extension_s_batch_that_follows_part_way_answers_from_one_file(tmp_path: Path, kind: str) -> None:
    old = {k: k for k in range(1, 500)}
    new = {k: k + 1000 for k in range(1, 500)}
    path = tmp_path / "ix.idx"
    idxmap.build(old, path, sync=False)
    ix = idxmap.open(path)
    m = ix._current()
    m.native = _StopsAfter(m.native, 100, lambda: idxmap.build(new, path, sync=False))
    keys = list(range(1, 400))
    if kind == "numpy":
        import numpy as np

        keys = np.array(keys, dtype=np.uint32)
    values, found = ix.get_many(keys)
    assert m.native.calls >= 2 and ix._current() is not m
    assert [int(v) for v in values] == [new[int(k)] for k in keys] and all(map(bool, found))
    ix.close()


@needs_native
def test_the_extension_s_batch_takes_the_slow_path_for_a_write_under_way_and_answers_right(tmp_path: Path) -> None:
    # A writer in this process mid-operation is seen as an odd seq: the loop stops, the chunk
    # goes key by key through the protocol, which waits for it (here: a writer that finished).
    path = tmp_path / "ix.idx"
    idxmap.build({k: k for k in range(1, 1000)}, path)
    with idxmap.open(path) as ix, idxmap.Writer(path) as w:
        w.update({k: k * 2 for k in range(1, 1000, 2)})
        values, found = ix.get_many(list(range(1, 1000)))
        assert [int(v) for v in values] == [k * 2 if k % 2 else k for k in range(1, 1000)]
        assert ix[999] == 1998 and ix.get(998) == 998


@needs_native
def test_a_raised_reach_reaches_the_extension(tmp_path: Path) -> None:
    # The extension probes with the reach the Python side holds: a reach it raised (a writer
    # stored a larger one) is the C loop's from then on.
    path = tmp_path / "ix.idx"
    idxmap.build({k: k for k in range(1, 1000)}, path)
    with idxmap.open(path) as ix:
        m = ix._current()
        m.reach = 0
        assert m.native.reach == 0
        assert [ix.get(k) for k in range(1, 1000)] == list(range(1, 1000))
        assert m.native.reach == m.reach > 0
        m.dead = 7
        assert m.native.dead == 7
        m.flag(moved=True)
        assert m.native.spoiled
        m.unflag_moved()
        assert not m.native.spoiled


# ---- builds: the same bytes as the pure package's ----

BUILD = """
import sys, idxmap
from idxmap.vectorized import numpy_or_none
out_dir, tag = sys.argv[1], sys.argv[2]
sources = {
    "empty": {},
    "one": {7: 8},
    "escaped": {0xFFFFFFFF: 1, 0: 2, 1: 3},
    "dups": [(k % 500, k) for k in range(5000)],
    "cluster": {k << 20: k for k in range(3000)},
    "k64": {(k * 0x9E3779B97F4A7C15) % (1 << 64): k for k in range(4000)} | {(1 << 64) - 1: 9},
    "v64": {k: k << 33 for k in range(4000)},
    "k64v64": [((k * 0x9E3779B97F4A7C15) % (1 << 64), k << 40) for k in range(4000)] * 2,
    "wide32": {1: 2, 3: 4},
    "big": {(k * 2654435761) % (1 << 32): k for k in range(100000)},
}
np = numpy_or_none()
for case, source in sources.items():
    kwargs = {"wide32": {"key_bits": 64, "value_bits": 64}}.get(case, {})
    if np is not None and case in ("big", "k64v64", "dups"):
        pairs = list(source.items()) if isinstance(source, dict) else source
        dtype = np.uint64 if case != "big" else np.uint32
        source = (np.array([k for k, _ in pairs], dtype=dtype), np.array([v for _, v in pairs], dtype=dtype))
    idxmap.build(source, f"{out_dir}/{case}-{tag}.idx", sync=False, **kwargs)
"""
BUILD_CASES = ["empty", "one", "escaped", "dups", "cluster", "k64", "v64", "k64v64", "wide32", "big"]


@needs_native
def test_a_build_in_the_extension_writes_the_pure_package_s_bytes(tmp_path: Path) -> None:
    # Every width, duplicates (the last value wins), the escaped key, a cluster that spills,
    # lists and numpy columns: the C build's files are the pure package's, byte for byte (and
    # so Node's: test_build compares those).
    for pure in (False, True):
        r = subprocess.run([sys.executable, "-c", BUILD, str(tmp_path), "pure" if pure else "c"], capture_output=True, text=True, env=child_env(pure), timeout=300)
        assert r.returncode == 0, r.stderr
    for case in BUILD_CASES:
        assert (tmp_path / f"{case}-c.idx").read_bytes() == (tmp_path / f"{case}-pure.idx").read_bytes(), case
        assert idxmap.verify(tmp_path / f"{case}-c.idx").ok, case


# ---- the writer's whole-slot stores (§16.6) ----


@needs_native
@pytest.mark.parametrize("widths", [(32, 64), (64, 32), (64, 64)])
def test_a_version_3_writer_stores_each_slot_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, widths: Any) -> None:
    # With the extension, no slot of a version 3 file is ever stored in two pieces: inserts that
    # shift, deletes that shift back and lone entries all go through its 16-byte stores, and the
    # table is the one a build of the same map makes.
    from idxmap import slots

    def split(*args: Any) -> None:
        raise AssertionError("a version 3 slot stored in two pieces")

    monkeypatch.setattr(slots.SlotRegion, "store_hash_field", split)
    monkeypatch.setattr(slots.SlotRegion, "store_value_field", split)
    kb, vb = widths
    path = tmp_path / "ix.idx"
    expected = {(k * 0x9E3779B97F4A7C15) % (1 << kb): k << (vb - 32) for k in range(1, 300)}
    idxmap.build(dict(list(expected.items())[:100]), path, key_bits=kb, value_bits=vb)
    with idxmap.Writer(path, sync=False) as w:
        assert w._table.region.whole is not None
        for k, v in list(expected.items())[100:]:
            w[k] = v
        for k in list(expected)[::3]:
            del w[k]
            del expected[k]
    assert idxmap.verify(path).ok
    with idxmap.open(path) as ix:
        assert dict(ix.items()) == expected
