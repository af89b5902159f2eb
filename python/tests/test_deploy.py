"""§11.7, §11.8: readers follow every way of deploying a new index, not only the ones that retire
the old file. A rename over the path (mv, rsync), rm and a new build, a build that could not mark
the old file retired: the watcher notices within about 100 ms and the next lookup follows. A
file changed in place is never answered from. A process reads its own replacements at once, and
a batch answers from one file."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

import idxmap
from idxmap import mapping, reader

from conftest import HAS_NUMPY

KEYS = list(range(1, 2001))
OLD = {k: 1000 + k for k in KEYS}
NEW = {k: 500000 + k for k in KEYS}

MOVER = """
import os, sys, time
time.sleep(0.3)
os.rename(sys.argv[1], sys.argv[2])
print(repr(time.time()), flush=True)
"""


def _values(ix: idxmap.Index, keys: List[int]) -> List[int]:
    values, found = ix.get_many(keys)
    assert all(map(bool, found))
    return [int(v) for v in values]


def test_a_rename_by_another_process_is_followed_within_500_ms(tmp_path: Path, code_path: str) -> None:
    # mv of a complete file over the path: the old file is not retired, so only the watcher can
    # tell. Lookups go on meanwhile; every answer is the old file's or the new one's, and once
    # the new one's, never the old one's again.
    path, new = tmp_path / "ix.idx", tmp_path / "new.idx"
    idxmap.build(OLD, path)
    idxmap.build(NEW, new)
    ix = idxmap.open(path)
    mover = subprocess.Popen([sys.executable, "-c", MOVER, str(new), str(path)], stdout=subprocess.PIPE)
    first_new = None
    lookups = 0
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            k = KEYS[lookups % len(KEYS)]
            lookups += 1
            v = ix[k]
            if v == NEW[k]:
                if first_new is None:
                    first_new = time.time()
            else:
                assert v == OLD[k], f"ix[{k}] = {v}: neither file's value"
                assert first_new is None, f"ix[{k}] went back to the old file's value"
            if first_new is not None and time.time() - first_new > 0.2:
                break
        renamed_at = float(mover.communicate(timeout=30)[0])
    finally:
        if mover.poll() is None:
            mover.kill()
    assert first_new is not None, "the reader never followed the rename"
    assert first_new - renamed_at < 0.5, f"followed {first_new - renamed_at:.3f} s after the rename"
    assert _values(ix, KEYS[:100]) == [NEW[k] for k in KEYS[:100]]
    assert len(ix) == len(NEW) and dict(ix.items()) == NEW
    ix.close()


def test_rm_and_a_new_build_elsewhere_is_followed(tmp_path: Path, code_path: str) -> None:
    # rm, then a build by another process (idx here): nothing retired the file this reader
    # maps; it keeps answering from it while the path is empty, and follows once a file is there.
    from conftest import pairs_file, run_node

    path = tmp_path / "ix.idx"
    idxmap.build(OLD, path)
    ix = idxmap.open(path)
    os.unlink(path)
    time.sleep(0.25)
    assert ix[5] == OLD[5]  # nothing at the path: the old file's answers stand
    run_node("build", pairs_file(tmp_path / "p.bin", NEW.items()), path)
    deadline = time.monotonic() + 5
    while ix[5] != NEW[5]:
        assert ix[5] == OLD[5]
        assert time.monotonic() < deadline, "the reader never followed the new file"
        time.sleep(0.01)
    assert len(ix) == len(NEW)
    ix.close()


def test_a_file_that_changed_size_is_never_answered_from(tmp_path: Path, code_path: str) -> None:
    # An append (or any change of size) makes the file invalid (§9.1 rule 9): once the watcher
    # has seen it, lookups raise CorruptError, without answering from the mapping, while the path
    # holds no valid index; they answer again once it does.
    path = tmp_path / "ix.idx"
    idxmap.build(OLD, path)
    size = path.stat().st_size
    ix = idxmap.open(path)
    assert ix[7] == OLD[7]
    with open(path, "ab") as f:
        f.write(b"appended")
    deadline = time.monotonic() + 5
    while True:
        try:
            assert ix.get(7) == OLD[7]
        except idxmap.CorruptError as e:
            message = str(e)
            break
        assert time.monotonic() < deadline, "lookups went on answering from a file that changed size"
        time.sleep(0.01)
    assert message.startswith(f"{path}: the index file was truncated or rewritten in place while it was open")
    assert "but its header describes" in message and "(8 bytes too many)" in message, message
    for lookup in (lambda: ix[7], lambda: ix.get_many([7]), lambda: len(ix), lambda: list(ix.items())):
        with pytest.raises(idxmap.CorruptError):
            lookup()
    os.truncate(path, size)  # the index is whole again
    time.sleep(0.002)  # the reader reopens at most once a millisecond
    assert ix[7] == OLD[7] and _values(ix, [7, 8]) == [OLD[7], OLD[8]] and len(ix) == len(OLD)
    ix.close()


def _same_size_other_layout():
    """Two maps whose files have the same size but different capacities (so another header
    checksum): one written over the other in place changes no size. ``b``'s seven keys hash to
    the top of the range and pile up past its 8 home slots into slots 7..13; ``a`` has 14 home
    slots and 22 slots in all, as ``b``."""
    from idxmap.table import place, sorted_entries

    def slot_count(m: Dict[int, int]) -> int:
        hashes, _, _ = sorted_entries(m.items())
        cap = -(-8 * len(m) // 7)
        positions, _ = place(hashes, cap)
        return max(cap, positions[-1] + 1) + 8

    b = {idxmap.unhash32(0xFFFFFFFE - i): 70 + i for i in range(7)}
    r = random.Random(1)
    while True:
        a = {r.randrange(1 << 32): r.randrange(1 << 32) for _ in range(12)}
        if len(a) == 12 and slot_count(a) == slot_count(b) == 22:
            return a, b


def test_a_lookup_compares_the_header_checksum_word_with_its_value_at_open(
    tmp_path: Path, code_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # §11.7: a file rewritten in place with another layout (capacity) but the same size is not
    # probed with the old layout's numbers, even before the watcher looks (made to look away
    # here): the header checksum word differs from the one at open, and the reader reopens.
    a, b = _same_size_other_layout()
    pa, pb = tmp_path / "a.idx", tmp_path / "b.idx"
    idxmap.build(a, pa)
    idxmap.build(b, pb)
    assert pa.stat().st_size == pb.stat().st_size and pa.read_bytes()[12:16] != pb.read_bytes()[12:16]
    monkeypatch.setattr(mapping.MappedFile, "look", lambda self, path: None, raising=False)
    for lookup in ("get", "get_many", "in"):
        ix = idxmap.open(pa)
        assert all(ix[k] == v for k, v in a.items())
        with open(pa, "r+b") as f:  # dd conv=notrunc: the same inode, the same size
            f.write(pb.read_bytes())
        if lookup == "get":
            assert {k: ix.get(k) for k in b} == b
            assert all(ix.get(k) is None for k in a if k not in b)
        elif lookup == "get_many":
            keys = list(b) + [k for k in a if k not in b]
            values, found = ix.get_many(keys)
            assert [int(v) for v in values[: len(b)]] == list(b.values()) and list(map(bool, found)) == [True] * len(b) + [False] * (len(keys) - len(b))
        else:
            assert all(k in ix for k in b) and not any(k in ix for k in a if k not in b)
        assert len(ix) == len(b) and dict(ix.items()) == b
        ix.close()
        idxmap.build(a, pa)


def test_own_replacements_are_read_at_once(tmp_path: Path, every_path: str) -> None:
    # §11.7: a process that renamed a new file over an index reads it at once in its readers,
    # not after the follow pause (1 ms); also when the old file was gone (rm), so that nothing
    # retired it.
    path = tmp_path / "ix.idx"
    idxmap.build({1: 0}, path, sync=False)
    with idxmap.open(path) as ix:
        assert ix[1] == 0
        for g in range(1, 30):
            idxmap.build({1: g, 2: g}, path, sync=False)
            assert ix[1] == g and ix.get(2) == g
            idxmap.build({1: -g & 0xFFFFFFFF}, path, sync=False)
            assert _values(ix, [1]) == [-g & 0xFFFFFFFF] and len(ix) == 1
        os.unlink(path)
        idxmap.build({1: 77}, path, sync=False)
        assert ix[1] == 77


@pytest.mark.parametrize("numpy_path", [True, False] if HAS_NUMPY else [False])
def test_a_batch_that_follows_part_way_answers_from_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numpy_path: bool
) -> None:
    # §11.7 "A batch": the file is replaced while get_many is in its second chunk; every key of
    # the call is then answered from the new file, none from the old.
    if not numpy_path:
        from idxmap import vectorized

        monkeypatch.setattr(vectorized, "_numpy", None)
        monkeypatch.setattr(vectorized, "_checked", True)
    monkeypatch.setattr(reader, "GET_MANY_CHUNK", 8)
    path = tmp_path / "ix.idx"
    idxmap.build(OLD, path, sync=False)
    ix = idxmap.open(path)
    # The Python batch paths (the extension's is test_native's): with no extension mapping for
    # the first file, get_many takes them.
    ix._current().native = None
    keys = KEYS[:40]
    replaced = []
    if numpy_path:
        real = idxmap.Index._settled_chunk

        def chunk(self: idxmap.Index, hashes: object) -> object:
            if len(replaced) == 0 and getattr(self, "_chunks", 0) == 1:
                idxmap.build(NEW, path, sync=False)
                replaced.append(True)
            self._chunks = getattr(self, "_chunks", 0) + 1
            return real(self, hashes)

        monkeypatch.setattr(idxmap.Index, "_settled_chunk", chunk)
    else:
        real_get = ix._get
        calls = []

        def get(key: object) -> object:
            calls.append(key)
            if len(calls) == 13:
                idxmap.build(NEW, path, sync=False)
                replaced.append(True)
            return real_get(key)

        ix._get = get  # type: ignore[method-assign]
    values, found = ix.get_many(keys)
    assert replaced == [True]
    assert [int(v) for v in values] == [NEW[k] for k in keys] and all(map(bool, found))
    ix.close()


NOBODY = 65534


def test_a_build_that_cannot_retire_the_old_file_replaces_it_says_so_and_readers_follow(tmp_path: Path) -> None:
    # A 0444 index of another user: the build may rename over it (the directory is writable)
    # but not write it, so it cannot mark it retired. It replaces it all the same and warns;
    # a reader of the old file follows within about 100 ms.
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="idxmap-shared-"))  # /tmp: reachable by another user
    try:
        os.chmod(shared, 0o777)
        path = shared / "ix.idx"
        idxmap.build(OLD, path)
        os.chmod(path, 0o444)
        ix = idxmap.open(path)
        assert ix[3] == OLD[3]
        code = (
            "import fcntl, os, sys, warnings, idxmap, idxmap.builder\n"
            "if os.geteuid() == 0:\n"
            f"    os.setgid({NOBODY}); os.setuid({NOBODY})\n"
            "idxmap.build({k: 500000 + k for k in range(1, 2001)}, sys.argv[1])\n"
            "print('built', flush=True)\n"
        )
        from test_cli import ENV

        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, env={**ENV, "IDXMAP_NUMPY": "0"}, timeout=60)
        built_at = time.monotonic()
        assert r.returncode == 0 and r.stdout == b"built\n", r.stderr.decode()
        err = r.stderr.decode()
        assert "IdxWarning" in err and f"{path}: replaced, but the old index could not be marked retired (permission denied (EACCES))" in err
        assert "readers that watch the path (idxmap, idx) follow within about 100 ms" in err
        while ix[3] != NEW[3]:
            assert ix[3] == OLD[3]
            time.sleep(0.005)
        assert time.monotonic() - built_at < 0.5
        assert len(ix) == len(NEW)
        ix.close()
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)


def test_a_dropped_index_is_not_kept_alive_by_the_watcher(tmp_path: Path) -> None:
    import gc
    import weakref

    path = tmp_path / "ix.idx"
    idxmap.build({1: 1}, path)
    ix = idxmap.open(path)
    ref = weakref.ref(ix)
    time.sleep(0.25)  # the watcher has looked at it
    del ix
    gc.collect()
    assert ref() is None


def test_one_watcher_thread_for_every_open_index(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "ix.idx"
    idxmap.build({1: 1}, path)
    indexes = [idxmap.open(path) for _ in range(20)]
    watchers = [t for t in threading.enumerate() if t.name == "idxmap-watcher"]
    assert len(watchers) == 1 and watchers[0].daemon
    for ix in indexes:
        ix.close()
