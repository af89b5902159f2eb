"""idxmap.build: every input form, last-wins, the escaped key, refusals, and §11.1's way of
putting the file in place (temp name, atomic rename, no temp left on failure, the old file
retired, its mode kept)."""

from __future__ import annotations

import array
import os
import stat
import struct
from pathlib import Path

import pytest

import idxmap
import importlib

build_module = importlib.import_module("idxmap.builder")
from idxmap import vectorized

from conftest import ESCAPED_KEY, FIXTURES, HAS_NUMPY, MAX_U32, mulberry32, with_values


def files_in(d: Path) -> list:
    return sorted(p.name for p in d.iterdir())


def test_last_value_wins_and_the_escaped_key_goes_to_the_header(tmp_path: Path, every_path: str) -> None:
    p = tmp_path / "x.idx"
    r = idxmap.build([(ESCAPED_KEY, 1), (5, 1), (ESCAPED_KEY, 2), (5, 2), (0, 0)], p)
    assert (r.count, r.pairs) == (3, 5)
    with idxmap.open(p) as ix:
        assert ix == {ESCAPED_KEY: 2, 5: 2, 0: 0}
        assert struct.unpack_from("<I", p.read_bytes(), 32)[0] == 1 << 28  # ESCAPED
        assert struct.unpack_from("<I", p.read_bytes(), 56)[0] == 2  # entries in slots


def test_input_forms_give_the_same_bytes(tmp_path: Path, every_path: str) -> None:
    m = with_values([next(r) for r in [mulberry32(4)] for _ in range(3000)] + [0, MAX_U32, ESCAPED_KEY])
    keys, values = list(m), list(m.values())
    ref = tmp_path / "ref.idx"
    idxmap.build(m, ref)
    sources = {
        "items": list(m.items()),
        "iterator of lists": iter([[k, v] for k, v in m.items()]),
        "array columns": (array.array("I", keys), array.array("I", values)),
        "memoryview columns": (memoryview(array.array("I", keys)), memoryview(array.array("I", values))),
        "an Index": idxmap.open(ref),
    }
    np = vectorized.numpy_or_none() or (HAS_NUMPY and __import__("numpy"))
    if np:
        sources["numpy columns"] = (np.array(keys, dtype=np.uint64), np.array(values, dtype=np.int64))
        sources["numpy pairs"] = np.array(list(m.items()), dtype=np.uint32)
        sources["numpy ints in pairs"] = [(np.uint32(k), np.int64(v)) for k, v in m.items()]
    for what, src in sources.items():
        out = tmp_path / "out.idx"
        idxmap.build(src, out)
        assert out.read_bytes() == ref.read_bytes(), what
    sources["an Index"].close()


def test_numpy_and_pure_python_write_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not HAS_NUMPY:
        pytest.skip("numpy is not installed")
    r = mulberry32(21)
    pairs = [(next(r) >> (next(r) % 24), next(r)) for _ in range(40000)] + [(ESCAPED_KEY, 3), (ESCAPED_KEY, 4)]
    a, b = tmp_path / "a.idx", tmp_path / "b.idx"
    idxmap.build(pairs, a)
    monkeypatch.setattr(vectorized, "_numpy", None)
    idxmap.build(pairs, b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "source",
    [
        [(-1, 1)],
        [(1, 2**32)],
        [(1.5, 1)],
        [("1", 1)],
        [(1, None)],
        [(1, 2), (3,)],
        [(1, 2, 3)],
        [5],
        5,
        "12",
        {1: -1},
        {1.5: 1},
    ],
)
def test_refuses_what_is_not_uint32_pairs(tmp_path: Path, source, every_path: str) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({7: 7}, p)
    before = p.read_bytes()
    with pytest.raises(idxmap.InvalidArgumentError) as info:
        idxmap.build(source, p)
    assert info.value.code == "ERR_IDX_INVALID_ARGUMENT"
    assert p.read_bytes() == before and files_in(tmp_path) == ["x.idx"]


def test_refuses_uneven_columns_and_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(idxmap.InvalidArgumentError, match="differ in length"):
        idxmap.build((array.array("I", [1, 2]), array.array("I", [1])), tmp_path / "x.idx")
    if HAS_NUMPY:
        import numpy as np

        for bad in (np.zeros((3, 3), dtype=np.uint32), np.array([[1.5, 2]]), np.array([[-1, 2]])):
            with pytest.raises(idxmap.InvalidArgumentError):
                idxmap.build(bad, tmp_path / "x.idx")
    assert files_in(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    before = p.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module.os, "write", full)
    with pytest.raises(idxmap.IdxIOError) as info:
        idxmap.build({2: 2}, p)
    assert "no space left on device (ENOSPC)" in str(info.value)
    assert p.read_bytes() == before and files_in(tmp_path) == ["x.idx"]

    def interrupted(fd: int, data: bytes) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module.os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        idxmap.build({2: 2}, p)
    assert p.read_bytes() == before and files_in(tmp_path) == ["x.idx"]


def test_target_problems(tmp_path: Path) -> None:
    with pytest.raises(idxmap.IdxIOError, match="is a directory"):
        idxmap.build({1: 1}, tmp_path)
    with pytest.raises(idxmap.IdxIOError, match="create a temp file"):
        idxmap.build({1: 1}, tmp_path / "no" / "such" / "dir.idx")
    with pytest.raises(idxmap.InvalidArgumentError):
        idxmap.build({1: 1}, "")


def test_the_old_file_is_retired_and_its_mode_kept(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    os.chmod(p, 0o664)  # group-writable: the usual umask (022) would take that away
    old = tmp_path / "old-link.idx"
    os.link(p, old)  # the old file, as a reader that mapped it still sees it
    idxmap.build({2: 2}, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o664  # §11.1: exactly the replaced file's mode
    report = idxmap.verify(old)
    assert report.ok and report.retired  # §11.4: RETIRED, and every check still passes
    data = old.read_bytes()
    assert struct.unpack_from("<I", data, 32)[0] == 1 << 29 and struct.unpack_from("<I", data, 48)[0] == 1
    with idxmap.open(old) as ix:
        assert ix == {1: 1}
    with idxmap.open(p) as ix:
        assert ix == {2: 2}


def test_a_file_that_is_not_an_index_is_replaced_untouched(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    p.write_bytes(b"not an index at all, and longer than sixty-four bytes ............")
    old = tmp_path / "old"
    os.link(p, old)
    before = old.read_bytes()
    idxmap.build({1: 1}, p)
    assert old.read_bytes() == before


def test_a_new_index_gets_the_mode_any_new_file_gets(tmp_path: Path) -> None:
    p = tmp_path / "new.idx"
    idxmap.build({1: 1}, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    dead = tmp_path / ".x.idx.999999999.0123abcd.tmp"  # no such pid
    mine = tmp_path / f".x.idx.{os.getppid()}.0123abcd.tmp"  # a live process (our parent)
    other = tmp_path / ".y.idx.999999999.0123abcd.tmp"  # another target's
    for f in (dead, mine, other):
        f.write_bytes(b"")
    idxmap.build({1: 1}, p)
    assert files_in(tmp_path) == sorted([mine.name, other.name, "x.idx"])


def test_temp_file_is_beside_the_target_with_the_spec_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = build_module._commit

    def spy(temp: str, target: str, sync: bool, no_clobber: bool) -> bool:
        seen.append(os.path.basename(temp))
        assert os.path.dirname(temp) == str(tmp_path)
        return real(temp, target, sync, no_clobber)

    monkeypatch.setattr(build_module, "_commit", spy)
    idxmap.build({1: 1}, tmp_path / "ids.idx")
    import re

    assert len(seen) == 1 and re.fullmatch(rf"\.ids\.idx\.{os.getpid()}\.[0-9a-f]{{8}}\.tmp", seen[0])
