"""Node builds, Python reads; Python builds, Node reads: random, sequential, strided and
clustered key sets (0, 4294967295 and the escaped key among them), compared key by key, and the
two builders' files compared byte by byte."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import idxmap

from conftest import ESCAPED_KEY, MAX_U32, misses_for, pairs_file, run_node, structured_key_sets, with_values, write_words


def all_sets() -> Dict[str, Dict[int, int]]:
    sets = {name: with_values(keys, seed=i + 3) for i, (name, keys) in enumerate(structured_key_sets(2000, seed=9).items())}
    everything: Dict[int, int] = {}
    for m in sets.values():
        everything.update(m)
    everything.update({0: 0, MAX_U32: MAX_U32, ESCAPED_KEY: 12345})
    sets["all of them, with 0, 4294967295 and the escaped key"] = everything
    return sets


SETS = all_sets()
SIZES = [0, 1, 7, 8, 9, 511, 512, 513, 4095]


def input_pairs(m: Dict[int, int]) -> List[Tuple[int, int]]:
    # Earlier values for some keys first, so that the last value must win on both sides.
    return [(k, v ^ 1) for k, v in list(m.items())[:50]] + list(m.items())


@pytest.fixture(scope="module")
def node_built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Every key set (and every size of test_sizes...) built by Node, in one node process."""
    d = tmp_path_factory.mktemp("node-built")
    jobs: Dict[str, Path] = {}
    args: List[Path] = []
    maps = {**SETS, **{f"size {n}": sized(n) for n in SIZES}}
    for i, (name, m) in enumerate(maps.items()):
        jobs[name] = d / f"node-{i}.idx"
        args += [pairs_file(d / f"p{i}.bin", input_pairs(m)), jobs[name]]
    assert run_node("build", *args)["counts"] == [len(m) for m in maps.values()]
    return jobs


def sized(n: int) -> Dict[int, int]:
    return with_values([(i * 0x9E3779B1 + 17) & MAX_U32 for i in range(n)])


def test_node_builds_python_reads(tmp_path: Path, node_built: Dict[str, Path], code_path: str) -> None:
    for name, m in SETS.items():
        idx = node_built[name]
        misses = misses_for(m, 300)
        with idxmap.open(idx) as ix:
            assert len(ix) == len(m), name
            for k, v in m.items():
                assert ix[k] == v, (name, k)
            assert all(k not in ix for k in misses), name
            keys = list(m) + misses
            values, found = ix.get_many(keys)
            assert [int(v) if f else None for v, f in zip(values, found)] == [m.get(k) for k in keys], name
            assert dict(ix.items()) == m, name
            assert ix.verify().ok, name
        ours = tmp_path / "py.idx"
        idxmap.build(input_pairs(m), ours)
        assert ours.read_bytes() == idx.read_bytes(), name


def test_python_builds_node_reads(tmp_path: Path, code_path: str) -> None:
    args: List[Path] = []
    for i, (name, m) in enumerate(SETS.items()):
        idx = tmp_path / f"py-{i}.idx"
        idxmap.build(input_pairs(m), idx)
        args += [idx, pairs_file(tmp_path / f"e{i}.bin", m.items()), write_words(tmp_path / f"m{i}.bin", misses_for(m, 300))]
    results = run_node("check", *args)
    assert results == [{"ok": True, "errors": []}] * len(SETS)


@pytest.mark.parametrize("n", SIZES)
def test_sizes_around_capacity_and_block_edges(tmp_path: Path, node_built: Dict[str, Path], n: int, code_path: str) -> None:
    # Capacities ceil(8n/7) near multiples of 7 and slot counts near the 512-slot block edge.
    m = sized(n)
    ours = tmp_path / "o.idx"
    idxmap.build(input_pairs(m), ours)
    assert ours.read_bytes() == node_built[f"size {n}"].read_bytes()
    with idxmap.open(ours) as ix:
        assert ix == m
