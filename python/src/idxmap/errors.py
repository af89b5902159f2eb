"""The one error hierarchy of idxmap, with the stable codes of the Node package's IdxError.

Every error a caller can see is an :class:`IdxError` whose ``code`` is one of the strings below,
the same strings ``idx`` (Node) uses, so scripts that switch on codes work with either. The
message names the thing (file, line, key) and, on a second line, says what to do.

Subclasses exist where a caller may want to catch one kind; where Python has a natural built-in
kind they inherit it too (a bad argument is a ``ValueError``, a closed index a ``ValueError``
as for a closed file).
"""

from __future__ import annotations

import errno as _errno

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: an open should cost little
    from typing import Dict, Optional, Type

ERR_IDX_IO = "ERR_IDX_IO"
"""The file could not be opened, read, written, synced or renamed (see ``__cause__``)."""
ERR_IDX_NOT_AN_INDEX = "ERR_IDX_NOT_AN_INDEX"
"""The file does not start with the idx magic: empty, text, image, or another format."""
ERR_IDX_TRUNCATED = "ERR_IDX_TRUNCATED"
"""The file is shorter than its header says (or than a version's header)."""
ERR_IDX_UNSUPPORTED_VERSION = "ERR_IDX_UNSUPPORTED_VERSION"
"""The file was written by a newer, incompatible major version of the format."""
ERR_IDX_CHECKSUM = "ERR_IDX_CHECKSUM"
"""A checksum does not match: the bytes changed after they were written."""
ERR_IDX_CORRUPT = "ERR_IDX_CORRUPT"
"""The header or the table breaks a rule of spec/FORMAT.md."""
ERR_IDX_TOO_LARGE = "ERR_IDX_TOO_LARGE"
"""The index would exceed the largest file the format supports."""
ERR_IDX_PARSE = "ERR_IDX_PARSE"
"""A line of text input is not a valid ``key value`` pair."""
ERR_IDX_INVALID_ARGUMENT = "ERR_IDX_INVALID_ARGUMENT"
"""An argument is out of range or of the wrong kind."""
ERR_IDX_CLOSED = "ERR_IDX_CLOSED"
"""The index was used after ``close()``."""
ERR_IDX_INTERRUPTED = "ERR_IDX_INTERRUPTED"
"""A build was interrupted before it finished; the target is unchanged."""
ERR_IDX_LOCKED = "ERR_IDX_LOCKED"
"""Another process holds the writer lock of the index (a build would replace it under a writer)."""

CODES = (
    ERR_IDX_IO,
    ERR_IDX_NOT_AN_INDEX,
    ERR_IDX_TRUNCATED,
    ERR_IDX_UNSUPPORTED_VERSION,
    ERR_IDX_CHECKSUM,
    ERR_IDX_CORRUPT,
    ERR_IDX_TOO_LARGE,
    ERR_IDX_PARSE,
    ERR_IDX_INVALID_ARGUMENT,
    ERR_IDX_CLOSED,
    ERR_IDX_INTERRUPTED,
    ERR_IDX_LOCKED,
)


class IdxError(Exception):
    """An idxmap error: ``code`` is stable (one of :data:`CODES`), the message is for people.

    Attributes:
        code: the stable code, e.g. ``"ERR_IDX_CHECKSUM"``.
        path: the file the error is about, as the caller gave it, or None.
        line: the 1-based line of text input, or None.
        offset: the byte offset in the file the error is about, or None.
        hint: what the user can do about it (the message's second line), or None.
    """

    code: str = ERR_IDX_IO

    def __init__(
        self,
        what: str,
        *,
        path: Optional[str] = None,
        hint: Optional[str] = None,
        line: Optional[int] = None,
        offset: Optional[int] = None,
        code: Optional[str] = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.what = what
        self.path = path
        self.hint = hint
        self.line = line
        self.offset = offset
        super().__init__(_compose(what, path, line, hint))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keeps the keyword-only details through pickling (multiprocessing sends errors back).
        return (
            _rebuild,
            (type(self), self.what, self.path, self.hint, self.line, self.offset, self.code),
        )


def _rebuild(
    cls: Type[IdxError],
    what: str,
    path: Optional[str],
    hint: Optional[str],
    line: Optional[int],
    offset: Optional[int],
    code: str,
) -> IdxError:
    return cls(what, path=path, hint=hint, line=line, offset=offset, code=code)


def _compose(what: str, path: Optional[str], line: Optional[int], hint: Optional[str]) -> str:
    # The Node message, character for character: "path:line: what\nhint".
    where = path or ""
    if line is not None:
        where += f"{':' if where else 'line '}{line}"
    head = f"{where}: {what}" if where else what
    return f"{head}\n{hint}" if hint else head


class IdxIOError(IdxError):
    """ERR_IDX_IO: the file could not be opened, read, mapped, written, synced or renamed."""

    code = ERR_IDX_IO


class NotAnIndexError(IdxError):
    """ERR_IDX_NOT_AN_INDEX: an empty file, or one that does not start with the idx magic."""

    code = ERR_IDX_NOT_AN_INDEX


class TruncatedError(IdxError):
    """ERR_IDX_TRUNCATED: the file is shorter than its header says."""

    code = ERR_IDX_TRUNCATED


class UnsupportedVersionError(IdxError):
    """ERR_IDX_UNSUPPORTED_VERSION: a newer major version of the format."""

    code = ERR_IDX_UNSUPPORTED_VERSION


class ChecksumError(IdxError):
    """ERR_IDX_CHECKSUM: the header checksum or a cell's check does not match."""

    code = ERR_IDX_CHECKSUM


class CorruptError(IdxError):
    """ERR_IDX_CORRUPT: the header or the table breaks a rule of the format."""

    code = ERR_IDX_CORRUPT


class TooLargeError(IdxError):
    """ERR_IDX_TOO_LARGE: more slots than the format allows."""

    code = ERR_IDX_TOO_LARGE


class ParseError(IdxError, ValueError):
    """ERR_IDX_PARSE: a line of text input is not a ``key value`` pair."""

    code = ERR_IDX_PARSE


class InvalidArgumentError(IdxError, ValueError):
    """ERR_IDX_INVALID_ARGUMENT: an argument out of range or of the wrong kind."""

    code = ERR_IDX_INVALID_ARGUMENT


class ClosedError(IdxError, ValueError):
    """ERR_IDX_CLOSED: the index was used after ``close()`` (a ValueError, as for a closed file)."""

    code = ERR_IDX_CLOSED


class LockedError(IdxError):
    """ERR_IDX_LOCKED: another process is writing the index a build would replace."""

    code = ERR_IDX_LOCKED


class IdxWarning(UserWarning):
    """Something idxmap did that worked, with a consequence the caller should know of: a build
    that replaced an index it could not mark retired (its readers follow the rename only if
    they watch the path). Printed on stderr by Python's default warning filter."""


_BY_CODE: Dict[str, Type[IdxError]] = {
    ERR_IDX_IO: IdxIOError,
    ERR_IDX_NOT_AN_INDEX: NotAnIndexError,
    ERR_IDX_TRUNCATED: TruncatedError,
    ERR_IDX_UNSUPPORTED_VERSION: UnsupportedVersionError,
    ERR_IDX_CHECKSUM: ChecksumError,
    ERR_IDX_CORRUPT: CorruptError,
    ERR_IDX_TOO_LARGE: TooLargeError,
    ERR_IDX_PARSE: ParseError,
    ERR_IDX_INVALID_ARGUMENT: InvalidArgumentError,
    ERR_IDX_CLOSED: ClosedError,
    ERR_IDX_LOCKED: LockedError,
}


def error(code: str, what: str, **details: object) -> IdxError:
    """The IdxError subclass for ``code`` (IdxError itself for codes without one)."""
    cls = _BY_CODE.get(code, IdxError)
    return cls(what, code=code, **details)  # type: ignore[arg-type]


_ERRNO_TEXT = {
    _errno.ENOENT: "no such file or directory (ENOENT)",
    _errno.EACCES: "permission denied (EACCES)",
    _errno.EPERM: "operation not permitted (EPERM)",
    _errno.EISDIR: "is a directory (EISDIR)",
    _errno.ENOTDIR: "a parent is not a directory (ENOTDIR)",
    _errno.ENOSPC: "no space left on device (ENOSPC)",
    _errno.EROFS: "read-only file system (EROFS)",
    _errno.EXDEV: "source and target are on different file systems (EXDEV)",
    _errno.ENOMEM: "out of memory or address space for another mapping (ENOMEM)",
    _errno.EMFILE: "too many open files in this process (EMFILE)",
    _errno.ENFILE: "too many open files on the system (ENFILE)",
    _errno.EFBIG: "file too large for this file system (EFBIG)",
    _errno.EDQUOT: "disk quota exceeded (EDQUOT)",
    _errno.EBUSY: "device or resource busy (EBUSY)",
    _errno.ETXTBSY: "text file busy (ETXTBSY)",
}


def io_reason(cause: BaseException) -> str:
    """An OSError in idx's words: ``permission denied (EACCES)``."""
    code = getattr(cause, "errno", None)
    if isinstance(code, int) and code in _ERRNO_TEXT:
        return _ERRNO_TEXT[code]
    if isinstance(code, int) and code in _errno.errorcode:
        return _errno.errorcode[code]
    return str(cause)


def io_error(action: str, path: str, cause: BaseException, hint: Optional[str] = None) -> IdxIOError:
    """Wraps an OSError so the caller sees which file and which operation failed.

    The text matches the Node package's (``cannot open the index: no such file or directory
    (ENOENT)``); the OSError is chained as ``__cause__`` by the caller's ``raise ... from``.
    """
    err = IdxIOError(f"cannot {action}: {io_reason(cause)}", path=path, hint=hint)
    err.__cause__ = cause
    return err
