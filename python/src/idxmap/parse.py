"""Text pairs, the input of ``idx build``: one ``key value`` pair a line, separated by a tab,
spaces or a comma; blank lines and lines starting with ``#`` skipped; CRLF accepted; decimal
numbers from 0 to 4294967295. The grammar and the error messages are the Node package's
(src/core/parse.ts), so a bad line is reported the same way by both.
"""

from __future__ import annotations

import json
import os
import re
from typing import IO, Any, Iterator, List, Optional, Tuple, Union

from .errors import ERR_IDX_PARSE, error, io_error

MAX_U32 = 0xFFFFFFFF
_LINE = re.compile(rb"[ \t]*([0-9]+)(?:[ \t]+,?|,)[ \t]*([0-9]+)[ \t]*\r?")
_JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_FIELD_SPLIT = re.compile(f"[{_JS_SPACE}]*,[{_JS_SPACE}]*|[ \\t]+")
_HINT = "Each line must be `KEY VALUE` (tab, spaces or a comma between), both decimal integers from 0 to 4294967295."


def number_problem(field: str) -> Optional[str]:
    """What is wrong with ``field`` as a decimal uint32, in the words of idx; None if nothing."""
    if field == "":
        return "is empty"
    if re.fullmatch(r"[0-9]+", field):
        return "is over 4294967295" if int(field) > MAX_U32 else None
    if re.fullmatch(r"-[0-9]+(\.[0-9]*)?", field):
        return "is negative"
    if re.fullmatch(r"[+-]?[0-9]*\.[0-9]+|[+-]?[0-9]+\.[0-9]*", field):
        return "is a fraction"
    if re.fullmatch(r"[+-]?[0-9.]+[eE][+-]?[0-9]+", field):
        return "is in exponent notation; write it out in decimal"
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", field):
        return "is hexadecimal; idx reads decimal only"
    if re.fullmatch(r"\+[0-9]+", field):
        return "has a sign; write it without +"
    return "is not a decimal number"


def js_trim(text: str) -> str:
    """JavaScript's ``String.prototype.trim`` (Python's ``strip`` also strips \\x1c-\\x1f, \\x85)."""
    return re.sub(f"^[{_JS_SPACE}]+|[{_JS_SPACE}]+$", "", text)


def _diagnose(raw: bytes, source: str, line: int) -> Exception:
    """Says precisely what is wrong with a line (without its LF)."""
    text = raw.decode("utf-8", errors="replace")
    if text.endswith("\r"):
        text = text[:-1]
    fields = _FIELD_SPLIT.split(js_trim(text))
    shown = text[:57] + "..." if len(text) > 60 else text

    def fail(what: str) -> Exception:
        return error(ERR_IDX_PARSE, f"{what} in {json.dumps(shown, ensure_ascii=False)}", path=source, line=line, hint=_HINT)

    for f, name in zip(range(min(len(fields), 2)), ("key", "value")):
        problem = number_problem(fields[f])
        if problem:
            return fail(f"{name} {json.dumps(fields[f], ensure_ascii=False)} {problem}")
    if len(fields) < 2:
        return fail("missing value")
    if len(fields) > 2:
        return fail(f"extra field {json.dumps(fields[2], ensure_ascii=False)} after the value")
    return fail("cannot parse line")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    carry = b""
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        yield from parts
    if carry:
        yield carry


def read_pairs(source: Union[str, "os.PathLike[str]", IO[bytes], bytes], name: Optional[str] = None) -> Iterator[Tuple[int, int]]:
    """The (key, value) pairs of text input, in input order (duplicates kept: a build keeps the
    last): a path, a binary file object, or bytes. ``name`` is what messages call the input
    (default: the path, or ``<stdin>``).

    Raises:
        ParseError: a bad line (its line number and what is wrong), when it is reached.
        IdxIOError: the file cannot be read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        import io

        yield from _parse(_lines(io.BytesIO(bytes(source))), name or "<bytes>")
        return
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        label = name or path
        try:
            f = open(path, "rb")
        except OSError as e:
            raise io_error("read the input", label, e, "Check the path of the pairs file.") from e
        with f:
            yield from _parse(_lines(f), label)
        return
    stream: Any = getattr(source, "buffer", source)
    yield from _parse(_lines(stream), name or "<stdin>")


def _parse(lines: Iterator[bytes], source: str) -> Iterator[Tuple[int, int]]:
    match = _LINE.fullmatch
    line = 0
    for raw in lines:
        line += 1
        m = match(raw)
        if m is not None:
            k = int(m.group(1))
            v = int(m.group(2))
            if k <= MAX_U32 and v <= MAX_U32:
                yield k, v
                continue
            raise _diagnose(raw, source, line)
        stripped = raw.lstrip(b" \t")
        if stripped == b"" or stripped == b"\r" or stripped[:1] == b"#":
            continue
        raise _diagnose(raw, source, line)


def pairs_of_text(text: Union[str, bytes], name: str = "<text>") -> List[Tuple[int, int]]:
    """All pairs of a text in memory (see :func:`read_pairs`)."""
    data = text.encode() if isinstance(text, str) else text
    return list(read_pairs(data, name))
