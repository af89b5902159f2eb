"""idxmap.Writer (spec §11): the dict surface, what it refuses, growth, compaction, widening
(§16.5), version 1 files, damage it will not build on, deploys under it, and a random model
test against a dict."""

from __future__ import annotations

import os
import random
import shutil
import struct
from pathlib import Path
from typing import Dict

import pytest

import idxmap
from idxmap import vectorized

from conftest import ESCAPED_KEY, FIXTURES, HAS_NUMPY, MAX_U32, cell

M64 = 2**64 - 1
ESCAPED_KEY64 = 12140293084747745066


def files_in(d: Path) -> list:
    return sorted(p.name for p in d.iterdir())


def check(path: Path, want: Dict[int, int]) -> None:
    """The file at ``path`` holds exactly ``want`` and passes verify, read by a fresh reader."""
    with idxmap.open(path) as ix:
        assert len(ix) == len(want)
        assert dict(ix.items()) == want
        report = ix.verify()
        assert report.ok, report.problems
        assert not report.interrupted and not report.writer_stopped


def test_a_writer_is_a_dict(tmp_path: Path, code_path: str) -> None:
    p = tmp_path / "w.idx"
    with idxmap.Writer(p) as w:  # created empty
        assert len(w) == 0 and list(w) == [] and dict(w.items()) == {}
        w[1] = 2
        w[ESCAPED_KEY] = 7
        w[MAX_U32] = 0
        w.set(0, MAX_U32)
        assert w[1] == 2 and w.get(5) is None and w.get(5, "x") == "x" and 1 in w and 5 not in w
        assert len(w) == 4 and dict(w) == {1: 2, ESCAPED_KEY: 7, MAX_U32: 0, 0: MAX_U32}
        assert list(w.items())[0] == (ESCAPED_KEY, 7)  # the escaped key first (§5.5)
        assert sorted(w.values()) == [0, 2, 7, MAX_U32] and set(w.keys()) == {0, 1, ESCAPED_KEY, MAX_U32}
        assert w == {1: 2, ESCAPED_KEY: 7, MAX_U32: 0, 0: MAX_U32}
        assert w[True] == w[1.0] == 2  # as a dict of int keys finds them
        del w[1]
        with pytest.raises(KeyError):
            del w[1]
        with pytest.raises(KeyError):
            w[1]
        assert w.delete(ESCAPED_KEY) is True and w.delete(ESCAPED_KEY) is False
        assert w.pop(0) == MAX_U32 and w.setdefault(9, 10) == 10
        popped = w.popitem()
        left = {MAX_U32: 0, 9: 10}
        assert left.pop(popped[0]) == popped[1]
        for k in (-1, 2**32, 1.5, "1", None):
            assert k not in w and w.get(k) is None and w.delete(k) is False
        assert repr(w) == f"<idxmap.Writer {str(p)!r}: {len(w)} entries>" and not w.closed
    assert w.closed and repr(w) == f"<idxmap.Writer {str(p)!r}: closed>"
    with pytest.raises(idxmap.ClosedError):
        w[5] = 5
    with pytest.raises(idxmap.ClosedError):
        len(w)
    w.close()  # again: nothing
    check(p, left)


def test_update_takes_what_build_takes(tmp_path: Path, every_path: str) -> None:
    p = tmp_path / "w.idx"
    with idxmap.Writer(p, sync=False) as w:
        w.update({1: 1, 2: 2})
        w.update([(3, 3), (1, 10)])
        w.update(((4, 5, 6), (40, 50, 60)))
        w.update((p for p in [(7, 70), (7, 71)]))
        w.update()
        w.update({})
        if every_path == "numpy":
            np = vectorized.numpy_or_none()
            w.update(np.array([[8, 80], [9, 90]], dtype=np.uint64))
            w.update((np.array([10], dtype=np.uint32), np.array([100], dtype=np.uint32)))
        with pytest.raises(idxmap.InvalidArgumentError, match="keyword"):
            w.update(a=1)
        with pytest.raises(idxmap.InvalidArgumentError, match="could be two pairs or two columns"):
            w.update(([10, 20], [30, 40]))
        with pytest.raises(idxmap.InvalidArgumentError, match=r"pair #1: value -1"):
            w.update([(11, 11), (12, -1)])
        assert 11 not in w  # nothing of a refused batch
    want = {1: 10, 2: 2, 3: 3, 4: 40, 5: 50, 6: 60, 7: 71}
    if every_path == "numpy":
        want.update({8: 80, 9: 90, 10: 100})
    check(p, want)


def test_bad_arguments_change_nothing(tmp_path: Path) -> None:
    p = tmp_path / "w.idx"
    idxmap.build({1: 1}, p)
    before = p.read_bytes()
    with idxmap.Writer(p) as w:
        for k, v in [(-1, 1), (1, -1), (2**64, 1), (1, 2**64), (1.0, 1), (True, 1), ("1", 1), (1, None)]:
            with pytest.raises(idxmap.InvalidArgumentError) as info:
                w[k] = v
            assert str(p) in str(info.value)
    assert p.read_bytes() == before
    for bad in [{"create": 1}, {"sync": "yes"}, {"wait": -1}, {"wait": "5"}]:
        with pytest.raises(idxmap.InvalidArgumentError):
            idxmap.Writer(p, **bad)
    with pytest.raises(idxmap.InvalidArgumentError):
        idxmap.Writer("")
    with pytest.raises(idxmap.IdxIOError, match="no such file") as info:
        idxmap.Writer(tmp_path / "none.idx", create=False)
    assert files_in(tmp_path) == ["w.idx"]


def test_growth_rehash_and_compaction(tmp_path: Path, code_path: str) -> None:
    p = tmp_path / "w.idx"
    want: Dict[int, int] = {}
    swaps = 0
    with idxmap.Writer(p, sync=False) as w:
        ino = os.stat(p).st_ino
        for i in range(3000):
            k = (i * 2654435761) & MAX_U32
            w[k] = i
            want[k] = i
            if os.stat(p).st_ino != ino:
                swaps += 1
                ino = os.stat(p).st_ino
        assert swaps > 5  # it grew, file by file
        info = idxmap.open(p).info()
        assert info.load <= 0.9 and info.writes > 0
        for k in list(want)[::2]:
            del w[k]
            del want[k]
        w.compact()
        assert info.writes > 0 and idxmap.open(p).info().writes == 0
    check(p, want)
    built = tmp_path / "b.idx"
    idxmap.build(want, built)
    assert p.read_bytes() == built.read_bytes()  # a compaction is a build (§11.5)
    assert files_in(tmp_path) == ["b.idx", "w.idx"]  # no temp file left


def test_a_small_update_grows_once_and_a_large_one_merges(tmp_path: Path) -> None:
    p = tmp_path / "w.idx"
    idxmap.build({i: i for i in range(100)}, p)
    with idxmap.Writer(p, sync=False) as w:
        ino = os.stat(p).st_ino
        w.update({i: i for i in range(100, 103)})  # in place: 103 entries, 9/10 of 115 home slots is 103.5
        assert os.stat(p).st_ino == ino and idxmap.open(p).info().writes == 3
        w.update({i: i for i in range(103, 105)})  # past the load rule: grows once, then in place
        assert os.stat(p).st_ino != ino and idxmap.open(p).info().writes == 2
        ino = os.stat(p).st_ino
        w.update({i: i + 1 for i in range(5000)})  # more than 4096 and a quarter: merged
        assert os.stat(p).st_ino != ino and idxmap.open(p).info().writes == 0
    check(p, {i: i + 1 for i in range(5000)})


def test_clear_keeps_the_widths(tmp_path: Path) -> None:
    p = tmp_path / "w.idx"
    idxmap.build({2**40: 1}, p)
    with idxmap.Writer(p) as w:
        w.clear()
        assert len(w) == 0 and (w.key_bits, w.value_bits) == (64, 32)
        w[5] = 6
    check(p, {5: 6})


def test_widening(tmp_path: Path, code_path: str) -> None:
    # §16.5: a key or value above 2^32 - 1 in a narrower file rehashes it into a version 3 file
    # with the wider width, the other kept; the escaped key of 32-bit keys becomes ordinary.
    p = tmp_path / "w.idx"
    base = {i * 7: i for i in range(200)}
    base[ESCAPED_KEY] = 3
    idxmap.build(base, p)
    ix = idxmap.open(p)  # a reader, which follows
    with idxmap.Writer(p) as w:
        w[5] = 2**40
        assert (w.key_bits, w.value_bits) == (32, 64) and w[5] == 2**40 and w[ESCAPED_KEY] == 3
        assert ix[5] == 2**40 and ix.value_bits == 64
        w[2**50] = 9
        assert (w.key_bits, w.value_bits) == (64, 64)
        w[ESCAPED_KEY64] = 11
        w[6] = 1  # no narrowing
        assert (w.key_bits, w.value_bits) == (64, 64)
    want = {**base, 5: 2**40, 2**50: 9, ESCAPED_KEY64: 11, 6: 1}
    check(p, want)
    assert ix == want and ix.info().version == "3.0"
    ix.close()
    q = tmp_path / "v.idx"
    idxmap.build({1: 1}, q)
    with idxmap.Writer(q) as w:
        w.update([(2, 2), (2**33, 5), (3, 2**33)])  # a batch that needs both widens once
        assert (w.key_bits, w.value_bits) == (64, 64)
    check(q, {1: 1, 2: 2, 2**33: 5, 3: 2**33})
    with idxmap.Writer(q) as w:
        w.compact()  # a compaction keeps the widths
    built = tmp_path / "b.idx"
    idxmap.build({1: 1, 2: 2, 2**33: 5, 3: 2**33}, built)
    assert q.read_bytes() == built.read_bytes()


def test_a_widening_iteration_stops_as_a_resized_dict_does(tmp_path: Path) -> None:
    p = tmp_path / "w.idx"
    idxmap.build({1: 1, 2: 2, 3: 3}, p)
    with idxmap.Writer(p) as w:
        it = iter(w)
        next(it)
        w[2**40] = 1
        with pytest.raises(RuntimeError, match="changed widths during iteration"):
            list(it)
        # A growth under an iteration is followed by hash, each entry once.
        seen = []
        for k in w:
            seen.append(k)
            if len(seen) == 1:
                for i in range(100):
                    w[1000 + i] = i
        assert len(seen) == len(set(seen)) and {1, 2, 3, 2**40} <= set(seen)


def test_version_1_is_written_in_place_as_1_0_and_rehashed_into_version_2(tmp_path: Path) -> None:
    p = tmp_path / "v1.idx"
    shutil.copy(FIXTURES / "v1" / "cluster.idx", p)
    with idxmap.open(FIXTURES / "v1" / "cluster.idx") as ix:
        want = dict(ix.items())
    # cluster.idx: 12 entries in 14 home slots, so one goes first (an insert past 9/10 of the
    # capacity would grow it); slots 1 to 4 are empty: an insert there shifts nothing.
    new = next(k for k in range(1000) if idxmap.home_slot(idxmap.hash32(k), 14) == 2)
    gone = next(k for k in want if k != ESCAPED_KEY)
    with idxmap.Writer(p) as w:
        del w[gone]
        w[new] = 6
        w[ESCAPED_KEY] = 1
    want[new] = 6
    want[ESCAPED_KEY] = 1
    del want[gone]
    check(p, want)
    head = p.read_bytes()
    assert struct.unpack_from("<HH", head, 8) == (1, 0)
    state = struct.unpack_from("<I", head, 32)[0]
    assert state & 0x0FFFFFFF == len(want) and state & (1 << 28)  # the count in the state cell (§14)
    with idxmap.Writer(p) as w:
        w.compact()
    check(p, want)
    assert struct.unpack_from("<HH", p.read_bytes(), 8) == (2, 0)


def test_newer_minors_and_damage_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.idx"
    shutil.copy(FIXTURES / "minor.idx", p)
    with pytest.raises(idxmap.UnsupportedVersionError, match=r"uses format version 2.7; this idx reads it but writes only 2.0 files"):
        idxmap.Writer(p)
    # A reserved byte in a 2.0 file (the header checksum does not cover 96..127 in version 2).
    data = bytearray((FIXTURES / "one.idx").read_bytes())
    data[100] = 1
    p.write_bytes(bytes(data))
    with pytest.raises(idxmap.CorruptError, match="reserved header byte at offset 100 is 1, not 0, so it is not written"):
        idxmap.Writer(p)
    # A block that fails its checksum: nothing is changed in it (an overwrite included).
    data = bytearray((FIXTURES / "cluster.idx").read_bytes())
    data[128 + 8 * 3 + 4] ^= 1
    p.write_bytes(bytes(data))
    with idxmap.Writer(p) as w:
        k = next(iter(w))
        with pytest.raises(idxmap.ChecksumError, match="block 0 .* fails its checksum .* so the index was not changed"):
            w[k] = 12345
        with pytest.raises(idxmap.ChecksumError):
            w[7777] = 1
        with pytest.raises(idxmap.ChecksumError, match="the index was not rewritten"):
            w.compact()
        w[ESCAPED_KEY] = 5  # no slot: no block to check
    assert p.read_bytes()[128:] == bytes(data)[128:]
    # A run out of order (checksums redone, so that only §5.2 sees it).
    # cluster.idx: slots 5 to 10 hold six keys of home 5 (108 in slot 5); 6 and 7 swapped.
    data = bytearray((FIXTURES / "cluster.idx").read_bytes())
    s = 128 + 8 * 6
    data[s : s + 8], data[s + 8 : s + 16] = data[s + 8 : s + 16], data[s : s + 8]
    import zlib

    n = struct.unpack_from("<Q", data, 24)[0]
    struct.pack_into("<I", data, 128 + 8 * n, zlib.crc32(bytes(data[128 : 128 + 8 * n])))
    p.write_bytes(bytes(data))
    with idxmap.Writer(p) as w:
        with pytest.raises(idxmap.CorruptError, match="the table is damaged: slot 7 is out of hash order, so the index was not changed"):
            del w[108]
    assert p.read_bytes()[128:] == bytes(data)[128:]


def test_following_a_rename_and_refusing_a_rewrite(tmp_path: Path) -> None:
    p = tmp_path / "w.idx"
    idxmap.build({1: 1}, p)
    w = idxmap.Writer(p)
    w[2] = 2
    other = tmp_path / "other.idx"
    idxmap.build({100: 100}, other)
    os.rename(other, p)  # mv takes no lock: the writer moves to the new file before its next change
    w[3] = 3
    assert dict(w) == {100: 100, 3: 3}
    w.close()
    check(p, {100: 100, 3: 3})
    w = idxmap.Writer(p)
    with open(p, "r+b") as f:
        f.truncate(100)  # cp over a live index truncates it
    with pytest.raises(idxmap.CorruptError, match="truncated or rewritten in place while it was open for writing"):
        w[4] = 4
    with pytest.raises(idxmap.CorruptError):
        len(w)
    w._detach()
    os.unlink(p)
    w = idxmap.Writer(p)
    w[1] = 1
    os.unlink(p)
    with pytest.raises(idxmap.IdxIOError, match="removed from its path"):
        w[2] = 2
    w.close()


def test_a_rehash_never_renames_old_data_over_a_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # §11.2: a new index renamed over the path (mv, no lock) while a rehash writes its file: the
    # rehash renames nothing; the change starts again on the file now at the path.
    p = tmp_path / "w.idx"
    idxmap.build({1: 1}, p)
    other = tmp_path / "other.idx"
    idxmap.build({100: 100}, other)
    from idxmap import rehash, writer

    real = rehash.rehash_into
    moves = []

    def rehash_then_mv(*a, **k):  # type: ignore[no-untyped-def]
        temp = real(*a, **k)
        if not moves:
            moves.append(os.stat(other).st_ino)
            os.rename(other, p)
        return temp

    monkeypatch.setattr(writer, "rehash_into", rehash_then_mv)
    with idxmap.Writer(p) as w:
        w.compact()
        assert dict(w) == {100: 100}
    check(p, {100: 100})
    assert os.stat(p).st_ino != moves[0] and files_in(tmp_path) == ["w.idx"]  # compacted again, there


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.idx"
    idxmap.build({1: 1}, real)
    link = tmp_path / "link.idx"
    link.symlink_to(real)
    with idxmap.Writer(link) as w:
        for i in range(100):
            w[i + 10] = i  # grows: the file the link names is replaced, the link kept
    assert link.is_symlink()
    check(real, {1: 1, **{i + 10: i for i in range(100)}})


def test_an_exception_inside_an_operation_is_repaired_before_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever stops a change inside its bracket (here a fault injected after the first store of
    # a shift), the file is as a killed writer leaves it, and the writer repairs it first.
    p = tmp_path / "w.idx"
    idxmap.build({i: i for i in range(50)}, p)
    from idxmap import slots

    w = idxmap.Writer(p)
    calls = {"n": 0}
    real = slots.SlotRegion.copy

    def failing(self, to, frm):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        real(self, to, frm)
        raise MemoryError("injected")

    monkeypatch.setattr(slots.SlotRegion, "copy", failing)
    k = next(k for k in range(1000, 2000) if idxmap.open(p).get(k) is None)
    with pytest.raises(MemoryError):
        for i in range(100):
            w[k + i] = 1  # one of them shifts
    monkeypatch.setattr(slots.SlotRegion, "copy", real)
    with idxmap.open(p) as ix:
        report = ix.verify()
        assert report.ok and report.interrupted  # a tombstone, dirty blocks, odd seq
    w[5000] = 5
    w.close()
    with idxmap.open(p) as ix:
        assert ix.verify().ok and not ix.verify().writer_stopped and ix[5000] == 5


@pytest.mark.parametrize("widths", [(32, 32), (64, 32), (32, 64), (64, 64)], ids=lambda w: f"{w[0]}/{w[1]}")
def test_random_operations_against_a_dict(tmp_path: Path, widths: tuple, code_path: str) -> None:
    kb, vb = widths
    rnd = random.Random(20 + kb + vb)
    kmax = 2**kb - 1
    vmax = 2**vb - 1
    p = tmp_path / "w.idx"
    escaped = ESCAPED_KEY64 if kb == 64 else ESCAPED_KEY
    model: Dict[int, int] = {rnd.randrange(kmax): rnd.randrange(vmax) for _ in range(50)}
    idxmap.build(model, p, key_bits=kb, value_bits=vb)
    keys = list(model) + [0, kmax, escaped]
    w = idxmap.Writer(p, sync=False)
    steps = 4000 if kb == vb == 32 else 1500
    for step in range(steps):
        r = rnd.random()
        if r < 0.45:
            k = rnd.choice(keys) if rnd.random() < 0.4 else rnd.randrange(kmax + 1)
            v = rnd.choice([0, vmax, rnd.randrange(vmax + 1)])
            keys.append(k)
            w[k] = v
            model[k] = v
        elif r < 0.75:
            k = rnd.choice(keys)
            assert w.delete(k) == (k in model)
            model.pop(k, None)
        elif r < 0.9:
            batch = [(rnd.choice(keys) if rnd.random() < 0.3 else rnd.randrange(kmax + 1), rnd.randrange(vmax + 1)) for _ in range(rnd.randrange(1, 30))]
            w.update(batch)
            model.update(batch)
            keys.extend(k for k, _ in batch)
        elif r < 0.93:
            w.compact()
        elif r < 0.96:
            w.close()
            w = idxmap.Writer(p, sync=False)
        else:
            for k in rnd.sample(keys, min(20, len(keys))):
                assert w.get(k) == model.get(k)
        if step % 500 == 0:
            assert len(w) == len(model) and dict(w.items()) == model
    assert dict(w.items()) == model
    w.close()
    check(p, model)
    with idxmap.open(p) as ix:
        assert (ix.key_bits, ix.value_bits) == widths
