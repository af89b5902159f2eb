"""The dict-like surface of Index: lookups, membership, size, iteration, views, equality,
repr, get_many, closing; keys that are not uint32; the bounded probe and reach (§5.3, §14)."""

from __future__ import annotations

import pickle
import struct
from collections.abc import Mapping
from pathlib import Path

import pytest

import idxmap
from idxmap import vectorized

from conftest import ESCAPED_KEY, FIXTURES, HAS_NUMPY, MAX_U32, cell, to_v1, with_values


@pytest.fixture
def edges() -> idxmap.Index:
    with idxmap.open(FIXTURES / "edges.idx") as ix:
        yield ix


EDGES = {0: MAX_U32, MAX_U32: 0, ESCAPED_KEY: 1, 1: 1}


def test_dict_surface(edges: idxmap.Index) -> None:
    ix = edges
    assert isinstance(ix, Mapping)
    assert ix[0] == MAX_U32 and ix[MAX_U32] == 0 and ix[ESCAPED_KEY] == 1
    with pytest.raises(KeyError) as info:
        ix[5]
    assert info.value.args == (5,)
    assert ix.get(5) is None and ix.get(5, -1) == -1 and ix.get(1, -1) == 1
    assert 1 in ix and 5 not in ix
    assert len(ix) == 4
    assert list(ix) == [ESCAPED_KEY, 0, 1, MAX_U32]  # escaped first, then by hash (§5.5)
    assert list(ix.keys()) == list(ix) and len(ix.keys()) == 4 and 0 in ix.keys()
    assert list(ix.values()) == [1, MAX_U32, 1, 0]
    assert list(ix.items()) == [(ESCAPED_KEY, 1), (0, MAX_U32), (1, 1), (MAX_U32, 0)]
    assert (0, MAX_U32) in ix.items() and (0, 0) not in ix.items() and (5, 0) not in ix.items()
    assert ix.keys() == set(EDGES) and ix.items() == set(EDGES.items())
    assert dict(ix) == EDGES and ix == EDGES and EDGES == ix
    assert ix != {**EDGES, 2: 2} and ix != {0: MAX_U32} and ix != {**EDGES, 1: 2}
    assert ix != [1, 2] and not (ix == 5)
    with idxmap.open(FIXTURES / "edges.idx") as other, idxmap.open(FIXTURES / "one.idx") as one:
        assert ix == other and ix != one
    assert repr(ix) == f"<idxmap.Index {str(FIXTURES / 'edges.idx')!r}: 4 entries>"


def test_keys_that_are_not_uint32_are_absent_as_in_a_dict(edges: idxmap.Index) -> None:
    d = dict(EDGES)
    for k in (-1, 2**32, 2**64, 1.5, "1", b"1", None, (1,), float("nan"), float("inf"), 2.0**40):
        assert edges.get(k, "no") == "no" == d.get(k, "no")
        assert (k in edges) is False
        with pytest.raises(KeyError):
            edges[k]
    # Keys a dict would find (1 == 1.0 == True) are found too.
    for k in (1.0, True):
        assert edges[k] == d[k] == 1
    if HAS_NUMPY:
        np = vectorized.numpy_or_none()
        assert edges[np.uint32(1)] == 1 and edges[np.int64(MAX_U32)] == 0 and np.int64(-1) not in edges


def test_get_many(edges: idxmap.Index, every_path: str) -> None:
    keys = [0, 5, ESCAPED_KEY, MAX_U32, 1, 2]
    values, found = edges.get_many(keys)
    assert [int(v) for v in values] == [MAX_U32, 0, 1, 0, 1, 0]
    assert [bool(f) for f in found] == [True, False, True, True, True, False]
    values, found = edges.get_many(iter(keys), missing=7)
    assert [int(v) for v in values] == [MAX_U32, 7, 1, 0, 1, 7]
    assert [int(v) for v in edges.get_many([])[0]] == []
    if every_path == "numpy":
        np = vectorized.numpy_or_none()
        for dtype in (np.uint32, np.int64, np.uint64, np.uint8):
            v, f = edges.get_many(np.array([1, 0], dtype=dtype))
            assert v.dtype == np.uint32 and f.dtype == bool and v.tolist() == [1, MAX_U32]
    else:
        assert isinstance(values, list) and isinstance(found, list)


@pytest.mark.parametrize("bad", [[1, -1], [1, 2**32], [1.5], ["1"], [None], [2**70]])
def test_get_many_refuses_keys_that_are_not_uint32(edges: idxmap.Index, bad: list, every_path: str) -> None:
    with pytest.raises(idxmap.InvalidArgumentError) as info:
        edges.get_many(bad)
    assert info.value.code == "ERR_IDX_INVALID_ARGUMENT"
    assert isinstance(info.value, ValueError)
    with pytest.raises(idxmap.InvalidArgumentError):
        edges.get_many([1], missing=-1)


def test_get_many_refuses_numpy_bool_and_float_arrays(edges: idxmap.Index) -> None:
    np = vectorized.numpy_or_none()
    if np is None:
        pytest.skip("numpy is not installed")
    for bad in (np.array([True, False]), np.array([1.0]), np.array([[1, 2]]), np.array([-1])):
        with pytest.raises(idxmap.InvalidArgumentError):
            edges.get_many(bad)


def test_get_many_large_batch_matches_single_lookups(tmp_path: Path, code_path: str) -> None:
    m = with_values([(i * 2654435761) & MAX_U32 for i in range(70000)] + [ESCAPED_KEY])
    p = tmp_path / "big.idx"
    idxmap.build(m, p)
    keys = list(m)[::3] + [k + 1 for k in list(m)[:5000]] + [ESCAPED_KEY]
    with idxmap.open(p) as ix:
        values, found = ix.get_many(keys)
        assert [int(v) if f else None for v, f in zip(values, found)] == [ix.get(k) for k in keys]
        assert [int(v) if f else None for v, f in zip(values, found)] == [m.get(k) for k in keys]


def test_closing(tmp_path: Path) -> None:
    ix = idxmap.open(FIXTURES / "one.idx")
    it = iter(ix.items())
    assert next(it) == (42, 7)
    ix.close()
    ix.close()  # twice is fine
    assert ix.closed
    assert repr(ix).endswith(": closed>")
    for f in (lambda: ix[42], lambda: ix.get(42), lambda: 42 in ix, lambda: len(ix), lambda: list(ix),
              lambda: ix.get_many([42]), ix.info, ix.verify, lambda: ix == {42: 7}):
        with pytest.raises(idxmap.ClosedError) as info:
            f()
        assert info.value.code == "ERR_IDX_CLOSED" and isinstance(info.value, ValueError)
    with idxmap.open(FIXTURES / "one.idx") as ix2:
        assert ix2[42] == 7
    assert ix2.closed
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(idxmap.open(FIXTURES / "one.idx"))


def test_info(every_path: str) -> None:
    with idxmap.open(FIXTURES / "edited.idx") as ix:
        info = ix.info()
    assert (info.version, info.count, info.capacity, info.slot_count, info.writes) == ("2.0", 12, 14, 25, 7)
    assert info.file_bytes == (FIXTURES / "edited.idx").stat().st_size
    assert info.to_json()["slotCount"] == 25
    with idxmap.open(FIXTURES / "v1" / "edited.idx") as ix:
        assert ix.info().reach is None and ix.info().version == "1.0"
    with idxmap.open(FIXTURES / "empty.idx") as ix:
        assert ix.info().bytes_per_entry is None and ix.info().count == 0


def run_at(h0: int, n: int) -> list:
    """n keys whose hashes are h0, h0+1, ...: they share a home slot and form one long run."""
    return [idxmap.unhash32(h0 + i) for i in range(n)]


def test_a_probe_never_reads_past_its_reach(tmp_path: Path, every_path: str) -> None:
    # A table whose header says reach 0 while entries sit further from home: a lookup of such
    # an entry scans one slot and answers absent (§5.3), it does not search the table; verify
    # reports the entries beyond the reach.
    keys = run_at(0x40000000, 6)
    p = tmp_path / "r.idx"
    idxmap.build({k: 1 for k in keys}, p)
    data = bytearray(p.read_bytes())
    assert struct.unpack_from("<I", data, 64)[0] == 5
    cell(data, 64, 0)
    p.write_bytes(bytes(data))
    with idxmap.open(p) as ix:
        assert ix.get(keys[0]) == 1
        assert [ix.get(k) for k in keys[1:]] == [None] * 5
        assert [bool(f) for f in ix.get_many(keys)[1]] == [True] + [False] * 5
        report = ix.verify()
    assert not report.ok
    assert [pr.message for pr in report.problems] == [
        f"slot {s} is {s - keys_home(p)} slots from its home, beyond the header's reach 0" for s in range(keys_home(p) + 1, keys_home(p) + 6)
    ]


def keys_home(p: Path) -> int:
    with idxmap.open(p) as ix:
        return idxmap.home_slot(0x40000000, ix.info().capacity)


def test_a_stored_reach_raised_by_a_writer_is_taken_up(tmp_path: Path, every_path: str) -> None:
    # A reader probes with the reach it read at open; when a probe uses it up it reads the reach
    # cell again (a writer may have raised it, §11.2 step 2).
    keys = run_at(0x40000000, 6)
    p = tmp_path / "r.idx"
    idxmap.build({k: 2 for k in keys}, p)
    data = bytearray(p.read_bytes())
    with idxmap.open(p) as ix:
        ix._m.reach = 1  # as if opened when the reach was 1
        assert [ix.get(k) for k in keys] == [2] * 6
        assert ix._m.reach == 5
        ix._m.reach = 1
        assert [int(v) for v in ix.get_many(keys)[0]] == [2] * 6
        assert ix._m.reach == 5


def test_version_1_reach_is_measured_once_past_4096_slots(tmp_path: Path, every_path: str) -> None:
    # §14: a version 1 file records no reach; idxmap probes at most 4096 slots, then measures
    # the entries' largest distance from home once, and probes with that (plus the operations
    # since, counted by seq).
    keys = run_at(0x20000000, 4200) + [1, 2, 3]
    m = {k: k ^ 0x5A5A5A5A for k in keys}
    v2 = tmp_path / "long.idx"
    idxmap.build(m, v2)
    p = tmp_path / "long-v1.idx"
    p.write_bytes(to_v1(v2.read_bytes(), seq=6))
    with idxmap.open(p) as ix:
        assert ix._m.reach == 4096 and ix._m.v1_measured is None
        assert ix[keys[10]] == m[keys[10]]
        assert ix._m.v1_measured is None
        assert ix[keys[4199]] == m[keys[4199]]  # 4199 slots from home: measured now
        measured, seq = ix._m.v1_measured
        assert (measured, seq) == (4199, 6) and ix._m.reach == 4200
        sample = keys[::97] + keys[-5:]
        values, found = ix.get_many(sample)
        assert all(found) and [int(v) for v in values] == [m[k] for k in sample]
        assert idxmap.unhash32(0x20000000 + 4200) not in ix


def test_index_accepts_path_like_and_reports_the_path(tmp_path: Path) -> None:
    ix = idxmap.Index(FIXTURES / "one.idx")
    assert ix.path == str(FIXTURES / "one.idx")
    ix.close()
    with pytest.raises(idxmap.InvalidArgumentError):
        idxmap.Index(42)  # type: ignore[arg-type]


def test_keys_a_dict_finds_are_found(edges: idxmap.Index) -> None:
    # A key finds uint32 i when it equals i and hashes as i: exactly the keys a dict of int
    # keys finds, whatever their type.
    from decimal import Decimal
    from fractions import Fraction

    class F(float):
        pass

    class OddHash(float):
        def __hash__(self) -> int:
            return 12345  # equal to 1, but a dict looks for it elsewhere

    d = dict(EDGES)
    keys = [F(1.0), F(1.5), Fraction(1), Fraction(3, 2), Decimal(1), Decimal("1.5"), Decimal("NaN"), 1 + 0j, 1 + 1j,
            float(MAX_U32), F(MAX_U32), False, OddHash(1.0), Fraction(MAX_U32 * 2**70 + 1, 2**70)]
    np = vectorized.numpy_or_none() or (HAS_NUMPY and __import__("numpy"))
    if np:
        keys += [np.float64(1), np.float32(1), np.float16(1), np.float64(1.5), np.True_, np.False_, np.uint64(MAX_U32),
                 np.int8(1), np.int64(-1), np.uint64(2**64 - 1), np.float64(2**32), np.complex128(1), np.longdouble(1)]
    for k in keys:
        assert edges.get(k, "no") == d.get(k, "no"), repr(k)
        assert (k in edges) == (k in d), repr(k)
    assert edges[F(1.0)] == edges[Fraction(1)] == edges[Decimal(1)] == edges[1 + 0j] == 1 and edges[False] == MAX_U32
    assert OddHash(1.0) not in edges and Fraction(MAX_U32 * 2**70 + 1, 2**70) not in edges
    if np:
        assert edges[np.float64(1)] == edges[np.float32(1)] == edges[np.True_] == 1 and edges[np.False_] == MAX_U32
        assert np.array(1) not in edges and np.array([1]) not in edges  # unhashable: no dict key equals them


def test_get_many_takes_numpy_integers_of_mixed_types(edges: idxmap.Index, every_path: str) -> None:
    # numpy's promotion turns [uint64(1), 1] into floats; each key is taken as the int it is.
    np = vectorized.numpy_or_none() or (HAS_NUMPY and __import__("numpy"))
    if not np:
        pytest.skip("numpy is not installed")
    for keys in ([np.uint64(1), 0], [np.uint64(1), np.int64(0)], [1, np.uint32(0), np.int8(5)]):
        values, found = edges.get_many(keys)
        assert [int(v) for v in values] == [1, MAX_U32, 0][: len(keys)] and [bool(f) for f in found] == [True, True, False][: len(keys)]


@pytest.mark.parametrize("bad", [None, 42, 1.5, object()])
def test_get_many_refuses_what_is_not_iterable(edges: idxmap.Index, bad: object, every_path: str) -> None:
    with pytest.raises(idxmap.InvalidArgumentError, match="keys must be an iterable of integers"):
        edges.get_many(bad)  # type: ignore[arg-type]


def test_get_many_refuses_a_memoryview_that_is_not_one_dimensional(edges: idxmap.Index, every_path: str) -> None:
    import array

    square = memoryview(array.array("I", [1, 0, 5, 1])).cast("B").cast("I", (2, 2))
    with pytest.raises(idxmap.InvalidArgumentError, match=r"keys must be one-dimensional, not of shape \(2, 2\)"):
        edges.get_many(square)


def _answer(ix: idxmap.Index, keys: object) -> object:
    try:
        values, found = ix.get_many(keys)  # type: ignore[arg-type]
    except idxmap.IdxError as e:
        return e.code
    return [int(v) for v in values], [bool(f) for f in found]


def test_get_many_accepts_and_refuses_the_same_inputs_with_and_without_numpy(edges: idxmap.Index, monkeypatch: pytest.MonkeyPatch) -> None:
    # The numpy path and the pure-Python path (IDXMAP_NUMPY=0) give the same answers to the same
    # input, or refuse it with the same code.
    if not HAS_NUMPY:
        pytest.skip("numpy is not installed")
    import array
    import ctypes

    import numpy as np

    inputs = {
        "list": lambda: [0, 5, 1],
        "tuple": lambda: (0, 5, 1),
        "generator": lambda: (k for k in [0, 5, 1]),
        "set": lambda: {1},
        "dict": lambda: {1: "a"},
        "dict keys": lambda: {1: "a"}.keys(),
        "dict values": lambda: {"a": 1}.values(),
        "range": lambda: range(3),
        "bytes": lambda: b"\x01\x00\x05",
        "bytearray": lambda: bytearray(b"\x01"),
        "empty list": lambda: [],
        "empty string": lambda: "",
        "string": lambda: "12",
        "array I": lambda: array.array("I", [1, 0]),
        "array b negative": lambda: array.array("b", [1, -1]),
        "array Q big": lambda: array.array("Q", [1, 2**40]),
        "array d": lambda: array.array("d", [1.0]),
        "empty array d": lambda: array.array("d"),
        "memoryview I": lambda: memoryview(array.array("I", [1, 0])),
        "memoryview 2-d": lambda: memoryview(array.array("I", [1, 0, 5, 1])).cast("B").cast("I", (2, 2)),
        "memoryview <I": lambda: memoryview((ctypes.c_uint32 * 2)(1, 0)),
        "ctypes array": lambda: (ctypes.c_uint32 * 2)(1, 0),
        "None": lambda: None,
        "int": lambda: 42,
        "ints and a bool": lambda: [1, True],
        "bools": lambda: [True, False],
        "numpy bool": lambda: [np.True_],
        "numpy ints of mixed types": lambda: [np.uint64(1), 1, np.int8(0)],
        "numpy float": lambda: [np.float64(1)],
        "float": lambda: [1.0],
        "ints past int64": lambda: [1, 2**64],
        "negative": lambda: [1, -1],
        "nested": lambda: [[1, 0]],
        "None element": lambda: [None],
        "ndarray uint32": lambda: np.array([1, 0, 5], dtype=np.uint32),
        "ndarray int8": lambda: np.array([1, 0], dtype=np.int8),
        "ndarray negative": lambda: np.array([1, -1]),
        "ndarray uint64 big": lambda: np.array([2**63], dtype=np.uint64),
        "ndarray big-endian": lambda: np.array([1, 0], dtype=">u4"),
        "ndarray strided": lambda: np.arange(6, dtype=np.int64)[::2],
        "ndarray float": lambda: np.array([1.0]),
        "ndarray empty float": lambda: np.array([]),
        "ndarray bool": lambda: np.array([True]),
        "ndarray empty bool": lambda: np.array([], dtype=bool),
        "ndarray object": lambda: np.array([1, 0], dtype=object),
        "ndarray 0-d": lambda: np.array(1),
        "ndarray 2-d": lambda: np.array([[1, 0]]),
        "ndarray 2-d empty": lambda: np.zeros((0, 3), dtype=np.uint32),
        "masked array": lambda: np.ma.array([1, 0], mask=[0, 1]),
        "numpy scalar": lambda: np.uint32(1),
    }
    answers = {}
    for path in ("numpy", "pure"):
        if path == "pure":
            monkeypatch.setattr(vectorized, "_numpy", None)
            monkeypatch.setattr(vectorized, "_checked", True)
        answers[path] = {name: _answer(edges, make()) for name, make in inputs.items()}
    assert answers["numpy"] == answers["pure"]
    assert answers["pure"]["set"] == ([1], [True]) and answers["pure"]["bytes"] == ([1, MAX_U32, 0], [True, True, False])
    assert answers["pure"]["ints and a bool"] == answers["pure"]["numpy float"] == "ERR_IDX_INVALID_ARGUMENT"


def test_a_relative_path_stays_the_file_it_named_after_a_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    idxmap.build({1: 10}, a / "ids.idx")
    idxmap.build({1: 20}, b / "ids.idx")
    monkeypatch.chdir(a)
    with idxmap.open("ids.idx") as ix:
        monkeypatch.chdir(b)
        assert ix.refresh() is False and ix[1] == 10  # b/ids.idx is another file, not a replacement
        idxmap.build({1: 11}, a / "ids.idx")  # retires a/ids.idx: the reader follows it
        assert ix[1] == 11
        assert ix.path == "ids.idx" and ix.info().path == "ids.idx"  # shown as given
        (a / "ids.idx").write_bytes(b"")  # truncated in place: reopening says why, by the given path
        with pytest.raises(idxmap.CorruptError) as info:
            ix.get_many([1])
        assert str(info.value).startswith("ids.idx: the index file was truncated")
