"""``python -m idxmap set/del/put/compact`` against ``node bin/idx.js`` on copies of the same files:
the same exit status, the same stdout and stderr (but for each program's own name, and the
largest number each reads: idx of this tree reads up to 4294967295, idxmap up to 2^64 - 1), and
the same bytes in the index afterwards."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import struct
from pathlib import Path
from typing import List, Tuple

import pytest

import idxmap
from idxmap import cli

from conftest import FIXTURES, run_idx


def run_py(args: List[str], input: bytes = b"") -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(args, stdin=io.BytesIO(input), stdout=out)
    return status, out.getvalue(), err.getvalue()


def normalized(text: str) -> str:
    text = re.sub(r"^(idx|idxmap): ", "PROG: ", text, flags=re.M)
    text = re.sub(r"Try '(idx|python -m idxmap) ", "Try 'PROG ", text)
    text = text.replace("python -m idxmap ", "idx ").replace("(idxmap.read_pairs in the API)", "(buildFromText in the API)")
    return text


def same(tmp_path: Path, args: List[str], start: str = "", input: bytes = b"") -> Tuple[int, str, str]:
    """Runs ``args`` (FILE standing for the index) in Python and in Node, each on its own copy
    of the fixture ``start`` (or no file); compares what they print and the files they leave."""
    results = []
    for side in ("node", "python"):
        d = tmp_path / side
        d.mkdir(exist_ok=True)
        f = d / "x.idx"
        if f.exists():
            f.unlink()
        if start:
            shutil.copy(FIXTURES / start, f)
        argv = [str(f) if a == "FILE" else str(d / a[4:]) if a.startswith("DIR/") else a for a in args]
        if side == "node":
            r = run_idx(*argv, input=input)
            results.append((r.returncode, r.stdout.decode(), r.stderr.decode().replace(str(d), "D"), f.read_bytes() if f.exists() else None))
        else:
            status, out, err = run_py(argv, input)
            results.append((status, out, err.replace(str(d), "D"), f.read_bytes() if f.exists() else None))
    (ns, no, ne, nb), (ps, po, pe, pb) = results
    assert (ps, po) == (ns, no), (args, pe, ne)
    assert normalized(pe) == normalized(ne), args
    assert pb == nb, args
    assert "Traceback" not in pe
    return ps, po, pe


def test_set_del_put_compact_as_idx(tmp_path: Path, code_path: str) -> None:
    assert same(tmp_path, ["set", "FILE", "42", "7"])[0] == 0  # created, then set
    assert same(tmp_path, ["set", "FILE", "5", "6"], "cluster.idx")[0] == 0  # grows
    assert same(tmp_path, ["set", "FILE", "857579651", "1", "--wait", "100"], "edges.idx")[0] == 0
    assert same(tmp_path, ["set", "-q", "FILE", "40", "0"], "v1/cluster.idx")[0] == 0
    status, _, err = same(tmp_path, ["del", "FILE", "40", "41", "108", "42"], "cluster.idx")
    assert status == 1 and err == "idxmap: D/x.idx: not there, so not deleted: 2 keys (41, 42)\n"
    assert same(tmp_path, ["del", "FILE", *map(str, range(1000, 1012))], "one.idx")[0] == 1  # "and 2 more"
    assert same(tmp_path, ["del", "FILE", "42"], "one.idx")[0] == 0
    status, _, err = same(tmp_path, ["put", "FILE", str(FIXTURES / "blocks.tsv")], "cluster.idx")
    assert status == 0 and err == "put 2000 pairs into D/x.idx: 12 -> 2011 entries\n"
    assert same(tmp_path, ["put", "FILE", "-", "--quiet"], "edited.idx", input=b"1 2\n3 4\n# x\n1 5\n")[0] == 0
    assert same(tmp_path, ["put", "FILE", "-"], "edited.idx", input=b"1 2\n3 4\n")[0] == 0  # two pairs: no tuple to guess at
    pairs = struct.pack("<6I", 1, 2, 3, 4, 857579651, 9)
    assert same(tmp_path, ["put", "--binary", "FILE", "-"], "one.idx", input=pairs)[0] == 0
    # Binary pairs at other widths (§16): 12 or 16 bytes a pair. Within 32 bits the same file
    # as idx's; past them the file widens to hold them. (idx of this tree keeps only the low
    # words of a put's 64-bit binary pairs, so those are checked against a build instead.)
    small = struct.pack("<QI", 2**32 - 1, 3) + struct.pack("<QI", 5, 6)
    assert same(tmp_path, ["put", "--binary", "--key-bits", "64", "FILE", "-"], "one.idx", input=small)[0] == 0
    for flags, fmt, start, pairs in [
        (["--key-bits", "64"], "<QI", {42: 7}, [(2**40, 3), (5, 6)]),
        (["--value-bits", "64"], "<IQ", {42: 7}, [(7, 2**63), (857579651, 2**40 + 1)]),
        (["--key-bits=64", "--value-bits", "64"], "<QQ", {}, [(2**64 - 1, 2**64 - 2)]),
    ]:
        f = tmp_path / "wide.idx"
        idxmap.build(start, f)
        data = b"".join(struct.pack(fmt, k, v) for k, v in pairs)
        assert run_py(["put", "--binary", *flags, str(f), "-"], data)[:2] == (0, "")
        want = tmp_path / "want.idx"
        idxmap.build({**start, **dict(pairs)}, want)
        with idxmap.Writer(f) as w:
            w.compact()
        assert f.read_bytes() == want.read_bytes(), flags
    status, _, err = same(tmp_path, ["compact", "FILE"], "edited.idx")
    assert status == 0 and err.startswith("compacted D/x.idx: 12 entries, ")
    assert same(tmp_path, ["compact", "FILE", "-q"], "v1/edited.idx")[0] == 0


@pytest.mark.parametrize(
    "args,start,input",
    [
        (["set"], "", b""),
        (["set", "FILE", "1"], "", b""),
        (["set", "FILE", "1", "2", "3"], "", b""),
        (["set", "FILE", "1", "2", "--wait"], "", b""),
        (["set", "FILE", "1", "2", "--wait=abc"], "", b""),
        (["set", "FILE", "1", "2", "--wait", "-5"], "", b""),
        (["set", "FILE", "1", "2", "--foo"], "", b""),
        (["set", "FILE", "1", "2", "--quiet=1"], "", b""),
        (["set", "FILE", "1", "2", "-x"], "", b""),
        (["set", "FILE", "-1", "2"], "", b""),
        (["set", "FILE", "1", "1.5"], "", b""),
        (["set", "FILE", "1", "99999999999999999999"], "", b""),
        (["set", "DIR/none/x.idx", "1", "2"], "", b""),
        (["set", "FILE", "1", "2"], "minor.idx", b""),
        (["del", "FILE"], "", b""),
        (["del", "FILE", "1"], "", b""),
        (["del", "FILE", "x"], "one.idx", b""),
        (["put", "FILE"], "", b""),
        (["put", "FILE", "DIR/none.tsv"], "one.idx", b""),
        (["put", "FILE", "-"], "one.idx", b"1 2\n3 x\n"),
        (["put", "FILE", "FILE"], "one.idx", b""),
        (["put", "--binary", "FILE", "-"], "one.idx", b"1234567"),
        (["put", "--binary", "--key-bits", "64", "FILE", "-"], "one.idx", bytes(20)),
        (["put", "--binary", "--value-bits", "48", "FILE", "-"], "one.idx", bytes(8)),
        (["put", "--key-bits", "64", "FILE", "-"], "one.idx", b"1 2\n"),
        (["put", "--binary", "FILE", "-"], "one.idx", b"1 2\n3 4\n"),
        (["compact"], "", b""),
        (["compact", "FILE"], "", b""),
        (["compact", "FILE"], "minor.idx", b""),
        (["compact", "FILE", "extra"], "one.idx", b""),
    ],
)
def test_mistakes_are_refused_as_idx_refuses_them(tmp_path: Path, args: List[str], start: str, input: bytes) -> None:
    status, out, err = same(tmp_path, args, start, input)
    assert status == 2 and out == "" and err


def test_64_bit_numbers_widen_the_index(tmp_path: Path) -> None:
    # A key or value above 4294967295 rewrites the index as version 3 (§16.5), as idx does.
    assert same(tmp_path, ["set", "FILE", "18446744073709551615", "5"], "edges.idx")[0] == 0
    f = tmp_path / "x.idx"
    shutil.copy(FIXTURES / "edges.idx", f)
    assert run_py(["set", str(f), "18446744073709551615", "5"])[0] == 0
    assert run_py(["put", str(f), "-"], b"7 18446744073709551615\n")[:2] == (0, "")
    with idxmap.open(f) as ix:
        assert (ix.key_bits, ix.value_bits) == (64, 64) and ix[2**64 - 1] == 5 and ix[7] == 2**64 - 1
    assert run_py(["get", str(f), "18446744073709551615"])[1] == "5\n"
    status, _, err = run_py(["del", str(f), "18446744073709551615", "18446744073709551614"])
    assert status == 1 and err.endswith("not there, so not deleted: 1 key (18446744073709551614)\n")
    assert run_py(["verify", str(f)])[0] == 0
