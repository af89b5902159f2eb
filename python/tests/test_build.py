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
        [(1, 2**64)],
        [(2**64, 1)],
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
def test_refuses_what_is_not_uint64_pairs(tmp_path: Path, source, every_path: str) -> None:
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


def test_a_file_that_is_not_an_index_is_replaced_untouched_with_force(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    p.write_bytes(b"not an index at all, and longer than sixty-four bytes ............")
    old = tmp_path / "old"
    os.link(p, old)
    before = old.read_bytes()
    idxmap.build({1: 1}, p, force=True)
    assert old.read_bytes() == before
    with idxmap.open(p) as ix:
        assert ix == {1: 1}


def test_a_file_that_is_not_an_index_is_not_replaced(tmp_path: Path) -> None:
    # As idx's refuseToReplace (src/build.ts): an index, an empty file or nothing is replaced;
    # anything else is not the build's to overwrite, unless forced.
    text = tmp_path / "pairs.tsv"
    text.write_text("1 2\n")
    consumed = []

    def pairs():
        consumed.append(True)
        yield (1, 1)

    with pytest.raises(idxmap.NotAnIndexError) as info:
        idxmap.build(pairs(), text)
    assert str(info.value) == (
        f"{text}: exists and is not an idx index, so it was not replaced\n"
        "Check the output path; to replace that file anyway, pass force=True."
    )
    assert info.value.code == "ERR_IDX_NOT_AN_INDEX" and text.read_text() == "1 2\n" and consumed == []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(idxmap.NotAnIndexError, match=r"exists and is not an idx index \(it is a named pipe\), so it was not replaced"):
        idxmap.build({1: 1}, fifo)  # at once: the pipe is never opened
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(idxmap.IdxIOError, match="is a directory; give the path of the index file to write"):
        idxmap.build({1: 1}, tmp_path, force=True)
    for allowed in (b"", b"\x89IDX", (FIXTURES / "one.idx").read_bytes()):  # empty, an index's first bytes, an index
        p = tmp_path / "ok.idx"
        p.write_bytes(allowed)
        idxmap.build({2: 2}, p)
        with idxmap.open(p) as ix:
            assert ix == {2: 2}
    idxmap.build({3: 3}, fifo, force=True)
    with idxmap.open(fifo) as ix:
        assert ix == {3: 3}
    assert sorted(files_in(tmp_path)) == ["fifo", "ok.idx", "pairs.tsv"]


def test_a_build_through_a_symlink_replaces_the_file_it_names(tmp_path: Path) -> None:
    # As cp and > do, and idx build (writeTarget): the link stays a link, to the new index.
    target = tmp_path / "real.idx"
    idxmap.build({1: 1}, target)
    old = tmp_path / "old-link.idx"
    os.link(target, old)  # the old file, as a reader that mapped it sees it
    link = tmp_path / "ids.idx"
    link.symlink_to("real.idx")
    r = idxmap.build({2: 2}, link)
    assert link.is_symlink() and os.readlink(link) == "real.idx" and r.path == str(target)
    with idxmap.open(link) as ix:
        assert ix == {2: 2}
    assert idxmap.verify(old).retired  # the file it replaced was retired, so its readers follow
    text = tmp_path / "text"
    text.write_text("not an index")
    (tmp_path / "to-text").symlink_to("text")
    with pytest.raises(idxmap.NotAnIndexError):
        idxmap.build({1: 1}, tmp_path / "to-text")  # the file it names decides
    dangling = tmp_path / "dangling.idx"
    dangling.symlink_to("nowhere.idx")
    # No file to write through to: the link itself is replaced (it used to be waited for
    # forever, so in a process of its own).
    import subprocess
    import sys

    from test_cli import ENV

    code = f"import idxmap; idxmap.build({{3: 3}}, {str(dangling)!r})"
    assert subprocess.run([sys.executable, "-c", code], env=ENV, timeout=60).returncode == 0
    assert not dangling.is_symlink() and not (tmp_path / "nowhere.idx").exists()
    with idxmap.open(dangling) as ix:
        assert ix == {3: 3}


@pytest.mark.parametrize("wait", ["x", None, -1, float("nan"), True])
def test_refuses_a_wait_that_is_not_seconds(tmp_path: Path, wait: object) -> None:
    with pytest.raises(idxmap.InvalidArgumentError, match="wait must be a number of seconds"):
        idxmap.build({1: 1}, tmp_path / "x.idx", wait=wait)  # type: ignore[arg-type]
    assert files_in(tmp_path) == []


def test_numpy_integers_of_mixed_types_are_taken_as_ints(tmp_path: Path, every_path: str) -> None:
    # numpy's promotion would make floats of [uint64(5), 1]; each is taken as the int it is.
    np = vectorized.numpy_or_none() or (HAS_NUMPY and __import__("numpy"))
    if not np:
        pytest.skip("numpy is not installed")
    ref, out = tmp_path / "ref.idx", tmp_path / "out.idx"
    idxmap.build({5: 1, 1: 2, 7: 3}, ref)
    idxmap.build([(np.uint64(5), 1), (1, np.uint64(2)), (np.int8(7), np.uint32(3))], out)
    assert out.read_bytes() == ref.read_bytes()
    with pytest.raises(idxmap.InvalidArgumentError, match="pair #1: value True"):
        idxmap.build([(1, 2), (3, True)], out)  # a bool is no value, mixed with ints or not


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


def test_build_accepts_and_refuses_the_same_sources_with_and_without_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The numpy path and the pure-Python path (IDXMAP_NUMPY=0) write the same bytes for the same
    # source, or refuse it with the same code.
    if not HAS_NUMPY:
        pytest.skip("numpy is not installed")
    import numpy as np

    sources = {
        "pairs": lambda: [(5, 1), (1, 2)],
        "numpy ints of mixed types": lambda: [(np.uint64(5), 1), (1, np.int8(2))],
        "a bool among ints": lambda: [(5, 1), (1, True)],
        "a numpy float": lambda: [(np.float64(5), 1)],
        "array columns": lambda: (array.array("I", [5, 1]), array.array("I", [1, 2])),
        "memoryview 2-d column": lambda: (memoryview(array.array("I", [5, 1, 2, 3])).cast("B").cast("I", (2, 2)), array.array("I", [1, 2])),
        "numpy columns": lambda: (np.array([5, 1], dtype=np.uint64), np.array([1, 2])),
        "numpy object columns": lambda: (np.array([5, 1], dtype=object), np.array([1, 2])),
        "numpy float columns": lambda: (np.array([5.0, 1.0]), np.array([1, 2])),
        "numpy bool column": lambda: (np.array([5, 1]), np.array([True, False])),
        "numpy pairs": lambda: np.array([[5, 1], [1, 2]], dtype=np.int64),
        "numpy pairs of shape (2, 3)": lambda: np.array([[5, 1, 0], [1, 2, 0]]),
        "numpy records": lambda: np.array([(5, 1), (1, 2)], dtype=[("k", "u4"), ("v", "u4")]),
    }
    answers = {}
    for path in ("numpy", "pure"):
        if path == "pure":
            monkeypatch.setattr(vectorized, "_numpy", None)
            monkeypatch.setattr(vectorized, "_checked", True)
        answers[path] = {}
        for name, make in sources.items():
            out = tmp_path / f"{path}.idx"
            try:
                idxmap.build(make(), out)
                answers[path][name] = out.read_bytes()
            except idxmap.IdxError as e:
                answers[path][name] = e.code
    assert answers["numpy"] == answers["pure"]
    assert answers["pure"]["numpy ints of mixed types"] == answers["pure"]["pairs"]
    assert answers["pure"]["numpy object columns"] == answers["pure"]["a bool among ints"] == "ERR_IDX_INVALID_ARGUMENT"


# ---- §11.2, §11.4: the writer lock and the retire mark ----


def test_a_lock_held_for_an_instant_by_a_reader_does_not_fail_a_build(tmp_path: Path) -> None:
    # Readers take the lock shared for an instant to test it (§11.7, a writer that died); a
    # build that meets one retries for up to 50 ms before it reports the index locked.
    import fcntl
    import threading
    import time

    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    fd = os.open(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        release = threading.Timer(0.02, fcntl.flock, (fd, fcntl.LOCK_UN))
        release.start()
        idxmap.build({2: 2}, p)  # wait=0
        release.join()
        with idxmap.open(p) as ix:
            assert ix == {2: 2}
    finally:
        os.close(fd)
    # Held for good (a writer): refused, after the 50 ms of retries.
    fd = os.open(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t = time.monotonic()
        with pytest.raises(idxmap.LockedError, match="is being written by process"):
            idxmap.build({3: 3}, p)
        assert time.monotonic() - t >= 0.05
    finally:
        os.close(fd)
    with idxmap.open(p) as ix:
        assert ix == {2: 2}


@pytest.mark.parametrize(
    "fixture, state, seq",
    [
        ("edited.idx", (1 << 28) | (1 << 29), 15),  # ESCAPED kept; even seq 14 -> 15
        ("interrupted.idx", (1 << 28) | (1 << 29), 17),  # odd seq 15 -> 17, a value never seen
        ("retired.idx", 1 << 29, 3),  # retired already: 1 -> 3
    ],
)
def test_the_retire_mark_keeps_every_state_bit_then_stores_a_fresh_odd_seq(tmp_path: Path, fixture: str, state: int, seq: int) -> None:
    import shutil

    p = tmp_path / "x.idx"
    shutil.copy(FIXTURES / fixture, p)
    old = tmp_path / "old.idx"
    os.link(p, old)
    idxmap.build({1: 1}, p)
    data = old.read_bytes()
    assert struct.unpack_from("<I", data, 32)[0] == state and struct.unpack_from("<I", data, 48)[0] == seq
    with idxmap.open(old) as ix:  # every cell's check matches: it opens
        assert ix.info().writes == seq // 2


def test_the_retire_mark_keeps_state_bits_of_a_newer_minor(tmp_path: Path) -> None:
    # A 2.7 file with a state bit 2.0 does not know: retiring it adds RETIRED and keeps that bit
    # (§10: the one change a 2.0 writer may make to a newer minor's file).
    import zlib

    from conftest import cell

    data = bytearray((FIXTURES / "minor.idx").read_bytes())
    cell(data, 32, 1 << 30)
    p = tmp_path / "x.idx"
    p.write_bytes(bytes(data))
    old = tmp_path / "old.idx"
    os.link(p, old)
    idxmap.build({1: 1}, p)
    after = old.read_bytes()
    assert struct.unpack_from("<I", after, 32)[0] == (1 << 30) | (1 << 29) and struct.unpack_from("<I", after, 48)[0] == 1
    assert zlib.crc32(struct.pack("<II", 32, (1 << 30) | (1 << 29))) == struct.unpack_from("<I", after, 36)[0]


def test_an_index_this_process_may_not_write_is_replaced_with_a_warning(tmp_path: Path) -> None:
    # Not root: a 0444 file may not be opened for writing, so it cannot be marked retired. (As
    # root, test_deploy runs the same build as another user.)
    if os.geteuid() == 0:
        pytest.skip("root may write any file; see test_deploy's build as another user")
    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    os.chmod(p, 0o444)
    with pytest.warns(idxmap.IdxWarning, match=r"replaced, but the old index could not be marked retired \(permission denied \(EACCES\)\)"):
        idxmap.build({2: 2}, p)
    with idxmap.open(p) as ix:
        assert ix == {2: 2}


def test_a_build_over_a_writable_index_does_not_warn(tmp_path: Path) -> None:
    import warnings

    p = tmp_path / "x.idx"
    idxmap.build({1: 1}, p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        idxmap.build({2: 2}, p)
        (tmp_path / "text").write_text("not an index\n")
        idxmap.build({3: 3}, tmp_path / "text", force=True)


# ---- hostile arguments ----


@pytest.mark.parametrize(
    "make",
    [
        lambda np: ([10, 20], [30, 40]),
        lambda np: ((10, 20), (30, 40)),
        lambda np: (array.array("I", [10, 20]), array.array("I", [30, 40])),
        lambda np: (np.array([10, 20]), np.array([30, 40])),
        lambda np: ([10, 20], np.array([30, 40])),
        lambda np: (range(10, 12), [30, 40]),
    ],
)
def test_a_tuple_of_two_length_2_sequences_is_refused_as_ambiguous(tmp_path: Path, every_path: str, make) -> None:
    # Two pairs or two columns? Lists and numpy arrays used to mean different maps.
    np = None
    if HAS_NUMPY:
        import numpy as np
    try:
        source = make(np)
    except AttributeError:
        pytest.skip("numpy is not installed")
    p = tmp_path / "x.idx"
    with pytest.raises(idxmap.InvalidArgumentError) as info:
        idxmap.build(source, p)
    message = str(info.value)
    assert "could be two pairs or two columns" in message and "[(10, 20), (30, 40)]" in message and "{10: 20, 30: 40}" in message
    assert files_in(tmp_path) == []


def test_a_tuple_of_two_sequences_of_another_length_is_columns(tmp_path: Path, every_path: str) -> None:
    expected = {10: 40, 20: 50, 30: 60}
    sources = [([10, 20, 30], [40, 50, 60]), ((10, 20, 30), (40, 50, 60)), (array.array("I", [10, 20, 30]), [40, 50, 60])]
    if HAS_NUMPY:
        import numpy as np

        sources += [(np.array([10, 20, 30]), np.array([40, 50, 60])), ([10, 20, 30], np.array([40, 50, 60], dtype=np.uint8))]
    for i, source in enumerate(sources):
        p = tmp_path / f"{i}.idx"
        idxmap.build(source, p)
        with idxmap.open(p) as ix:
            assert ix == expected, source
    idxmap.build(([], []), tmp_path / "empty.idx")
    with idxmap.open(tmp_path / "empty.idx") as ix:
        assert len(ix) == 0
    # Pairs in a list, or three pairs in a tuple, are pairs.
    for source in ([(10, 20), (30, 40)], ((10, 20), (30, 40), (50, 60))):
        idxmap.build(source, tmp_path / "pairs.idx")
        with idxmap.open(tmp_path / "pairs.idx") as ix:
            assert ix == dict(source)
    with pytest.raises(idxmap.InvalidArgumentError, match=r"keys \(3\) and values \(2\) differ in length"):
        idxmap.build(([1, 2, 3], [4, 5]), tmp_path / "uneven.idx")


@pytest.mark.parametrize("option", ["force", "sync"])
@pytest.mark.parametrize("value", ["yes", "", 1, 0, None, 1.0])
def test_bool_options_must_be_bools(tmp_path: Path, option: str, value: object) -> None:
    p = tmp_path / "x.idx"
    with pytest.raises(idxmap.InvalidArgumentError) as info:
        idxmap.build({1: 1}, p, **{option: value})
    assert str(info.value).startswith(f"{p}: {option} must be True or False, not ")
    assert files_in(tmp_path) == []


def test_a_numpy_scalar_is_named_by_its_value_and_type(tmp_path: Path) -> None:
    if not HAS_NUMPY:
        pytest.skip("numpy is not installed")
    import numpy as np

    p = tmp_path / "x.idx"
    with pytest.raises(idxmap.InvalidArgumentError, match=r"value -1 \(numpy.int64\) is not an integer from 0 to 18446744073709551615"):
        idxmap.build({1: np.int64(-1)}, p)
    # A 64-bit key is refused only where 32 bits were asked for (spec §16.5).
    with pytest.raises(idxmap.InvalidArgumentError, match=r"key 4294967296 \(numpy.uint64\) is not an integer from 0 to 4294967295"):
        idxmap.build([(np.uint64(1 << 32), 1)], p, key_bits=32)
    with pytest.raises(idxmap.InvalidArgumentError, match=r"value -1 is not an integer"):
        idxmap.build({1: -1}, p)
    with idxmap.open(FIXTURES / "one.idx") as ix:
        with pytest.raises(idxmap.InvalidArgumentError, match=r"not -5 \(numpy.int8\)"):
            ix.get_many([np.int8(-5)])
