"""The operation bracket of spec/FORMAT.md §11.2 around an in-place change of a mapped file: odd
seq, dirty blocks and reach, the change, checksums, even seq (src/writer/operation.ts in the
Node package). Readers wait while seq is odd (§11.7), so nothing slow runs inside: the blocks
about to change are checked against their stored checksums before it opens (rewriting a
checksum over damage would make it permanent), their pages are touched first (a first write to
a page is a page fault), the garbage collector is held off, and so are signals (a Python signal
handler would run inside the bracket, and a KeyboardInterrupt would leave the change half
made in a writer that goes on).
"""

from __future__ import annotations

import gc
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from .cells import HeaderCells
from .errors import ERR_IDX_CHECKSUM, ERR_IDX_CORRUPT, IdxError, error
from .format import hex8
from .slots import SlotRegion

REPAIR_HINT = (
    "Run `idx verify` (or python -m idxmap verify) to see all damage. Recover what is readable with "
    "`idx dump FILE > pairs.tsv`, check it, and rebuild with `idx build pairs.tsv -o FILE`."
)

try:
    # The C function: signal.pthread_sigmask wraps it to turn every signal number it returns
    # into an enum, which costs more than the operation it brackets.
    from _signal import pthread_sigmask as _sigmask
except ImportError:  # pragma: no cover - not CPython, or no pthread_sigmask
    _sigmask = getattr(signal, "pthread_sigmask", None)

_CATCHABLE = frozenset(int(s) for s in signal.valid_signals()) - {int(signal.SIGKILL), int(signal.SIGSTOP)}


@contextmanager
def quiet() -> Iterator[None]:
    """No garbage collection and, in the main thread (where Python runs signal handlers), no
    signal handler until the block ends. Handlers of signals that arrived meanwhile run when it
    ends (pthread_sigmask runs them as it unblocks), after the change is whole; one that arrived
    just before runs as the block starts (the same call), before anything is changed."""
    masked = _sigmask is not None and threading.current_thread() is threading.main_thread()
    old = _sigmask(signal.SIG_BLOCK, _CATCHABLE) if masked else None
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        if old is not None:
            _sigmask(signal.SIG_SETMASK, old)


class OperationBracket:
    """§11.2 for one mapped file: ``run`` makes a change between an odd and an even seq."""

    __slots__ = ("cells", "region", "path", "lost", "interrupted")

    def __init__(self, cells: HeaderCells, region: SlotRegion, path: str, lost: Callable[[], bool]) -> None:
        self.cells = cells
        self.region = region
        self.path = path
        self.lost = lost
        self.interrupted = False
        """True once an exception stopped a change inside the bracket: the writer repairs its
        file before the next change, as the next writer would (§11.6)."""

    def run(self, first: int, last: int, reach: int, edit: Callable[[], None]) -> None:
        """Runs ``edit``, which changes slots ``first..last`` (none when ``last < first``) and
        cells, inside the bracket. ``reach`` is the reach the table needs once it is done.

        Raises:
            ChecksumError: a block about to change is damaged (nothing changed).
            CorruptError: the file was truncated or replaced in place under the writer.
        """
        if self.lost():
            raise lost_under_writer(self.path)
        cells = self.cells
        region = self.region
        per_block = region.slots_per_block
        b0 = first // per_block
        b1 = last // per_block if last >= first else b0 - 1
        for b in range(b0, b1 + 1):
            self.check_block(b)
        if b1 >= b0:
            region.touch(first, last, b0, b1)
        cells.touch()
        with quiet():
            self.interrupted = True
            cells.bump_seq()
            if b1 >= b0:
                cells.set_dirty(b0, b1 - b0 + 1)
                cells.raise_reach(reach)
            edit()
            for b in range(b0, b1 + 1):
                region.write_checksum(b)
            if b1 >= b0:
                cells.clear_dirty()
            cells.bump_seq()
            self.interrupted = False

    def check_block(self, b: int) -> None:
        """Raises ChecksumError when block ``b``'s bytes do not match its stored checksum."""
        region = self.region
        actual = region.crc(b)
        stored = region.stored_checksum(b)
        if actual != stored:
            offset = region.block_offset(b)
            raise error(
                ERR_IDX_CHECKSUM,
                f"block {b} (bytes from {offset}) fails its checksum (stored 0x{hex8(stored)}, computed 0x{hex8(actual)}): "
                "the slots changed after they were written, so the index was not changed",
                path=self.path,
                offset=offset,
                hint=REPAIR_HINT,
            )


def lost_under_writer(path: str) -> IdxError:
    return error(
        ERR_IDX_CORRUPT,
        "the index file was truncated or rewritten in place while it was open for writing; the last change may be lost",
        path=path,
        hint="Something wrote over the live file. Check it with `idx verify`, rebuild it if it is damaged, and open the writer again.",
    )


def damaged(path: str, what: str) -> IdxError:
    """The table breaks a rule of §5.2 where the writer was about to change it: it changes nothing."""
    return error(ERR_IDX_CORRUPT, f"the table is damaged: {what}", path=path, hint=REPAIR_HINT)
