"""Text pairs, the input of ``idx build``: one ``key value`` pair a line, separated by a tab,
spaces or a comma; blank lines and lines starting with ``#`` skipped; CRLF accepted; decimal
numbers from 0 to 18446744073709551615 (2^64 - 1: a build takes 64 bits where a number needs
them, spec §16.5). The grammar and the error messages are the Node package's (src/core/parse.ts),
so a bad line is reported the same way by both.
"""

from __future__ import annotations

import json
import os
import re
from typing import IO, Any, Iterator, List, Optional, Tuple, Union

from .errors import ERR_IDX_PARSE, error, io_error

MAX_U32 = 0xFFFFFFFF
MAX_U64 = 0xFFFFFFFFFFFFFFFF
_LINE = re.compile(rb"[ \t]*([0-9]+)(?:[ \t]+,?|,)[ \t]*([0-9]+)[ \t]*\r?")
_JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_FIELD_SPLIT = re.compile(f"[{_JS_SPACE}]*,[{_JS_SPACE}]*|[ \\t]+")
_HINT = "Each line must be `KEY VALUE` (tab, spaces or a comma between), both decimal integers from 0 to 18446744073709551615."


def number_problem(field: str, limit: int = MAX_U64) -> Optional[str]:
    """What is wrong with ``field`` as a decimal number from 0 to ``limit``, in the words of idx;
    None if nothing."""
    if field == "":
        return "is empty"
    if re.fullmatch(r"[0-9]+", field):
        return f"is over {limit}" if int(field) > limit else None
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


# How much of a bad line a message examines and shows: a 50 MB line gives a short message.
_SHOWN = 60
_EXAMINED = 256


def _js_slice(text: str, n: int) -> str:
    """``text.slice(0, n)`` in JavaScript, which counts UTF-16 code units (and may split a pair)."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[: 2 * n].decode("utf-16-le", "surrogatepass") if len(units) > 2 * n else text


def _js_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _js_json(text: str) -> str:
    """``JSON.stringify`` of a string: as json.dumps, with a lone surrogate written as an escape."""
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _quote_field(field: str, cut: bool) -> str:
    return f"{_js_json(_js_slice(field, 24))}..." if _js_length(field) > 24 or cut else _js_json(field)


# A line still without its end past this many bytes is refused (src/core/parse.ts MAX_LINE).
MAX_LINE = 1 << 20


def _encoding_problem(head: bytes, cut: bool) -> Optional[str]:
    """A byte order mark, binary data or bytes that are not UTF-8 at the start of a line, or None."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "the line starts with a UTF-8 byte order mark (bytes EF BB BF), which idx does not skip; save the input without it"
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return "the input starts with a UTF-16 byte order mark: idx reads UTF-8 (or ASCII) text; save the input as UTF-8"
    for i, c in enumerate(head):
        if c == 0 or (c < 0x20 and c not in (0x09, 0x0D)) or c == 0x7F:
            return (
                f"the line holds binary data (byte 0x{c:02x} at column {i + 1}): "
                "this does not look like text pairs (for binary pairs, pass --binary)"
            )
    # A multi-byte character cut at the end of ``head`` is not an error.
    if "\ufffd" in (head[: max(0, len(head) - 3)] if cut else head).decode("utf-8", errors="replace"):
        return "the line holds bytes that are not UTF-8 text: this does not look like text pairs (for binary pairs, pass --binary)"
    return None


def describe_long_line(head: bytes) -> str:
    """A line that passed MAX_LINE bytes without ending; ``head`` is its start."""
    head = head[:_EXAMINED]
    problem = _encoding_problem(head, True)
    if problem is not None:
        return problem
    shown = _js_json(head[:_SHOWN].decode("utf-8", errors="replace"))
    return f"the line is over {MAX_LINE} bytes long, and a pair needs a few dozen: {shown}..."


def describe_bad_line(line: bytes) -> str:
    """What is wrong with one line of text input (without its LF), in the words of idx."""
    head = line[:_EXAMINED]
    problem = _encoding_problem(head, len(line) > _EXAMINED)
    if problem is not None:
        return problem
    text = head.decode("utf-8", errors="replace")
    if text.endswith("\r"):
        text = text[:-1]
    cut = len(line) > _EXAMINED
    shown = f"{_js_slice(text, _SHOWN)}... ({len(line)} bytes in all)" if cut or _js_length(text) > _SHOWN else text
    fields = _FIELD_SPLIT.split(js_trim(text))
    at = f" in {_js_json(shown)}"
    for f, name in zip(range(min(len(fields), 2)), ("key", "value")):
        # The last field seen may be cut short by _EXAMINED: a long run of digits is over the limit anyway.
        problem = number_problem(fields[f])
        if problem:
            return f"{name} {_quote_field(fields[f], cut and f == len(fields) - 1)} {problem}{at}"
    if len(fields) < 2:
        return f"missing value{at}"
    if len(fields) > 2:
        return f"extra field {_quote_field(fields[2], False)} after the value{at}"
    return f"cannot parse the line{at}"


def _diagnose(raw: bytes, source: str, line: int) -> Exception:
    """Says precisely what is wrong with a line (without its LF)."""
    return error(ERR_IDX_PARSE, describe_bad_line(raw), path=source, line=line, hint=_HINT)


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    carry = b""
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        yield from parts
        if len(carry) > MAX_LINE:
            yield carry  # refused by _parse: memory stays bounded whatever the input
            return
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
        if len(raw) > MAX_LINE:
            raise error(ERR_IDX_PARSE, describe_long_line(raw), path=source, line=line, hint=_HINT)
        m = match(raw)
        if m is not None:
            k = int(m.group(1))
            v = int(m.group(2))
            if k <= MAX_U64 and v <= MAX_U64:
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
