"""§11: reading beside a live writer. A Node IdWriter (another process) sets, deletes, grows and
compacts an index while this process reads it; every answer must be a value the key held, in
order; a retired file is followed to its replacement; a writer that died mid-operation is waited
for 5 ms, not forever."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

import idxmap
from idxmap import vectorized

from conftest import DIST, FIXTURES, NODE_HELPER, node_bin, run_node

STABLE_KEYS = 1500


def tag_of(k: int) -> int:
    # node_helper.js's tagOf: 12 bits of the key above a 20-bit generation.
    return (((k * 2654435761) & 0xFFFFFFFF) >> 20) & 0xFFF


def stable_keys() -> List[int]:
    return [(i * 2654435761 + 7) & 0xFFFFFFFF for i in range(STABLE_KEYS)]


def churn_keys() -> List[int]:
    return [(i * 40503 + 0x9E3779B9) & 0xFFFFFFFF for i in range(STABLE_KEYS * 4)]


class History:
    """What a reader may see of key k: a value whose tag is k's, with a generation that never
    goes back (the writer only ever raises it)."""

    def __init__(self) -> None:
        self.gen: Dict[int, int] = {}
        self.checked = 0

    def see(self, k: int, v: Optional[int], must_exist: bool) -> None:
        self.checked += 1
        if v is None:
            assert not must_exist, f"key {k} missing"
            return
        assert v >> 20 == tag_of(k), f"key {k} = {v:#x}: not a value it ever held"
        g = v & 0xFFFFF
        assert g >= self.gen.get(k, 0), f"key {k} went back from generation {self.gen[k]} to {g}"
        self.gen[k] = g


def test_reader_beside_a_node_writer(tmp_path: Path, code_path: str) -> None:
    path = tmp_path / "live.idx"
    stable = stable_keys()
    churn = churn_keys()
    idxmap.build({k: tag_of(k) << 20 for k in stable}, path)  # generation 0
    history = History()
    inodes = set()
    ix = idxmap.open(path)
    writer = subprocess.Popen(
        [node_bin(), str(NODE_HELPER), str(DIST), "writer", str(path), "7", str(STABLE_KEYS), "2.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    rounds = 0
    try:
        while writer.poll() is None or rounds < 3:
            rounds += 1
            for k in stable[rounds % 7 :: 7]:
                history.see(k, ix.get(k), must_exist=True)
            for k in churn[rounds % 11 :: 11]:
                history.see(k, ix.get(k), must_exist=False)
            values, found = ix.get_many(stable + churn)
            for i, k in enumerate(stable + churn):
                history.see(k, int(values[i]) if found[i] else None, must_exist=i < len(stable))
            n = len(ix)
            assert STABLE_KEYS <= n <= STABLE_KEYS * 5
            if rounds % 5 == 0:
                for k, v in ix.items():  # not a snapshot: only each pair is checked
                    assert v >> 20 == tag_of(k)
            inodes.add(ix._m.ino)
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, err
    result = __import__("json").loads(out)
    assert result["ok"] and result["ops"] > 1000
    assert result["swaps"] >= 1, result  # the table grew or was compacted into new files
    # The writer is done: the reader follows its last file and sees exactly its map.
    ix.refresh()
    assert len(ix) == result["size"]
    dumped = tmp_path / "final.bin"
    run_node("dump", path, dumped)  # noqa
    from conftest import read_words

    w = read_words(dumped)
    assert ix == dict(zip(w[0::2], w[1::2]))
    assert ix.verify().ok
    ix.close()
    assert len(inodes) >= 2, "the reader never followed the writer to a new file"
    assert history.checked > 10000


def test_a_build_over_an_open_index_retires_it_and_readers_follow(tmp_path: Path, every_path: str) -> None:
    path = tmp_path / "ix.idx"
    idxmap.build({1: 1, 2: 2}, path)
    with idxmap.open(path) as ix:
        assert ix[1] == 1
        old_ino = ix._m.ino
        idxmap.build({1: 10, 3: 30}, path)
        # The old file is retired (§11.4): the next lookup sees its odd seq and follows.
        assert ix[1] == 10 and ix.get(2) is None and ix[3] == 30
        assert ix._m.ino != old_ino
        assert len(ix) == 2 and dict(ix.items()) == {1: 10, 3: 30}
        for _ in range(3):
            # follow() looks at the path at most once a millisecond (§11.7): until then a
            # retired file's answers stand, so give it one.
            time.sleep(0.002)
            idxmap.build({1: 11, 3: 31}, path)
            time.sleep(0.002)
            values, found = ix.get_many([1, 2, 3])
            assert [int(v) for v in values] == [11, 0, 31] and list(map(bool, found)) == [True, False, True]
            idxmap.build({1: 12}, path)
            assert dict(ix.items()) == {1: 12}  # a whole-file read follows at once


def test_a_node_build_over_an_open_index_is_followed(tmp_path: Path) -> None:
    path = tmp_path / "ix.idx"
    idxmap.build({5: 5}, path)
    with idxmap.open(path) as ix:
        assert ix[5] == 5
        from conftest import pairs_file

        run_node("build", pairs_file(tmp_path / "p.bin", [(5, 50), (6, 60)]), path)
        assert ix[5] == 50 and ix[6] == 60


def test_replaced_by_a_plain_rename_is_seen_after_refresh(tmp_path: Path) -> None:
    # mv does not retire the old file (§11.8): lookups follow it once the watcher has looked
    # (within about 100 ms, test_deploy); refresh() follows it at once.
    path = tmp_path / "ix.idx"
    other = tmp_path / "new.idx"
    idxmap.build({1: 1}, path)
    idxmap.build({1: 2}, other)
    with idxmap.open(path) as ix:
        other.rename(path)
        assert ix[1] in (1, 2)
        ix.refresh()  # True, unless the watcher was there first
        assert ix[1] == 2
        assert ix.refresh() is False


def test_a_retired_file_with_no_replacement_answers_at_once() -> None:
    # retired.idx: RETIRED, seq odd (1), and nothing else at its path: its answers stand.
    with idxmap.open(FIXTURES / "retired.idx") as ix:
        t = time.monotonic()
        assert ix[108] == 10800 and len(ix) == 12
        assert time.monotonic() - t < 0.004


def test_a_writer_that_died_mid_operation_is_waited_for_5_ms(every_path: str) -> None:
    # interrupted.idx: seq odd and not retired. The first lookup waits until seq has stayed
    # odd for 5 ms, then answers once a second probe agrees (§11.7); the clock is the reader's,
    # so later lookups do not wait again.
    with idxmap.open(FIXTURES / "interrupted.idx") as ix:
        t = time.monotonic()
        assert ix[108] == 10800
        first = time.monotonic() - t
        assert first >= 0.005
        t = time.monotonic()
        assert ix[2] == 22 and ix.get(40) is None and len(ix) == 12
        values, found = ix.get_many([108, 2, 40])
        assert [int(v) for v in values] == [10800, 22, 0]
        assert time.monotonic() - t < 0.005


def test_a_build_waits_for_or_refuses_a_writer_holding_the_index(tmp_path: Path) -> None:
    path = tmp_path / "held.idx"
    idxmap.build({1: 1}, path)
    holder = subprocess.Popen(
        [node_bin(), str(NODE_HELPER), str(DIST), "hold", str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(idxmap.LockedError) as info:
            idxmap.build({2: 2}, path)
        assert info.value.code == "ERR_IDX_LOCKED" and "is being written by process" in str(info.value)
        assert [p.name for p in tmp_path.iterdir()] == ["held.idx"]  # no temp file left
        with idxmap.open(path) as ix:
            assert ix == {1: 1}
        holder.stdin.write(b"release\n")
        holder.stdin.flush()
        idxmap.build({2: 2}, path, wait=30)
    finally:
        holder.kill()
        holder.wait()
    with idxmap.open(path) as ix:
        assert ix == {2: 2}


def test_threads_share_an_index_while_builds_replace_it(tmp_path: Path, code_path: str) -> None:
    # Four threads read one Index while this thread rebuilds the file again and again: each
    # follow closes the old mapping under the others; they read on from the new file.
    import threading

    path = tmp_path / "shared.idx"
    maps = [{k: (k * 7 + g) & 0xFFFFFFFF for k in range(1, 3001)} for g in range(2)]
    idxmap.build(maps[0], path)
    ix = idxmap.open(path)
    errors: List[str] = []
    rounds = [0] * 5
    stop = threading.Event()

    def reader(seed: int) -> None:
        keys = list(range(seed, 3001, 4))
        try:
            while not stop.is_set():
                rounds[seed] += 1
                for k in keys[:200]:
                    v = ix.get(k)
                    if v not in (maps[0][k], maps[1][k]):
                        errors.append(f"get({k}) = {v}")
                values, found = ix.get_many(keys)
                if not all(found):
                    errors.append("get_many missed a key")
                if len(ix) != 3000:
                    errors.append(f"len {len(ix)}")
                # Let the building thread run: four threads spinning in Python would starve its
                # system calls of the GIL (each waits out a switch interval).
                time.sleep(0.001)
        except Exception as e:  # noqa: BLE001 - reported below
            import traceback

            errors.append("".join(traceback.format_exception(type(e), e, e.__traceback__)))

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(1, 5)]
    for t in threads:
        t.start()
    try:
        # At least 16 replacements, and on until every reader has read through three of them (a
        # loaded machine may starve one thread for a while); a minute at most.
        g, deadline = 0, time.monotonic() + 60
        while g < 16 or (min(rounds[1:]) < 3 and time.monotonic() < deadline):
            idxmap.build(maps[g % 2], path, sync=False)
            g += 1
            time.sleep(0.005)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    generations = ix._m.generation
    ix.close()
    assert errors == []
    assert min(rounds[1:]) >= 3 and generations >= 8  # they read on while it followed file after file


def test_a_file_truncated_under_the_mapping_is_noticed_at_the_safe_points(tmp_path: Path, code_path: str) -> None:
    # cp over a live index truncates it in place. get_many, iteration, info and verify check
    # the size first (one fstat) and reopen the path, or say why they cannot, rather than touch
    # a lost page (SIGBUS).
    path = tmp_path / "ix.idx"
    idxmap.build({k: k for k in range(1, 5000)}, path)
    smaller = tmp_path / "small.idx"
    idxmap.build({7: 70}, smaller)
    ix = idxmap.open(path)
    assert ix[7] == 7
    with open(path, "r+b") as f:  # what `cp small.idx ix.idx` does: truncate, then rewrite
        f.truncate(0)
        f.write(smaller.read_bytes())
    values, found = ix.get_many([7, 8])
    assert [int(v) for v in values] == [70, 0] and list(map(bool, found)) == [True, False]
    assert ix[7] == 70 and dict(ix.items()) == {7: 70}
    with open(path, "r+b") as f:
        f.truncate(0)  # and a copy not written yet
    with pytest.raises(idxmap.CorruptError, match="truncated or rewritten in place"):
        ix.get_many([7])
    for f in (ix.info, ix.verify, lambda: list(ix.items())):
        with pytest.raises(idxmap.CorruptError):
            f()
    ix.close()


def test_a_single_lookup_on_a_truncated_mapping_is_killed_by_sigbus_without_the_extension(tmp_path: Path) -> None:
    # What the README warns about: the pure ix[k] does no system call, and a lost page kills the
    # process. (The C extension survives it: test_native.)
    import signal
    import subprocess
    import sys

    path = tmp_path / "ix.idx"
    idxmap.build({k: k for k in range(1, 5000)}, path)
    code = (
        "import idxmap, os, sys\n"
        f"ix = idxmap.open({str(path)!r})\n"
        "assert ix[7] == 7\n"
        f"os.truncate({str(path)!r}, 0)\n"
        "ix[7]\n"
        "print('survived')\n"
    )
    from test_cli import ENV

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env={**ENV, "IDXMAP_PURE": "1"}, timeout=60)
    assert r.returncode == -signal.SIGBUS and b"survived" not in r.stdout


def test_an_iteration_checks_the_size_before_each_chunk(tmp_path: Path, every_path: str) -> None:
    # Iteration copies 65,536 slots at a time; before each chunk it checks the file's size, so a
    # file truncated (or rewritten in place) mid-iteration is never touched (SIGBUS): it goes on
    # in the file at the path, or raises CorruptError when that is no index.
    import json
    import os
    import shutil
    import sys

    from test_cli import ENV

    big = tmp_path / "big.idx"
    idxmap.build({(i * 2654435761) & 0xFFFFFFFF: i for i in range(70000)}, big)
    with idxmap.open(big) as ix:
        assert ix.info().slot_count > 65536
        everything = [list(kv) for kv in ix.items()]
    small = tmp_path / "small.idx"
    idxmap.build({7: 70}, small)
    rewritten, emptied = tmp_path / "rewritten.idx", tmp_path / "emptied.idx"
    shutil.copy(big, rewritten)
    shutil.copy(big, emptied)
    code = (
        "import idxmap, json, os, sys\n"
        "rewritten, emptied, small = sys.argv[1:]\n"
        "ix = idxmap.open(rewritten)\n"
        "it = iter(ix.items())\n"
        "seen = [next(it) for _ in range(10)]\n"
        "with open(rewritten, 'r+b') as f:  # cp small.idx over it\n"
        "    f.truncate(0)\n"
        "    f.write(open(small, 'rb').read())\n"
        "seen += list(it)\n"
        "print(json.dumps([seen, ix[7]]))\n"
        "ix = idxmap.open(emptied)\n"
        "it = iter(ix.items())\n"
        "next(it)\n"
        "os.truncate(emptied, 0)\n"
        "try:\n"
        "    list(it)\n"
        "except idxmap.CorruptError as e:\n"
        "    print(json.dumps(str(e).splitlines()[0]))\n"
    )
    env = {**ENV, "IDXMAP_NUMPY": "0" if every_path == "pure" else "1"}
    r = subprocess.run([sys.executable, "-c", code, str(rewritten), str(emptied), str(small)], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr.decode()[-2000:])
    lines = r.stdout.decode().splitlines()
    seen, value = json.loads(lines[0])
    # The first chunk, copied before the rewrite; then the small file, from slot 65,536: past its end.
    assert 10 < len(seen) < len(everything) and seen == everything[: len(seen)] and value == 70
    assert json.loads(lines[1]) == f"{emptied}: the index file was truncated or rewritten in place while it was open, and cannot be reopened: is empty (0 bytes), not an idx index"


# ---- §11.7 "A writer that died": the lock tells a dead writer from a stopped one ----


def _slow_entries_of(ix: idxmap.Index, lookups) -> int:
    before = ix._slow
    lookups()
    return ix._slow - before


def _many_lookups(ix: idxmap.Index, expected: Dict[int, int], missing: int):
    def run() -> None:
        for _ in range(200):
            for k, v in expected.items():
                assert ix[k] == v and ix.get(k) == v and k in ix
            assert ix.get(missing) is None and missing not in ix

    return run


EDITED = None


def _edited_map() -> Dict[int, int]:
    # interrupted.idx answers as edited.idx does (§11.3: every step answers as before or after).
    global EDITED
    if EDITED is None:
        with idxmap.open(FIXTURES / "edited.idx") as ix:
            EDITED = dict(ix.items())
    return EDITED


@pytest.mark.parametrize("fixture", ["interrupted.idx", "retired.idx"])
def test_a_dead_writers_odd_seq_is_treated_as_even_after_5_ms(tmp_path: Path, every_path: str, fixture: str) -> None:
    # interrupted.idx: seq odd and dirty blocks, as a writer killed mid-insert leaves it;
    # retired.idx at its own path: a renamer killed between its mark and its rename. Nobody
    # holds the lock: after one wait of 5 ms (the first lookup), that seq value is `dead` and
    # every lookup takes the fast path again (no slow-path entry in thousands of lookups).
    import shutil

    path = tmp_path / "ix.idx"
    shutil.copy(FIXTURES / fixture, path)
    with idxmap.open(FIXTURES / ("edited.idx" if fixture == "interrupted.idx" else "cluster.idx")) as clean:
        expected = dict(clean.items())
    ix = idxmap.open(path)
    seq = int(ix._m.words[12])
    assert seq & 1
    t = time.monotonic()
    assert ix[108] == expected[108]
    assert ix._m.dead == seq
    if fixture == "interrupted.idx":
        assert time.monotonic() - t >= 0.005  # it waited before testing the lock
    missing = min(k for k in range(1000) if k not in expected)
    assert _slow_entries_of(ix, _many_lookups(ix, {k: expected[k] for k in list(expected)[:6]}, missing)) == 0
    keys = list(expected) + [missing]

    def batches() -> None:
        for _ in range(20):
            values, found = ix.get_many(keys)
            assert [int(v) for v, f in zip(values, found) if f] == list(expected.values())
            assert len(ix) == len(expected) and dict(ix.items()) == expected

    assert _slow_entries_of(ix, batches) == 0
    t = time.monotonic()
    assert ix.info().count == len(expected) and idxmap.verify(path).ok  # their header reads test the lock too
    assert time.monotonic() - t < 0.5
    ix.close()


def test_a_live_writers_odd_seq_is_not_treated_as_dead(tmp_path: Path, every_path: str) -> None:
    # The same file with its lock held (a writer stopped mid-operation: it keeps its lock): the
    # reader waits on it, does not take its seq as dead, and after 1 s answers with two probes
    # that agree (slow, but right). Once the lock is free, a test within 100 ms finds it so.
    import fcntl
    import os
    import shutil

    path = tmp_path / "ix.idx"
    shutil.copy(FIXTURES / "interrupted.idx", path)
    expected = _edited_map()
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        t = time.monotonic()
        ix = idxmap.open(path)  # its header too is read under §11.7's wait
        assert time.monotonic() - t >= 1.0
        t = time.monotonic()
        assert ix[108] == expected[108]
        assert time.monotonic() - t >= 1.0  # not 5 ms: a held lock is a live writer
        assert ix._m.dead == -1
        slow = _slow_entries_of(ix, lambda: [ix.get(k) for k in (2, 108, 40)])
        assert slow == 3 and ix._m.dead == -1 and ix.get(2) == expected[2]
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    time.sleep(0.11)  # the next lock test may come 100 ms after the last
    assert ix[2] == expected[2] and ix._m.dead == int(ix._m.words[12])
    assert _slow_entries_of(ix, lambda: [ix.get(k) for k in (2, 108, 40)]) == 0
    ix.close()


def test_a_retired_file_whose_renamer_holds_the_lock_is_not_dead(tmp_path: Path) -> None:
    # retired.idx at its path with its lock held: a build between its mark and its rename. The
    # retired file's answers stand at once (it no longer changes), but its seq is not `dead`.
    import fcntl
    import os
    import shutil

    path = tmp_path / "ix.idx"
    shutil.copy(FIXTURES / "retired.idx", path)
    holder = os.open(path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        ix = idxmap.open(path)
        t = time.monotonic()
        assert ix[108] == 10800 and len(ix) == 12
        assert time.monotonic() - t < 0.5 and ix._m.dead == -1
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    ix.close()
