"""``python -m idxmap``: the commands of the ``idx`` command line but build and cp (get, dump,
verify, info; set, del, put, compact in :mod:`idxmap.write_commands`), with its output, its
messages and its exit codes (src/cli/*.ts in the Node package):

- 0: success;
- 1: a key was missing (get, del) or the index is damaged (verify);
- 2: usage error, bad input, an unreadable or invalid file, or a locked index.

Errors are one or two plain lines on stderr (what went wrong, where, what to do), never a
traceback (unless IDX_DEBUG is set).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
import traceback
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from . import __version__
from .errors import (
    ERR_IDX_INTERRUPTED,
    ERR_IDX_INVALID_ARGUMENT,
    ERR_IDX_IO,
    ERR_IDX_NOT_AN_INDEX,
    ERR_IDX_UNSUPPORTED_VERSION,
    IdxError,
    error,
)
from .parse import _js_json, _js_length, _js_slice, describe_bad_line, js_trim, number_problem
from .reader import Index

PROG = "idxmap"
EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_DAMAGED = 1
EXIT_ERROR = 2
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_U32 = 0xFFFFFFFF
MAX_U64 = 0xFFFFFFFFFFFFFFFF

MAIN_HELP = f"""{PROG}: read and write idx indexes (persistent maps of 32- or 64-bit unsigned keys to
32- or 64-bit unsigned values, in one memory-mapped file)

Usage:
  python -m idxmap get FILE KEY...        print the value of each KEY
  python -m idxmap get FILE               read keys from stdin, one per line; print one line per key
  python -m idxmap verify FILE            check every checksum and table invariant
  python -m idxmap info FILE [--json]     show version, count, capacity, load and size
  python -m idxmap set FILE KEY VALUE     insert or overwrite one pair, in place
  python -m idxmap del FILE KEY...        remove keys (exit 1 if one was not there)
  python -m idxmap put FILE PAIRS         merge pairs (text, or --binary; - for stdin)
  python -m idxmap dump FILE              print every pair as KEY<TAB>VALUE (or --binary)
  python -m idxmap compact FILE           rehash now, into the smallest (build's) layout

Options:
  -h, --help                 show help (also: python -m idxmap CMD --help)
  -v, --version              show the idxmap version and the format versions it reads

Writers (set, del, put, compact) take the index's writer lock, the one idx's writers take:
a second one is refused, naming the first, unless given --wait MS. Readers never wait, and
see each change at once. The output and exit status are those of the idx command (npm
package idx). Building is idxmap.build() in Python or idx build.

Exit status: 0 success; 1 a key was missing (get, del) or the index is damaged (verify);
2 usage error, bad input, an unreadable or invalid file, or a locked index; 130 Ctrl-C.
The format is specified byte by byte in spec/FORMAT.md."""

COMMAND_HELP: Dict[str, str] = {
    "get": """Usage: python -m idxmap get FILE KEY...
       python -m idxmap get FILE < keys.txt

Prints the value stored for each KEY, one per line.
With one KEY, a missing key prints nothing. With several KEYs, or with keys read
from stdin (one per line), a missing key prints an empty line, so output line i
always answers input line i; blank and # lines of the input get an empty line too.

Exit status: 0 every key was found; 1 some key was missing; 2 a key is not a
decimal integer from 0 to 18446744073709551615, or FILE cannot be read or is not a
valid index.""",
    "dump": """Usage: python -m idxmap dump FILE [--binary]

Prints every entry as KEY<TAB>VALUE, one per line, in hash order. "idx build" of the
output (or idxmap.build of its pairs) gives the same map (and, after compact, the same
bytes). With --binary, prints the pairs as little-endian integers at the file's widths,
KEY then VALUE, each 4 or 8 bytes (info shows the widths; "put --binary" with the same
--key-bits and --value-bits reads them).""",
    "verify": """Usage: python -m idxmap verify FILE

Reads all of FILE and checks the header, every block checksum and every table
invariant of spec/FORMAT.md. Any single flipped bit is caught.
Opening an index (and get) checks only the header; run verify after copying
an index or when you suspect damage.

Exit status: 0 intact; 1 damaged (each problem is printed); 2 FILE cannot be read.""",
    "info": """Usage: python -m idxmap info FILE [--json]

Prints the format version, key and value widths (32 or 64 bits: keyBits and valueBits
in --json), entry count, capacity (home slots), slot count, load
(entries / capacity), in-place writes, reach (the longest probe), file size, bytes per
entry, and how the file is read (mapped).
Reads only the header.

Options:
  --json   print one JSON object instead of text""",
}

_WRITING = ("build", "cp")
_WRITE_COMMANDS = ("set", "del", "put", "compact")


class UsageError(Exception):
    """A command-line mistake: printed with a pointer to --help, exit 2."""

    def __init__(self, message: str, command: Optional[str] = None) -> None:
        super().__init__(message)
        self.command = command


# ---- numbers as JavaScript prints them (the idx command's output) ----



def plural(n: int, one: str, many: str) -> str:
    """`1 entry`, `2 entries`: as idx says it."""
    return f"{n} {one if n == 1 else many}"

def js_number(x: Any) -> str:
    """``String(x)`` of JavaScript for an int or float: shortest round-trip digits, no ``.0``
    on integral values, exponent form only below 1e-6 or from 1e21."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(x))).normalize()
    _, digits_t, exp = d.as_tuple()
    digits = "".join(map(str, digits_t))
    k = len(digits)
    n = int(exp) + k
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body


def to_fixed(x: float, places: int) -> str:
    """``x.toFixed(places)`` of JavaScript: the exact binary value rounded half up (Python's
    format rounds half to even, which differs on exact ties such as 12.25)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def js_json(value: Any) -> str:
    """``JSON.stringify(value)`` for the dicts, strings and numbers ``info --json`` prints."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{js_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


# ---- keys as text (src/core/parse.ts) ----

_DIGITS = re.compile(r"[0-9]+")


def parse_uint(text: str, limit: int = MAX_U32) -> Optional[int]:
    """One decimal number from 0 to ``limit`` given as text (ASCII digits only); None when it is
    not one."""
    if not _DIGITS.fullmatch(text):
        return None
    n = int(text)
    return n if n <= limit else None


def uint_problem(text: str, limit: int = MAX_U32) -> str:
    return number_problem(js_trim(text), limit) or "is not a decimal number"


def key_error(text: str, argument: int, limit: int) -> IdxError:
    """A KEY argument of get that is not a decimal number from 0 to ``limit``."""
    return number_error("key", text, limit, "Keys are", f" (argument {argument})")


def number_error(what: str, text: str, limit: int, these: str, where: str = "") -> IdxError:
    """A ``what`` ("key", "value") argument ``text`` (at ``where``) that is not a decimal number
    from 0 to ``limit``; the hint says what ``these`` ("Keys are") may be."""
    return error(
        ERR_IDX_INVALID_ARGUMENT,
        f"{what} {quote(text)}{where} {uint_problem(text[:64], limit)}",
        hint=f"{these} decimal integers from 0 to {limit}.",
    )


_SKIPPED = -1


def parse_key_line(text: str, limit: int = MAX_U32) -> Optional[int]:
    """A key from a line of stdin; _SKIPPED for a blank or # line; None when it is not a key
    from 0 to ``limit``. Spaces and tabs around the key and a CR at the end are allowed."""
    i, end = 0, len(text)
    while i < end and text[i] in " \t":
        i += 1
    while end > i and text[end - 1] in " \t\r":
        end -= 1
    if i == end or text[i] == "#":
        return _SKIPPED
    body = text[i:end]
    if not _DIGITS.fullmatch(body):
        return None
    key = int(body)
    return key if key <= limit else None


def js_string(text: str) -> str:
    """``JSON.stringify`` of a string, as idx quotes text in its messages."""
    return json.dumps(text, ensure_ascii=False)


def quote(text: str, limit: int = 40) -> str:
    """idx's ``quote``: ``text`` in quotes, cut to a readable length, with what was cut said."""
    n = _js_length(text)
    if n > limit:
        text = f"{_js_slice(text, limit)}... ({n - limit} more characters)"
    return _js_json(text)


# ---- arguments (node:util parseArgs, strict, as idx uses it) ----


def parse_command_args(command: str, args: Sequence[str], booleans: Sequence[str] = ()) -> Tuple[Dict[str, bool], List[str]]:
    """Boolean long options and positionals; anything else is a UsageError in parseArgs' words
    (their first letter in lower case, as idx's other messages)."""
    values: Dict[str, bool] = {}
    positionals: List[str] = []
    for i, a in enumerate(args):
        if a == "--":
            positionals.extend(args[i + 1 :])
            break
        if a.startswith("--"):
            name, eq, _ = a[2:].partition("=")
            if name not in booleans:
                raise UsageError(f"unknown option '--{name}'", command)
            if eq:
                raise UsageError(f"option '--{name}' does not take an argument", command)
            values[name] = True
        elif a.startswith("-") and a != "-":
            raise UsageError(f"unknown option '-{a[1]}'", command)
        else:
            positionals.append(a)
    return values, positionals


# ---- output ----


class OutputError(Exception):
    """Standard output failed (full disk, closed, a reader that went away): the command's output
    is incomplete. Printed as idx prints it (src/cli/io.ts), exit 2; a broken pipe exits 0."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(f"cannot write to standard output: {describe_write_error(cause)}")
        self.errno = cause.errno


_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on device (ENOSPC)",
    errno.EIO: "input/output error (EIO)",
    errno.EBADF: "it is closed (EBADF)",
    errno.EDQUOT: "disk quota exceeded (EDQUOT)",
    errno.EFBIG: "file too large (EFBIG)",
}


def describe_write_error(e: OSError) -> str:
    """idx's words for a failed write to stdout (describeWriteError): the common ones said, any
    other by its errno name."""
    if e.errno in _WRITE_ERRORS:
        return _WRITE_ERRORS[e.errno]
    return errno.errorcode.get(e.errno, str(e)) if isinstance(e.errno, int) else str(e)


class _Out:
    """stdout, written in pieces. A write that fails raises OutputError, which ends the command;
    the stream is pointed at /dev/null first, so that Python's flush at exit does not fail
    again (a traceback, or "Exception ignored")."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        if not text:
            return
        try:
            self.stream.write(text)
        except OSError as e:
            raise self._failed(e) from e

    def write_bytes(self, data: bytes) -> None:
        """Binary output: to the stream's byte buffer (after what was written as text), or, for
        a text stream without one (a test's StringIO), as latin-1 characters, one a byte."""
        if not data:
            return
        buffer = getattr(self.stream, "buffer", None)
        try:
            if buffer is None:
                self.stream.write(data.decode("latin-1"))
            else:
                self.stream.flush()
                buffer.write(data)
        except OSError as e:
            raise self._failed(e) from e

    def flush(self) -> None:
        """Hands what is buffered to the system: stdout is buffered, so a full disk under a
        short output is first seen here."""
        try:
            self.stream.flush()
        except OSError as e:
            raise self._failed(e) from e

    def _failed(self, e: OSError) -> OutputError:
        _silence(self.stream)
        return OutputError(e)


def _silence(stream: Any) -> None:
    # Python flushes stdout at exit and would report the failed write again: what is still
    # buffered goes to /dev/null instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _standard_output() -> TextIO:
    # A closed stdout (`>&-`) is None in Python: idx writes to it as to /dev/null then, and
    # succeeds.
    return open(os.devnull, "w") if sys.stdout is None else sys.stdout


# ---- commands ----

_NEGATIVE_OR_NUMBER = re.compile(r"-[0-9.]+")


def cmd_get(args: Sequence[str], out: _Out, stdin: Any) -> int:
    # No option parsing: a key like -1 must be reported as a bad key, not an unknown option.
    positionals = [a for a in args if a != "--"]
    for a in args[: args.index("--")] if "--" in args else args:
        if a.startswith("-") and a != "--" and not _NEGATIVE_OR_NUMBER.fullmatch(a):
            raise UsageError(f'unknown option "{a}"', "get")
    if not positionals:
        raise UsageError("get needs an index file", "get")
    file, key_args = positionals[0], positionals[1:]
    keys: List[int] = []
    for i, text in enumerate(key_args):
        key = parse_uint(text, MAX_U64)
        if key is None:
            # Before the file is read, as idx does.
            raise key_error(text, i + 2, MAX_U64)
        keys.append(key)
    with Index(file) as ix:
        # A key wider than the file's keys (2^32 in a file of 32-bit keys) is in no such file:
        # absent, as idx answers.
        if not keys:
            return EXIT_NOT_FOUND if _answer_stdin(ix, out, stdin) else EXIT_OK
        answers = [ix.get(k) for k in keys]
    missing = sum(1 for v in answers if v is None)
    if len(keys) == 1:
        out.write("" if answers[0] is None else f"{answers[0]}\n")
    else:
        out.write("".join("\n" if v is None else f"{v}\n" for v in answers))
    return EXIT_NOT_FOUND if missing else EXIT_OK


_BATCH = 1 << 16
# A longer line is refused however the input was cut into reads (src/cli/get-command.ts).
_MAX_KEY_LINE = 1024
_KEY_HINT = f"Give one decimal key (0 to {MAX_U64}) per line."
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _utf8(latin1: str) -> str:
    """A line read as latin-1 (bytes kept as they came), shown as the UTF-8 text it holds."""
    return latin1.encode("latin-1").decode("utf-8", errors="replace")


def _answer_stdin(ix: Index, out: _Out, stdin: Any) -> int:
    """Keys from stdin, one per line, answered in batches. Returns the number of missing keys.
    A line that is not a key stops with an error naming it (after the answers before it)."""
    pending: List[int] = []  # keys, or _SKIPPED
    missing = 0
    line = 0

    def flush() -> None:
        nonlocal missing
        if not pending:
            return
        keys = [k for k in pending if k != _SKIPPED]
        if len(keys) >= 4096:
            # A key wider than the file's keys is absent (get_many refuses it: asked as 0).
            limit = ix.widths.max_key
            values, found = ix.get_many([k if k <= limit else 0 for k in keys])
            answers = iter([int(v) if f and k <= limit else None for k, v, f in zip(keys, values, found)])
        else:
            answers = iter([ix.get(k) for k in keys])
        parts = []
        for k in pending:
            if k == _SKIPPED:
                parts.append("\n")
                continue
            v = next(answers)
            if v is None:
                missing += 1
                parts.append("\n")
            else:
                parts.append(f"{v}\n")
        pending.clear()
        out.write("".join(parts))

    limit = MAX_U64
    hint = _KEY_HINT

    def take(text: str) -> None:
        nonlocal line
        line += 1
        if len(text) > _MAX_KEY_LINE:
            flush()
            raise error(
                ERR_IDX_INVALID_ARGUMENT,
                f"the line is over {_MAX_KEY_LINE} bytes long, and a key needs at most {len(str(limit))} digits: {quote(_utf8(text))}",
                path="<stdin>",
                line=line,
                hint=hint,
            )
        key = parse_key_line(text, limit)
        if key is None:
            flush()
            raw = text.encode("latin-1")
            if _CONTROL.search(text) is None and not raw.startswith(b"\xef\xbb\xbf"):
                message = f"key {quote(js_trim(_utf8(text)))} {uint_problem(text[:64], limit)}"
            else:
                message = describe_bad_line(raw).replace(" (for binary pairs, pass --binary)", "").replace("text pairs", "keys, one per line")
            raise error(ERR_IDX_INVALID_ARGUMENT, message, path="<stdin>", line=line, hint=hint)
        pending.append(key)
        if len(pending) == _BATCH:
            flush()

    if stdin is None:
        return 0  # stdin closed (`<&-`): no keys, as from an empty stdin (idx prints nothing, exit 0)
    carry = ""
    source = getattr(stdin, "buffer", stdin)
    try:
        is_dir = stat.S_ISDIR(os.fstat(source.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        is_dir = False
    if is_dir:
        raise error(
            ERR_IDX_IO, "cannot read the keys: standard input is a directory (EISDIR)", path="<stdin>", hint="Give a file of keys, one per line."
        )
    while True:
        chunk = source.read(1 << 16)
        if not chunk:
            break
        text = carry + (chunk.decode("latin-1") if isinstance(chunk, bytes) else chunk)
        lines = text.split("\n")
        carry = lines.pop()
        for t in lines:
            take(t)
        if len(carry) > _MAX_KEY_LINE:
            take(carry)  # raises: report it now, not at 50 MB
    if carry:
        take(carry)
    flush()
    return missing


def cmd_dump(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_command_args("dump", args, ("binary",))
    if len(positionals) != 1:
        raise UsageError("dump takes one index file", "dump")
    with Index(positionals[0]) as ix:
        if values.get("binary"):
            _dump_binary(ix, out)
            return EXIT_OK
        parts: List[str] = []
        size = 0
        for key, value in ix.items():
            s = f"{key}\t{value}\n"
            parts.append(s)
            size += len(s)
            if size >= 1 << 16:
                out.write("".join(parts))
                parts.clear()
                size = 0
        out.write("".join(parts))
    return EXIT_OK


def _dump_binary(ix: Index, out: "_Out") -> None:
    """Every pair as little-endian integers at the file's widths, key then value (8 bytes a pair
    for 32/32; 12 or 16 in a version 3 file), in iteration order."""
    import struct

    w = ix.widths
    pair = ("Q" if w.key_bits == 64 else "I") + ("Q" if w.value_bits == 64 else "I")
    flat: List[int] = []
    for key, value in ix.items():
        flat.append(key)
        flat.append(value)
        if len(flat) >= 1 << 15:
            out.write_bytes(struct.pack("<" + pair * (len(flat) // 2), *flat))
            flat.clear()
    out.write_bytes(struct.pack("<" + pair * (len(flat) // 2), *flat))


# verify's reports of files that are not indexes at all (src/cli/verify-command.ts).
_NOT_AN_INDEX = re.compile(r"is not an idx index|is empty \(0 bytes\)|uses format version")


def cmd_verify(args: Sequence[str], out: _Out, stdin: Any) -> int:
    _, positionals = parse_command_args("verify", args)
    if len(positionals) != 1:
        raise UsageError("verify takes one index file", "verify")
    from .checks import MAX_PROBLEMS, verify

    path = positionals[0]
    report = verify(path)
    if report.version is None and len(report.problems) == 1 and _NOT_AN_INDEX.search(report.problems[0].message):
        # Not an idx file (or a newer one): the caller has the wrong file, not a damaged index,
        # which exits 2 as get and info do.
        message = report.problems[0].message.replace(f"{path}: ", "")
        code = ERR_IDX_UNSUPPORTED_VERSION if "uses format version" in message else ERR_IDX_NOT_AN_INDEX
        raise error(code, message, path=path)
    if report.ok:
        notes = []
        if report.interrupted:
            blocks = plural(report.dirty_blocks, "block is", "blocks are")
            notes.append(
                f"a writer stopped mid-operation; its {blocks} consistent "
                "and will be rechecksummed when a writer next opens the index"
            )
        elif report.writer_stopped:
            notes.append("a writer stopped mid-operation (its sequence number is odd); the next writer repairs it")
        if report.retired:
            # Opened by its path: a retired file found there was never renamed over.
            notes.append(
                "it is marked retired but is still the file at its path (the process that replaced it "
                "stopped before its rename); the next writer repairs it"
            )
        checked = "checksums match outside the interrupted blocks" if report.interrupted else "all checksums match"
        entries = plural(report.entries, "entry", "entries")
        out.write(f"{report.path}: ok, version {report.version}, {entries}, {checked}{''.join('; ' + n for n in notes)}\n")
        return EXIT_OK
    n = len(report.problems)
    count = f"{MAX_PROBLEMS} problems or more" if n >= MAX_PROBLEMS else plural(n, "problem", "problems")
    lines = [f"{PROG}: {report.path}: damaged ({count})"]
    lines += [f"  at byte {p.offset}: {p.message.replace(f'{path}: ', '').replace(chr(10), ' ')}" for p in report.problems]
    if any("is truncated" in p.message for p in report.problems):
        lines.append(
            "To recover: the file is cut short, so `dump` cannot read it either; rebuild it from its\n"
            "pairs with `idx build PAIRS -o FILE` or idxmap.build(...), or restore the index from a good copy."
        )
    else:
        lines.append(
            f"To recover: save what is readable with `python -m {PROG} dump FILE > pairs.tsv` (it lists the\n"
            "entries the slots still hold; damaged ones may be wrong or missing), check it against your\n"
            "source, and rebuild with `idx build pairs.tsv -o FILE` or idxmap.build(idxmap.read_pairs(...),\n"
            "FILE); or restore the index from a good copy."
        )
    _write_error("\n".join(lines) + "\n")
    return EXIT_DAMAGED


def cmd_info(args: Sequence[str], out: _Out, stdin: Any) -> int:
    values, positionals = parse_command_args("info", args, ("json",))
    if len(positionals) != 1:
        raise UsageError("info takes one index file", "info")
    with Index(positionals[0]) as ix:
        info = ix.info()
    if values.get("json"):
        out.write(js_json(info.to_json()) + "\n")
        return EXIT_OK
    writes = info.writes
    rows = [
        ("file", info.path),
        ("format version", info.version),
        ("widths", f"{info.key_bits}-bit keys, {info.value_bits}-bit values"),
        ("entries", str(info.count)),
        ("capacity", plural(info.capacity, "home slot", "home slots")),
        ("slots", f"{info.slot_count} ({info.slot_count - info.capacity} spill)"),
        ("load", f"{to_fixed(100 * info.load, 1)}% (entries / capacity)"),
        ("writes", f"{plural(writes, 'in-place operation', 'in-place operations')} since built"),
        (
            "reach",
            "not recorded (version 1)"
            if info.reach is None
            else f"{info.reach} (no lookup reads more than {plural(info.reach + 1, 'slot', 'slots')})",
        ),
        ("file size", plural(info.file_bytes, "byte", "bytes")),
        ("bytes per entry", "-" if info.bytes_per_entry is None else to_fixed(info.bytes_per_entry, 2)),
    ]
    if info.interrupted or info.retired:
        what = (
            "marked retired, but still the file at its path: the process that replaced it stopped before its rename"
            if info.retired
            else "a writer stopped in the middle of an operation"
        )
        rows.append(("state", f"{what}; it reads correctly, and the next writer repairs it (any idx set, del, put or compact)"))
    rows.append(("access", "mapped (mmap)"))
    width = max(len(k) for k, _ in rows)
    out.write("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows) + "\n")
    return EXIT_OK


def _write_command(name: str) -> Callable[[Sequence[str], "_Out", Any], int]:
    # Loaded on first use: reading commands import none of the writer.
    def run(args: Sequence[str], out: _Out, stdin: Any) -> int:
        from .write_commands import COMMANDS as WRITE

        return WRITE[name](args, out, stdin)

    return run


COMMANDS: Dict[str, Callable[[Sequence[str], _Out, Any], int]] = {
    "get": cmd_get,
    "dump": cmd_dump,
    "verify": cmd_verify,
    "info": cmd_info,
    **{name: _write_command(name) for name in _WRITE_COMMANDS},
}


def _help(topic: str) -> str:
    if topic in _WRITE_COMMANDS:
        from .write_commands import HELP

        return HELP[topic]
    return COMMAND_HELP[topic]


def print_error(e: BaseException, stderr: Optional[TextIO] = None) -> int:
    """One or two plain lines on stderr, never a traceback (unless IDX_DEBUG is set). Returns
    the exit status."""
    if isinstance(e, UsageError):
        _write_error(f"{PROG}: {e}\nTry 'python -m idxmap {e.command + ' ' if e.command else ''}--help'.\n", stderr)
        return EXIT_USAGE
    if isinstance(e, OutputError):
        if e.errno == errno.EPIPE:
            return EXIT_OK  # the reader of our output went away (| head): not an error
        _write_error(f"{PROG}: {e}\n", stderr)
        return EXIT_ERROR
    if isinstance(e, IdxError):
        _write_error(f"{PROG}: {e}\n", stderr)
        if os.environ.get("IDX_DEBUG"):
            _write_error("".join(traceback.format_exception(type(e), e, e.__traceback__)), stderr)
        return EXIT_INTERRUPTED if e.code == ERR_IDX_INTERRUPTED else EXIT_ERROR
    _write_error(f"{PROG}: unexpected error: {e}\nThis is a bug in idxmap; rerun with IDX_DEBUG=1 for details.\n", stderr)
    if os.environ.get("IDX_DEBUG"):
        _write_error("".join(traceback.format_exception(type(e), e, e.__traceback__)), stderr)
    return EXIT_ERROR


def _write_error(text: str, stderr: Optional[TextIO] = None) -> None:
    """stderr, at once; if even stderr is closed or full there is nobody left to tell."""
    stream = sys.stderr if stderr is None else stderr
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        _silence(stream)


def main(argv: Optional[Sequence[str]] = None, stdin: Any = None, stdout: Optional[TextIO] = None) -> int:
    """Runs one command; returns its exit status. ``stdin``/``stdout`` default to the process's."""
    args = list(sys.argv[1:] if argv is None else argv)
    stdin = sys.stdin if stdin is None else stdin
    out = _Out(_standard_output() if stdout is None else stdout)
    try:
        status = _dispatch(args, out, stdin)
        out.flush()  # in the try: a full disk under a short output is first seen here
        return status
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - every error becomes plain lines, never a traceback
        status = print_error(e)
    # After an error, the answers written before it still go out (get's, before a bad line).
    try:
        out.flush()
    except OutputError:
        pass
    return status


def _dispatch(args: List[str], out: _Out, stdin: Any) -> int:
    first, rest = (args[0], args[1:]) if args else (None, [])
    if first is None or first in ("-h", "--help", "help"):
        topic = rest[0] if first == "help" and rest else None
        if topic is not None and topic not in COMMANDS:
            if topic in _WRITING:
                raise _writing_command(topic)
            raise UsageError(f"no help for {quote(topic)}: not a command")
        text = (MAIN_HELP if topic is None else _help(topic)) + "\n"
        if first is None:
            _write_error(text)
            return EXIT_USAGE
        out.write(text)
        return EXIT_OK
    if first in ("-v", "--version"):
        out.write(f"idxmap {__version__} (writes format 2.0 and 3.0, reads 1.x to 3.x)\n")
        return EXIT_OK
    command = COMMANDS.get(first)
    if command is None:
        if first in _WRITING:
            raise _writing_command(first)
        raise UsageError(f"unknown command {quote(first)}")
    if "-h" in rest or "--help" in rest:
        out.write(_help(first) + "\n")
        return EXIT_OK
    return command(rest, out, stdin)


def _writing_command(name: str) -> UsageError:
    return UsageError(
        f"'{name}' writes a new index, which idxmap's command line does not do: "
        f"use idx {name} (npm package idx), or idxmap.build() from Python"
    )


def _console() -> None:
    """The ``idxmap`` console script (same as ``python -m idxmap``)."""
    sys.exit(main())
