"""The writer lock of spec/FORMAT.md §11.2: one writer at a time, by an exclusive ``flock(2)`` on
the index file itself, the same lock idx's writers take (src/os/lock.ts), so a Python writer and
a Node writer exclude each other. The kernel releases it when its holder dies, however it dies,
so a killed writer never blocks the next, and no lock file is left beside the index.

The path may be renamed over while a writer waits (a grow, a compact or a build replaced the
file), so after locking, a writer checks that the path still names the file it locked, and
starts again if not. Whoever replaces the file locks the new one before the rename (it is
private until then) and lets go of the old one after, so the lock passes from file to file
without a gap.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import Optional

from .errors import ERR_IDX_IO, ERR_IDX_LOCKED, error, io_error

READER_TEST_SECONDS = 0.05
"""§11.2: readers take the lock shared for an instant to test it (a writer that died, §11.7), so
a writer refused while only such locks are held tries again for this long before it reports
the file locked."""

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)  # a named pipe must not block


class WriterLock:
    """An exclusive flock on an open descriptor of an index file. ``fd`` is the descriptor (the
    lock goes with it: closing it releases the lock)."""

    __slots__ = ("path", "fd")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd: Optional[int] = fd

    @classmethod
    def acquire(
        cls, path: str, wait: float = 0.0, name: Optional[str] = None, who: str = "writer", at_least: float = 0.0
    ) -> Optional["WriterLock"]:
        """Locks the index file at ``path`` for writing, waiting up to ``wait`` seconds for
        another writer (and ``at_least`` seconds in any case). Returns None when there is no
        file there (nothing to lock: a creator links its new file into place only if the path
        is still free). Messages call the file ``name`` (default ``path``), and the caller
        ``who`` ("writer", "build").

        Raises:
            LockedError: another process holds the lock (named, from /proc/locks), after
                ``wait`` seconds; a lock that only readers' tests hold is retried for 50 ms.
            IdxIOError: the file cannot be opened or locked.
        """
        shown = path if name is None else name
        started = time.monotonic()
        deadline = started + max(wait, at_least)
        grace_end = started + READER_TEST_SECONDS
        while True:
            try:
                fd = os.open(path, _OPEN_FLAGS)
            except FileNotFoundError:
                return None
            except OSError as e:
                raise io_error("open the index", shown, e, "Check the path and its permissions.") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                inode = _inode(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise error(ERR_IDX_IO, f"cannot lock the index for writing (flock errno {e.errno})", path=shown) from e
                now = time.monotonic()
                if now >= deadline and (now >= grace_end or writer_holds(inode) is True):
                    raise error(
                        ERR_IDX_LOCKED,
                        f"is being written by {holder_of(inode)}",
                        path=shown,
                        hint=f"Waited {_seconds(wait)}; try again later." if wait else f"Wait for it to finish, or let this {who} wait for it.",
                    ) from None
                # A reader's test holds it for microseconds: look again soon during the first 50 ms.
                time.sleep(0.001 if now - started < READER_TEST_SECONDS else min(0.02, max(0.001, deadline - now)))
                continue
            if same_file(fd, path):
                return cls(path, fd)
            os.close(fd)  # replaced while we waited: lock the file the path names now

    @classmethod
    def of_new_file(cls, path: str, fd: int) -> "WriterLock":
        """Locks a new file (a temp file nobody else has opened yet) through its descriptor,
        which the lock then owns.

        Raises:
            IdxIOError: flock fails.
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise error(ERR_IDX_IO, f"cannot lock the new file (flock errno {e.errno})", path=path) from e
        return cls(path, fd)

    def still_at(self, path: str) -> bool:
        """True while ``path`` still names the locked file: a new index put there by a rename
        that took no lock (``mv``) is another file, which this lock does not guard."""
        return self.fd is not None and same_file(self.fd, path)

    def release(self) -> None:
        """Unlocks and closes the descriptor. Raises nothing."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        try:
            os.close(fd)
        except OSError:
            pass


def _seconds(wait: float) -> str:
    return f"{wait:g} s"


def _inode(fd: int) -> int:
    try:
        return os.fstat(fd).st_ino
    except OSError:
        return -1


def same_file(fd: int, path: str) -> bool:
    """Whether ``path`` names the file open at ``fd`` (same device and inode)."""
    try:
        a = os.fstat(fd)
        b = os.stat(path)
    except OSError:
        return False
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


def _exclusive_flocks() -> "list[tuple[str, str]]":
    """(pid, inode) of every exclusive flock, from /proc/locks (Linux); empty elsewhere."""
    found = []
    try:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                # 1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[3] == "WRITE":
                    found.append((fields[4], fields[5].split(":")[-1]))
    except OSError:
        pass
    return found


def writer_holds(inode: int) -> Optional[bool]:
    """Whether /proc/locks shows an exclusive flock on the inode: True (a writer), False (only
    shared ones: readers testing the lock, or none), None (no /proc/locks: not Linux)."""
    if not os.path.exists("/proc/locks"):
        return None
    return any(ino == str(inode) for _, ino in _exclusive_flocks())


def holder_of(inode: int) -> str:
    """"process 1234 (cmd...)": the flock holder of an inode, from /proc/locks (Linux)."""
    for pid, ino in _exclusive_flocks():
        if ino == str(inode):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as c:
                    cmd = " ".join([p.decode(errors="replace") for p in c.read().split(b"\0") if p][:4])
            except OSError:
                cmd = ""
            cmd = " ".join(cmd.split())
            if len(cmd) > 80:
                cmd = cmd[:77] + "..."
            return f"process {pid}" + (f" ({cmd})" if cmd else "")
    return "another process"
