"""The Python writer beside the Node package's (spec §11): the same operations make the same bytes;
their writer locks exclude each other, either way round, with and without waiting; each repairs
what the other left when killed mid-operation, and what the spec's test vectors leave, byte for
byte as the other would; a reader in each language stays correct beside the other's writer."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

import idxmap

from conftest import DIST, ESCAPED_KEY, FIXTURES, MAX_U32, NODE_HELPER, node_bin, run_idx, run_node

HELPER = Path(__file__).resolve().parent / "writer_helper.py"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(idxmap.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])}


def python_writer(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )


def node_writer(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [node_bin(), str(NODE_HELPER), str(DIST), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_for(p: subprocess.Popen, line: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    assert p.stdout is not None
    got = p.stdout.readline().decode().strip()
    assert got == line, (got, p.stderr.read().decode() if p.poll() is not None and p.stderr else "")
    assert time.monotonic() < deadline


def random_ops(rnd: random.Random, n: int, keys: List[int], escaped: int = ESCAPED_KEY, kmax: int = MAX_U32, vmax: int = MAX_U32) -> list:
    """Operations as node_helper's ops and writer_helper's ops take them."""
    ops: list = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.5:
            k = rnd.randrange(kmax + 1) if not keys or rnd.random() < 0.7 else rnd.choice(keys)
            keys.append(k)
            ops.append(["set", k, rnd.randrange(vmax + 1)])
        elif r < 0.8 and keys:
            ops.append(["del", rnd.choice(keys)])
        elif r < 0.84:
            ops.append(["set", escaped, rnd.randrange(vmax + 1)])
        elif r < 0.86:
            ops.append(["del", escaped])
        elif r < 0.95:
            ops.append(["update", [[rnd.choice(keys + [5]) if rnd.random() < 0.3 else rnd.randrange(kmax + 1), rnd.randrange(vmax + 1)] for _ in range(rnd.randrange(1, 40))]])
        elif r < 0.97:
            ops.append(["compact"])
        else:
            ops.append(["reopen"])
    return ops


def apply_in_python(path: Path, ops: list) -> None:
    w = idxmap.Writer(path, sync=False)
    for op in ops:
        if op[0] == "set":
            w[op[1]] = op[2]
        elif op[0] == "del":
            w.delete(op[1])
        elif op[0] == "update":
            w.update(op[1])
        elif op[0] == "compact":
            w.compact()
        elif op[0] == "reopen":
            w.close()
            w = idxmap.Writer(path, sync=False)
    w.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_operations_make_the_same_bytes(tmp_path: Path, seed: int, code_path: str) -> None:
    # Every store of the protocol is in the file (seq, the dirty cells, the reach, the entries,
    # shifted slots, checksums, growth and compaction by rehash, a bulk merge): two writers that
    # follow §11 make the same bytes from the same operations.
    rnd = random.Random(seed)
    base = {rnd.randrange(MAX_U32): rnd.randrange(MAX_U32) for _ in range(rnd.choice([0, 40, 400]))}
    a, b = tmp_path / "node.idx", tmp_path / "python.idx"
    idxmap.build(base, a)
    shutil.copy(a, b)
    keys = list(base)
    ops = random_ops(rnd, 2500, keys)
    ops.insert(1200, ["update", [[rnd.randrange(MAX_U32), 1] for _ in range(5000)]])  # merged into a new file
    (tmp_path / "ops.json").write_text(json.dumps(ops))
    node = run_node("ops", a, tmp_path / "ops.json", timeout=300)
    apply_in_python(b, ops)
    assert a.read_bytes() == b.read_bytes()
    with idxmap.open(b) as ix:
        assert len(ix) == node["size"] and ix.verify().ok


def node_ops_json(ops: list) -> str:
    """``ops`` as node_helper.js reads them: a number past 2^53 as a decimal string (a JSON
    number is a double in JavaScript)."""

    def big(x):  # type: ignore[no-untyped-def]
        if isinstance(x, list):
            return [big(y) for y in x]
        return str(x) if isinstance(x, int) and x > 2**53 else x

    return json.dumps(big(ops))


@pytest.mark.parametrize("widths", [(64, 32), (32, 64), (64, 64), (32, 32)], ids=lambda w: f"{w[0]}/{w[1]}")
def test_the_same_operations_make_the_same_bytes_at_64_bits(tmp_path: Path, widths: tuple, code_path: str) -> None:
    # Version 3 (§16) in place as in version 2: 64-bit keys or values, their slots packed (§16.1),
    # entriesHigh and escapedHigh, growth and compaction. From 32/32, a key and later a value
    # past 2^32 - 1 widen the file (§16.5) at the same capacity, the old escaped key 857579651
    # becoming an ordinary key: the same bytes as idx's IdWriter.
    kb, vb = widths
    rnd = random.Random(kb * 7 + vb)
    kmax, vmax = 2**kb - 1, 2**vb - 1
    escaped = idxmap.ESCAPED_KEY64 if kb == 64 else ESCAPED_KEY
    base = {rnd.randrange(kmax): rnd.randrange(vmax) for _ in range(rnd.choice([40, 300]))}
    base[escaped] = vmax
    a, b = tmp_path / "node.idx", tmp_path / "python.idx"
    idxmap.build(base, a, key_bits=kb, value_bits=vb)
    shutil.copy(a, b)
    ops = random_ops(rnd, 1200, list(base), escaped, kmax, vmax)
    if widths == (32, 32):
        # Each widening alone, compared at once (a later compaction would lay out any capacity
        # anew): at the same capacity, then past 9/10 of it, grown.
        for step, n in [(["set", 2**40 + 5, 7], 300), (["set", 9, 2**40], 300), (["update", [[2**40 + i, i] for i in range(60)]], 300)]:
            c, d = tmp_path / "c.idx", tmp_path / "d.idx"
            idxmap.build({**{i * 7919: i for i in range(n)}, ESCAPED_KEY: 3}, c)
            shutil.copy(c, d)
            (tmp_path / "one.json").write_text(node_ops_json([step]))
            run_node("ops", c, tmp_path / "one.json")
            apply_in_python(d, [step])
            assert c.read_bytes() == d.read_bytes(), step
        ops[400:400] = [["set", 2**40 + 5, 7]]  # keys widen: 64/32
        ops[800:800] = [["update", [[3, 2**63], [ESCAPED_KEY, 1]]]]  # values widen: 64/64
    else:
        ops.insert(600, ["update", [[rnd.randrange(kmax), rnd.randrange(vmax)] for _ in range(5000)]])  # merged
    (tmp_path / "ops.json").write_text(node_ops_json(ops))
    node = run_node("ops", a, tmp_path / "ops.json", timeout=300)
    apply_in_python(b, ops)
    with idxmap.open(b) as ix:
        assert len(ix) == node["size"] and ix.verify().ok
        assert (ix.key_bits, ix.value_bits) == ((64, 64) if widths == (32, 32) else widths)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("name", ["cluster", "edited", "edges"])
def test_version_1_files_make_the_same_bytes(tmp_path: Path, name: str) -> None:
    # Written in place as 1.0 (the count in the state cell, one dirty cell, no reach), then
    # grown into version 2.
    rnd = random.Random(name)
    a, b = tmp_path / "node.idx", tmp_path / "python.idx"
    shutil.copy(FIXTURES / "v1" / f"{name}.idx", a)
    shutil.copy(a, b)
    with idxmap.open(a) as ix:
        keys = list(ix)
    ops = [["del", k] for k in keys[:3]] + [["set", ESCAPED_KEY, 4], ["set", keys[-1], 99]]
    ops += random_ops(rnd, 300, keys)
    (tmp_path / "ops.json").write_text(json.dumps(ops[:5]))
    run_node("ops", a, tmp_path / "ops.json")
    apply_in_python(b, ops[:5])
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[8:10] == b"\x01\x00"
    (tmp_path / "ops.json").write_text(json.dumps(ops[5:]))
    run_node("ops", a, tmp_path / "ops.json")
    apply_in_python(b, ops[5:])
    assert a.read_bytes() == b.read_bytes()


def _repairable_vectors() -> List[str]:
    expected = json.loads((FIXTURES / "vectors" / "expected.json").read_text())
    names = [f"vectors/{n}.idx" for n, e in sorted(expected.items()) if isinstance(e, dict) and "size" in e.get("open", {})]
    return names + ["interrupted.idx", "retired.idx", "v1/interrupted.idx", "edited.idx"]


@pytest.mark.parametrize("name", _repairable_vectors())
def test_recovery_is_byte_for_byte_nodes(tmp_path: Path, name: str, code_path: str) -> None:
    # §11.6 on the files a stopped writer leaves (fixtures/vectors, §13.1): the Python writer's
    # repair, or refusal, is Node's.
    a, b = tmp_path / "node.idx", tmp_path / "python.idx"
    shutil.copy(FIXTURES / name, a)
    shutil.copy(FIXTURES / name, b)
    (tmp_path / "none.json").write_text("[]")
    r = subprocess.run([node_bin(), str(NODE_HELPER), str(DIST), "ops", str(a), str(tmp_path / "none.json")], capture_output=True, timeout=60)
    theirs = json.loads(r.stdout)
    try:
        idxmap.Writer(b, sync=False).close()
    except idxmap.IdxError as e:
        assert not theirs["ok"] and theirs["error"].startswith(e.code), (name, theirs, str(e))
        assert b.read_bytes() == (FIXTURES / name).read_bytes()  # refused: nothing changed
        return
    assert theirs["ok"], (name, theirs)
    assert a.read_bytes() == b.read_bytes(), name
    with idxmap.open(b) as ix:
        report = ix.verify()
        assert report.ok and not report.interrupted and not report.writer_stopped and not report.retired


def test_the_writer_locks_exclude_each_other(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    # Node holds it: a Python writer is refused, naming the holder, or waits for it.
    node = node_writer("hold", str(p))
    try:
        wait_for(node, "locked")
        t = time.monotonic()
        with pytest.raises(idxmap.LockedError, match=rf"is being written by process {node.pid} \(.*node"):
            idxmap.Writer(p)
        assert time.monotonic() - t < 2
        r = subprocess.run([sys.executable, "-m", "idxmap", "set", str(p), "2", "2"], capture_output=True, env=ENV, timeout=60)
        assert r.returncode == 2 and f"is being written by process {node.pid}".encode() in r.stderr
        assert b"run this with --wait MS" in r.stderr
        r = subprocess.run([sys.executable, "-m", "idxmap", "set", "--wait", "150", str(p), "2", "2"], capture_output=True, env=ENV, timeout=60)
        assert r.returncode == 2 and b"Waited 150 ms; try again later." in r.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "idxmap", "set", "--wait", "20000", str(p), "3", "3"], stderr=subprocess.PIPE, env=ENV)
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting
        assert node.stdin is not None
        node.stdin.write(b"\n")
        node.stdin.flush()
        assert waiting.wait(timeout=30) == 0
    finally:
        node.kill()
        node.wait()
    # Python holds it: Node's writer is refused, or waits.
    py = python_writer("hold", str(p), "0")
    try:
        wait_for(py, "locked")
        r = run_idx("set", str(p), "4", "4")
        assert r.returncode == 2 and f"is being written by process {py.pid}".encode() in r.stderr
        waiting = node_writer("hold", str(p), "20000")
        time.sleep(0.5)
        assert waiting.poll() is None
        assert py.stdin is not None
        py.stdin.write(b"\n")
        py.stdin.flush()
        wait_for(waiting, "locked")
        with pytest.raises(idxmap.LockedError):
            idxmap.Writer(p)
        with pytest.raises(idxmap.LockedError):
            idxmap.Writer(p, wait=0.2)
        assert waiting.stdin is not None
        waiting.stdin.write(b"\n")
        waiting.stdin.flush()
        wait_for(waiting, "closed")
        with idxmap.Writer(p, wait=5) as w:
            assert dict(w) == {1: 1, 3: 3}
    finally:
        py.kill()
        py.wait()


def _killed(start: subprocess.Popen, after: float) -> None:
    time.sleep(after)
    start.send_signal(signal.SIGKILL)
    start.wait()


@pytest.mark.parametrize("killed,repairs", [("node", "python"), ("python", "node")])
def test_each_repairs_what_the_other_left_when_killed(tmp_path: Path, killed: str, repairs: str) -> None:
    rnd = random.Random(killed)
    for run in range(4):
        p = tmp_path / f"k{run}.idx"
        base = {rnd.randrange(MAX_U32): rnd.randrange(MAX_U32) for _ in range(300)}
        idxmap.build(base, p)
        ops = random_ops(rnd, 4000, list(base))
        (tmp_path / "ops.json").write_text(json.dumps(ops))
        w = (node_writer if killed == "node" else python_writer)("kill-during" if killed == "node" else "ops", str(p), str(tmp_path / "ops.json"))
        wait_for(w, "started")
        _killed(w, rnd.uniform(0.01, 0.3))
        with idxmap.open(p) as ix:
            before = dict(ix.items())
            assert ix.verify().ok
        if repairs == "python":
            idxmap.Writer(p).close()
        else:
            (tmp_path / "none.json").write_text("[]")
            run_node("ops", p, tmp_path / "none.json")
        with idxmap.open(p) as ix:
            report = ix.verify()
            assert report.ok and not report.interrupted and not report.writer_stopped and not report.retired
            assert dict(ix.items()) == before  # a repair changes no answer
        assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def _reader_beside(path: Path, writer: subprocess.Popen, keys: int) -> Dict[str, int]:
    from test_concurrency import History, churn_keys, stable_keys

    history = History()
    stable = stable_keys()
    churn = churn_keys()
    rounds = 0
    with idxmap.open(path) as ix:
        while writer.poll() is None or rounds < 3:
            rounds += 1
            for k in stable[rounds % 7 :: 7]:
                history.see(k, ix.get(k), must_exist=True)
            for k in churn[rounds % 11 :: 11]:
                history.see(k, ix.get(k), must_exist=False)
            values, found = ix.get_many(stable + churn)
            for i, k in enumerate(stable + churn):
                history.see(k, int(values[i]) if found[i] else None, must_exist=i < len(stable))
            if rounds % 5 == 0:
                from test_concurrency import tag_of

                for k, v in ix.items():
                    assert v >> 20 == tag_of(k)
    return {"checked": history.checked, "rounds": rounds}


@pytest.mark.parametrize("widths", [(32, 32), (64, 64)], ids=["v2", "v3"])
def test_a_python_reader_beside_the_python_writer(tmp_path: Path, widths: tuple, code_path: str) -> None:
    from test_concurrency import STABLE_KEYS, stable_keys, tag_of

    p = tmp_path / "live.idx"
    idxmap.build({k: tag_of(k) << 20 for k in stable_keys()}, p, key_bits=widths[0], value_bits=widths[1])
    w = python_writer("churn", str(p), "7", str(STABLE_KEYS), "2.5")
    try:
        seen = _reader_beside(p, w, STABLE_KEYS)
    finally:
        w.wait(timeout=60)
    assert w.returncode == 0, w.stderr.read() if w.stderr else ""
    assert seen["rounds"] > 3 and seen["checked"] > 10000
    with idxmap.open(p) as ix:
        assert ix.verify().ok and (ix.key_bits, ix.value_bits) == widths


def test_a_node_reader_beside_the_python_writer(tmp_path: Path) -> None:
    from test_concurrency import STABLE_KEYS, stable_keys, tag_of

    p = tmp_path / "live.idx"
    idxmap.build({k: tag_of(k) << 20 for k in stable_keys()}, p)
    w = python_writer("churn", str(p), "9", str(STABLE_KEYS), "3")
    try:
        reader = run_node("reader", p, STABLE_KEYS, 2.5, timeout=120)
    finally:
        w.wait(timeout=60)
    assert w.returncode == 0
    assert reader["ok"], reader["errors"]
    assert reader["checked"] > 10000
