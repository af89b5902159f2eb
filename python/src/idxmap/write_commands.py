"""``python -m idxmap set``, ``del``, ``put`` and ``compact``: the in-place writer from the command
line, with the words, options and exit statuses of idx's (src/cli/write-commands.ts). Keys and
values may be up to 18446744073709551615: a number the index's widths cannot hold widens it
(spec §16.5), which idx of this tree does not do.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .cli import MAX_U64, UsageError, _Out, _write_error, js_number, js_string, number_error, parse_uint, plural, quote
from .errors import ERR_IDX_INVALID_ARGUMENT, ERR_IDX_IO, ERR_IDX_LOCKED, ERR_IDX_PARSE, IdxError, error, io_error
from .writer import Writer

PROG = "idxmap"

WRITER_NOTE = """One writer at a time: while another process (Python's or idx's) writes FILE, the
command fails at once and names it, or waits up to --wait MS for it. Readers in other
processes see the change at once. The change is on disk (synced) when the command exits.

Options:
  --wait MS    wait up to MS milliseconds for another writer of FILE to finish
  -q, --quiet  print no summary line (put, compact)"""

INPUT_NOTE = """Input, as text: one pair a line, KEY and VALUE separated by a tab, spaces or a
comma. Both are decimal integers from 0 to 18446744073709551615 (no hex, no sign). Blank
lines and lines starting with # are skipped; CRLF line ends are accepted. With --binary:
pairs of little-endian integers, KEY then VALUE, each 4 bytes (8 with --key-bits 64 or
--value-bits 64): 8 bytes a pair by default, as `dump --binary` writes a file of 32-bit
keys and values.
With --binary, input whose first 4096 bytes (or all of it, when shorter) are printable
ASCII, tabs, CRs and LFs, with at least one LF, is refused as text: drop --binary to read
it. (Binary pairs of IDs below 16777216 hold NUL bytes, and text never does.)
When a key appears more than once, its last value wins. A line longer than 1 MiB is
refused, and so is input that is the index itself."""

WIDENING_NOTE = """A key or value above 4294967295 in an index of 32-bit keys or values rewrites
it into a version 3 index of 64-bit keys or values (the other width kept), which readers
follow."""

HELP: Dict[str, str] = {
    "set": f"""Usage: python -m idxmap set FILE KEY VALUE [--wait MS]

Sets KEY to VALUE in the index FILE, in place (insert or overwrite). Creates FILE as an
empty index first if it does not exist. Grows the table (a new file renamed over the old)
when it is nearly full.

{WIDENING_NOTE}

{WRITER_NOTE}""",
    "del": f"""Usage: python -m idxmap del FILE KEY... [--wait MS]

Removes each KEY from FILE, in place. Exit status 1 if some KEY was not there (each one is
named on stderr).

{WRITER_NOTE}""",
    "put": f"""Usage: python -m idxmap put FILE PAIRS [--binary [--key-bits 64] [--value-bits 64]] [--wait MS] [--quiet]

Merges the pairs of PAIRS (a file, or - for stdin) into FILE: later pairs win, as in
build. The whole input is read first; a bad line changes nothing. A small batch is
applied in place; a large one (over 4,096 pairs and over a quarter of the entries) is
merged into a new file renamed over the old one. Creates FILE if it does not exist.

{WIDENING_NOTE}

{INPUT_NOTE}

{WRITER_NOTE}""",
    "compact": f"""Usage: python -m idxmap compact FILE [--wait MS] [--quiet]

Rehashes FILE now into the layout and size a fresh build gives: the file becomes
byte-identical to a build of its pairs (at its widths). Readers follow to the new file on
their own.

{WRITER_NOTE}""",
}

_WRITER_OPTIONS = {"wait": "string", "quiet": "boolean"}
_WIDTH_OPTIONS = {"key-bits": "string", "value-bits": "string"}
_SHORT = {"q": "quiet"}
_MASKED = re.compile(r"-[0-9.]")


def parse_options(command: str, args: Sequence[str], options: Dict[str, str]) -> Tuple[Dict[str, Any], List[str]]:
    """node:util parseArgs, strict, as idx's commands use it: long options (``--wait MS``,
    ``--wait=MS``, ``--quiet``), ``-q``, positionals; an argument like ``-1`` stays a
    positional (a bad number, said so by the caller). Mistakes are UsageErrors in parseArgs'
    words, begun in lower case."""
    values: Dict[str, Any] = {}
    positionals: List[str] = []

    def label(name: str) -> str:
        short = [s for s, n in _SHORT.items() if n == name]
        return f"-{short[0]}, --{name}" if short else f"--{name}"

    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            positionals.extend(args[i:])
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            kind = options.get(name)
            if kind is None:
                raise UsageError(f"unknown option '--{name}'", command)
            if kind == "boolean":
                if eq:
                    raise UsageError(f"option '{label(name)}' does not take an argument", command)
                values[name] = True
            elif eq:
                values[name] = value
            elif i < len(args) and (not args[i].startswith("-") or _MASKED.match(args[i])):
                values[name] = args[i]
                i += 1
            else:
                raise UsageError(f"option '--{name} <value>' argument missing", command)
        elif a.startswith("-") and a != "-" and not _MASKED.match(a):
            for c in a[1:]:
                name = _SHORT.get(c)
                if name is None or name not in options:
                    raise UsageError(f"unknown option '-{c}'", command)
                values[name] = True
        else:
            positionals.append(a)
    return values, positionals


def wait_option(command: str, wait: Any) -> float:
    """--wait MS, as seconds."""
    if wait is None:
        return 0.0
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", wait):
        raise UsageError(f"--wait takes a number of milliseconds, not {quote(str(wait))}", command)
    return float(wait) / 1000


def _number(what: str, text: str) -> int:
    n = parse_uint(text, MAX_U64)
    if n is None:
        raise number_error(what, text, MAX_U64, "Keys and values are")
    return n


def _open(command: str, file: str, values: Dict[str, Any], create: bool = True) -> Writer:
    wait_text = values.get("wait")
    wait = wait_option(command, wait_text)
    try:
        return Writer(file, create=create, wait=wait)
    except IdxError as e:
        if e.code == ERR_IDX_IO and not create and not os.path.exists(file):
            raise error(
                ERR_IDX_IO,
                "cannot open the index: no such file or directory (ENOENT)",
                path=file,
                hint="Build it first with `idx build PAIRS -o FILE` (or create it with `python -m idxmap set FILE KEY VALUE`).",
            ) from None
        if e.code == ERR_IDX_LOCKED:
            # Said with the command line's option, in its unit.
            hint = (
                f"Waited {js_number(float(wait_text))} ms; try again later."
                if wait
                else f"Wait for it to finish, or run this with --wait MS to wait for it (python -m idxmap {command} --wait 5000 ...)."
            )
            raise error(ERR_IDX_LOCKED, e.what, path=e.path, hint=hint) from None
        raise


def cmd_set(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_options("set", args, _WRITER_OPTIONS)
    if len(positionals) != 3:
        raise UsageError("set takes FILE KEY VALUE", "set")
    file, key_text, value_text = positionals
    key = _number("key", key_text)
    value = _number("value", value_text)
    w = _open("set", file, values)
    try:
        w[key] = value
    finally:
        w.close()
    return 0


def cmd_del(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_options("del", args, _WRITER_OPTIONS)
    if len(positionals) < 2:
        raise UsageError("del takes FILE KEY...", "del")
    file, key_texts = positionals[0], positionals[1:]
    keys = [_number("key", k) for k in key_texts]
    w = _open("del", file, values, create=False)
    missing: List[int] = []
    try:
        for key in keys:
            if not w.delete(key):
                missing.append(key)
    finally:
        w.close()
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f", and {len(missing) - 10} more" if len(missing) > 10 else "")
        _write_error(f"{PROG}: {file}: not there, so not deleted: {plural(len(missing), 'key', 'keys')} ({shown})\n")
        return 1
    return 0


def cmd_put(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_options("put", args, {**_WRITER_OPTIONS, **_WIDTH_OPTIONS, "binary": "boolean"})
    widths = width_options("put", values)
    if not values.get("binary") and (values.get("key-bits") is not None or values.get("value-bits") is not None):
        raise UsageError("--key-bits and --value-bits give the widths of --binary input (text says its own)", "put")
    if len(positionals) != 2:
        raise UsageError("put takes FILE PAIRS (PAIRS may be - for stdin)", "put")
    file, source = positionals
    name = "<stdin>" if source == "-" else source
    _refuse_own_input(source, stdin, name, file)
    # Read everything first: a bad line changes nothing.
    pairs = _read_pairs(source, stdin, name, widths if values.get("binary") else None)
    w = _open("put", file, values)
    try:
        before = len(w)
        w._merge(*pairs)  # columns, read and checked: not a tuple for update() to guess at
        if not values.get("quiet"):
            _write_error(f"put {plural(len(pairs[0]), 'pair', 'pairs')} into {file}: {before} -> {plural(len(w), 'entry', 'entries')}\n")
    finally:
        w.close()
    return 0


def cmd_compact(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_options("compact", args, _WRITER_OPTIONS)
    if len(positionals) != 1:
        raise UsageError("compact takes one index file", "compact")
    file = positionals[0]
    w = _open("compact", file, values, create=False)
    try:
        before = os.stat(file).st_size
        w.compact()
        if not values.get("quiet"):
            _write_error(f"compacted {file}: {plural(len(w), 'entry', 'entries')}, {before} -> {os.stat(file).st_size} bytes\n")
    finally:
        w.close()
    return 0


def _stdin_stream(stdin: Any) -> Any:
    return getattr(stdin, "buffer", stdin)


def _refuse_own_input(source: str, stdin: Any, name: str, target: str) -> None:
    """The input is the index itself (by path, or as stdin): putting it would write the index
    into itself (src/build.ts refuseOwnInput)."""
    try:
        if source != "-":
            a = os.stat(source)
        else:
            stream = _stdin_stream(stdin)
            if stream is None:
                return
            a = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return
    if source == "-" and stat.S_ISDIR(a.st_mode):
        raise error(ERR_IDX_IO, "cannot read the input: is a directory (EISDIR)", path=name, hint="Give a file of pairs.")
    try:
        b = os.stat(target)
    except OSError:
        return
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        raise error(
            ERR_IDX_INVALID_ARGUMENT,
            f"the input {name} is the output itself: putting them would write the index into itself",
            path=target,
            hint="Write the index to another file.",
        )


def width_options(command: str, values: Dict[str, Any]) -> Tuple[int, int]:
    """--key-bits and --value-bits: 32 (the default) or 64 each."""

    def width(name: str) -> int:
        text = values.get(name)
        if text is None or text == "32":
            return 32
        if text == "64":
            return 64
        raise UsageError(f"--{name} takes 32 or 64, not {quote(str(text))}", command)

    return width("key-bits"), width("value-bits")


def _read_pairs(source: str, stdin: Any, name: str, binary: Optional[Tuple[int, int]]) -> Tuple[List[int], List[int]]:
    """Every pair of the input, as (keys, values) columns in input order: text, or binary pairs
    of the widths ``binary`` (key bits, value bits)."""
    from .parse import read_pairs

    if binary is None:
        stream: Optional[Any] = None if source != "-" else _stdin_stream(stdin)
        if source == "-" and stream is None:
            return [], []  # stdin closed: no pairs
        pairs = list(read_pairs(source if source != "-" else stream, name))
        return [k for k, _ in pairs], [v for _, v in pairs]
    try:
        if source == "-":
            stream = _stdin_stream(stdin)
            data = b"" if stream is None else stream.read()
        else:
            with open(source, "rb") as f:
                data = f.read()
    except OSError as e:
        raise io_error("read the input", name, e, "Check the path of the pairs file.") from e
    return decode_binary_pairs(data, name, *binary)


_TEXT_PROBE_BYTES = 4096
_SHOWN = 60
_TEXT_BYTES = re.compile(rb"[\t\r\n\x20-\x7e]*")


def decode_binary_pairs(data: bytes, name: str, key_bits: int = 32, value_bits: int = 32) -> Tuple[List[int], List[int]]:
    """Binary pairs (src/core/parse.ts BinaryPairParser): little-endian, a ``key_bits`` key then a
    ``value_bits`` value, as (keys, values) columns.

    Raises:
        ParseError: the input looks like text (its first 4096 bytes printable ASCII with a line
            end), or is not a whole number of pairs.
    """
    probe = data[:_TEXT_PROBE_BYTES]
    if _TEXT_BYTES.fullmatch(probe) and b"\n" in probe:
        shown = js_string(probe[:_SHOWN].decode("ascii")) + ("..." if len(probe) > _SHOWN else "")
        raise error(
            ERR_IDX_PARSE,
            f"looks like text, not binary pairs: its first {len(probe)} bytes are printable ASCII with line ends ({shown})",
            path=name,
            hint="For text pairs, drop --binary (idxmap.read_pairs in the API). Binary input is pairs of little-endian integers, key then value, 4 bytes each (8 with --key-bits 64 or --value-bits 64).",
        )
    size = (key_bits + value_bits) // 8
    if len(data) % size:
        kb = key_bits // 8
        raise error(
            ERR_IDX_PARSE,
            f"is {len(data)} bytes long, not a whole number of {size}-byte pairs ({len(data) % size} bytes left over)",
            path=name,
            hint="Binary input is pairs of little-endian uint32s, key then value: its length is a multiple of 8 "
            "(for 64-bit keys or values, say --key-bits 64 or --value-bits 64)."
            if size == 8
            else f"Binary input at these widths is a little-endian {kb * 8}-bit key then a {(size - kb) * 8}-bit value: "
            f"its length is a multiple of {size}.",
        )
    fmt = "<" + ("Q" if key_bits == 64 else "I") + ("Q" if value_bits == 64 else "I")
    keys: List[int] = []
    values: List[int] = []
    for k, v in struct.iter_unpack(fmt, data):
        keys.append(k)
        values.append(v)
    return keys, values


COMMANDS = {"set": cmd_set, "del": cmd_del, "put": cmd_put, "compact": cmd_compact}
