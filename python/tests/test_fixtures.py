"""§13: every golden file read (version 2 and version 1), and every .tsv rebuilt byte for byte,
on both code paths."""

from __future__ import annotations

import array
from pathlib import Path
from typing import Dict

import pytest

import idxmap

from conftest import ESCAPED_KEY, FIXTURES, MAX_U32, misses_for, read_words, run_node

TSV = sorted(p.stem for p in FIXTURES.glob("*.tsv"))


def tsv_map(name: str) -> Dict[int, int]:
    return dict(idxmap.read_pairs(FIXTURES / f"{name}.tsv"))


def edited_map() -> Dict[int, int]:
    # fixtures/edits.js: EDITS applied to cluster's map.
    m = tsv_map("cluster")
    for op, key, value in [("del", 40, 0), ("del", 33, 0), ("set", 6, 7), ("set", ESCAPED_KEY, 9),
                           ("set", 2, 22), ("del", 0, 0), ("set", 0, MAX_U32)]:
        if op == "del":
            del m[key]
        else:
            m[key] = value
    return m


EXPECTED = {
    **{name: (lambda n=name: tsv_map(n)) for name in TSV},
    "edited": edited_map,
    "interrupted": edited_map,  # an insert cut short answers as before it (§11.3)
    "retired": lambda: tsv_map("cluster"),
    "minor": lambda: tsv_map("one"),
}
ALL = [(f"{n}.idx", f) for n, f in EXPECTED.items()] + [
    (f"v1/{p.name}", EXPECTED[p.stem]) for p in sorted((FIXTURES / "v1").glob("*.idx"))
]


def test_every_golden_file_is_listed() -> None:
    # fixtures/vectors/ (spec §13.1) are test vectors, checked by test_format.py against their
    # expected.json: not golden maps. fixtures/v3/ is checked by test_v3.py through its copies in
    # tests/data/v3 (test/fixtures.test.ts fails if the copies drift).
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.idx") if p.parent.name not in ("vectors", "v3")}
    assert on_disk == {name for name, _ in ALL}


@pytest.mark.parametrize("name,expected", ALL, ids=[n for n, _ in ALL])
def test_golden_file_reads_as_its_map(name: str, expected, code_path: str) -> None:
    want = expected()
    with idxmap.open(FIXTURES / name) as ix:
        assert len(ix) == len(want)
        assert dict(ix.items()) == want
        assert ix == want and want == ix
        assert sorted(ix) == sorted(want)
        for k, v in want.items():
            assert ix[k] == v and ix.get(k) == v and k in ix
        misses = misses_for(want, 50)
        for k in misses:
            assert ix.get(k) is None and k not in ix
            with pytest.raises(KeyError):
                ix[k]
        keys = list(want) + misses
        values, found = ix.get_many(keys)
        assert [bool(f) for f in found] == [k in want for k in keys]
        assert [int(v) for v in values] == [want.get(k, 0) for k in keys]
        report = ix.verify()
        assert report.ok, report.problems
        assert report.entries == len(want)
        assert report.interrupted == (name.endswith("interrupted.idx"))
        assert report.retired == (name == "retired.idx")


def test_iteration_order_matches_node(tmp_path: Path, code_path: str) -> None:
    args = []
    for i, (name, _) in enumerate(ALL):
        args += [FIXTURES / name, tmp_path / f"dump{i}.bin"]
    run_node("dump", *args)
    for i, (name, _) in enumerate(ALL):
        w = read_words(tmp_path / f"dump{i}.bin")
        with idxmap.open(FIXTURES / name) as ix:
            assert list(ix.items()) == list(zip(w[0::2], w[1::2])), name
            assert list(ix.keys()) == w[0::2] and list(ix.values()) == w[1::2]


@pytest.mark.parametrize("name", TSV)
def test_tsv_rebuilds_byte_for_byte(name: str, tmp_path: Path, every_path: str) -> None:
    golden = (FIXTURES / f"{name}.idx").read_bytes()
    pairs = list(idxmap.read_pairs(FIXTURES / f"{name}.tsv"))
    sources = {
        "text pairs": pairs,
        "dict": dict(pairs),
        "reversed dict": dict(reversed(list(dict(pairs).items()))),
        "generator": (p for p in pairs),
        "columns": (array.array("L", [k for k, _ in pairs]), array.array("L", [v for _, v in pairs])),
        "pairs with earlier duplicates": [(k, (v + 1) & MAX_U32) for k, v in pairs] + pairs,
    }
    with idxmap.open(FIXTURES / f"{name}.idx") as ix:
        sources["the golden index itself"] = dict(ix.items())
    for what, source in sources.items():
        out = tmp_path / f"{name}.idx"
        r = idxmap.build(source, out)
        assert out.read_bytes() == golden, what
        assert r.count == len(dict(pairs)) and r.file_bytes == len(golden)
