"""Text pairs (the input of idx build): the accepted forms, and every kind of bad line reported
with Node's words, file and line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import idxmap
from idxmap.parse import pairs_of_text

from conftest import FIXTURES, run_node

BAD: "list[str | bytes]" = [
    "1 two\n",
    "1\n",
    "1 2 3\n",
    "-1 5\n",
    "1.5 2\n",
    "0x10 1\n",
    "99999999999999999999 1\n",
    "1 18446744073709551616\n",
    "1e5 2\n",
    "+1 2\n",
    "a b\n",
    "1,,2\n",
    "1 2\r\r\n",
    "# ok\n\n5 5\n1\t2\tx\n",
    "1 2\n" * 3 + "7 " + "8" * 80 + "\n",
    "\ufeff1 2\n",
    "1 2 # comment\n",
    ",1 2\n",
    "1\x002\n",
    "1 2\x1b\n",
    b"1 \xff\xfe 2\n",
    "1 " + "x" * 300 + "\n",
    "9 " + "9" * 300 + "\n",
    "1 x" + "\U0001f600" * 40 + "\n",
    "a" + "\U0001f600" * 13 + " 1\n",
    # Lines that pass 1 MiB without ending (src/core/parse.ts MAX_LINE), and encodings named.
    b"1 2\n" + b"7" * (3 << 20) + b" 2\n",
    b"1 " + b"9" * (2 << 20),
    b"1 2\n" + ("\u00e9" * 600_000).encode(),
    b"\x00" * (3 << 20),
    b"\xff\xfe1\x002\x00\n",
    b"1 " + b"a" * 253 + "\u00e9".encode() + b"\n",
]


def test_every_accepted_form() -> None:
    assert list(idxmap.read_pairs(FIXTURES / "syntax.tsv")) == [
        (1, 100), (2, 200), (3, 300), (4, 400), (5, 500), (1, 101), (2, 201), (6, 600)
    ]
    assert pairs_of_text("1,2\r\n3 ,4\n5 , 6\n  7\t\t8  \n# x\n\n9 10") == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
    assert pairs_of_text("") == [] and pairs_of_text("\n\n# only comments\n") == []
    assert list(idxmap.read_pairs(io.BytesIO(b"4294967295 0\n0 4294967295\n"))) == [(4294967295, 0), (0, 4294967295)]


def test_numbers_up_to_2_to_the_64_minus_1() -> None:
    # §16.5: a build takes 64 bits for the keys or values that need them, so text pairs hold
    # numbers up to 18446744073709551615; one more is an error naming the line.
    text = b"4294967296 1\n18446744073709551615 18446744073709551615\n0 9007199254740993\n"
    assert list(idxmap.read_pairs(io.BytesIO(text))) == [(2**32, 1), (2**64 - 1, 2**64 - 1), (0, 2**53 + 1)]
    for line, what in [(b"18446744073709551616 1", 'key "18446744073709551616"'), (b"1 99999999999999999999", 'value "99999999999999999999"')]:
        with pytest.raises(idxmap.ParseError) as info:
            list(idxmap.read_pairs(io.BytesIO(b"1 2\n" + line + b"\n"), name="in.txt"))
        assert str(info.value).split("\n")[0] == f'in.txt:2: {what} is over 18446744073709551615 in "{line.decode()}"'


def test_bad_lines_are_reported_as_node_reports_them(tmp_path: Path) -> None:
    files = []
    for i, text in enumerate(BAD):
        p = tmp_path / f"bad{i}.txt"
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        files.append(p)
    theirs = run_node("parse", tmp_path / "out.idx", *files)
    for text, p, node in zip(BAD, files, theirs):
        with pytest.raises(idxmap.ParseError) as info:
            list(idxmap.read_pairs(p))
        e = info.value
        if node["ok"]:
            pytest.fail(f"Node accepts {text!r}")
        assert (e.code, str(e)) == (node["code"], node["message"]), text
        assert e.path == str(p) and isinstance(e, ValueError)


def test_a_missing_input_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(idxmap.IdxIOError, match="cannot read the input"):
        list(idxmap.read_pairs(tmp_path / "nope.tsv"))
