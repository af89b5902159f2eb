"""idxmap: read, build and write idx indexes, persistent maps of unsigned integer keys to unsigned
integer values (32 or 64 bits each) in one memory-mapped file (the format of the npm package
idx, spec/FORMAT.md).

    import idxmap

    idxmap.build({42: 7, 1: 2}, "ids.idx")      # or pairs, or (keys, values) arrays
    with idxmap.open("ids.idx") as ix:          # O(1): maps the file, checks the header
        ix[42]                                  # 7 (KeyError when absent)
        ix.get(5, -1), 42 in ix, len(ix)
        values, found = ix.get_many(keys)       # vectorised with numpy
        dict(ix.items())
    with idxmap.Writer("ids.idx") as w:         # in place, beside readers in any process
        w[42] = 8; del w[1]; w.update({5: 6})

Every error is an :class:`IdxError` with a stable ``code`` (the Node package's codes).
"""

__version__ = "0.1.0"

from .errors import (
    ChecksumError,
    ClosedError,
    CorruptError,
    IdxError,
    IdxIOError,
    IdxWarning,
    InvalidArgumentError,
    LockedError,
    NotAnIndexError,
    ParseError,
    TooLargeError,
    TruncatedError,
    UnsupportedVersionError,
)
from .format import VERSION_MAJOR, VERSION_MINOR
from .native import native_available, native_reason
from .hashing import ESCAPED_KEY, ESCAPED_KEY64, hash32, hash64, home_slot, home_slot64, unhash32, unhash64
from .reader import Index, IndexInfo
from .reader import open_index as open

# Loaded on first use: opening an index and looking keys up needs none of these, and they
# import more of the standard library than the reader does.
_LAZY = {
    "build": ".builder",
    "BuildResult": ".builder",
    "read_pairs": ".parse",
    "verify": ".checks",
    "VerifyReport": ".checks",
    "Problem": ".checks",
    "Writer": ".writer",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .builder import BuildResult, build
    from .checks import Problem, VerifyReport, verify
    from .parse import read_pairs
    from .writer import Writer


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'idxmap' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BuildResult",
    "ChecksumError",
    "ClosedError",
    "CorruptError",
    "ESCAPED_KEY",
    "ESCAPED_KEY64",
    "IdxError",
    "IdxIOError",
    "IdxWarning",
    "Index",
    "IndexInfo",
    "InvalidArgumentError",
    "LockedError",
    "NotAnIndexError",
    "ParseError",
    "Problem",
    "TooLargeError",
    "TruncatedError",
    "native_available",
    "native_reason",
    "UnsupportedVersionError",
    "VERSION_MAJOR",
    "VERSION_MINOR",
    "VerifyReport",
    "Writer",
    "build",
    "hash32",
    "hash64",
    "home_slot",
    "home_slot64",
    "open",
    "read_pairs",
    "unhash32",
    "unhash64",
    "verify",
]
