"""§11.7 with a scripted writer: the reader's seq check, proven by a write at a chosen load.

The Index reads a copy of an index file through views that count its loads (the seams are the
MappedFile's: ``words``, ``slot_words``, ``slots``, ``np_slots()`` and ``copy_slots()``). At
one chosen load, right after the reader made it, a "writer" deletes an entry (§5.4, §11.3):
the key searched for, which sat one slot after its home, shifts one slot left, and seq goes up
by two (an odd store, the slots, the count, an even store). A probe that read the slot before
the shift and the one after it sees the key nowhere; only the seq comparison tells it to probe
again. Each test fails if that comparison is taken out of the reader (the report of the change
that added these tests says it was tried).
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import idxmap
from idxmap import vectorized
from idxmap.mapping import MappedFile

from conftest import HAS_NUMPY

EMPTY = 0xFFFFFFFF
HB = 128  # version 2 header bytes: slot s at HB + 8 s


def _u32(buf: bytearray, offset: int) -> int:
    return struct.unpack_from("<I", buf, offset)[0]


def _cell(buf: bytearray, offset: int, word: int) -> None:
    struct.pack_into("<II", buf, offset, word, zlib.crc32(struct.pack("<II", offset, word)))


def _home(h: int, capacity: int) -> int:
    return (h * capacity) >> 32


def _table(tmp_path: Path) -> Tuple[Path, Dict[int, int], int, int, int]:
    """An index where slot s holds D and slot s + 1 holds K, whose home is s: deleting D shifts
    K into slot s. Returns (path, map, D, K, s)."""
    r = random.Random(5)
    for attempt in range(200):
        pairs = {r.randrange(1 << 32): r.randrange(1 << 32) for _ in range(300)}
        path = tmp_path / f"t{attempt}.idx"
        idxmap.build(pairs, path)
        data = path.read_bytes()
        capacity, slot_count = struct.unpack_from("<QQ", data, 16)
        hashes = [_u32(bytearray(data[HB + 8 * s : HB + 8 * s + 4]), 0) for s in range(slot_count)]
        for s in range(slot_count - 2):
            d, k = hashes[s], hashes[s + 1]
            if d != EMPTY and k != EMPTY and _home(d, capacity) == s and _home(k, capacity) == s:
                return path, pairs, idxmap.unhash32(d), idxmap.unhash32(k), s
    raise AssertionError("no table with a displaced key")


def _delete(buf: bytearray, s: int) -> None:
    """The writer: deletes the entry in slot ``s`` by backward shift, between an odd and an even
    seq, as §11.2 and §11.3 say (the dirty cells and checksums, which no lookup reads, left out)."""
    capacity, slot_count = struct.unpack_from("<QQ", buf, 16)
    seq = _u32(buf, 48)
    _cell(buf, 48, seq + 1)
    while s + 1 < slot_count - 1:
        h = _u32(buf, HB + 8 * (s + 1))
        if h == EMPTY or _home(h, capacity) > s:
            break
        buf[HB + 8 * s : HB + 8 * s + 8] = buf[HB + 8 * (s + 1) : HB + 8 * (s + 2)]
        s += 1
    struct.pack_into("<II", buf, HB + 8 * s, EMPTY, 0)
    _cell(buf, 56, _u32(buf, 56) - 1)
    _cell(buf, 48, seq + 2)


class _Loads:
    """A view whose loads are counted: after the load ``fire_at`` says, the writer runs."""

    def __init__(self, view: Any, name: str, script: "_Script") -> None:
        self.view, self.name, self.script = view, name, script

    def __getitem__(self, i: Any) -> Any:
        value = self.view[i]
        self.script.loaded(self.name, i)
        return value

    def __len__(self) -> int:
        return len(self.view)


class _Script:
    """Runs ``act`` once, right after the first load for which ``when(name, index)`` is true."""

    def __init__(self, when: Callable[[str, Any], bool], act: Callable[[], None]) -> None:
        self.when, self.act, self.fired = when, act, 0

    def loaded(self, name: str, i: Any) -> None:
        if not self.fired and self.when(name, i):
            self.fired += 1
            self.act()


class _ScriptedFile(MappedFile):
    """A MappedFile over a private copy of the file's bytes, read through _Loads."""

    __slots__ = ("buf", "script", "_scripted_np")

    @classmethod
    def of(cls, path: Path, script: _Script) -> "_ScriptedFile":
        real = MappedFile.open(str(path))
        buf = bytearray(real.mm[:])
        m = cls.__new__(cls)
        MappedFile.__init__(m, str(path), real.header, buf, os.stat(path))  # type: ignore[arg-type]
        real.close()
        m.buf, m.script, m._scripted_np = buf, script, None
        m.words = _Loads(m.words, "words", script)
        m.slot_words = _Loads(m.slot_words, "slot_words", script)
        m.slots = _Loads(m.slots, "slots", script)
        return m

    def lost(self) -> bool:
        return False  # a private copy: never truncated

    def np_slots(self) -> Any:
        if self._scripted_np is None:
            import numpy as np

            script = self.script

            class Slots(np.ndarray):
                def take(self, indices: Any, *args: Any, **kwargs: Any) -> Any:
                    out = np.asarray(self).take(indices, *args, **kwargs)
                    script.loaded("take", indices)
                    return out

            self._scripted_np = np.frombuffer(self.buf, dtype=np.uint64, count=self.header.slot_count, offset=HB).view(Slots)
        return self._scripted_np

    def copy_slots(self, a: int, b: int, np: Any) -> Any:
        # Copied a slot at a time, as a whole-slot copy reads them: the writer may run between two.
        if np is not None:
            slots = np.asarray(self.np_slots())
            parts = []
            for s in range(a, b):
                parts.append(slots[s : s + 1].copy())
                self.script.loaded("copy", s)
            return np.concatenate(parts) if parts else slots[0:0].copy()
        out = []
        for s in range(a, b):
            out.append(self.slots.view[s])
            self.script.loaded("copy", s)
        return out


def _scripted_index(tmp_path: Path, when: Callable[[int], Callable[[str, Any], bool]]) -> Tuple[idxmap.Index, _Script, Dict[int, int], int, int]:
    path, pairs, d, k, s = _table(tmp_path)
    ix = idxmap.open(path)
    holder: List[_ScriptedFile] = []
    script = _Script(when(s), lambda: _delete(holder[0].buf, s))
    m = _ScriptedFile.of(path, script)
    m.generation = ix._m.generation
    holder.append(m)
    ix._m = m
    return ix, script, pairs, d, k


def _at_slot_hash(s: int) -> Callable[[str, Any], bool]:
    # The fast path's load of slot s's hash word, or the slow path's load of slot s.
    return lambda name, i: (name == "slot_words" and i == 2 * s) or (name == "slots" and i == s)


@pytest.mark.parametrize("lookup", ["getitem", "get", "contains"])
def test_a_lookup_that_a_delete_overlapped_probes_again(tmp_path: Path, lookup: str) -> None:
    ix, script, pairs, d, k = _scripted_index(tmp_path, _at_slot_hash)
    if lookup == "getitem":
        assert ix[k] == pairs[k]
    elif lookup == "get":
        assert ix.get(k) == pairs[k]
    else:
        assert k in ix
    assert script.fired == 1  # the writer ran in the middle of that probe
    assert ix.get(d) is None and len(ix) == len(pairs) - 1


@pytest.mark.parametrize("numpy_path", [True, False] if HAS_NUMPY else [False])
def test_a_get_many_chunk_that_a_delete_overlapped_is_probed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numpy_path: bool
) -> None:
    if not numpy_path:
        monkeypatch.setattr(vectorized, "_numpy", None)
        monkeypatch.setattr(vectorized, "_checked", True)
    # numpy: the writer runs after the chunk's first gather (every key's home slot); the
    # second gather reads slot s + 1 for the keys still undecided. Pure: as a single lookup.
    when = (lambda s: lambda name, i: name == "take") if numpy_path else _at_slot_hash
    ix, script, pairs, d, k = _scripted_index(tmp_path, when)
    others = [x for x in pairs if x not in (d, k)][:50]
    keys = [k] + others + [d]
    values, found = ix.get_many(keys)
    assert script.fired == 1
    assert [int(v) for v in values[:-1]] == [pairs[x] for x in keys[:-1]] and all(map(bool, found[:-1]))
    # d was looked up in the same chunk, after the delete or in the probe made again: absent.
    assert not found[-1]


@pytest.mark.parametrize("numpy_path", [True, False] if HAS_NUMPY else [False])
def test_an_iteration_run_that_a_delete_overlapped_is_copied_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numpy_path: bool
) -> None:
    # §5.5: a run of slots copied while the writer moves k from slot s + 1 to s (after the copy
    # read slot s, before it reads s + 1) would miss k; the seq loads around the run send the
    # reader to copy it again. Every key is seen once, with its value.
    if not numpy_path:
        monkeypatch.setattr(vectorized, "_numpy", None)
        monkeypatch.setattr(vectorized, "_checked", True)
    ix, script, pairs, d, k = _scripted_index(tmp_path, lambda s: lambda name, i: name == "copy" and i == s)
    seen = list(ix.items())
    assert script.fired == 1
    after = {x: v for x, v in pairs.items() if x != d}
    assert len(seen) == len(after) and dict(seen) == after
