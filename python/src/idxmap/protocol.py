"""The reader's side of spec/FORMAT.md §11.7: how a probe made beside a writer becomes an answer.

A writer in another process changes a mapped file in place. It makes every change between an
odd and an even store of the header's seq word (§11.2), so a reader that loads the same even
seq before and after its probe saw no part of a change. Everything else here is the slow path:
a file that changed in place is reopened, a retired or renamed-over file is followed to its
replacement, an overlapped probe is made again, and a seq that stays odd is waited on until the
writer's lock shows it died (then that seq counts as even: ``dead``) or, under a held lock, for
a second before two agreeing probes answer.

Pure: the reader supplies the loads and the file system checks (:class:`ProtocolReader`).
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
"""How long a seq may stay odd and unchanged before the reader tests the writer's lock (§11.7).
A healthy writer keeps seq odd for microseconds, but one the scheduler stops can keep it odd
for milliseconds: time alone proves nothing, the lock does."""

STOPPED_SECONDS = 1.0
"""An odd seq that holds this long under a held lock belongs to a stopped writer (a debugger,
``kill -STOP``): the reader then answers with two probes that agree (§11.7)."""

LOCK_TEST_EVERY_SECONDS = 0.1
"""A reader tests the writer lock at most this often (idx: 100 ms)."""

SPIN_SECONDS = 0.0001
PAUSE_SECONDS = 0.00005
"""A reader waiting on an odd seq spins for a healthy writer's window (100 µs), then sleeps
between probes: the writer it waits for may need its CPU (src/core/protocol.ts)."""

FOLLOW_EVERY_SECONDS = 0.001
"""§11.7: a reader of a retired file looks at the path at most once a millisecond."""

_clock = time.monotonic
_sleep = time.sleep


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
    """One clock per reader (§11.7): since when it has seen the odd seq value it waits on, and
    when it last tested the writer lock."""

    __slots__ = ("_seq", "_since", "_lock_tested")

    def __init__(self) -> None:
        self._seq = -1
        self._since = 0.0
        self._lock_tested = -1.0e9

    def waited(self, seq: int) -> float:
        """Seconds ``seq`` has been seen unchanged: 0 the first time, and whenever seq changed."""
        t = _clock()
        if self._seq != seq:
            self._seq = seq
            self._since = t
            return 0.0
        return t - self._since

    def may_test_lock(self) -> bool:
        """True at most once every LOCK_TEST_EVERY_SECONDS (and then counts as a test)."""
        t = _clock()
        if t - self._lock_tested < LOCK_TEST_EVERY_SECONDS:
            return False
        self._lock_tested = t
        return True


class ProtocolReader:
    """What :func:`settle` needs from a reader: its current file, read the protocol's way."""

    def seq(self) -> int:  # pragma: no cover - interface
        """The seq word, loaded now (with what tells files apart above its 32 bits)."""
        raise NotImplementedError

    def changed(self) -> bool:  # pragma: no cover - interface
        """True when the mapped file must not be answered from: truncated or resized under the
        mapping, or its header checksum word is not what it was at open (§11.8)."""
        raise NotImplementedError

    def reopen(self) -> None:  # pragma: no cover - interface
        """Maps the file at the path in place of a changed one; raises CorruptError while the
        path holds no valid index (reopening at most once a millisecond)."""
        raise NotImplementedError

    def retired(self) -> bool:  # pragma: no cover - interface
        """Whether the state word has RETIRED, loaded now."""
        raise NotImplementedError

    def moved(self) -> bool:  # pragma: no cover - interface
        """Whether the path was seen to name another file (§11.8: a rename that did not retire)."""
        raise NotImplementedError

    def follow(self) -> bool:  # pragma: no cover - interface
        """§11.7 follow(): True when the reader now reads a newer file (the caller probes again);
        False when there is none yet, or it looked less than a millisecond ago."""
        raise NotImplementedError

    def is_dead(self, seq: int) -> bool:  # pragma: no cover - interface
        """Whether ``seq`` is the file's ``dead`` value: an odd seq whose writer died."""
        raise NotImplementedError

    def writer_gone(self, seq: int) -> bool:  # pragma: no cover - interface
        """The lock test (§11.7 "A writer that died"): True, with ``seq`` remembered as dead,
        when the path names the mapped file and nobody holds its writer lock."""
        raise NotImplementedError


def settle(
    reader: ProtocolReader,
    probe: Callable[[], T],
    s1: int,
    s2: int,
    answer: T,
    clock: StallClock,
) -> T:
    """The slow path of §11.7's lookup, after a first probe answered ``answer`` between seq
    loads ``s1`` and ``s2`` that did not show a quiet file at once. Loops until an answer stands:

    - a file that changed in place is reopened (or CorruptError raised): never answered from;
    - seq loads that agree on an even value, or on the file's ``dead`` value, stand;
    - a retired file, or one the path no longer names, is followed to its replacement; while
      there is none, a retired file's answer stands (it no longer changes);
    - a changed seq means a write overlapped the probe: probe again;
    - an odd seq unchanged for 5 ms (one clock per reader) sends the reader to the writer's
      lock: free, the writer died and that seq counts as even from then on; held, it is alive
      and the reader waits on (sleeping), until after a second two probes that agree answer.

    ``probe`` runs §5.3 on the reader's current file (which ``follow`` or ``reopen`` may
    change). Raises whatever ``probe``, ``follow`` or ``reopen`` raise (a closed index, a file
    changed in place with no valid index at the path).
    """
    while True:
        if reader.changed():
            reader.reopen()
        else:
            quiet = s1 == s2 and (not s1 & 1 or reader.is_dead(s1))
            moved = reader.moved()
            if quiet and not moved:
                return answer
            retired = reader.retired()
            if (retired or moved) and reader.follow():
                pass  # probe the new file
            elif s1 == s2 and (quiet or retired or reader.is_dead(s1)):
                return answer
            elif s1 == s2:
                # Odd and unchanged: a writer mid-operation, stopped, or dead.
                waited = clock.waited(s1)
                if waited > STALL_SECONDS and clock.may_test_lock() and reader.writer_gone(s1):
                    pass  # probe again: this probe may have overlapped its last store
                elif waited > STOPPED_SECONDS:
                    again = probe()
                    fence()
                    if reader.seq() == s1 and again == answer:
                        return answer
                elif waited > SPIN_SECONDS:
                    _sleep(PAUSE_SECONDS)
        s1 = reader.seq()
        fence()
        answer = probe()
        fence()
        s2 = reader.seq()


def stable_header(
    read: Callable[[], bytes],
    seq_of: Callable[[], int],
    clock: Optional[StallClock] = None,
    lock_free: Optional[Callable[[], bool]] = None,
) -> bytes:
    """§11.7 "The header": a header copy read between two loads of seq that show no operation
    under way or overlapping, so that its cells (separate stores) belong together.

    ``read`` returns a private copy of the header, each cell loaded whole; ``seq_of`` loads the
    seq word now; ``lock_free`` is the lock test (True when nobody holds the writer lock of
    this file). A retired file's odd seq holds no operation (§11.4): its copy stands. Any other
    odd seq is waited on as a lookup waits (see :func:`settle`): a copy made while it is the
    seq of a writer that died stands; under a held lock, after a second, a copy that a second
    read repeats.
    """
    clock = clock or StallClock()
    dead = -1
    while True:
        s1 = seq_of()
        fence()
        copy = read()
        fence()
        s2 = seq_of()
        if s1 != s2:
            continue
        if not s1 & 1 or s1 == dead:
            return copy
        if len(copy) >= CELL_STATE + 4 and int.from_bytes(copy[CELL_STATE : CELL_STATE + 4], "little") & STATE_RETIRED:
            return copy
        waited = clock.waited(s1)
        if waited > STALL_SECONDS and lock_free is not None and clock.may_test_lock() and lock_free():
            dead = s1  # read again: this copy may have overlapped the writer's last store
        elif waited > STOPPED_SECONDS:
            again = read()
            fence()
            if seq_of() == s1 and again == copy:
                return copy
        elif waited > SPIN_SECONDS:
            _sleep(PAUSE_SECONDS)
