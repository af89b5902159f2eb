"""A Python writer killed with SIGKILL in the middle of its work (spec §11.3, §11.6): at points
chosen at random among every store of a run of sets, deletes, updates, growths and
compactions (the writer process kills itself right after its Nth store), and at random times
from outside. After each kill the file opens, passes verify, and every key holds its value
from before or after the operation under way; the next writer, Python's or Node's, repairs it
without changing an answer, and writes on. And the windows that only a whole-slot store would
close (version 3 in pure Python, python/README.md) behave exactly as documented."""

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
from typing import Dict, List, Tuple

import pytest

import idxmap

from conftest import MAX_U32, run_node
from test_writer_cross import ENV, HELPER, random_ops

M64 = 2**64 - 1


def models(base: Dict[int, int], ops: list) -> List[Dict[int, int]]:
    """The map before each operation and after the last: models[i] is the map once ops[:i] ran."""
    m = dict(base)
    out = [dict(m)]
    for op in ops:
        if op[0] == "set":
            m[op[1]] = op[2]
        elif op[0] == "del":
            m.pop(op[1], None)
        elif op[0] == "update":
            m.update((k, v) for k, v in op[1])
        out.append(dict(m))
    return out


def helper(command: str, path: Path, ops_file: Path, *extra: str, kill_at: int = 0, pure: bool = False) -> subprocess.Popen:
    env = {**ENV, "IDXMAP_KILL_AT": str(kill_at)}
    if pure:
        env["IDXMAP_NUMPY"] = "0"
    return subprocess.Popen(
        [sys.executable, str(HELPER), command, str(path), str(ops_file), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def check_killed(path: Path, before: Dict[int, int], after: Dict[int, int]) -> Dict[int, int]:
    """A killed writer's file: it opens, passes verify, and every key holds its value from before
    or after the operation under way. Returns what it holds."""
    with idxmap.open(path) as ix:
        report = ix.verify()
        assert report.ok, report.problems
        got = dict(ix.items())
        # The header's count lags the slots by one when an insert or a delete stopped before
        # its entries cell (§9.2); the next writer recounts.
        assert abs(len(ix) - len(got)) <= (1 if report.interrupted else 0)
    for k in set(got) | set(before) | set(after):
        assert got.get(k) in (before.get(k), after.get(k)), (k, got.get(k), before.get(k), after.get(k))
    return got


def recover_and_go_on(path: Path, got: Dict[int, int], by: str, tmp: Path) -> None:
    """The next writer repairs the file (changing no answer) and writes on."""
    if by == "python":
        idxmap.Writer(path, sync=False).close()
    else:
        (tmp / "none.json").write_text("[]")
        run_node("ops", path, tmp / "none.json")
    with idxmap.open(path) as ix:
        report = ix.verify()
        assert report.ok and not report.interrupted and not report.writer_stopped and not report.retired
        assert dict(ix.items()) == got
    assert [n for n in os.listdir(path.parent) if n.endswith(".tmp")] == []  # the dead writer's temp file removed
    with idxmap.Writer(path, sync=False) as w:
        k = next(iter(got), 1)
        w[k] = 5
        w.delete(k)
        w.compact()
        got.pop(k, None)
        assert dict(w.items()) == got
    with idxmap.open(path) as ix:
        assert ix.verify().ok


def kill_points(counts: dict, ops: list, rnd: random.Random, per_kind: Dict[str, int]) -> List[Tuple[int, str]]:
    """Kill points among the stores of operations of each kind: set (insert or overwrite), del,
    update, and the operations that rehashed (growth, a bulk merge, compaction)."""
    after = counts["after"]
    rehashed = set(counts["rehash"])
    ranges: Dict[str, List[Tuple[int, int]]] = {k: [] for k in per_kind}
    for i, op in enumerate(ops):
        first, last = (after[i - 1] if i else 0) + 1, after[i]
        if last < first:
            continue  # no store (an overwrite with the same value, a missing key...)
        kind = "rehash" if i in rehashed else op[0]
        if kind in ranges:
            ranges[kind].append((first, last))
    points = []
    for kind, n in per_kind.items():
        chosen = rnd.sample(ranges[kind], min(n, len(ranges[kind])))
        assert chosen, f"no {kind} operation in the run"
        points += [(rnd.randint(a, b), kind) for a, b in chosen]
    return points


@pytest.mark.parametrize("widths", [(32, 32), (64, 32), (32, 64), (64, 64)], ids=lambda w: f"{w[0]}/{w[1]}")
def test_killed_at_random_stores(tmp_path: Path, widths: tuple, code_path: str) -> None:
    kb, vb = widths
    rnd = random.Random(kb * 3 + vb)
    kmax, vmax = 2**kb - 1, 2**vb - 1
    escaped = idxmap.ESCAPED_KEY64 if kb == 64 else idxmap.ESCAPED_KEY
    base = {rnd.randrange(kmax): rnd.randrange(vmax) for _ in range(200)}
    original = tmp_path / "base.idx"
    idxmap.build(base, original, key_bits=kb, value_bits=vb)
    ops = random_ops(rnd, 700, list(base), escaped, kmax, vmax)
    ops[350:350] = [["update", [[rnd.randrange(kmax), 1] for _ in range(4200)]]]  # a bulk merge
    ops_file = tmp_path / "ops.json"
    ops_file.write_text(json.dumps(ops))
    states = models(base, ops)
    pure = code_path == "pure"
    count_copy = tmp_path / "count.idx"
    shutil.copy(original, count_copy)
    c = helper("count", count_copy, ops_file, pure=pure)
    out, err = c.communicate(timeout=300)
    assert c.returncode == 0, err
    counts = json.loads(out)
    with idxmap.open(count_copy) as ix:
        assert dict(ix.items()) == states[-1]  # the run itself is right
    per_kind = {"set": 4, "del": 3, "update": 2, "rehash": 3} if (kb, vb) == (32, 32) else {"set": 2, "del": 2, "update": 1, "rehash": 1}
    points = kill_points(counts, ops, rnd, per_kind)
    assert len(points) >= (12 if (kb, vb) == (32, 32) else 6)
    progress = tmp_path / "progress"
    for run, (at, kind) in enumerate(points):
        p = tmp_path / f"run{run}" / "k.idx"
        p.parent.mkdir()
        shutil.copy(original, p)
        progress.write_bytes(bytes(8))
        h = helper("ops", p, ops_file, str(progress), kill_at=at, pure=pure)
        h.wait(timeout=300)
        assert h.returncode == -signal.SIGKILL, (kind, at, h.stderr.read() if h.stderr else "")
        done = int.from_bytes(progress.read_bytes()[:8], "little")
        # The store counted `at` is in the operation after the last one done.
        assert counts["after"][done - 1] < at <= counts["after"][done] if done else at <= counts["after"][0], (done, at)
        got = check_killed(p, states[done], states[done + 1])
        recover_and_go_on(p, got, "python" if run % 2 else "node", p.parent)


def test_python_repairs_a_node_writer_killed_at_random_stores(tmp_path: Path) -> None:
    # Node's IdWriter killed right after its Nth store (node_helper.js counts the addon's
    # stores): the Python writer repairs what it left, as it repairs its own.
    from conftest import DIST, NODE_HELPER, node_bin

    rnd = random.Random(7)
    base = {rnd.randrange(MAX_U32): rnd.randrange(MAX_U32) for _ in range(200)}
    original = tmp_path / "base.idx"
    idxmap.build(base, original)
    ops = random_ops(rnd, 700, list(base))
    ops_file = tmp_path / "ops.json"
    ops_file.write_text(json.dumps(ops))
    states = models(base, ops)
    count = tmp_path / "count.idx"
    shutil.copy(original, count)

    def node(path: Path, kill_at: int, progress: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [node_bin(), str(NODE_HELPER), str(DIST), "ops", str(path), str(ops_file), str(progress)],
            capture_output=True,
            env={**os.environ, "IDXMAP_KILL_AT": str(kill_at)},
            timeout=300,
        )

    progress = tmp_path / "progress"
    progress.write_bytes(bytes(8))
    total = json.loads(node(count, 10**15, progress).stdout)["stores"]
    assert total > 1000
    for run, at in enumerate(sorted(rnd.sample(range(1, total + 1), 10))):
        p = tmp_path / f"run{run}" / "k.idx"
        p.parent.mkdir()
        shutil.copy(original, p)
        progress.write_bytes(bytes(8))
        r = node(p, at, progress)
        assert r.returncode == -signal.SIGKILL, r.stderr
        done = int.from_bytes(progress.read_bytes()[:8], "little")
        got = check_killed(p, states[done], states[done + 1])
        recover_and_go_on(p, got, "python", p.parent)


def test_killed_from_outside_at_random_times(tmp_path: Path) -> None:
    # Real kill -9s from another process, at whatever point the writer has reached.
    rnd = random.Random(99)
    for run in range(8):
        p = tmp_path / f"run{run}" / "k.idx"
        p.parent.mkdir()
        base = {rnd.randrange(MAX_U32): rnd.randrange(MAX_U32) for _ in range(300)}
        idxmap.build(base, p)
        ops = random_ops(rnd, 3000, list(base))
        ops_file = tmp_path / f"ops{run}.json"
        ops_file.write_text(json.dumps(ops))
        states = models(base, ops)
        progress = tmp_path / "progress"
        progress.write_bytes(bytes(8))
        h = helper("ops", p, ops_file, str(progress))
        assert h.stdout is not None and h.stdout.readline() == b"started\n"
        time.sleep(rnd.uniform(0.005, 0.25))
        h.send_signal(signal.SIGKILL)
        h.wait()
        done = int.from_bytes(progress.read_bytes()[:8], "little")
        got = check_killed(p, states[done], states[min(done + 1, len(ops))])
        recover_and_go_on(p, got, "node" if run % 2 else "python", p.parent)


# ---- version 3 in pure Python: the windows between the two halves of a slot ----


class Stop(Exception):
    pass


def _stop_between_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next residual slot change (python/README.md) stops after its first store, as a kill
    there would stop it (the stores are in the shared mapping either way). The writer's own
    code makes the stores, in its own order: only the second is refused."""
    from idxmap import edits, slots

    real = edits.SlotEditor._replace
    state = {"armed": False, "stores": 0}

    def guarded(orig):  # type: ignore[no-untyped-def]
        def store(region, s, x):  # type: ignore[no-untyped-def]
            if state["armed"]:
                if state["stores"] == 1:
                    raise Stop()
                state["stores"] += 1
            return orig(region, s, x)

        return store

    for name in ("store_hash_field", "store_value_field"):
        monkeypatch.setattr(slots.SlotRegion, name, guarded(getattr(slots.SlotRegion, name)))

    def replace(editor, s, h, v, shifted, delete=False):  # type: ignore[no-untyped-def]
        if s == 0 or editor.region.hash(s - 1) == editor.region.empty:
            state["armed"] = True
        return real(editor, s, h, v, shifted, delete)

    monkeypatch.setattr(edits.SlotEditor, "_replace", replace)


def _slots(path: Path) -> List[Tuple[int, int]]:
    import struct

    # A version 3 file's packed slots (§16.1): the hash word, then the value, at their widths.
    data = path.read_bytes()
    n = struct.unpack_from("<Q", data, 24)[0]
    fmt = "<" + {32: "I", 64: "Q"}[data[96]] + {32: "I", 64: "Q"}[data[97]]
    size = struct.calcsize(fmt)
    return [struct.unpack_from(fmt, data, 128 + size * s) for s in range(n)]


def _stopped_writer(path: Path, change, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    w = idxmap.Writer(path, sync=False)
    # The pure stores, whose windows these are (the C extension's whole-slot stores have none:
    # test_native).
    w._table.region.whole = None
    _stop_between_halves(monkeypatch)
    with pytest.raises(Stop):
        change(w)
    monkeypatch.undo()
    w._table.bracket.interrupted = False  # as a killed writer: nobody repairs it in this process
    w._detach()


def _keys_at(home: int, n: int) -> List[int]:
    """``n`` keys whose home in a table of capacity 8 is ``home``, by hash."""
    found = [k for k in range(20000) if idxmap.home_slot(idxmap.hash32(k), 8) == home][:n]
    return sorted(found, key=idxmap.hash32)


def test_the_residual_windows_of_version_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A version 3 table of 32-bit keys and 64-bit values, capacity 8 (7 keys built, 2 deleted):
    #   slot: 0 1 2 3 4 5 6 7
    #         . . X W P . V Q     (. empty; X, W and a third key Y share home 2: hY < hX < hW)
    Y, X, W = _keys_at(2, 3)
    (P,) = _keys_at(4, 1)
    (V,) = _keys_at(6, 1)
    Q, R, S = _keys_at(7, 3)
    (Z,) = _keys_at(0, 1)
    values = {k: 2**40 + i for i, k in enumerate((X, W, P, V, Q, R, S))}
    base = tmp_path / "base.idx"
    idxmap.build(values, base, value_bits=64)
    with idxmap.Writer(base, sync=False) as w:
        del w[R], w[S]
    del values[R], values[S]
    hashes = [h for h, _ in _slots(base)]
    empty = 0xFFFFFFFF
    assert hashes[:8] == [empty, empty, *map(idxmap.hash32, (X, W, P)), empty, *map(idxmap.hash32, (V, Q))]

    def case(name: str, change) -> Path:  # type: ignore[no-untyped-def]
        p = tmp_path / f"{name}.idx"
        shutil.copy(base, p)
        _stopped_writer(p, change, monkeypatch)
        return p

    # R1: an insert into an empty slot after an empty one (slot 0): the value first. The slot
    # reads empty (Z absent: the state before); verify reports the value, and a writer refuses
    # to repair it.
    p = case("r1", lambda w: w.__setitem__(Z, 5))
    with idxmap.open(p) as ix:
        assert Z not in ix and dict(ix.items()) == values
    assert [x.message for x in idxmap.verify(p).problems] == ["empty slot 0 has value 5 (must be 0)"]
    with pytest.raises(idxmap.CorruptError, match="empty slot 0 has value 5"):
        idxmap.Writer(p)
    # R2: an insert that shifts X, W and P right, into slot 2 after an empty slot: the new hash
    # first, so Y reads X's value until its own lands; a kill there leaves it, and the next
    # writer keeps it.
    p = case("r2", lambda w: w.__setitem__(Y, 7))
    with idxmap.open(p) as ix:
        assert ix.verify().ok and ix[Y] == values[X] and {k: ix[k] for k in values} == values
    idxmap.Writer(p).close()
    with idxmap.open(p) as ix:
        assert ix.verify().ok and dict(ix.items()) == {**values, Y: values[X]}
    # R3: a delete of X that shifts W left into slot 2, after an empty slot: W's value first, so
    # X reads W's value (neither before nor after) until its hash lands; kept by the next writer.
    p = case("r3", lambda w: w.__delitem__(X))
    with idxmap.open(p) as ix:
        assert ix.verify().ok and ix[X] == values[W] and {k: ix[k] for k in values if k != X} == {k: v for k, v in values.items() if k != X}
    idxmap.Writer(p).close()
    with idxmap.open(p) as ix:
        assert ix.verify().ok and ix[X] == values[W]
    # R4: a delete of V, alone in slot 6 after an empty slot: EMPTY first. V reads absent (the
    # state after); verify reports the value left, and a writer refuses to repair it.
    p = case("r4", lambda w: w.__delitem__(V))
    with idxmap.open(p) as ix:
        assert V not in ix and dict(ix.items()) == {k: v for k, v in values.items() if k != V}
    assert [x.message for x in idxmap.verify(p).problems] == [f"empty slot 6 has value {values[V]} (must be 0)"]
    with pytest.raises(idxmap.CorruptError):
        idxmap.Writer(p)
    # Where the slot before holds an entry, the change goes through a tombstone of it: every
    # stop there is before or after (the crash test above kills at those stores too).
    p = tmp_path / "trick.idx"
    shutil.copy(base, p)
    with idxmap.Writer(p, sync=False) as w:
        w[X] = 1  # an overwrite: one store of the value field
        del w[W]  # W in slot 3, after X: through a tombstone of slot 2
    with idxmap.open(p) as ix:
        assert ix.verify().ok and dict(ix.items()) == {**{k: v for k, v in values.items() if k != W}, X: 1}
