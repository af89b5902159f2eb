"""The reader's side of spec/FORMAT.md §11.7: how a probe made beside a writer becomes an answer.

A writer in another process changes a mapped file in place. It makes every change between an
odd and an even store of the header's seq word (§11.2), so a reader that loads the same even
seq before and after its probe saw no part of a change. Everything else here is the slow path:
a retired file is followed to its replacement, an overlapped probe is made again, and a seq
that stays odd for 5 ms belongs to a writer that died, whose table still answers correctly.

Pure: the reader supplies the loads (:class:`ProtocolReader`).
"""

from __future__ import annotations

import os
import time

from .format import CELL_STATE, STATE_RETIRED

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: opening an index should cost little
    from typing import Callable, Optional, TypeVar

    T = TypeVar("T")

STALL_SECONDS = 0.005
"""How long a seq may stay odd and unchanged before its writer counts as dead (§11.7). A healthy
writer keeps seq odd for microseconds (nothing slow runs inside its bracket, §11.2)."""

FOLLOW_EVERY_SECONDS = 0.001
"""§11.7: a reader of a retired file looks at the path at most once a millisecond."""

_clock = time.monotonic


def _make_fence() -> Callable[[], None]:
    """The load-load barrier of §11.7 "Memory ordering", as far as Python can express one.

    x86 and x86-64 (TSO) never reorder a load with a later load, and the interpreter performs
    the probe's loads and the seq loads in program order (each in a separate C call the compiler
    cannot move across the others), so plain loads are enough and the fence is nothing.

    Elsewhere (arm64, POWER) Python has no acquire load. The nearest thing is a lock: this
    thread's own lock, released and taken again. CPython's locks are atomic operations with
    release and acquire semantics (glibc's sem_post and sem_wait), and a release followed by an
    acquire is ordered (ARMv8's release-acquire is RCsc), so loads before the fence complete
    before loads after it. It costs two lock operations per fence, on those machines only.
    """
    machine = os.uname().machine.lower() if hasattr(os, "uname") else "x86_64"
    if machine in ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"):
        return lambda: None
    import threading

    local = threading.local()

    def fence() -> None:
        lock = getattr(local, "lock", None)
        if lock is None:
            lock = threading.Lock()
            lock.acquire()
            local.lock = lock
        lock.release()
        lock.acquire()

    return fence


fence: "Callable[[], None]" = _make_fence()
"""Called between the probe's loads and the seq loads around them (no-op on x86)."""

FENCE_NEEDED = fence.__name__ == "fence"


class StallClock:
    """One clock per reader: when it first saw the odd seq value it is waiting on (§11.7)."""

    __slots__ = ("_seq", "_since")

    def __init__(self) -> None:
        self._seq = -1
        self._since = 0.0

    def expired(self, seq: int) -> bool:
        """True once ``seq`` has been seen unchanged for 5 ms; restarts whenever seq changes."""
        t = _clock()
        if self._seq != seq:
            self._seq = seq
            self._since = t
            return False
        return t - self._since > STALL_SECONDS


class ProtocolReader:
    """What :func:`settle` needs from a reader: its current file, read the protocol's way."""

    def seq(self) -> int:  # pragma: no cover - interface
        """The seq word, loaded now."""
        raise NotImplementedError

    def retired(self) -> bool:  # pragma: no cover - interface
        """Whether the state word has RETIRED, loaded now."""
        raise NotImplementedError

    def follow(self) -> bool:  # pragma: no cover - interface
        """§11.7 follow(): True when the reader now reads a newer file (the caller probes again);
        False when there is none yet, or it looked less than a millisecond ago."""
        raise NotImplementedError


def quiet(s1: int, s2: int) -> bool:
    """True when a probe between seq loads ``s1`` and ``s2`` stands without further checks."""
    return s1 == s2 and (s1 & 1) == 0


def settle(
    reader: ProtocolReader,
    probe: Callable[[], T],
    s1: int,
    s2: int,
    answer: T,
    clock: StallClock,
) -> T:
    """The slow path of §11.7's lookup, after a first probe answered ``answer`` between seq
    loads ``s1`` and ``s2`` that were not quiet. Loops until an answer stands:

    - a retired file is followed to its replacement; while there is none, its answer stands
      (a retired file no longer changes);
    - a changed seq means a write overlapped the probe: probe again;
    - an odd seq unchanged for 5 ms (one clock per reader) is a writer that died or was
      stopped: by §11.3 the table as it stands answers correctly, once a second probe agrees
      while seq still holds.

    ``probe`` runs §5.3 on the reader's current file (which ``follow`` may change). Raises
    whatever ``probe`` or ``follow`` raise (a closed index, a file lost under its mapping).
    """
    while True:
        if quiet(s1, s2):
            return answer
        if reader.retired():
            if not reader.follow() and s1 == s2:
                return answer
        elif s1 == s2 and clock.expired(s1):
            again = probe()
            fence()
            if reader.seq() == s1 and again == answer:
                return answer
        s1 = reader.seq()
        fence()
        answer = probe()
        fence()
        s2 = reader.seq()


def stable_header(
    read: Callable[[], bytes],
    seq_of: Callable[[], int],
    clock: Optional[StallClock] = None,
) -> bytes:
    """§11.7 "The header": a header copy read between two loads of seq that show no operation
    under way or overlapping, so that its cells (separate stores) belong together.

    ``read`` returns a private copy of the header, each cell loaded whole; ``seq_of`` loads the
    seq word now. A retired file's odd seq holds no operation (§11.4); any other odd seq that
    holds for 5 ms belongs to a writer that died, and its header is taken as it stands.
    """
    clock = clock or StallClock()
    while True:
        s1 = seq_of()
        fence()
        copy = read()
        fence()
        s2 = seq_of()
        if quiet(s1, s2):
            return copy
        retired = len(copy) >= CELL_STATE + 4 and (int.from_bytes(copy[CELL_STATE : CELL_STATE + 4], "little") & STATE_RETIRED) != 0
        if s1 == s2 and (retired or clock.expired(s1)):
            return copy
